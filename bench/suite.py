#!/usr/bin/env python3
"""The benchmark suite: every experiment in experiments/ against its PyTorch twin in
bench/twins/, run side by side, in turn, at 2 threads and at 1, for several rounds.

    EXPR_DATA=/path/to/data python3 bench/suite.py [--rounds 3] [--threads 2,1]
        [--models mnist,gan] [--expr target/release/expr] [--write]

For each model and thread count the two programs train the same model on the same data for
the same epochs; the figure timed is the median over epochs 2.. of each run's training
seconds (epoch 1 holds PyTorch's warm-up and expr's first allocations), then the median over
rounds. Large models are timed on their first `examples` training examples (the same `take`
for both: expr's file gets `| take(count = K)` after its source, the twin `--examples K`), so
a round of the whole suite stays near ten minutes; the table says which.

Each twin follows one protocol: `--threads N --epochs E [--examples K] [--seed S]`, prints
`parameters N` once, `epoch I: train S s` per epoch, and `final NAME VALUE` at the end, the
figure that expr's run records in metrics.csv's column NAME (accuracies there are fractions,
the twins' percent). Peak RSS is each process's own (`wait4`'s ru_maxrss).

Before the rounds, each twin runs one more, untimed epoch with `TWIN_FLOPS=1`, where torch's
FlopCounterMode counts the epoch's products (matrix products, convolutions, attention;
forward and backward); with the machine's fused multiply-add peak at each thread count
(examples/fma_peak.rs) this gives both programs' GFLOP/s and their share of the peak, and
shows where the 0.5x bar would need more than the peak.

`--write` replaces the section between `<!-- suite:begin -->` and `<!-- suite:end -->` of
BENCHMARKS.md with the table and the bars of issue 19 (epoch <= 0.5x the twin at 2 threads
and <= 0.7x at 1; peak RSS <= 0.25x).
"""

import argparse
import csv
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench" / "twins"))
from expr_examples import limited  # noqa: E402  (the twins' `--examples` on expr's side)
sys.path.insert(0, str(ROOT / "bench"))
from compare import SHARED, machine, parse_peak, peak_rss_wrapper, sgemm_peak_torch  # noqa: E402  (the tutorial's side by side)

EPOCH = re.compile(r"^epoch (\d+): train ([0-9.]+) s", re.M)
FINAL = re.compile(r"^final (\S+) (\S+)", re.M)
FLOPS = re.compile(r"^flops (\d+)", re.M)
RUN_DIR = re.compile(r"run saved in (\S+)")


@dataclass
class Model:
    name: str
    twin: str  # path under bench/, the PyTorch twin
    epochs: int = 2  # epochs per run; epochs 2.. are timed
    examples: int | None = None  # the training examples both programs take (None: all)
    data: str = "train"  # the data declaration that `examples` limits
    note: str = ""
    counted: bool = True  # whether FlopCounterMode sees the twin's products (not nn.LSTM's)


# Each entry's `examples` keeps one of its epochs near 2-5 seconds on the 2-core machine the
# figures in BENCHMARKS.md come from; the small tables run whole, for more epochs.
SUITE = [
    Model("mnist", "twins/mnist.py", examples=20000),
    Model("keras_convnet", "twins/keras_convnet.py", examples=10240),
    Model("mnist_hooks", "twins/mnist_hooks.py", examples=20000),
    Model("mnist_validation", "twins/mnist_validation.py", examples=20000),
    Model("mnist_augmented", "twins/mnist_augmented.py", examples=20000),
    Model("pytorch_mnist", "twins/pytorch_mnist.py", examples=5120),
    Model("residual_mnist", "twins/residual_mnist.py", examples=5120),
    Model("gan", "twins/gan.py", examples=20000),
    Model("wgan", "twins/wgan.py", examples=20000),
    Model("autoencoder", "twins/autoencoder.py", examples=20000),
    Model("vae", "twins/vae.py", examples=10240),
    Model("dcgan", "twins/dcgan.py", examples=1280),
    Model("resnet20", "twins/resnet20.py", examples=1280,
          note="synthetic CIFAR-shaped data (no CIFAR-10 here)"),
    Model("cifar10_cnn", "twins/cifar10_cnn.py", examples=5120,
          note="synthetic CIFAR-shaped data (no CIFAR-10 here)"),
    Model("lstm_adding", "twins/lstm_adding.py", examples=5000, counted=False),
    Model("char_gpt", "twins/char_gpt.py", examples=2400),
    Model("text_classifier", "twins/text_classifier.py", epochs=5),
    Model("text_lstm", "twins/text_lstm.py", epochs=5, counted=False),
    Model("tabular", "twins/tabular.py", epochs=30),
    Model("regression", "twins/regression.py", epochs=30),
    Model("digits_npz", "twins/digits_npz.py", epochs=30),
]


# What a CPU without AVX-512 gives PyTorch: its own kernels (ATen), MKL's products and
# oneDNN's convolutions each held to AVX2 (on this machine its 2048x2048 sgemm then runs at
# about half the rate). With `--portable` the twins run so, unless `--twin-avx512`: the
# AVX2 bar compares expr and PyTorch as both run on such a CPU.
AVX2_TWIN = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def cifar_stand_in(data, folder):
    """$EXPR_DATA with random CIFAR-10 files of the official size and format (a label byte,
    then 3072 pixel bytes, per record) beside the real folders, where CIFAR-10 is missing:
    the speed does not depend on the pixels. The twins draw their own random images then."""
    if (data / "cifar10" / "test_batch.bin").exists():
        return data
    for entry in data.iterdir():
        (folder / entry.name).symlink_to(entry)
    (folder / "cifar10").mkdir()
    rng = random.Random(0)
    for name, n in [(f"data_batch_{i}.bin", 10000) for i in range(1, 6)] + [("test_batch.bin", 10000)]:
        records = bytearray(rng.randbytes(3073 * n))
        records[::3073] = bytes(rng.randrange(10) for _ in range(n))
        (folder / "cifar10" / name).write_bytes(records)
    return folder


def limited_copy(model, folder):
    """The experiment file, or a copy in `folder` whose training data keeps its first
    `examples` (bench/twins/expr_examples.py: the same examples the twin's `--examples`
    keeps, after any validation split)."""
    src = ROOT / "experiments" / f"{model.name}.exp"
    if model.examples is None:
        return src
    out = Path(folder) / f"{model.name}.exp"
    out.write_text(limited(str(src), model.examples, model.data))
    return out


def measured(cmd, env):
    """Runs cmd in the repository's root; returns (stdout, stderr)."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout, proc.stderr


def timed_epochs(text):
    seconds = [float(s) for _, s in EPOCH.findall(text)]
    if not seconds:
        raise RuntimeError(f"no `epoch N: train S s` lines in:\n{text[-2000:]}")
    return statistics.median(seconds[1:] or seconds)


def run_expr(binary, model, path, threads, runs_dir, env):
    cmd = [binary, "run", path, "--epochs", model.epochs, "--threads", threads, "--no-progress", "--timings",
           "--runs-dir", runs_dir]
    out, err = measured(peak_rss_wrapper([str(c) for c in cmd]), env)
    return {"s": timed_epochs(err), "rss": parse_peak(err), "run": Path(RUN_DIR.search(out + err).group(1))}


def expr_figure(run_dir, name):
    """The last epoch's `name` in a run's metrics.csv, in the twins' units."""
    with open(run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    last = rows[-1] if rows else {}
    if last.get(name) in (None, ""):
        return float("nan")
    return float(last[name]) * (100 if name.endswith("accuracy") else 1)


def run_twin(model, threads, env):
    cmd = [sys.executable, ROOT / "bench" / model.twin, "--threads", threads, "--epochs", model.epochs]
    if model.examples is not None:
        cmd += ["--examples", model.examples]
    out, err = measured(peak_rss_wrapper([str(c) for c in cmd]), env)
    finals = FINAL.findall(out)
    name, value = finals[-1] if finals else ("?", "nan")
    return {"s": timed_epochs(out), "rss": parse_peak(err), "name": name, "metric": float(value)}


def fma_peak(threads):
    """The machine's fp32 arithmetic peak in GFLOP/s on `threads` threads: fused
    multiply-adds on registers, the widest vectors the CPU has (examples/fma_peak.rs, built
    here if missing). No product runs faster, whatever library computes it."""
    binary = ROOT / "target" / "release" / "examples" / "fma_peak"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "--example", "fma_peak"], cwd=ROOT, check=True)
    out = subprocess.run([str(binary), str(threads)], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"median ([0-9.]+) GFLOP/s", out).group(1))


def epoch_flops(model, env):
    """The floating-point operations of one training epoch, as torch's FlopCounterMode
    counts them in the twin (`TWIN_FLOPS=1`, one epoch, untimed: products, convolutions and
    attention, forward and backward; elementwise work is left out, so the GFLOP/s derived
    from it are those of the products). None where the twin counts nothing, or where the
    counter does not see the twin's products (`Model.counted`)."""
    if not model.counted:
        return None
    cmd = [sys.executable, ROOT / "bench" / model.twin, "--threads", 2, "--epochs", 1]
    if model.examples is not None:
        cmd += ["--examples", model.examples]
    out, _ = measured([str(c) for c in cmd], dict(env, TWIN_FLOPS="1"))
    counts = [int(n) for n in FLOPS.findall(out)]
    return counts[0] if counts and counts[0] > 0 else None


def table(models, threads_list, results, rounds, loads, portable, twin_avx2, flops, peaks, sgemm):
    med = statistics.median
    head = "| model | examples x epochs |"
    rule = "| --- | --- |"
    for t in threads_list:
        head += f" expr s ({t}t) | twin s ({t}t) | ratio ({t}t) |"
        rule += " --- | --- | --- |"
    t0 = threads_list[0]
    head += f" GFLOP / epoch | GFLOP/s expr / twin ({t0}t) | % of FMA peak expr / twin ({t0}t) |"
    rule += " --- | --- | --- |"
    head += " peak RSS MB expr / twin | ratio | final figure expr / twin |"
    rule += " --- | --- | --- |"
    lines = [
        f"Machine: {machine()}. {rounds}; in each, every model ran expr then its twin at each"
        " thread count. Seconds: median over a run's epochs 2.., then over rounds; ratio: median of the"
        f" per-round ratios. 1-minute load average after each round: {' '.join(f'{x:.1f}' for x in loads)}."
        " GFLOP: the products' floating-point operations of one training epoch, counted in the twin"
        " (torch's FlopCounterMode; elementwise work left out), the same work for both programs;"
        " FMA peak: the cores' fused multiply-add rate on the widest vectors (examples/fma_peak.rs: "
        + ", ".join(f"{peaks[t]:.0f} at {t}t" for t in threads_list) + "); PyTorch's own sgemm on 2048x2048"
        " products, for comparison: " + ", ".join(f"{sgemm[t]:.0f} at {t}t" for t in threads_list) + "."
        + (" expr ran with EXPR_PORTABLE=1 (its AVX2 path)" if portable else "")
        + (", PyTorch held to AVX2 as well (" + ", ".join(f"{k}={v}" for k, v in AVX2_TWIN.items())
           + "; its sgemm above measured so)." if twin_avx2 else ("." if portable else "")),
        "",
        head,
        rule,
    ]
    bars, beyond = [], []
    for m in models:
        r = results[m.name]
        if not r:
            continue
        size = f"{m.examples or 'all'} x {m.epochs}"
        row = f"| {m.name} | {size} |"
        for t in threads_list:
            pairs = r.get(t, [])
            if not pairs:
                row += " - | - | - |"
                continue
            ratio = med([e["s"] / w["s"] for e, w in pairs])
            row += f" {med([e['s'] for e, _ in pairs]):.3f} | {med([w['s'] for _, w in pairs]):.3f} | {ratio:.2f} |"
            bars.append((m.name, t, ratio))
        first = r[threads_list[0]]
        f = flops.get(m.name)
        if f:
            e_rate, w_rate = f / med([e["s"] for e, _ in first]) / 1e9, f / med([w["s"] for _, w in first]) / 1e9
            row += (f" {f / 1e9:.3g} | {e_rate:.0f} / {w_rate:.0f} |"
                    f" {100 * e_rate / peaks[t0]:.0f} / {100 * w_rate / peaks[t0]:.0f} |")
            if 2 * w_rate > peaks[t0]:
                beyond.append(f"{m.name} ({2 * w_rate / peaks[t0]:.1f}x)")
        else:
            row += " - | - | - |"
        e_rss, w_rss = med([e["rss"] for e, _ in first]), med([w["rss"] for _, w in first])
        e_fig, w_figs = med([e["metric"] for e, _ in first]), [w["metric"] for _, w in first]
        row += f" {e_rss:.0f} / {w_rss:.0f} | {e_rss / w_rss:.2f} | {first[0][1]['name']} {e_fig:.4g} / {med(w_figs):.4g}"
        row += f" ({min(w_figs):.4g}-{max(w_figs):.4g}) |" if len(w_figs) > 1 else " |"
        if m.note:
            row = row[:-1] + f" {m.note} |"
        lines.append(row)
    lines.append("")
    # Issue 19's bars: 0.5x the twin with several threads, 0.7x with one.
    for t, bar in [(t, 0.5 if t > 1 else 0.7) for t in threads_list]:
        missed = [f"{n} {x:.2f}" for n, x, tt in [(n, x, tt) for n, tt, x in bars] if tt == t and x > bar]
        if any(tt == t for _, tt, _ in bars):
            lines.append(f"- epoch <= {bar}x the twin at {t} thread(s): "
                         + ("every model" if not missed else f"missed by {', '.join(missed)}"))
    if beyond:
        lines.append(f"- where the twin's products already run above half the FMA peak at {t0} threads, half its"
                     " time would take more than the peak's rate (the product GFLOP/s needed, as a multiple of the"
                     f" peak): {', '.join(beyond)}")
    lines.append(f"\n(generated by `bench/suite.py --write` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    return "\n".join(lines)


def write_section(text):
    path = ROOT / "BENCHMARKS.md"
    doc = path.read_text()
    begin, end = "<!-- suite:begin -->", "<!-- suite:end -->"
    if begin not in doc:
        raise SystemExit(f"{path} has no {begin} ... {end} section")
    head, rest = doc.split(begin, 1)
    tail = rest.split(end, 1)[1]
    path.write_text(f"{head}{begin}\n{text}\n{end}{tail}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", default="2,1")
    ap.add_argument("--single-rounds", type=int,
                    help="rounds at 1 thread, where fewer than --rounds keep the suite short (default: --rounds)")
    ap.add_argument("--models", help="comma-separated names (default: every model whose twin exists)")
    ap.add_argument("--expr", default=str(ROOT / "target" / "release" / "expr"))
    ap.add_argument("--portable", action="store_true",
                    help="run expr with EXPR_PORTABLE=1 (the AVX2 path), and the twins held to AVX2 (AVX2_TWIN)")
    ap.add_argument("--twin-avx512", action="store_true",
                    help="with --portable, leave the twins on the CPU's widest vectors")
    ap.add_argument("--write", action="store_true", help="update BENCHMARKS.md's suite section")
    args = ap.parse_args()
    threads_list = [int(t) for t in args.threads.split(",")]
    wanted = set(args.models.split(",")) if args.models else None
    models = [m for m in SUITE if (wanted is None or m.name in wanted) and (ROOT / "bench" / m.twin).exists()]
    if wanted:
        missing = wanted - {m.name for m in models}
        if missing:
            raise SystemExit(f"no such model or no twin yet: {', '.join(sorted(missing))}")
    env = dict(os.environ)
    data = Path(env.get("EXPR_DATA", SHARED / "data")).resolve()
    results = {m.name: {} for m in models}
    loads = []
    with tempfile.TemporaryDirectory() as runs_dir, tempfile.TemporaryDirectory() as stand_in:
        env["EXPR_DATA"] = str(cifar_stand_in(data, Path(stand_in)))
        peaks = {t: fma_peak(t) for t in threads_list}
        twin_avx2 = args.portable and not args.twin_avx512
        twin_env = dict(env, **AVX2_TWIN) if twin_avx2 else env
        sgemm = {t: sgemm_peak_torch(sys.executable, t, twin_env) for t in threads_list}
        flops = {}
        for m in models:
            try:
                flops[m.name] = epoch_flops(m, env)
            except RuntimeError as err:
                print(f"{m.name}, counting operations: {err}", file=sys.stderr)
            print(f"{m.name}: {flops.get(m.name) or 0:,} operations an epoch", file=sys.stderr, flush=True)
        expr_env = dict(env, EXPR_PORTABLE="1") if args.portable else env
        for r in range(args.rounds):
            for m in models:
                path = limited_copy(m, runs_dir)
                for t in threads_list:
                    if t == 1 and args.single_rounds is not None and r >= args.single_rounds:
                        continue
                    try:
                        e = run_expr(args.expr, m, path, t, runs_dir, expr_env)
                        w = run_twin(m, t, twin_env)
                        e["metric"] = expr_figure(e["run"], w["name"])
                    except RuntimeError as err:
                        print(f"{m.name}, {t} threads: {err}", file=sys.stderr)
                        continue
                    results[m.name].setdefault(t, []).append((e, w))
                    print(f"round {r + 1} {m.name} {t}t: expr {e['s']:.3f} s, twin {w['s']:.3f} s"
                          f" ({e['s'] / w['s']:.2f}); RSS {e['rss']:.0f}/{w['rss']:.0f} MB;"
                          f" {w['name']} {e['metric']:.4g}/{w['metric']:.4g}", file=sys.stderr, flush=True)
            loads.append(os.getloadavg()[0])
    rounds = f"{args.rounds} rounds" + (f" ({args.single_rounds} at 1 thread)" if args.single_rounds is not None else "")
    text = table(models, threads_list, results, rounds, loads, args.portable, twin_avx2, flops, peaks, sgemm)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
