#!/usr/bin/env python3
"""Time to read a CSV table: `expr check` (which reads and encodes the whole table, as
a run does before training) against `pandas.read_csv` on the same file, alternating
runs, medians over rounds, and the ratio expr/pandas.

    python3 bench/load_csv.py EXPR_BINARY [--rows 500000] [--rounds 5]

The table is written once into a temporary folder: `--rows` rows of 20 float columns
(NumPy's `%.6f`) and an integer class column, about 100 MB at 500,000 rows. pandas' C
parser reads on one core; expr cuts the file into pieces it parses on every core, and is
also timed on one (`RAYON_NUM_THREADS=1`). expr's time includes starting the binary and
checking the experiment, a few milliseconds.
"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import pandas as pd


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("expr")
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "table.csv")
        rng = np.random.default_rng(0)
        frame = pd.DataFrame(rng.normal(size=(args.rows, 20)), columns=[f"f{i}" for i in range(20)])
        frame["label"] = rng.integers(0, 10, size=args.rows)
        frame.to_csv(path, index=False, float_format="%.6f")
        size = os.path.getsize(path) / 1e6
        exp = os.path.join(tmp, "t.exp")
        with open(exp, "w") as f:
            f.write(
                'experiment t { seed = 1 }\n'
                'data train = csv("table.csv", target = "label") | batch(32)\n'
                "model m { dense(units = 10) }\n"
                "loss l = sparse_categorical_crossentropy(from_logits = true)\n"
                "optimizer o = sgd()\n"
                "train { model = m  data = train  loss = l  optimizer = o  epochs = 1 }\n"
            )
        times = {"expr check": [], "expr check, 1 thread": [], "pandas.read_csv": []}
        one = dict(os.environ, RAYON_NUM_THREADS="1")
        for _ in range(args.rounds):
            for name, env in [("expr check", None), ("expr check, 1 thread", one)]:
                start = time.monotonic()
                subprocess.run([args.expr, "check", "--quiet", exp], check=True, env=env)
                times[name].append(time.monotonic() - start)
            start = time.monotonic()
            pd.read_csv(path)
            times["pandas.read_csv"].append(time.monotonic() - start)
        medians = {name: statistics.median(t) for name, t in times.items()}
        print(f"{args.rows} rows, {size:.1f} MB")
        for name, t in times.items():
            print(f"{name + ':':<22} median {medians[name]:.3f} s  {[round(x, 3) for x in t]}")
        p = medians["pandas.read_csv"]
        print(f"expr / pandas: {medians['expr check'] / p:.2f} (1 thread: {medians['expr check, 1 thread'] / p:.2f})")


if __name__ == "__main__":
    main()
