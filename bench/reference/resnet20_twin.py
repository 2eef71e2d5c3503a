"""ResNet-20 (experiments/resnet20.exp) against a PyTorch twin: the numbers that
tests/resnet_twin.rs stores.

The script writes 8 generated 3x32x32 images (a formula both sides compute in float32)
and their labels as .npy files, runs expr twice on experiments/resnet20.exp with its data
replaced by them (`epochs = 0` saves the initial weights, `epochs = 1` trains 2 steps of
4 images with the file's SGD: momentum 0.9, weight decay 1e-4, lr 0.1), then computes the
same 2 steps in PyTorch from expr's initial weights, functionally (F.conv2d,
F.batch_norm with momentum 0.01 and eps 1e-3, as Keras' 0.99 and 1e-3;
torch.optim.SGD), and compares every tensor. It prints the step losses and, per tensor
of the final model, its sum and sum of squares, which the Rust test compares with expr's.

    cargo build --release && python3 bench/reference/resnet20_twin.py [--float32]

With --float32 the twin computes in float32 instead, and prints, per tensor, how far its
sum of squares lands from float64's: the spread that float32 rounding alone gives, against
which the Rust test's tolerance is set.
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


def images():
    n, c, h, w = np.meshgrid(np.arange(8), np.arange(3), np.arange(32), np.arange(32), indexing="ij")
    k = (n * 7 + c * 3 + h * 5 + w * 11) % 17
    return (k.astype(np.float32) / np.float32(17.0) - np.float32(0.5)).astype(np.float32)


LABELS = np.array([0, 3, 5, 9, 1, 1, 7, 2], dtype=np.int64)


def experiment(epochs, save_to):
    text = open(os.path.join(ROOT, "experiments", "resnet20.exp")).read()
    # The file's own metrics and log, at its end, read the test set this replaces.
    text = text[:text.index("\nmetrics {")]
    start = text.index("data train")
    end = text.index("// Two 3x3 convs")
    data = 'data train = npy(x = "x.npy", y = "y.npy") | batch(4)\n\n'
    data += 'data again = npy(x = "x.npy", y = "y.npy") | batch(4)\n\n'
    text = text[:start] + data + text[end:]
    text = text.replace("  validate = test\n", "  validate = again\n").replace("epochs = 182", f"epochs = {epochs}")
    # The initial run evaluates only (inference mode); the other trains 2 steps.
    metric = "  train_loss = mean(loss) on train\n" if epochs else ""
    metric += "  again_loss = mean(loss) on again\n"
    return text + f'\nmetrics {{\n{metric}}}\n\nafter {{\n  save(resnet, to = "{save_to}")\n}}\n'


def run_expr(dir, epochs, name):
    path = os.path.join(dir, f"{name}.exp")
    open(path, "w").write(experiment(epochs, f"{name}.safetensors"))
    out = subprocess.run([EXPR, "run", path, "--runs-dir", os.path.join(dir, "runs"), "--threads", "1"],
                         cwd=dir, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stdout + out.stderr)
    found = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(dir, "runs")) for f in fs if f == f"{name}.safetensors"]
    return load_file(found[0])


def conv(x, p, i, stride, same):
    """expr's conv2d: Keras' `same` padding puts the odd pixel after (bottom, right)."""
    w = p[f"conv2d{suffix(i)}.weight"]
    k = w.shape[-1]
    if same:
        size = x.shape[-1]
        total = max((-(-size // stride) - 1) * stride + k - size, 0)
        x = F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2))
    return F.conv2d(x, w, stride=stride)


def suffix(i):
    return "" if i == 0 else f"_{i}"


def bn(x, p, state, i):
    """Keras' BatchNormalization in training: batch mean and biased variance; the running
    averages move by momentum 0.99 with the biased variance (what expr stores)."""
    name = f"batch_normalization{suffix(i)}"
    if state.get("inference"):
        mean, var = state[f"{name}.running_mean"], state[f"{name}.running_var"]
        y = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + 1e-3)
        return y * p[f"{name}.weight"][None, :, None, None] + p[f"{name}.bias"][None, :, None, None]
    mean = x.mean((0, 2, 3))
    var = x.var((0, 2, 3), unbiased=False)
    with torch.no_grad():
        state[f"{name}.running_mean"].mul_(0.99).add_(0.01 * mean)
        state[f"{name}.running_var"].mul_(0.99).add_(0.01 * var)
        state[f"{name}.num_batches_tracked"].add_(1)
    y = (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + 1e-3)
    return y * p[f"{name}.weight"][None, :, None, None] + p[f"{name}.bias"][None, :, None, None]


def forward(x, p, state):
    block = lambda h, i, stride: bn(conv(h, p, i, stride, True), p, state, i)
    h = F.relu(block(x, 0, 1))
    i = 1
    for stage in range(3):
        for b in range(3):
            if stage > 0 and b == 0:
                a = F.relu(block(h, i, 2))
                a = block(a, i + 1, 1)
                shortcut = bn(conv(h, p, i + 2, 2, False), p, state, i + 2)
                h = F.relu(a + shortcut)
                i += 3
            else:
                a = F.relu(block(h, i, 1))
                h = F.relu(block(a, i + 1, 1) + h)
                i += 2
    return F.linear(h.mean((2, 3)), p["dense.weight"], p["dense.bias"])


def main():
    dir = tempfile.mkdtemp()
    x = images()
    np.save(os.path.join(dir, "x.npy"), x)
    np.save(os.path.join(dir, "y.npy"), LABELS)
    initial = run_expr(dir, 0, "initial")
    final = run_expr(dir, 1, "final")
    results = {}
    for dtype in ([torch.float64, torch.float32] if "--float32" in sys.argv else [torch.float64]):
        results[dtype] = twin(x, initial, final, dtype)
    if torch.float32 in results:
        print("// float32 against float64: relative difference of each tensor's sum of squares")
        for k, (_, squares) in results[torch.float64].items():
            other = results[torch.float32][k][1]
            print(f"    {k}: {abs(other - squares) / max(squares, 1e-6):.3e}")


def twin(x, initial, final, dtype):
    """The twin's two steps in `dtype` from expr's initial weights; prints the comparison
    with expr's final weights and returns each tensor's (sum, sum of squares)."""
    trained = {k: v.clone().to(dtype).requires_grad_(True) for k, v in initial.items()
               if not any(s in k for s in ("running", "num_batches"))}
    state = {k: v.clone().to(dtype) for k, v in initial.items() if k not in trained}
    opt = torch.optim.SGD(trained.values(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    xs, ys = torch.tensor(x, dtype=dtype), torch.tensor(LABELS)
    # The evaluation-only run's loss: the initial weights in inference mode.
    inference = dict(state, inference=True)
    with torch.no_grad():
        initial_losses = [F.cross_entropy(forward(xs[4 * b:4 * b + 4], trained, inference), ys[4 * b:4 * b + 4]).item() for b in range(2)]
    print(f"initial inference loss (again_loss of the epochs = 0 run) {np.mean(initial_losses):.9e}")
    losses = []
    for step in range(2):
        opt.zero_grad()
        logits = forward(xs[4 * step:4 * step + 4], trained, state)
        loss = F.cross_entropy(logits, ys[4 * step:4 * step + 4])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print(f"step losses {losses[0]:.9e} {losses[1]:.9e} (train_loss, their mean: {np.mean(losses):.9e})")
    worst = 0.0
    for k in sorted(final):
        if k == "inference":
            continue
        mine = trained[k] if k in trained else state[k]
        diff = (final[k].double() - mine.detach().double()).abs().max().item()
        scale = mine.detach().abs().max().item()
        worst = max(worst, diff / max(scale, 1e-3))
    print(f"largest difference from expr's final weights, relative to each tensor's largest value: {worst:.3e}")
    print(f"// name, sum, sum of squares of each tensor of the final model (PyTorch, {dtype})")
    stats = {}
    for k in sorted(final):
        if k == "inference":
            continue
        t = (trained[k] if k in trained else state[k]).detach().double()
        stats[k] = (t.sum().item(), (t * t).sum().item())
        print(f'    ("{k}", {stats[k][0]:.9e}, {stats[k][1]:.9e}),')
    return stats


if __name__ == "__main__":
    main()
