"""Reference numbers for src/lower/loss.rs's nll_loss test: PyTorch's
nll_loss(log_softmax(x)) on fixed logits and labels, its value and its gradient
with respect to the logits (float64), as PyTorch's examples/mnist trains.

    python3 bench/reference/nll_loss.py
"""
import torch
import torch.nn.functional as F

x = torch.tensor(
    [[2.0, 1.0, 0.1], [0.5, 2.5, 0.3], [-1.0, 0.0, 4.0], [300.0, -300.0, 0.0]],
    dtype=torch.float64,
    requires_grad=True,
)
labels = torch.tensor([0, 2, 2, 1])
loss = F.nll_loss(F.log_softmax(x, dim=1), labels)
loss.backward()
print(f"loss {loss.item():.9e}")
print("grad [" + ", ".join(f"{v:.9e}" for v in x.grad.flatten().tolist()) + "]")
