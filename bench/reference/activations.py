"""Reference numbers for src/lower/act.rs's activation tests: PyTorch's values and
gradients (float64) at fixed inputs, and Keras 3's values as a cross-check.

    python3 bench/reference/activations.py
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras
import numpy as np
import torch
import torch.nn.functional as F

X = [-30.0, -5.0, -3.0, -1.5, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.5, 3.0, 5.0, 30.0]

TORCH = {
    "elu_0_5": lambda x: F.elu(x, alpha=0.5),
    "elu": lambda x: F.elu(x),
    "selu": F.selu,
    "swish": F.silu,
    "softplus": F.softplus,  # beta 1, threshold 20: exactly x above 20
    "hard_sigmoid": F.hardsigmoid,
    "gelu": F.gelu,  # the exact (erf) form, Keras' default
    "leaky_relu_0_3": lambda x: F.leaky_relu(x, 0.3),  # slope 0.3 at 0, as PyTorch's backward
}
KERAS = {
    "elu_0_5": lambda x: keras.activations.elu(x, alpha=0.5),
    "elu": keras.activations.elu,
    "selu": keras.activations.selu,
    "swish": keras.activations.silu,
    "softplus": keras.activations.softplus,
    "hard_sigmoid": keras.activations.hard_sigmoid,
    "gelu": lambda x: keras.activations.gelu(x, approximate=False),
    "leaky_relu_0_3": lambda x: keras.activations.leaky_relu(x, negative_slope=0.3),
}


def fmt(v):
    return "[" + ", ".join(f"{float(a):.9e}" for a in v) + "]"


for name, f in TORCH.items():
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    y = f(x)
    y.sum().backward()
    k = KERAS[name](np.array(X, dtype=np.float64))
    k = np.asarray(keras.ops.convert_to_numpy(k))
    assert np.allclose(k, y.detach().numpy(), rtol=1e-6, atol=1e-7), (name, k, y)
    print(f"// {name}: values, then d(sum)/dx")
    print(fmt(y.detach()))
    print(fmt(x.grad))

# log_softmax over the last axis of a (2, 4) batch, one row with large values, and over
# the channels of a (1, 3, 2, 2) image; gradient of sum(y * w).
flat = torch.tensor(
    [[1.0, -2.0, 0.5, 3.0], [1000.0, 999.0, -1000.0, 998.5]], dtype=torch.float64, requires_grad=True
)
w = torch.arange(8, dtype=torch.float64).reshape(2, 4) * 0.25 - 1.0
y = F.log_softmax(flat, dim=1)
(y * w).sum().backward()
print("// log_softmax flat (2, 4): values, then d(sum(y * w))/dx")
print(fmt(y.detach().flatten()))
print(fmt(flat.grad.flatten()))
k = keras.activations.log_softmax(flat.detach().numpy(), axis=-1)
assert np.allclose(keras.ops.convert_to_numpy(k), y.detach().numpy())

img = (torch.arange(12, dtype=torch.float64).reshape(1, 3, 2, 2) * 7 % 12 - 5.5) / 2.0
img.requires_grad_(True)
w = torch.arange(12, dtype=torch.float64).reshape(1, 3, 2, 2) * 0.25 - 1.0
y = F.log_softmax(img, dim=1)
(y * w).sum().backward()
print("// log_softmax image (1, 3, 2, 2) over channels: input, values, gradient")
print(fmt(img.detach().flatten()))
print(fmt(y.detach().flatten()))
print(fmt(img.grad.flatten()))
