#!/usr/bin/env python3
"""A shifted copy of the MNIST test set, to measure what random_translate buys:
each test image moved by whole pixels, uniformly in -3..=3 each way (seed 2026),
filled with black, written as IDX files to OUT_DIR.

    python3 bench/shifted_mnist.py $EXPR_DATA/mnist OUT_DIR

Then point an experiment's test data at them: idx(images = "OUT_DIR/shifted-images-idx3-ubyte",
labels = "OUT_DIR/shifted-labels-idx1-ubyte", shape = (28, 28), classes = 10).
"""
import gzip, random, struct, sys
src = sys.argv[1]; out = sys.argv[2]
with gzip.open(f"{src}/t10k-images-idx3-ubyte.gz") as f:
    data = f.read()
magic, n, h, w = struct.unpack(">IIII", data[:16])
px = data[16:]
rng = random.Random(2026)
res = bytearray(data[:16])
for i in range(n):
    img = px[i*h*w:(i+1)*h*w]
    dy, dx = rng.randint(-3, 3), rng.randint(-3, 3)
    o = bytearray(h*w)
    for y in range(h):
        sy = y - dy
        if 0 <= sy < h:
            for x in range(w):
                sx = x - dx
                if 0 <= sx < w:
                    o[y*w+x] = img[sy*w+sx]
    res += o
open(f"{out}/shifted-images-idx3-ubyte", "wb").write(res)
with gzip.open(f"{src}/t10k-labels-idx1-ubyte.gz") as f:
    open(f"{out}/shifted-labels-idx1-ubyte", "wb").write(f.read())
