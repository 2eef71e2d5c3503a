#!/usr/bin/env python3
"""Reading MNIST's 60,000 training images from NumPy files: `numpy.load` against expr's reader
(`examples/load_numpy.rs`), on the same files, warm in the page cache: medians of RUNS reads,
alternating between the two so that the machine's load hits both alike. Each expr read is a
fresh process's (into fresh memory, as in a run; the time is measured inside it).

    cargo build --release --example load_numpy
    python3 bench/load_npz.py [--runs 9] [--dir /tmp/expr-npz-bench]

The files are written from $EXPR_DATA/mnist (default ../shared/data): the images as u8
(60000, 28, 28) and as f32 in [0, 1] (188 MB), each with the u8 labels, in `.npz` archives
stored (`np.savez`) and deflated (`np.savez_compressed`), and the images alone as `.npy`.
expr checks every float for NaN and infinities as it reads; `numpy.load` does not.
"""

import argparse
import gzip
import os
import statistics
import subprocess
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mnist(data_dir):
    def idx(name, offset):
        with gzip.open(os.path.join(data_dir, "mnist", name)) as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)

    x = idx("train-images-idx3-ubyte.gz", 16).reshape(60000, 28, 28)
    y = idx("train-labels-idx1-ubyte.gz", 8)
    return x, y


def write_files(folder, x, y):
    os.makedirs(folder, exist_ok=True)
    xf = (x / np.float32(255)).astype(np.float32)
    files = []
    for kind, images in [("u8", x), ("f32", xf)]:
        name = os.path.join(folder, f"mnist_{kind}.npz")
        np.savez(name, x=images, y=y)
        files.append((name, ["x", "y"]))
        name = os.path.join(folder, f"mnist_{kind}_compressed.npz")
        np.savez_compressed(name, x=images, y=y)
        files.append((name, ["x", "y"]))
        name = os.path.join(folder, f"mnist_{kind}.npy")
        np.save(name, images)
        files.append((name, None))
    return files


def numpy_seconds(path, keys):
    start = time.perf_counter()
    if keys is None:
        arrays = [np.load(path)]
    else:
        with np.load(path) as archive:
            arrays = [archive[k] for k in keys]
    seconds = time.perf_counter() - start
    del arrays
    return seconds


def expr_seconds(path, keys):
    binary = os.path.join(ROOT, "target", "release", "examples", "load_numpy")
    spec = path if keys is None else f"{path}:{','.join(keys)}"
    out = subprocess.run([binary, spec], capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--dir", default="/tmp/expr-npz-bench")
    args = parser.parse_args()
    data_dir = os.environ.get("EXPR_DATA", os.path.join(ROOT, "..", "shared", "data"))
    x, y = mnist(data_dir)
    files = write_files(args.dir, x, y)
    print(f"numpy {np.__version__}, medians of {args.runs} reads alternating between the two (ms)")
    print(f"{'file':26} {'MB':>6} {'numpy.load':>10} {'expr':>7} {'expr/numpy':>10}")
    for path, keys in files:
        numpy_seconds(path, keys)  # the page cache holds the file from here on
        times = {"numpy": [], "expr": []}
        for _ in range(args.runs):
            times["numpy"].append(numpy_seconds(path, keys))
            times["expr"].append(expr_seconds(path, keys))
        theirs, ours = (statistics.median(times[k]) for k in ["numpy", "expr"])
        mb = os.path.getsize(path) / 1e6
        name = os.path.basename(path)
        print(f"{name:26} {mb:6.1f} {theirs * 1e3:10.1f} {ours * 1e3:7.1f} {ours / theirs:10.2f}")

if __name__ == "__main__":
    main()
