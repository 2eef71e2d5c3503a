#!/usr/bin/env python3
"""The PyTorch twin of experiments/vae.exp (Keras' "Variational AutoEncoder" example,
keras.io/examples/generative/vae), for the benchmark suite:

    python3 bench/twins/vae.py --threads N --epochs E [--examples K] [--seed S]

Same layers (a conv encoder with two dense heads, z_mean and z_log_var; a decoder of
transposed convolutions; 69,076 + 65,089 parameters), expr's initialisation (Glorot
uniform weights, zero biases), Adam with Keras' defaults (lr 1e-3, epsilon 1e-7; PyTorch
adds epsilon after the bias correction, Keras and expr before: a difference of order 1e-7
in the step's denominator), batches of 128 from the 70,000 MNIST images (training and test
splits joined, as Keras' example and vae.exp), reshuffled each epoch, and the same loss:
the per-pixel binary cross-entropy (from the decoder's logits, as Keras and expr take a
sigmoid output's) summed over each image, plus the KL term, averaged over the batch.

Prints `parameters N` first, then per epoch `epoch I: train S s, loss L` where S counts
only the training batches and L is the epoch's mean loss per image (the column `loss` of
expr's metrics.csv: each batch's mean weighted by its size), and at the end
`final loss L` with the last epoch's L (metrics.csv's column `loss`).

Measured (2026-12-05, `--threads 1 --epochs 5 --seed 42`, torch 2.15.0 on the shared
2-core machine under load, so its seconds are not a timing), loss per image against
expr's (vae.exp, seed 42, 2 threads):
    epoch      1       2       3       4       5
    twin     208.28  183.37  179.03  176.07  170.55
    expr     212.62  186.91  171.37  166.03  163.46
The twin is ahead for two epochs and behind from epoch 3 (7.1 at epoch 5). One seed
each, so this says only that PyTorch on the same model does not converge faster than
expr; it does not explain expr missing 150 after 30 epochs (Keras publishes 146.95).

The modules name their layers as expr's summary does (`conv2d`, `dense_1`,
`conv2d_transpose_2`, ...), so a model file that `vae.exp` saves loads with
`load_state_dict(strict=True)`; bench/torch_reads_model_gan_vae.py does that.
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
    convolution (PyTorch's with padding 0), cropped to `input * stride` with the smaller
    half of the excess before (TensorFlow's rule). PyTorch's padding=k//2 with
    output_padding crops the other way round when the excess is odd (k=3 or 5 at stride
    2), so it would shift the image by a pixel."""

    def __init__(self, cin, cout, k, stride=1, bias=True):
        super().__init__(cin, cout, k, stride=stride, bias=bias)

    def forward(self, x):
        y = super().forward(x)
        h, w = x.shape[2] * self.stride[0], x.shape[3] * self.stride[1]
        top, left = (y.shape[2] - h) // 2, (y.shape[3] - w) // 2
        return y[:, :, top : top + h, left : left + w]


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv2d = nn.Conv2d(1, 32, 3, stride=2)
        self.conv2d_1 = nn.Conv2d(32, 64, 3, stride=2)
        self.dense = nn.Linear(7 * 7 * 64, 16)
        self.dense_1 = nn.Linear(16, 2)
        self.dense_2 = nn.Linear(16, 2)

    def forward(self, x):
        # Keras' `same` at stride 2 on 28 (then 14) pads 0 before and 1 after; PyTorch's
        # padding=1 pads 1 on each side, which shifts every window: pad as Keras instead.
        h = F.relu(F.conv2d(F.pad(x, (0, 1, 0, 1)), self.conv2d.weight, self.conv2d.bias, stride=2))
        h = F.relu(F.conv2d(F.pad(h, (0, 1, 0, 1)), self.conv2d_1.weight, self.conv2d_1.bias, stride=2))
        h = F.relu(self.dense(h.flatten(1)))
        return self.dense_1(h), self.dense_2(h)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(2, 7 * 7 * 64)
        self.conv2d_transpose = KerasConvTranspose2d(64, 64, 3, stride=2)
        self.conv2d_transpose_1 = KerasConvTranspose2d(64, 32, 3, stride=2)
        self.conv2d_transpose_2 = KerasConvTranspose2d(32, 1, 3)

    def logits(self, z):
        h = F.relu(self.dense(z)).view(-1, 64, 7, 7)
        h = F.relu(self.conv2d_transpose(h))
        h = F.relu(self.conv2d_transpose_1(h))
        return self.conv2d_transpose_2(h)

    def forward(self, z):
        return torch.sigmoid(self.logits(z))


def keras_init(module):
    """Glorot uniform weights (fans as Keras counts them: the kernel's area times the
    input and output channels; for a transposed conv the two swap, which leaves the
    limit the same), zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            w = m.weight
            area = w[0, 0].numel() if w.dim() > 2 else 1
            limit = math.sqrt(6.0 / (area * (w.shape[0] + w.shape[1])))
            nn.init.uniform_(w, -limit, limit)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def mnist_all():
    """The 70,000 MNIST images in [0, 1], (N, 1, 28, 28): training split, then test."""
    root = Path(os.environ.get("EXPR_DATA", "../shared/data")) / "mnist"
    parts = []
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        with gzip.open(root / name) as f:
            parts.append(np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28))
    return torch.tensor(np.concatenate(parts).astype(np.float32) / 255.0)


def losses(x, encoder, decoder):
    z_mean, z_log_var = encoder(x)
    z = z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)
    # Keras (and expr) take a sigmoid output's cross-entropy from its logits.
    reconstruction = F.binary_cross_entropy_with_logits(decoder.logits(z), x) * 784
    kl = (-0.5 * (1 + z_log_var - z_mean**2 - torch.exp(z_log_var))).sum(1).mean()
    return reconstruction + kl


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--examples", type=int, default=None, help="train on the first K images only")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_all = mnist_all()
    if args.examples is not None:
        x_all = x_all[: args.examples]
    encoder, decoder = Encoder(), Decoder()
    keras_init(encoder)
    keras_init(decoder)
    params = list(encoder.parameters()) + list(decoder.parameters())
    print(f"parameters {sum(p.numel() for p in params)}", flush=True)
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
    n = x_all.shape[0]
    loss_per_image = float("nan")
    for epoch in range(1, args.epochs + 1):
        perm = torch.randperm(n)
        total = 0.0
        counter = common.flops_begin()
        start = time.perf_counter()
        for i in range(0, n, 128):
            x = x_all[perm[i : i + 128]]
            loss = losses(x, encoder, decoder)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * x.shape[0]
        seconds = time.perf_counter() - start
        common.flops_end(counter)
        loss_per_image = total / n
        print(f"epoch {epoch}: train {seconds:.3f} s, loss {loss_per_image:.4f}", flush=True)
    print(f"final loss {loss_per_image:.4f}")


if __name__ == "__main__":
    main()
