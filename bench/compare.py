#!/usr/bin/env python3
"""Side-by-side benchmark: the tutorial's TensorFlow loop, its PyTorch twin and
`expr run experiments/mnist.exp`, in turn on the same machine, each for the same
number of epochs of the full MNIST, for several rounds.

Prints, per framework, the median over rounds of: seconds for the last
training epoch (steady state: TensorFlow traces its graph in the first), seconds
for the test pass, peak RSS, final test accuracy; then the ratios expr/TF and
expr/PyTorch (medians of per-round ratios), the model's FLOPs per epoch, the
machine's sgemm peak on the same thread count (PyTorch's and the `gemm` crate's,
through examples/sgemm_peak.rs) and expr's fraction of each, expr's 1- vs
N-thread scaling, and a determinism check (every expr run's epoch lines and
saved weights must be identical, at N threads and at 1). Writes that to
BENCHMARKS.md's generated section when --write is given.

    python3 bench/compare.py [--rounds 3] [--epochs 2] [--threads 2] [--write]
                             [--passive-omp] [--no-scaling] [--skip-tf] [--skip-torch]

The reference loops come from ../shared/bench (found from the main checkout or a
worktree beside it); a virtualenv with tensorflow-cpu, torch and numpy is created
at $BENCH_VENV (default .bench-venv) if missing. MNIST is read from $EXPR_DATA.
On a machine shared with other work, pass --passive-omp: PyTorch's spinning
OpenMP threads otherwise make its figures meaningless.
"""

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# ../shared from the main checkout; a git worktree under wt/ finds it one level further up.
SHARED = next((p / "shared" for p in ROOT.parents if (p / "shared" / "bench" / "tf_seed.py").exists()),
              ROOT.parent / "shared")
# Work of one epoch of the tutorial's model (see ../shared/bench/RESULTS.md).
TRAIN_GFLOP = 171.6
TEST_GFLOP = 10.8


def venv_python():
    venv = Path(os.environ.get("BENCH_VENV", ROOT / ".bench-venv"))
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"creating {venv}...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if subprocess.run([str(py), "-c", "import tensorflow, torch, numpy"], capture_output=True).returncode != 0:
        print(f"installing tensorflow-cpu, torch, numpy into {venv}...", file=sys.stderr)
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


def run_reference(py, script, epochs, threads, data, passive_omp):
    env = dict(os.environ, EXPR_DATA=str(data), TF_CPP_MIN_LOG_LEVEL="2")
    if passive_omp:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
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
    cmd = [str(binary), "run", str(ROOT / "experiments" / "mnist.exp"), "--set", f"train.epochs={epochs}",
           "--threads", str(threads), "--no-progress", "--timings", "--runs-dir", str(runs_dir)]
    out, err = run_measured(peak_rss_wrapper(cmd), env=env)
    train = [float(x) for x in re.findall(r"train ([0-9.]+) s", err)]
    test = [float(x) for x in re.findall(r"test ([0-9.]+) s", err)]
    acc = [float(x) for x in re.findall(r"Test Accuracy: ([0-9.]+)%", out)]
    # What a determinism check compares: the logged epoch lines and the saved weights' bytes.
    logged = [line for line in out.splitlines() if line.startswith("Epoch ")]
    model = re.search(r"model: (\S+)", out)
    digest = tensor_digest(Path(model.group(1))) if model else ""
    return {"train_s": train, "test_s": test, "accuracy": acc[-1], "rss_mb": parse_peak(err),
            "fingerprint": (tuple(logged), digest)}


def tensor_digest(path):
    """sha256 of a safetensors file's tensor bytes. The JSON header is skipped: its metadata
    map is written in no fixed order."""
    data = path.read_bytes()
    header_len = int.from_bytes(data[:8], "little")
    return hashlib.sha256(data[8 + header_len:]).hexdigest()


def sgemm_peak_torch(py, threads, env=None):
    """Median GFLOP/s of 2048x2048 fp32 products in PyTorch (MKL/oneDNN, AVX-512 where present
    unless `env` holds it to AVX2: `suite.AVX2_TWIN`)."""
    code = (
        "import torch,time,statistics;torch.set_num_threads(%d);n=2048;a=torch.randn(n,n);b=torch.randn(n,n)\n"
        "[a@b for _ in range(3)];ts=[]\n"
        "for _ in range(10):\n"
        "  t=time.perf_counter();a@b;ts.append(time.perf_counter()-t)\n"
        "print(2*n**3/statistics.median(ts)/1e9)" % threads
    )
    out = subprocess.run([py, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    return float(out.strip().splitlines()[-1])


def sgemm_peak_gemm(threads):
    """Median GFLOP/s of 2048x2048 products through the `gemm` crate (dfdx's matmul; examples/sgemm_peak.rs)."""
    out = subprocess.run([str(ROOT / "target" / "release" / "examples" / "sgemm_peak"), str(threads)],
                         capture_output=True, text=True, check=True).stdout
    return float(re.search(r"median ([0-9.]+) GFLOP/s", out).group(1))


def machine():
    """The CPU model and core count, as lscpu reports them."""
    try:
        info = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return f"{os.cpu_count()} CPUs"

    def field(key):
        m = re.search(rf"^{key}:\s*(.+)$", info, re.M)
        return m.group(1).strip() if m else "?"

    flags = field("Flags").split()
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE"
    model, cpus, hypervisor = field("Model name"), field(r"CPU\(s\)"), field("Hypervisor vendor")
    guest = f", {hypervisor} guest" if hypervisor != "?" else ""
    return f"{model}, {cpus} CPUs ({simd}){guest}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    ap.add_argument("--skip-tf", action="store_true")
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--no-scaling", action="store_true", help="skip the 1-thread expr runs")
    ap.add_argument("--passive-omp", action="store_true",
                    help="OMP_WAIT_POLICY=PASSIVE for the reference loops: on a loaded machine PyTorch's"
                         " spinning OpenMP threads otherwise slow it 4-10x")
    args = ap.parse_args()

    data = Path(os.environ.get("EXPR_DATA", SHARED / "data")).resolve()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "expr", "--example", "sgemm_peak"],
                   cwd=ROOT, check=True)
    binary = ROOT / "target" / "release" / "expr"
    py = venv_python()
    runs_dir = ROOT / "target" / "bench-runs"

    refs = [name for name, skip in [("tensorflow", args.skip_tf), ("pytorch", args.skip_torch)] if not skip]
    results = {name: [] for name in refs + ["expr"]}
    single = []
    loads = []
    scripts = {"tensorflow": "tf_seed.py", "pytorch": "torch_seed.py"}
    for r in range(args.rounds):
        for name in refs:
            results[name].append(run_reference(py, scripts[name], args.epochs, args.threads, data, args.passive_omp))
        results["expr"].append(run_expr(binary, args.epochs, args.threads, data, runs_dir))
        if not args.no_scaling and args.threads != 1:
            single.append(run_expr(binary, args.epochs, 1, data, runs_dir))
        loads.append(os.getloadavg()[0])
        print(f"round {r + 1} (load {loads[-1]:.1f}): " + ", ".join(
            f"{k} {v[-1]['train_s'][-1]:.2f}s" for k, v in results.items() if v)
              + (f", expr 1 thread {single[-1]['train_s'][-1]:.2f}s" if single else ""), file=sys.stderr)
    peak_torch = sgemm_peak_torch(py, args.threads)
    peak_gemm = sgemm_peak_gemm(args.threads)

    def med(runs, key, last=True):
        return statistics.median([(x[key][-1] if last else x[key]) for x in runs])

    rows = []
    for name in refs + ["expr"]:
        runs = results[name]
        rows.append((name, [f"{x['train_s'][-1]:.2f}" for x in runs], med(runs, "train_s"), med(runs, "test_s"),
                     med(runs, "rss_mb", False), med(runs, "accuracy", False)))
    if single:
        rows.append(("expr, 1 thread", [f"{x['train_s'][-1]:.2f}" for x in single], med(single, "train_s"),
                     med(single, "test_s"), med(single, "rss_mb", False), med(single, "accuracy", False)))
    lines = [
        f"Machine: {machine()}. {args.threads} threads each; {args.rounds} rounds of {args.epochs} epochs"
        " of full MNIST (batch 64, 938 steps), the programs run in turn within a round; medians over rounds."
        f" Epoch {args.epochs} (steady state, after TensorFlow's tracing) is the one timed."
        f" 1-minute load average after each round: {' '.join(f'{x:.1f}' for x in loads)}"
        f" (above {args.threads}, other work shared the cores and every figure is slowed, PyTorch's"
        " spin-waiting OpenMP threads most)."
        + (" The reference loops ran with OMP_WAIT_POLICY=PASSIVE." if args.passive_omp else ""),
        "",
        f"| loop | epoch-{args.epochs} train s per round | median train s/epoch | test pass s | peak RSS MB"
        f" | test accuracy % after {args.epochs} |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {n} | {' '.join(ts)} | {t:.2f} | {te:.2f} | {rss:.0f} | {acc:.2f} |"
              for n, ts, t, te, rss, acc in rows]
    lines.append("")
    for ref in refs:
        ratios = [e["train_s"][-1] / x["train_s"][-1] for e, x in zip(results["expr"], results[ref])]
        tratios = [e["test_s"][-1] / x["test_s"][-1] for e, x in zip(results["expr"], results[ref])]
        lines.append(f"- expr/{ref}: training epoch {statistics.median(ratios):.2f}x, "
                     f"test pass {statistics.median(tratios):.2f}x (medians of per-round ratios;"
                     f" per round {' '.join(f'{x:.2f}' for x in ratios)})")
    expr_acc = med(results["expr"], "accuracy", False)
    for ref in refs:
        ref_acc = med(results[ref], "accuracy", False)
        per_round = " ".join(f"{x['accuracy']:.2f}" for x in results[ref])
        lines.append(f"- test accuracy after {args.epochs} epochs: expr {expr_acc:.2f}%, {ref} {ref_acc:.2f}%"
                     f" (medians; {ref} per round {per_round}): {expr_acc - ref_acc:+.2f} points")
    expr_train = med(results["expr"], "train_s")
    achieved = TRAIN_GFLOP / expr_train
    lines += [
        f"- model work: {TRAIN_GFLOP} GFLOP per training epoch, {TEST_GFLOP} GFLOP per test pass",
        f"- sgemm peak, {args.threads} threads, 2048x2048 fp32: {peak_torch:.0f} GFLOP/s in PyTorch"
        f" (MKL, AVX-512; the machine's peak), {peak_gemm:.0f} GFLOP/s through the `gemm` crate behind dfdx's"
        " matmul (AVX2+FMA on stable Rust; examples/sgemm_peak.rs), which expr's own AVX-512 kernels replace"
        " where the CPU has AVX-512",
        f"- expr: {achieved:.1f} GFLOP/s over a training epoch = {100 * achieved / peak_torch:.1f}% of the"
        f" PyTorch peak, {100 * achieved / peak_gemm:.0f}% of the `gemm` crate's",
    ]
    if single:
        scale = [s["train_s"][-1] / e["train_s"][-1] for s, e in zip(single, results["expr"])]
        lines.append(f"- expr thread scaling: 1 thread / {args.threads} threads = {statistics.median(scale):.2f}x"
                     f" (median of per-round ratios {' '.join(f'{x:.2f}' for x in scale)})")
    prints = [x["fingerprint"] for x in results["expr"]]
    same = all(p == prints[0] for p in prints)
    lines.append(f"- determinism: the {len(prints)} runs at {args.threads} threads logged "
                 + ("identical epoch lines and saved bit-identical weights" if same else "DIFFERENT numbers")
                 + f" (sha256 {prints[0][1][:12]})")
    if single:
        across = all(s["fingerprint"] == prints[0] for s in single)
        lines.append(f"- the 1-thread runs " + ("match them bit for bit" if across else "DIFFER from them"))
    table = "\n".join(lines)
    print(table)
    if args.write:
        path = ROOT / "BENCHMARKS.md"
        text = path.read_text() if path.exists() else "# Benchmarks\n"
        begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
        block = f"{begin}\n{table}\n\n(generated by `bench/compare.py --write` on {time.strftime('%Y-%m-%d %H:%M')} UTC)\n{end}"
        if begin in text:
            text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
        else:
            text += "\n" + block + "\n"
        path.write_text(text)


if __name__ == "__main__":
    main()
