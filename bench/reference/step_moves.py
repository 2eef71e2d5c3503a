"""Reference numbers for src/lower/eval/moves/tests.rs: NumPy's transpose, matmul (and
PyTorch's gradients of it), basic slicing and argmax on fixed inputs.

    python3 bench/reference/step_moves.py
"""
import numpy as np
import torch

x = np.arange(24, dtype=np.float64).reshape(2, 3, 4) * 0.5 - 3.0  # (batch 2, 3, 4)
print("transpose (0,2,1):", x.transpose(0, 2, 1).flatten().tolist())
y = np.arange(2 * 2 * 3 * 2, dtype=np.float64).reshape(2, 2, 3, 2)
print("transpose (0,3,1,2):", y.transpose(0, 3, 1, 2).flatten().tolist())

A = np.array([[[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]], [[0.2, 0.4, -0.6], [1.5, -1.5, 2.0]]])  # (2, 2, 3)
B = np.array([[[2.0, 1.0], [0.0, -1.0], [4.0, 0.5]], [[-1.0, 3.0], [2.0, 2.0], [0.5, -0.5]]])  # (2, 3, 2)
G = np.array([[[1.0, -1.0], [0.5, 2.0]], [[-2.0, 0.25], [1.0, 1.0]]])  # gradient of the (2, 2, 2) output
print("matmul:", np.matmul(A, B).flatten().tolist())
a = torch.tensor(A, requires_grad=True)
b = torch.tensor(B, requires_grad=True)
(torch.matmul(a, b) * torch.tensor(G)).sum().backward()
print("grad a:", a.grad.flatten().tolist())
print("grad b:", b.grad.flatten().tolist())
v = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])  # (2, 3) vectors
print("vector @ matrix:", np.matmul(v[:, None, :], B)[:, 0, :].flatten().tolist())
print("matrix @ vector:", np.matmul(A, v[:, :, None])[:, :, 0].flatten().tolist())
print("vector @ vector:", (v * v).sum(axis=1).tolist())

print("x[:, 1:3]:", x[:, 1:3].flatten().tolist())
print("x[:, :, -1]:", x[:, :, -1].flatten().tolist())
print("x[:, 1:, 1:3]:", x[:, 1:, 1:3].flatten().tolist())

z = np.array([[0.1, 0.7, 0.7, -1.0], [2.0, -3.0, 0.5, 1.0], [0.0, 0.0, 0.0, 0.0]])
print("argmax axis 1:", np.argmax(z, axis=1).tolist())
