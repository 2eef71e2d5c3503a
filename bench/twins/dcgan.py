#!/usr/bin/env python3
"""The PyTorch twin of experiments/dcgan.exp (TensorFlow's DCGAN tutorial, batch norm on),
for the benchmark suite:

    python3 bench/twins/dcgan.py --threads N --epochs E [--examples K] [--seed S]

Same models as dcgan.exp (bench/dcgan_torch.py is the same network without batch norm,
kept for its earlier timings): the generator's dense layer and transposed convolutions
without bias, each followed by batch norm with Keras' defaults (epsilon 1e-3, running
averages moved by 0.01: Keras' momentum 0.99; PyTorch averages the unbiased batch
variance where Keras and expr average the biased one, which only the inference-mode
samples would see, not the training losses) and LeakyReLU(0.3), a tanh last; the
discriminator's two strided convolutions with LeakyReLU(0.3) and Dropout(0.3), then one
logit. Glorot uniform weights and zero biases (expr's initialisation), Adam 1e-4 for each
(epsilon 1e-7), batches of 256 from the 60,000 training images in [-1, 1], reshuffled each
epoch, and the same step: the discriminator's update, then the generator's against the
updated discriminator (one generator pass per step, as the experiment's `fake`).

Prints `parameters N` first (the trainable parameters of both models, 2,518,337, as
`expr check` counts them), then per epoch `epoch I: train S s, discriminator_loss D,
generator_loss G`, where S counts the training batches only (data, forward, backward,
updates) and D, G are the epoch's means weighted by batch size (the columns of expr's
metrics.csv), and at the end `final generator_loss G`: the last epoch's mean generator loss
(metrics.csv's `generator_loss`).

Measured (2026-12-05, one epoch on the first 2048 images, 8 steps, seed 42): the twin's
discriminator_loss 1.2371, generator_loss 0.6366; expr's (dcgan.exp with `| take(2048)`)
1.2383 and 0.6388.

The modules name their layers as expr's summary does, so the model files dcgan.exp saves
load with `load_state_dict(strict=True)` (bench/torch_reads_model_gan_vae.py).
"""

import argparse
import gzip
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import common


class KerasConvTranspose2d(nn.ConvTranspose2d):
    """Conv2DTranspose(padding="same") as Keras places its output: the full transposed
    convolution cropped to `input * stride`, the smaller half of the excess before
    (TensorFlow's rule; PyTorch's padding + output_padding crops the other way round)."""

    def forward(self, x):
        y = super().forward(x)
        h, w = x.shape[2] * self.stride[0], x.shape[3] * self.stride[1]
        top, left = (y.shape[2] - h) // 2, (y.shape[3] - w) // 2
        return y[:, :, top : top + h, left : left + w]


def keras_batchnorm(cls, features):
    """BatchNormalization() with Keras' defaults in PyTorch's terms."""
    return cls(features, eps=1e-3, momentum=0.01)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(100, 7 * 7 * 256, bias=False)
        self.batch_normalization = keras_batchnorm(nn.BatchNorm1d, 7 * 7 * 256)
        self.conv2d_transpose = KerasConvTranspose2d(256, 128, 5, stride=1, bias=False)
        self.batch_normalization_1 = keras_batchnorm(nn.BatchNorm2d, 128)
        self.conv2d_transpose_1 = KerasConvTranspose2d(128, 64, 5, stride=2, bias=False)
        self.batch_normalization_2 = keras_batchnorm(nn.BatchNorm2d, 64)
        self.conv2d_transpose_2 = KerasConvTranspose2d(64, 1, 5, stride=2, bias=False)

    def forward(self, z):
        h = F.leaky_relu(self.batch_normalization(self.dense(z)), 0.3).view(-1, 256, 7, 7)
        h = F.leaky_relu(self.batch_normalization_1(self.conv2d_transpose(h)), 0.3)
        h = F.leaky_relu(self.batch_normalization_2(self.conv2d_transpose_1(h)), 0.3)
        return torch.tanh(self.conv2d_transpose_2(h))


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        # Keras' `same` at stride 2 with a 5x5 kernel on 28 (and 14) pads 1 before and 2
        # after; PyTorch's padding=2 pads 2 on each side, which gives the same output size
        # (the extra last row is never read) but shifts the windows: pad as Keras instead.
        self.conv2d = nn.Conv2d(1, 64, 5, stride=2)
        self.conv2d_1 = nn.Conv2d(64, 128, 5, stride=2)
        self.dense = nn.Linear(128 * 7 * 7, 1)

    def forward(self, x):
        h = F.dropout(F.leaky_relu(self.conv2d(F.pad(x, (1, 2, 1, 2))), 0.3), 0.3, self.training)
        h = F.dropout(F.leaky_relu(self.conv2d_1(F.pad(h, (1, 2, 1, 2))), 0.3), 0.3, self.training)
        return self.dense(h.flatten(1))


def keras_init(module):
    """Glorot uniform weights (the kernel's area times input plus output channels), zero
    biases; batch norm's scale 1 and offset 0 (PyTorch's defaults)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            w = m.weight
            area = w[0, 0].numel() if w.dim() > 2 else 1
            limit = math.sqrt(6.0 / (area * (w.shape[0] + w.shape[1])))
            nn.init.uniform_(w, -limit, limit)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def mnist_train():
    """The 60,000 training images in [0, 1], (N, 1, 28, 28)."""
    root = Path(os.environ.get("EXPR_DATA", "../shared/data")) / "mnist"
    with gzip.open(root / "train-images-idx3-ubyte.gz") as f:
        data = np.frombuffer(f.read(), np.uint8, offset=16)
    return torch.tensor(data.reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--examples", type=int, default=None, help="train on the first K images only")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_all = mnist_train()
    if args.examples is not None:
        x_all = x_all[: args.examples]
    g, d = Generator(), Discriminator()
    keras_init(g)
    keras_init(d)
    print(f"parameters {sum(p.numel() for p in [*g.parameters(), *d.parameters()])}", flush=True)
    g_opt = torch.optim.Adam(g.parameters(), lr=1e-4, eps=1e-7)
    d_opt = torch.optim.Adam(d.parameters(), lr=1e-4, eps=1e-7)
    bce = nn.BCEWithLogitsLoss()
    n = x_all.shape[0]
    g_mean = float("nan")
    for epoch in range(1, args.epochs + 1):
        g.train()
        d.train()
        perm = torch.randperm(n)
        d_total, g_total = 0.0, 0.0
        counter = common.flops_begin()
        start = time.perf_counter()
        for i in range(0, n, 256):
            x = x_all[perm[i : i + 256]] * 2 - 1
            fake = g(torch.randn(x.shape[0], 100))
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
            d_total += d_loss.item() * x.shape[0]
            g_total += g_loss.item() * x.shape[0]
        seconds = time.perf_counter() - start
        common.flops_end(counter)
        g_mean = g_total / n
        print(
            f"epoch {epoch}: train {seconds:.3f} s, discriminator_loss {d_total / n:.4f}, generator_loss {g_mean:.4f}",
            flush=True,
        )
    print(f"final generator_loss {g_mean:.4f}")


if __name__ == "__main__":
    main()
