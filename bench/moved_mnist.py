#!/usr/bin/env python3
"""A moved copy of the MNIST test set, to measure what random_translate and
random_rotation buy: each test image rotated about its centre by an angle uniform in
-15..15 degrees (nearest pixel, as torchvision's RandomRotation), then shifted by whole
pixels uniform in -3..=3 each way, filled with black (seed 2026). Written both as IDX
files (for `idx(...)`) and as PNG class folders (for `images(...)`):

    python3 bench/moved_mnist.py $EXPR_DATA/mnist OUT_DIR

gives OUT_DIR/moved-images-idx3-ubyte, OUT_DIR/moved-labels-idx1-ubyte and
OUT_DIR/test_moved/<digit>/NNNNN.png. Needs Pillow.
"""
import gzip
import os
import random
import struct
import sys

from PIL import Image

src, out = sys.argv[1], sys.argv[2]
with gzip.open(f"{src}/t10k-images-idx3-ubyte.gz") as f:
    images = f.read()
with gzip.open(f"{src}/t10k-labels-idx1-ubyte.gz") as f:
    labels = f.read()
_, n, h, w = struct.unpack(">IIII", images[:16])
rng = random.Random(2026)
moved = bytearray(images[:16])
for i in range(n):
    img = Image.frombytes("L", (w, h), images[16 + i * h * w : 16 + (i + 1) * h * w])
    angle = rng.uniform(-15.0, 15.0)
    dy, dx = rng.randint(-3, 3), rng.randint(-3, 3)
    img = img.rotate(angle, resample=Image.NEAREST, fillcolor=0)
    img = img.transform(img.size, Image.AFFINE, (1, 0, -dx, 0, 1, -dy), resample=Image.NEAREST, fillcolor=0)
    moved += img.tobytes()
    label = labels[8 + i]
    folder = os.path.join(out, "test_moved", str(label))
    os.makedirs(folder, exist_ok=True)
    img.save(os.path.join(folder, f"{i:05d}.png"))
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "moved-images-idx3-ubyte"), "wb") as f:
    f.write(moved)
with open(os.path.join(out, "moved-labels-idx1-ubyte"), "wb") as f:
    f.write(labels)
