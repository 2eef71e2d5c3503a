#!/usr/bin/env python3
"""A/B timing of two `expr` binaries on one experiment, alternating runs so that the
machine's drift hits both alike. For each binary: the median over rounds of the
training seconds of the last epoch (from `--timings`), of the whole run's wall
seconds, and the ratio new/old of the medians, with each round's figures; and the
fastest round's training seconds of each.

    python3 bench/ab.py OLD_EXPR NEW_EXPR EXPERIMENT [--rounds 5] [--epochs 1]
                        [--threads 2] [--set PATH=VALUE ...]

Used to show that a change does not slow the training step (issue 20: checkpoint
digests computed while writing). Reads MNIST through $EXPR_DATA like the tests.
"""

import argparse
import re
import statistics
import subprocess
import tempfile
import time

TIMING = re.compile(r"epoch (\d+): train ([0-9.]+) s")


def one_run(binary, args, runs_dir):
    cmd = [binary, "run", "--no-progress", "--timings", "--runs-dir", runs_dir] + args
    start = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.monotonic() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    trains = [float(m.group(2)) for m in TIMING.finditer(out.stderr)]
    if not trains:
        raise SystemExit(f"no `--timings` lines from {binary}:\n{out.stderr}")
    return trains[-1], wall


def main():
    p = argparse.ArgumentParser()
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("experiment")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--set", action="append", default=[])
    a = p.parse_args()
    args = ["--epochs", str(a.epochs), "--threads", str(a.threads)]
    for s in a.set:
        args += ["--set", s]
    args.append(a.experiment)
    figures = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as runs:
        for r in range(a.rounds):
            # Alternate which goes first, so neither always runs on a warmer machine.
            order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
            for which in order:
                binary = a.old if which == "old" else a.new
                figures[which].append(one_run(binary, args, runs))
            print(f"round {r + 1}: " + ", ".join(
                f"{w} train {figures[w][-1][0]:.3f} s wall {figures[w][-1][1]:.3f} s"
                for w in ("old", "new")), flush=True)
    med = {w: (statistics.median(t for t, _ in f), statistics.median(w_ for _, w_ in f))
           for w, f in figures.items()}
    for w in ("old", "new"):
        print(f"{w}: median train {med[w][0]:.3f} s, median wall {med[w][1]:.3f} s")
    print(f"new/old: train {med['new'][0] / med['old'][0]:.3f}, "
          f"wall {med['new'][1] / med['old'][1]:.3f}")
    # On a noisy host (other guests' load slows whole runs), the fastest run of each says
    # more than the median about what the code costs.
    fastest = {w: min(t for t, _ in f) for w, f in figures.items()}
    print(f"fastest train: old {fastest['old']:.3f} s, new {fastest['new']:.3f} s, "
          f"new/old {fastest['new'] / fastest['old']:.3f}")


if __name__ == "__main__":
    main()
