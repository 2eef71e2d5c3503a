"""Checks that the PyTorch twins keep the suite's protocol (bench/twins/common.py): each twin
runs one short epoch, and its output must hold `parameters N` with N the "Total params"
that `expr check` prints for the experiment (summed over its models), one line
`epoch 1: train S s[, ...]` and one `final NAME VALUE` with a finite value.

    EXPR_DATA=/path/to/data python3 bench/twins/check.py [--expr target/release/expr] [--examples 500] [NAME ...]

Without names it checks every twin in bench/twins/ whose experiment exists. Runs them one
after the other, with one thread each; prints a line per twin and exits 1 if any fails.
"""
import argparse
import math
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NOT_TWINS = {"common", "check", "expr_random", "char_gpt_loads"}


def cifar_stand_in():
    """A folder with a one-record copy of each CIFAR-10 batch file, for `expr check` to
    count a CIFAR model's parameters on a machine without CIFAR-10."""
    folder = tempfile.mkdtemp()
    os.makedirs(os.path.join(folder, "cifar10"))
    for n in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        with open(os.path.join(folder, "cifar10", n), "wb") as f:
            f.write(bytes(3073))
    return folder


def folders_stand_in(path):
    """A copy of the experiment whose `images("DIR", ...)` folders that do not exist are
    replaced by ten class folders (0-9) of one black PNG each, so that `expr check`
    counts the parameters."""
    text = open(path).read()
    folder = tempfile.mkdtemp()
    for i, found in enumerate(re.findall(r'images\("([^"]+)"', text)):
        if os.path.isdir(os.path.join(os.path.dirname(path), found)):
            continue
        from PIL import Image
        stand_in = os.path.join(folder, str(i))
        for digit in range(10):
            os.makedirs(os.path.join(stand_in, str(digit)))
            Image.new("L", (28, 28)).save(os.path.join(stand_in, str(digit), "0.png"))
        text = text.replace(f'images("{found}"', f'images("{stand_in}"')
    copy = os.path.join(folder, os.path.basename(path))
    with open(copy, "w") as f:
        f.write(text)
    return copy


def expr_parameters(expr, name):
    path = os.path.join(ROOT, "experiments", f"{name}.exp")
    if "images(" in open(path).read():
        path = folders_stand_in(path)
    env = dict(os.environ)
    data = env.get("EXPR_DATA", "")
    if "cifar10(" in open(path).read() and not os.path.exists(os.path.join(data, "cifar10", "test_batch.bin")):
        env["EXPR_DATA"] = cifar_stand_in()
    out = subprocess.run([expr, "check", path], capture_output=True, text=True, env=env)
    counts = re.findall(r"^Total params: ([\d,]+)", out.stdout + out.stderr, re.M)
    return sum(int(c.replace(",", "")) for c in counts) if counts else None


def resnet20_matches_reference():
    """The twin's ResNet-20 modules against bench/reference/resnet20_twin.py's functional
    forward (which tests/resnet_twin.rs holds to expr's numbers), same weights, training
    mode: the largest difference of the logits."""
    import torch
    sys.path[:0] = [HERE, os.path.join(ROOT, "bench", "reference")]
    import resnet20
    import resnet20_twin
    torch.manual_seed(0)
    net = resnet20.model()
    suffix = lambda i: "" if i == 0 else f"_{i}"
    p, state = {}, {}
    for i, c in enumerate(m for m in net.modules() if isinstance(m, torch.nn.Conv2d)):
        p[f"conv2d{suffix(i)}.weight"] = c.weight.detach()
    for i, b in enumerate(m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        b.weight.data.uniform_(0.5, 1.5)
        b.bias.data.uniform_(-0.5, 0.5)
        n = f"batch_normalization{suffix(i)}"
        p[f"{n}.weight"], p[f"{n}.bias"] = b.weight.detach(), b.bias.detach()
        state[f"{n}.running_mean"] = torch.zeros_like(b.running_mean)
        state[f"{n}.running_var"] = torch.ones_like(b.running_var)
        state[f"{n}.num_batches_tracked"] = torch.zeros(())
    dense = net[-1]
    p["dense.weight"], p["dense.bias"] = dense.weight.detach(), dense.bias.detach()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        return (net(x) - resnet20_twin.forward(x, p, state)).abs().max().item()


def check(name, args):
    cmd = [sys.executable, os.path.join(HERE, f"{name}.py"), "--threads", "1", "--epochs", "1",
           "--examples", str(args.examples)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    text = out.stdout
    problems = []
    if out.returncode != 0:
        return [f"exit {out.returncode}: {out.stderr.strip()[-400:]}"]
    params = re.findall(r"^parameters (\d+)$", text, re.M)
    expected = expr_parameters(args.expr, name)
    if len(params) != 1:
        problems.append(f"{len(params)} `parameters` lines")
    elif expected is None:
        problems.append("`expr check` printed no parameter count (its data missing?)")
    elif int(params[0]) != expected:
        problems.append(f"parameters {params[0]}, expr {expected}")
    epochs = re.findall(r"^epoch (\d+): train (\d+\.\d{3}) s(?:$|, )", text, re.M)
    if [e for e, _ in epochs] != ["1"]:
        problems.append(f"epoch lines {epochs}")
    final = re.findall(r"^final (\w+) (\S+)$", text, re.M)
    if len(final) != 1 or not math.isfinite(float(final[0][1])):
        problems.append(f"final lines {final}")
    if name == "resnet20":
        gap = resnet20_matches_reference()
        if gap > 1e-4:
            problems.append(f"logits {gap:.2e} from bench/reference/resnet20_twin.py's forward")
    return problems or [f"ok: parameters {params[0]}, train {epochs[0][1]} s, final {' '.join(final[0])}"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="*")
    p.add_argument("--expr", default=os.path.join(ROOT, "target", "release", "expr"))
    p.add_argument("--examples", type=int, default=500)
    p.add_argument("--timeout", type=int, default=600)
    args = p.parse_args()
    names = args.names or sorted(
        f[:-3] for f in os.listdir(HERE)
        if f.endswith(".py") and f[:-3] not in NOT_TWINS
        and os.path.exists(os.path.join(ROOT, "experiments", f"{f[:-3]}.exp")))
    failed = False
    for name in names:
        result = check(name, args)
        failed |= not result[0].startswith("ok")
        print(f"{name}: {'; '.join(result)}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
