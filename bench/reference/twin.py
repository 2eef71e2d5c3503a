"""What the twin scripts share (attention_twin.py, conv1d_twin.py, recurrent_twin.py): the
experiment template filled in as tests/common/twin.rs fills it, run through expr for no
epochs and for one, the same 2 SGD steps of 4 examples in PyTorch (float64) from expr's
initial model file, and the report the Rust test stores."""
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


def padded_ids():
    """The recurrent twins' (8, 6) token sequences: ids 1..6, then the padding id 0, as
    tests/common/twin.rs writes them."""
    x = np.zeros((8, 6), dtype=np.int64)
    for n, length in enumerate([6, 1, 3, 5, 2, 6, 4, 3]):
        for t in range(length):
            x[n, t] = 1 + (n * 5 + t * 3) % 6
    return x


def template(name):
    """`bench/reference/NAME.exp.in`, with EPOCHS, METRICS and SAVE to fill in."""
    return open(os.path.join(ROOT, "bench", "reference", f"{name}.exp.in")).read()


def experiment(text, epochs, name):
    metrics = ("  train_loss = mean(loss) on train\n" if epochs else "") + "  again_loss = mean(loss) on again\n"
    return text.replace("EPOCHS", str(epochs)).replace("METRICS", metrics).replace("SAVE", name)


def run_expr(text, dir, epochs, name):
    """Trains `text` for `epochs` in `dir` on one thread: the model file it saves."""
    path = os.path.join(dir, f"{name}.exp")
    open(path, "w").write(experiment(text, epochs, name))
    out = subprocess.run([EXPR, "run", path, "--runs-dir", os.path.join(dir, f"runs-{name}"), "--threads", "1"],
                         cwd=dir, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(out.stdout + out.stderr)
    found = [os.path.join(r, f) for r, _, fs in os.walk(dir) for f in fs if f == f"{name}.safetensors"]
    return load_file(found[0])


def named_as_expr(module):
    """`build` for a twin `module` whose tensors are named as expr's file names them: the
    module in float64, loaded with a strict `load_state_dict` (every tensor of the modules
    has one in the file, and nothing more)."""
    def build(initial):
        model = module().double()
        model.load_state_dict({k: v.double() for k, v in initial.items()}, strict=True)
        return model, model.parameters(), (lambda k: model.state_dict()[k])
    return build


def compare(text, x, labels, lr, build):
    """Saves `x` and `labels` as x.npy and y.npy, trains `text` in expr for no epochs and for
    one, and `build(initial)` (the initial model file) in PyTorch: a function of a batch
    giving logits, its parameters, and a function naming the twin's tensor for each of
    expr's. Prints both losses, the largest difference, and each final tensor's sum and sum
    of squares."""
    dir = tempfile.mkdtemp()
    np.save(os.path.join(dir, "x.npy"), x)
    np.save(os.path.join(dir, "y.npy"), labels)
    initial = run_expr(text, dir, 0, "initial")
    final = run_expr(text, dir, 1, "final")
    model, parameters, tensor = build(initial)
    dtype = torch.float64 if x.dtype.kind == "f" else None
    xs, ys = torch.tensor(x, dtype=dtype), torch.tensor(labels)
    with torch.no_grad():
        start = np.mean([F.cross_entropy(model(xs[4 * b:4 * b + 4]), ys[4 * b:4 * b + 4]).item() for b in range(2)])
    print(f"initial loss (again_loss of the epochs = 0 run) {start:.9e}")
    opt = torch.optim.SGD(parameters, lr=lr)
    losses = []
    for step in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(model(xs[4 * step:4 * step + 4]), ys[4 * step:4 * step + 4])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    print(f"step losses {losses[0]:.9e} {losses[1]:.9e} (train_loss, their mean: {np.mean(losses):.9e})")
    worst = max((final[k].double() - tensor(k)).abs().max().item() / max(tensor(k).abs().max().item(), 1e-3)
                for k in final)
    print(f"largest difference from expr's final weights, relative to each tensor's largest value: {worst:.3e}")
    print("// name, sum, sum of squares of each tensor of the final model (PyTorch, float64)")
    for k in sorted(final):
        t = tensor(k)
        print(f'    ("{k}", {t.sum().item():.9e}, {(t * t).sum().item():.9e}),')
