#!/usr/bin/env python3
"""Loads the models that experiments/dcgan.exp and experiments/vae.exp save into their
PyTorch twins (bench/twins/dcgan.py, bench/twins/vae.py) with `safetensors.torch.load_file`
and `load_state_dict(strict=True)`, with no renaming, and checks that PyTorch computes
what expr computes on the same fixed inputs: the generator (batch norm in eval mode, on
the running statistics the file holds), the discriminator, the VAE encoder's two heads
(z_mean and z_log_var) and the decoder.

    EXPR_DATA=/work/shared/data python3 bench/torch_reads_model_gan_vae.py [path/to/expr]

Each experiment trains one epoch on its first 2048 images (a copy with `| take(2048)`
after its source; seconds each on 2 threads, minutes when the machine is busy), then
`expr predict --data probe --probabilities none` gives expr's outputs (inference mode,
six decimals in the CSV) on inputs written to .npy: 64 fixed Gaussian noise vectors
(generator), the first 64 MNIST test images (encoder; mapped to [-1, 1] for the
discriminator, as dcgan.exp's step does), 64 fixed Gaussian 2-d codes times 1.5
(decoder). `expr predict` prints a model's first output only, so z_log_var comes from a
copy of vae.exp whose encoder returns it first (same layers, so the same file loads).

Layouts: nothing is mapped. Dense (out, in), conv (out, in, kh, kw), transposed conv
(in, out, kh, kw) as nn.ConvTranspose2d, batch norm as nn.BatchNorm1d/2d's state_dict
(`num_batches_tracked` is stored as a float32 scalar; load_state_dict copies it into
PyTorch's int64), flatten and reshape in NCHW order. What differs is placement, not
layout, and the twins do it as Keras: `same` padding of a strided conv pads the odd pixel
after (F.pad, then an unpadded conv), and a `same` transposed conv crops the full result
with the smaller half before (KerasConvTranspose2d); PyTorch's padding=k//2 (and
output_padding) would shift both by a pixel.

Measured (2026-12-05, 2 threads, expr at main 0952ada), max |expr - PyTorch| over all
outputs, and the largest |output| for scale (the whole script: 33 s, or 2 min 44 s when the
shared 2-core machine was busy; the figures are the same each time):
    vae encoder z_mean: 64 x 2 outputs, max |diff| 1.43e-06 (max |output| 2.99)
    vae encoder z_log_var: 64 x 2 outputs, max |diff| 1.67e-06 (max |output| 3.78)
    vae decoder: 64 x 784 outputs, max |diff| 5.96e-07 (max |output| 0.475)
    dcgan generator (eval mode): 64 x 784 outputs, max |diff| 6.03e-07 (max |output| 0.18)
    dcgan discriminator: 64 x 1 outputs, max |diff| 3.46e-06 (max |output| 1.28)
The check is sharp: the same decoder with PyTorch's own placement (padding=1,
output_padding=1) differs from expr by 0.29.
"""

import csv
import gzip
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench" / "twins"))
import dcgan  # noqa: E402  (the twins' modules)
import vae  # noqa: E402

EXPR = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else str(ROOT / "target" / "release" / "expr")
EXAMPLES = 2048
# The CSV's six decimals round by up to 5e-7; float32 sums in another order add ~1e-6
# of the largest value.
TOLERANCE = 1e-5


def save_npy(path, x):
    np.save(path, np.ascontiguousarray(x, dtype=np.float32))


def test_images(n):
    with gzip.open(Path(os.environ["EXPR_DATA"]) / "mnist" / "t10k-images-idx3-ubyte.gz") as f:
        data = np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784]
    return data.reshape(n, 1, 28, 28).astype(np.float32) / np.float32(255.0)


def train(dir, name, source):
    """experiments/NAME.exp on its first EXAMPLES images, one epoch: the run directory."""
    text = (ROOT / "experiments" / f"{name}.exp").read_text()
    assert source in text, source
    text = text.replace(source, f"{source} | take({EXAMPLES})", 1)
    path = dir / f"{name}.exp"
    path.write_text(text)
    runs = dir / "runs"
    subprocess.run(
        [EXPR, "run", str(path), "--epochs", "1", "--threads", "2", "--no-progress", "--runs-dir", str(runs)],
        check=True, stdout=subprocess.DEVNULL,
    )
    (run,) = (runs / name).iterdir()
    return path, run


def predict(dir, exp, model, weights, x):
    """expr's outputs of `model` (with `weights`) on the rows of x, through `expr predict`
    on a copy of `exp` with x as data set `probe`."""
    save_npy(dir / "probe_x.npy", x)
    save_npy(dir / "probe_y.npy", np.zeros((len(x), 1)))
    probe = dir / f"probe_{model}.exp"
    probe.write_text(
        exp.read_text()
        + '\ndata probe = npy(x = "probe_x.npy", y = "probe_y.npy", task = regression) | batch(32)\n'
    )
    out = dir / f"{model}.csv"
    subprocess.run(
        [EXPR, "predict", str(probe), "--model", f"{model}={weights}", "--data", "probe",
         "--probabilities", "none", "--to", str(out)],
        check=True, cwd=dir,
    )
    with open(out) as f:
        rows = list(csv.DictReader(f))
    columns = [c for c in rows[0] if re.fullmatch(r"p\d+", c)]
    return np.array([[float(r[c]) for c in columns] for r in rows], dtype=np.float32)


def compare(what, expr_out, torch_out):
    torch_out = torch_out.detach().numpy().reshape(len(torch_out), -1)
    assert expr_out.shape == torch_out.shape, (what, expr_out.shape, torch_out.shape)
    diff = float(np.abs(expr_out - torch_out).max())
    scale = float(np.abs(torch_out).max())
    line = f"{what}: {expr_out.shape[0]} x {expr_out.shape[1]} outputs, max |diff| {diff:.2e} (max |output| {scale:.3g})"
    print(line, flush=True)
    assert diff <= TOLERANCE * max(scale, 1.0), line
    return line


def check_dcgan(dir):
    exp, run = train(dir, "dcgan", 'mnist(split = "train")')
    g, d = dcgan.Generator(), dcgan.Discriminator()
    g.load_state_dict(load_file(run / "generator.safetensors"), strict=True)
    d.load_state_dict(load_file(run / "discriminator.safetensors"), strict=True)
    assert int(g.batch_normalization.num_batches_tracked) == EXAMPLES // 256
    g.eval()
    d.eval()
    z = torch.randn(64, 100, generator=torch.Generator().manual_seed(0))
    x = torch.tensor(test_images(64)) * 2 - 1
    lines = []
    with torch.no_grad():
        want = predict(dir, exp, "generator", run / "generator.safetensors", z.numpy())
        lines.append(compare("dcgan generator (eval mode)", want, g(z)))
        want = predict(dir, exp, "discriminator", run / "discriminator.safetensors", x.numpy())
        lines.append(compare("dcgan discriminator", want, d(x)))
    return lines


def check_vae(dir):
    exp, run = train(dir, "vae", "concat(train_raw, test_raw)")
    encoder, decoder = vae.Encoder(), vae.Decoder()
    encoder.load_state_dict(load_file(run / "encoder.safetensors"), strict=True)
    decoder.load_state_dict(load_file(run / "decoder.safetensors"), strict=True)
    # The probe's encoder returns z_log_var first (the step then reads the heads swapped,
    # which changes nothing predict does).
    log_var_first = dir / "vae_log_var_first.exp"
    text = exp.read_text()
    assert "return z_mean, z_log_var" in text
    log_var_first.write_text(text.replace("return z_mean, z_log_var", "return z_log_var, z_mean"))
    x = torch.tensor(test_images(64))
    z = 1.5 * torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    lines = []
    with torch.no_grad():
        z_mean, z_log_var = encoder(x)
        want = predict(dir, exp, "encoder", run / "encoder.safetensors", x.numpy())
        lines.append(compare("vae encoder z_mean", want, z_mean))
        want = predict(dir, log_var_first, "encoder", run / "encoder.safetensors", x.numpy())
        lines.append(compare("vae encoder z_log_var", want, z_log_var))
        want = predict(dir, exp, "decoder", run / "decoder.safetensors", z.numpy())
        lines.append(compare("vae decoder", want, decoder(z)))
    return lines


def main():
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        lines = check_vae(Path(tmp)) + check_dcgan(Path(tmp))
    print("all match:\n    " + "\n    ".join(lines))


if __name__ == "__main__":
    main()
