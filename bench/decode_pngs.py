"""Pillow decoding the PNG files of an image folder, the reference for expr's
`read_image_folder` (`cargo run --release --example image_folder_throughput -- DIR`).

    python3 bench/decode_pngs.py /tmp/mnist_png/train [processes]

Each file is opened and converted to an 8-bit gray array (`np.asarray(Image.open(p)
.convert("L"))`), in one process, then in `processes` worker processes (default 2) over
contiguous chunks of the list; the files are listed (sorted) before the clock starts.
Prints images per second, the median of 3 runs each, and the pixel sum to compare with
expr's.
"""

import os
import statistics
import sys
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image


def list_files(root):
    files = []
    for cls in sorted(os.listdir(root)):
        folder = os.path.join(root, cls)
        files.extend(os.path.join(folder, f) for f in sorted(os.listdir(folder)))
    return files


def decode(paths):
    total = 0
    for p in paths:
        with Image.open(p) as im:
            total += int(np.asarray(im.convert("L"), dtype=np.uint8).sum(dtype=np.uint64))
    return total


def timed(run, n):
    rates, total = [], 0
    for _ in range(3):
        start = time.perf_counter()
        total = run()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates), rates, total


def main():
    root = sys.argv[1]
    processes = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    files = list_files(root)
    n = len(files)
    rate, rates, total = timed(lambda: decode(files), n)
    print(f"Pillow {Image.__version__}, 1 process: {rate:.0f} images/s "
          f"(median of 3: {[round(r) for r in rates]}); pixel sum {total}")
    chunks = [files[i * n // processes:(i + 1) * n // processes] for i in range(processes)]
    with Pool(processes) as pool:
        rate, rates, total = timed(lambda: sum(pool.map(decode, chunks)), n)
    print(f"Pillow, {processes} processes: {rate:.0f} images/s "
          f"(median of 3: {[round(r) for r in rates]}); pixel sum {total}")


if __name__ == "__main__":
    main()
