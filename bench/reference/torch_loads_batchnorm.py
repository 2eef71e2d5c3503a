#!/usr/bin/env python3
"""Loads the model file of a conv + batchnorm + layernorm network saved by expr into its
PyTorch twin with `load_state_dict(strict=True)` (so `running_mean`, `running_var` and the
scalar `num_batches_tracked` must be where and as PyTorch wants them), and evaluates it in
eval mode (running statistics) on the first 640 MNIST test images, to compare with the run's
last `test_accuracy`. The experiment is the one in tests/run_small.rs'
`batchnorm_model_file_loads_in_pytorch` docs (bench/reference/batchnorm.exp).

    EXPR_DATA=/work/shared/data python3 bench/reference/torch_loads_batchnorm.py runs/bn/<id>/net.safetensors

Needs torch and numpy; reads the safetensors file itself (no `safetensors` package needed).
"""

import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n :]
    out = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", (name, info["dtype"])
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(body[a:b], dtype="<f4").copy()).reshape(info["shape"])
    return out


def mnist_test(n):
    root = os.path.join(os.environ.get("EXPR_DATA", "."), "mnist")
    with gzip.open(os.path.join(root, "t10k-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)[:n]
    with gzip.open(os.path.join(root, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:n]
    return torch.tensor(images / 255.0, dtype=torch.float32), torch.tensor(labels.astype(np.int64))


def main(path):
    state = read_safetensors(path)
    print({k: tuple(v.shape) for k, v in sorted(state.items())})
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, bias=False), nn.BatchNorm2d(8, eps=1e-3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 13 * 13, 32), nn.LayerNorm(32, eps=1e-3), nn.ReLU(),
        nn.BatchNorm1d(32, eps=1e-3), nn.Linear(32, 10),
    )
    index = {
        "conv2d": "0", "batch_normalization": "1", "dense": "5", "layer_normalization": "6",
        "batch_normalization_1": "8", "dense_1": "9",
    }
    renamed = {index[k.rsplit(".", 1)[0]] + "." + k.rsplit(".", 1)[1]: v for k, v in state.items()}
    model.load_state_dict(renamed, strict=True)
    print("load_state_dict(strict=True) accepted; num_batches_tracked =",
          int(model[1].num_batches_tracked), "dtype", model[1].num_batches_tracked.dtype)
    x, y = mnist_test(640)
    model.eval()
    with torch.no_grad():
        logits = model(x)
    accuracy = (logits.argmax(1) == y).float().mean().item()
    print(f"PyTorch on expr's model, eval mode: test accuracy {accuracy * 100:.2f}%")


if __name__ == "__main__":
    main(sys.argv[1])
