"""`attention` and `dense` on sequences against PyTorch: the numbers that tests/attention_twin.rs
stores.

A small sequence model (causal attention with 2 heads, layernorm at each position, a dense
layer at each position, attention with 3 heads drawn as PyTorch draws them, a dense
classifier) trains 2 SGD steps of 4 generated (8, 6) sequences in expr from its seeded
initial weights. Here, expr's initial model file is loaded into two
`nn.MultiheadAttention(batch_first=True)` modules with `load_state_dict` (the names and
layouts of the file are the module's), the same 2 steps run in PyTorch (float64), and every
tensor is compared. The script prints both losses and, per tensor of the final model, its
sum and sum of squares.

    cargo build --release && python3 bench/reference/attention_twin.py
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
EXPERIMENT = open(os.path.join(ROOT, "bench", "reference", "attention_twin.exp.in")).read()
T = 6


def sequences():  # (8, 8, 6): (examples, channels, length), as expr holds sequences
    n, c, t = np.meshgrid(np.arange(8), np.arange(8), np.arange(T), indexing="ij")
    k = (n * 5 + c * 7 + t * 3) % 13
    return (k.astype(np.float32) / np.float32(6.5) - np.float32(1.0)).astype(np.float32)


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


class Twin(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        self.norm = torch.nn.LayerNorm(8, eps=1e-3)
        self.dense = torch.nn.Linear(8, 6)
        self.attention_1 = torch.nn.MultiheadAttention(6, 3, batch_first=True)
        self.classify = torch.nn.Linear(6 * T, 3)

    def forward(self, x):  # x: (batch, channels, length)
        h = x.transpose(1, 2)  # (batch, length, channels), PyTorch's layout
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        h, _ = self.attention(h, h, h, attn_mask=causal, need_weights=False)
        h = torch.tanh(self.dense(self.norm(h)))
        h, _ = self.attention_1(h, h, h, need_weights=False)
        return self.classify(h.transpose(1, 2).flatten(1))  # expr flattens (channels, length)


# expr's layer names → the twin's modules.
PREFIXES = {"multi_head_attention.": "attention.", "layer_normalization.": "norm.", "dense.": "dense.",
            "multi_head_attention_1.": "attention_1.", "dense_1.": "classify."}


def twin_name(name):
    for a, b in PREFIXES.items():
        if name.startswith(a):
            return b + name[len(a):]
    raise KeyError(name)


if __name__ == "__main__":
    dir = tempfile.mkdtemp()
    x = sequences()
    np.save(os.path.join(dir, "x.npy"), x)
    np.save(os.path.join(dir, "y.npy"), LABELS)
    initial = run_expr(dir, 0, "initial")
    final = run_expr(dir, 1, "final")
    model = Twin().double()
    # strict: every tensor of the module has one in expr's file, and nothing more.
    model.load_state_dict({twin_name(k): v.double() for k, v in initial.items()}, strict=True)
    xs, ys = torch.tensor(x, dtype=torch.float64), torch.tensor(LABELS)
    with torch.no_grad():
        start = np.mean([F.cross_entropy(model(xs[4 * b:4 * b + 4]), ys[4 * b:4 * b + 4]).item() for b in range(2)])
    print(f"initial loss (again_loss of the epochs = 0 run) {start:.9e}")
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for step in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(model(xs[4 * step:4 * step + 4]), ys[4 * step:4 * step + 4])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print(f"step losses {losses[0]:.9e} {losses[1]:.9e} (train_loss, their mean: {np.mean(losses):.9e})")
    p = dict(model.state_dict())
    worst = max((final[k].double() - p[twin_name(k)]).abs().max().item() / max(p[twin_name(k)].abs().max().item(), 1e-3)
                for k in final)
    print(f"largest difference from expr's final weights, relative to each tensor's largest value: {worst:.3e}")
    print("// name, sum, sum of squares of each tensor of the final model (PyTorch, float64)")
    for k in sorted(final):
        t = p[twin_name(k)]
        print(f'    ("{k}", {t.sum().item():.9e}, {(t * t).sum().item():.9e}),')
