#!/usr/bin/env python3
"""Loads a classifier saved by `experiments/mnist.exp` into the PyTorch twin's
model with `safetensors.torch.load_file` + `load_state_dict`, evaluates it on the
MNIST test set and prints the loss and accuracy, to compare with the run's last
`Test Loss` / `Test Accuracy` (metrics.csv). A check that the documented layout
(README, "Saved models") is what PyTorch expects.

    EXPR_DATA=../shared/data $BENCH_VENV/bin/python bench/torch_reads_model.py runs/mnist/<id>/classifier.safetensors

Needs torch, numpy and safetensors (pip install torch numpy safetensors).
bench/torch_reads_model_gan_vae.py does the same for dcgan.exp's and vae.exp's models
(batch norm, transposed convolutions, two-output encoder), output by output.
"""

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent / "shared" / "bench"))
from mnist_data import load_data  # noqa: E402  (the reference loops' reader)


def main(path):
    state = load_file(path)
    print({k: tuple(v.shape) for k, v in sorted(state.items())})
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(13 * 13 * 32, 64), nn.ReLU(), nn.Linear(64, 10),
    )
    # expr names layers as its summary does; nn.Sequential numbers them.
    index = {"conv2d": "0", "dense": "4", "dense_1": "6"}
    model.load_state_dict({index[k.split(".")[0]] + "." + k.split(".")[1]: v for k, v in state.items()})
    (_, _), (images, labels) = load_data()
    x = torch.tensor(images, dtype=torch.float32).unsqueeze(1) / 255.0
    y = torch.tensor(labels.astype(np.int64))
    model.eval()
    with torch.no_grad():
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y).item()
        accuracy = (logits.argmax(1) == y).float().mean().item()
    print(f"PyTorch on expr's weights: test loss {loss:.4f}, test accuracy {accuracy * 100:.2f}%")


if __name__ == "__main__":
    main(sys.argv[1])
