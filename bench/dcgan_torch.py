#!/usr/bin/env python3
"""The PyTorch twin of experiments/dcgan.exp without batch norm, for timing one epoch
against `expr run` on the same machine and thread count.

    python3 bench/dcgan_torch.py [--threads 2] [--epochs 1] [--examples 60000] [--batchnorm]

Same models (TensorFlow's DCGAN tutorial: layers without bias in the generator,
LeakyReLU(0.3), Conv2DTranspose placed as Keras by padding=2 plus a crop where PyTorch
would crop differently), Adam 1e-4, batch 256, MNIST from $EXPR_DATA/mnist, and the same
step: the discriminator's update, then the generator's against the updated discriminator.
Prints seconds per epoch.
"""

import argparse
import gzip
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def mnist_train():
    root = Path(os.environ.get("EXPR_DATA", "../shared/data")) / "mnist"
    with gzip.open(root / "train-images-idx3-ubyte.gz") as f:
        data = np.frombuffer(f.read(), np.uint8, offset=16)
    return torch.tensor(data.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)


class KerasSameTranspose(nn.Module):
    """Conv2DTranspose(padding="same") as Keras places it: the full transposed conv
    cropped by TensorFlow's rule (the smaller half of the excess before)."""

    def __init__(self, cin, cout, k, s):
        super().__init__()
        self.conv = nn.ConvTranspose2d(cin, cout, k, stride=s, bias=False)
        self.k, self.s = k, s

    def forward(self, x):
        y = self.conv(x)
        out = x.shape[2] * self.s
        before = (y.shape[2] - out) // 2
        return y[:, :, before : before + out, before : before + out]


def models(batchnorm):
    bn = (lambda c, d2=True: nn.BatchNorm2d(c) if d2 else nn.BatchNorm1d(c)) if batchnorm else (lambda c, d2=True: nn.Identity())
    g = nn.Sequential(
        nn.Linear(100, 7 * 7 * 256, bias=False), bn(7 * 7 * 256, False), nn.LeakyReLU(0.3),
        nn.Unflatten(1, (256, 7, 7)),
        KerasSameTranspose(256, 128, 5, 1), bn(128), nn.LeakyReLU(0.3),
        KerasSameTranspose(128, 64, 5, 2), bn(64), nn.LeakyReLU(0.3),
        KerasSameTranspose(64, 1, 5, 2), nn.Tanh(),
    )
    d = nn.Sequential(
        nn.Conv2d(1, 64, 5, stride=2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
        nn.Conv2d(64, 128, 5, stride=2, padding=2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 1),
    )
    return g, d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batchnorm", action="store_true")
    ap.add_argument("--examples", type=int, default=60000, help="the first N examples (expr's take(N))")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    x_all = mnist_train()[: args.examples]
    g, d = models(args.batchnorm)
    g_opt = torch.optim.Adam(g.parameters(), lr=1e-4, eps=1e-7)
    d_opt = torch.optim.Adam(d.parameters(), lr=1e-4, eps=1e-7)
    bce = nn.BCEWithLogitsLoss()
    n = x_all.shape[0]
    for epoch in range(args.epochs):
        start = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, 256):
            x = x_all[perm[i : i + 256]] * 2 - 1
            z = torch.randn(x.shape[0], 100)
            fake = g(z)
            real_logits = d(x)
            fake_logits = d(fake.detach())
            d_loss = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))
            d_opt.zero_grad()
            d_loss.backward()
            d_opt.step()
            g_logits = d(fake)
            g_loss = bce(g_logits, torch.ones_like(g_logits))
            g_opt.zero_grad()
            g_loss.backward()
            g_opt.step()
        print(f"epoch {epoch + 1}: {time.perf_counter() - start:.2f} s, d_loss {d_loss.item():.4f}, g_loss {g_loss.item():.4f}")


if __name__ == "__main__":
    main()
