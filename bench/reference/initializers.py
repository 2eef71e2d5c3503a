"""Keras 3's initializers (and PyTorch's nn.Linear / nn.Conv2d defaults) on big tensors:
the standard deviation and largest magnitude src/lower/init/tests.rs checks ours against.
Run: python3 bench/reference/initializers.py (add `torch` for PyTorch's; the two libraries'
LLVMs clash in one process)."""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np


def stats(name, w):
    w = np.asarray(w, dtype=np.float64)
    print(f"{name}: mean {w.mean():+.5f} std {w.std():.5f} max|w| {np.abs(w).max():.5f}")


if sys.argv[1:] == ["torch"]:
    import torch

    lin = torch.nn.Linear(400, 500)
    stats("torch Linear(400, 500) weight", lin.weight.detach())
    stats("torch Linear(400, 500) bias", lin.bias.detach())
    conv = torch.nn.Conv2d(16, 32, 3)
    stats("torch Conv2d(16, 32, 3) weight", conv.weight.detach())
else:
    import keras

    # A dense kernel (in, out) = (400, 500), as ours is stored.
    for name in ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                 "lecun_uniform", "lecun_normal"]:
        stats(f"{name} (400, 500)", keras.initializers.get({"class_name": name, "config": {"seed": 1}})((400, 500)))
    stats("RandomNormal(stddev=0.05)", keras.initializers.RandomNormal(0.0, 0.05, seed=1)((400, 500)))
    stats("RandomUniform(-0.05, 0.05)", keras.initializers.RandomUniform(-0.05, 0.05, seed=1)((400, 500)))
    # A conv kernel (kh, kw, in, out): fan_in 144.
    stats("he_normal conv (3, 3, 16, 32)", keras.initializers.HeNormal(seed=1)((3, 3, 16, 32)))
