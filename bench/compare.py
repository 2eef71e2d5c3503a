#!/usr/bin/env python3
"""Side-by-side benchmark: the tutorial's TensorFlow loop, its PyTorch twin and
`expr run experiments/mnist.exp`, in turn on the same machine, each for the same
number of epochs of the full MNIST, for several rounds.

Prints, per framework, the median over rounds of: seconds for the second
training epoch (steady state), seconds for the test pass, peak RSS, final test
accuracy; then the ratios expr/TF and expr/PyTorch (medians of per-round
ratios), the model's FLOPs per epoch, the machine's sgemm peak on the same
thread count, and expr's fraction of it. Writes the table to BENCHMARKS.md's
generated section when --write is given.

    python3 bench/compare.py [--rounds 3] [--epochs 2] [--threads 2] [--write]

The reference loops come from ../shared/bench; a virtualenv with tensorflow-cpu,
torch and numpy is created at $BENCH_VENV (default .bench-venv) if missing.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
# Work of one epoch of the tutorial's model (see ../shared/bench/RESULTS.md).
TRAIN_GFLOP = 171.6
TEST_GFLOP = 10.8


def venv_python(args):
    venv = Path(os.environ.get("BENCH_VENV", ROOT / ".bench-venv"))
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"creating {venv} (tensorflow-cpu, torch, numpy)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "tensorflow-cpu", "torch", "numpy"], check=True)
    return str(py)


def run_measured(cmd, env=None, cwd=None):
    """Runs cmd to completion and returns its (stdout, stderr)."""
    proc = subprocess.run(cmd, capture_output=True, env=env, cwd=cwd, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout, proc.stderr


def peak_rss_wrapper(cmd):
    """Wraps cmd so that its peak RSS is printed on stderr as `PEAK_RSS_KB n`."""
    code = (
        "import os,sys,subprocess;"
        "p=subprocess.Popen(sys.argv[1:]);"
        "_,s,ru=os.wait4(p.pid,0);"
        "sys.stderr.write('PEAK_RSS_KB %d\\n'%ru.ru_maxrss);"
        "sys.exit(os.waitstatus_to_exitcode(s))"
    )
    return [sys.executable, "-c", code] + cmd


def parse_peak(err):
    m = re.findall(r"PEAK_RSS_KB (\d+)", err)
    return int(m[-1]) / 1024 if m else float("nan")


def run_reference(py, script, epochs, threads, data):
    env = dict(os.environ, EXPR_DATA=str(data), TF_CPP_MIN_LOG_LEVEL="2")
    out, err = run_measured(peak_rss_wrapper([py, script, "--epochs", str(epochs), "--threads", str(threads)]),
                            env=env, cwd=str(SHARED / "bench"))
    record = json.loads(out.strip().splitlines()[-1])
    return {
        "train_s": record["epoch_train_s"],
        "test_s": record["epoch_test_s"],
        "accuracy": record["test_accuracy"][-1],
        "rss_mb": parse_peak(err),
    }


def run_expr(binary, epochs, threads, data, runs_dir):
    env = dict(os.environ, EXPR_DATA=str(data))
    cmd = [str(binary), "run", str(ROOT / "experiments" / "mnist.exp"), "--epochs", str(epochs),
           "--threads", str(threads), "--no-progress", "--timings", "--runs-dir", str(runs_dir)]
    out, err = run_measured(peak_rss_wrapper(cmd), env=env)
    train = [float(x) for x in re.findall(r"train ([0-9.]+) s", err)]
    test = [float(x) for x in re.findall(r"test ([0-9.]+) s", err)]
    acc = [float(x) for x in re.findall(r"Test Accuracy: ([0-9.]+)%", out)]
    return {"train_s": train, "test_s": test, "accuracy": acc[-1], "rss_mb": parse_peak(err)}


def sgemm_peak(py, threads):
    code = (
        "import torch,time;torch.set_num_threads(%d);n=2048;a=torch.randn(n,n);b=torch.randn(n,n);"
        "[a@b for _ in range(3)];t=time.perf_counter();k=10\n"
        "for _ in range(k): a@b\n"
        "print(2*n**3*k/(time.perf_counter()-t)/1e9)" % threads
    )
    out = subprocess.run([py, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    ap.add_argument("--skip-tf", action="store_true")
    args = ap.parse_args()

    data = Path(os.environ.get("EXPR_DATA", SHARED / "data")).resolve()
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    binary = ROOT / "target" / "release" / "expr"
    py = venv_python(args)
    runs_dir = ROOT / "target" / "bench-runs"

    results = {"tensorflow": [], "pytorch": [], "expr": []}
    for r in range(args.rounds):
        if not args.skip_tf:
            results["tensorflow"].append(run_reference(py, "tf_seed.py", args.epochs, args.threads, data))
        results["pytorch"].append(run_reference(py, "torch_seed.py", args.epochs, args.threads, data))
        results["expr"].append(run_expr(binary, args.epochs, args.threads, data, runs_dir))
        print(f"round {r + 1}: " + ", ".join(
            f"{k} {v[-1]['train_s'][-1]:.2f}s" for k, v in results.items() if v), file=sys.stderr)
    peak = sgemm_peak(py, args.threads)

    def med(name, key, last=True):
        vals = [(x[key][-1] if last else x[key]) for x in results[name]]
        return statistics.median(vals)

    rows = []
    for name in ["tensorflow", "pytorch", "expr"]:
        if not results[name]:
            continue
        rows.append((name, med(name, "train_s"), med(name, "test_s"), med(name, "rss_mb", False),
                     med(name, "accuracy", False)))
    lines = [
        f"Machine: {os.cpu_count()} cores, {args.threads} threads each; {args.rounds} rounds of {args.epochs} epochs,"
        f" run in turn; medians. Epoch {args.epochs} (steady state) is timed.",
        "",
        "| loop | train s/epoch | test pass s | peak RSS MB | test accuracy % |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {n} | {t:.2f} | {te:.2f} | {rss:.0f} | {acc:.2f} |" for n, t, te, rss, acc in rows]
    lines.append("")
    for ref in ["tensorflow", "pytorch"]:
        if results[ref]:
            ratios = [e["train_s"][-1] / x["train_s"][-1] for e, x in zip(results["expr"], results[ref])]
            tratios = [e["test_s"][-1] / x["test_s"][-1] for e, x in zip(results["expr"], results[ref])]
            lines.append(f"- expr/{ref}: training epoch {statistics.median(ratios):.2f}x, "
                         f"test pass {statistics.median(tratios):.2f}x (median of per-round ratios)")
    expr_train = med("expr", "train_s")
    achieved = TRAIN_GFLOP / expr_train
    lines += [
        f"- model work: {TRAIN_GFLOP} GFLOP per training epoch, {TEST_GFLOP} GFLOP per test pass",
        f"- sgemm peak ({args.threads} threads, 2048x2048, PyTorch): {peak:.0f} GFLOP/s",
        f"- expr: {achieved:.1f} GFLOP/s over a training epoch = {100 * achieved / peak:.0f}% of that peak",
    ]
    table = "\n".join(lines)
    print(table)
    if args.write:
        path = ROOT / "BENCHMARKS.md"
        text = path.read_text() if path.exists() else "# Benchmarks\n"
        begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
        block = f"{begin}\n{table}\n\n(generated by bench/compare.py on {time.strftime('%Y-%m-%d')})\n{end}"
        if begin in text:
            text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
        else:
            text += "\n" + block + "\n"
        path.write_text(text)


if __name__ == "__main__":
    main()
