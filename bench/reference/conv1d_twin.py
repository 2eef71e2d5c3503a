"""The 1-D layers against PyTorch: the numbers that tests/conv1d_twin.rs stores.

A small sequence model (conv1d, maxpool1d, conv1d with stride 2 and `same` padding,
avgpool1d with `same` padding, a bias-free conv1d, global_maxpool1d, dense) trains 2 SGD
steps of 4 generated (4, 20) sequences in expr from its seeded initial weights; the same
2 steps run here in PyTorch (float64, functional: F.conv1d after Keras' `same` padding,
which puts the odd position after; F.max_pool1d; an average that leaves padding out),
and every tensor is compared. The script prints both losses and, per tensor of the final
model, its sum and sum of squares.

    cargo build --release && python3 bench/reference/conv1d_twin.py
"""
import numpy as np
import torch
import torch.nn.functional as F

from twin import compare, template

LABELS = np.array([0, 2, 1, 1, 2, 0, 0, 1], dtype=np.int64)


def sequences():
    n, c, t = np.meshgrid(np.arange(8), np.arange(4), np.arange(20), indexing="ij")
    k = (n * 5 + c * 7 + t * 3) % 13
    return (k.astype(np.float32) / np.float32(13.0) - np.float32(0.5)).astype(np.float32)


def same(x, k, stride):
    """Keras' `same` padding of a window k every `stride`: the odd position after."""
    size = x.shape[-1]
    total = max((-(-size // stride) - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def conv(x, p, name, stride=1, pad=False):
    w = p[f"{name}.weight"]
    if pad:
        x = F.pad(x, same(x, w.shape[-1], stride))
    return F.conv1d(x, w, p.get(f"{name}.bias"), stride=stride)


def avgpool_same(x, k):
    """Windows of k every k with `same` padding; the mean over the positions inside."""
    before, _ = same(x, k, k)
    outs = []
    for i in range(-(-x.shape[-1] // k)):
        lo = max(i * k - before, 0)
        hi = min(i * k - before + k, x.shape[-1])
        outs.append(x[..., lo:hi].mean(-1))
    return torch.stack(outs, -1)


def forward(x, p):
    h = F.relu(conv(x, p, "conv1d"))
    h = F.max_pool1d(h, 2)
    h = torch.tanh(conv(h, p, "conv1d_1", stride=2, pad=True))
    h = avgpool_same(h, 2)
    h = conv(h, p, "conv1d_2", pad=True)
    h = h.amax(-1)
    return F.linear(h, p["dense.weight"], p["dense.bias"])


def build(initial):
    p = {k: v.clone().double().requires_grad_(True) for k, v in initial.items()}
    return (lambda x: forward(x, p)), p.values(), (lambda k: p[k].detach())


if __name__ == "__main__":
    # The experiment, with EPOCHS, METRICS and SAVE to fill in (tests/conv1d_twin.rs reads it too).
    compare(template("conv1d_twin"), sequences(), LABELS, 0.1, build)
