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
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPR = os.path.join(ROOT, "target", "release", "expr")
LABELS = np.array([0, 2, 1, 1, 2, 0, 0, 1], dtype=np.int64)

# The experiment, with EPOCHS, METRICS and SAVE to fill in (tests/conv1d_twin.rs reads it too).
EXPERIMENT = open(os.path.join(ROOT, "bench", "reference", "conv1d_twin.exp.in")).read()


def sequences():
    n, c, t = np.meshgrid(np.arange(8), np.arange(4), np.arange(20), indexing="ij")
    k = (n * 5 + c * 7 + t * 3) % 13
    return (k.astype(np.float32) / np.float32(13.0) - np.float32(0.5)).astype(np.float32)


def experiment(epochs, name):
    metrics = ("  train_loss = mean(loss) on train\n" if epochs else "") + "  again_loss = mean(loss) on again\n"
    return EXPERIMENT.replace("EPOCHS", str(epochs)).replace("METRICS", metrics).replace("SAVE", name)


def run_expr(dir, epochs, name):
    path = os.path.join(dir, f"{name}.exp")
    open(path, "w").write(experiment(epochs, name))
    out = subprocess.run([EXPR, "run", path, "--runs-dir", os.path.join(dir, f"runs-{name}"), "--threads", "1"],
                         cwd=dir, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stdout + out.stderr)
    found = [os.path.join(r, f) for r, _, fs in os.walk(dir) for f in fs if f == f"{name}.safetensors"]
    return load_file(found[0])


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


if __name__ == "__main__":
    dir = tempfile.mkdtemp()
    x = sequences()
    np.save(os.path.join(dir, "x.npy"), x)
    np.save(os.path.join(dir, "y.npy"), LABELS)
    initial = run_expr(dir, 0, "initial")
    final = run_expr(dir, 1, "final")
    p = {k: v.clone().double().requires_grad_(True) for k, v in initial.items()}
    xs, ys = torch.tensor(x, dtype=torch.float64), torch.tensor(LABELS)
    with torch.no_grad():
        start = np.mean([F.cross_entropy(forward(xs[4 * b:4 * b + 4], p), ys[4 * b:4 * b + 4]).item() for b in range(2)])
    print(f"initial loss (again_loss of the epochs = 0 run) {start:.9e}")
    opt = torch.optim.SGD(p.values(), lr=0.1)
    losses = []
    for step in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(forward(xs[4 * step:4 * step + 4], p), ys[4 * step:4 * step + 4])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print(f"step losses {losses[0]:.9e} {losses[1]:.9e} (train_loss, their mean: {np.mean(losses):.9e})")
    worst = max((final[k].double() - p[k].detach()).abs().max().item() / max(p[k].detach().abs().max().item(), 1e-3)
                for k in final)
    print(f"largest difference from expr's final weights, relative to each tensor's largest value: {worst:.3e}")
    print("// name, sum, sum of squares of each tensor of the final model (PyTorch, float64)")
    for k in sorted(final):
        t = p[k].detach()
        print(f'    ("{k}", {t.sum().item():.9e}, {(t * t).sum().item():.9e}),')
