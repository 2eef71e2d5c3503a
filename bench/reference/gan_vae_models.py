#!/usr/bin/env python3
"""Reference numbers for tests/model_files_pytorch.rs: the models of experiments/dcgan.exp
(generator with batch norm in inference mode, discriminator) and experiments/vae.exp
(encoder's two heads, decoder) in PyTorch, as the twins bench/twins/dcgan.py and
bench/twins/vae.py define them, with weights given by formulas and loaded by
`load_state_dict(strict=True)` under expr's tensor names; their outputs on three fixed
inputs each.

    EXPR_DATA=/work/shared/data python3 bench/reference/gan_vae_models.py [path/to/expr]

Every value is an exact binary fraction from a formula the Rust test repeats:
    fill(n, mul, mod, off, scale)[i] = (((i + start) * mul) % mod - off) / scale
with start = 17 k for a layer named `<kind>_k` (0 for the first of its kind), so that
layers of one kind differ;
weights: fill(n, 53, 97, 48, S), S the smallest power of two with S*S >= 784 * n / rows
(rows = the first axis), so each layer's outputs stay of order 1; biases and batch norm's
offsets fill(n, 7, 5, 2, 16); batch norm's scales 1 + fill(n, 3, 7, 3, 8), running means
fill(n, 11, 13, 6, 32), running variances 1/2 + (i * 5 % 9) / 8, num_batches_tracked 7.
Inputs: noise fill(300, 37, 101, 50, 32) as (3, 100); images fill(2352, 29, 256, 128, 128)
as (3, 1, 28, 28) (in [-1, 1), the discriminator's range); the encoder's images are those
plus 1, halved (in [0, 1)); codes fill(6, 5, 7, 3, 2) as (3, 2).

Printed per model and example: the sum of the outputs, the sum weighted by
(i % 7) - 3 over their flat index i (a one-pixel shift changes it), and the sum of
squares; the encoder's heads and the discriminator's logit whole. With an expr binary,
the script also writes the weights (float32; PyTorch's int64 `num_batches_tracked` saved
as float32, as expr writes it) and inputs, runs `expr predict --probabilities none` on the
shipped experiments with the inputs as data, and prints the largest difference from
PyTorch per model. Measured (2026-12-05, expr at main 0952ada), max |expr - PyTorch|:
generator 1.01e-06 (outputs up to 0.573), discriminator 4.32e-07 (0.152), encoder's heads
4.92e-07 (0.171), decoder 5.66e-07 (0.753): the CSV's rounding (5e-7) and float noise.
"""

import csv
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "bench" / "twins"))
import dcgan  # noqa: E402
import vae  # noqa: E402


def fill(n, mul, mod, off, scale, start=0):
    i = np.arange(start, start + n, dtype=np.int64)
    return (((i * mul) % mod - off).astype(np.float32) / np.float32(scale)).astype(np.float32)


def weight_scale(shape):
    n = int(np.prod(shape))
    s = 1
    while s * s < 784 * n // shape[0]:
        s *= 2
    return s


def formula_state(module):
    """Every tensor of module's state_dict by the formulas above."""
    state = {}
    for name, t in module.state_dict().items():
        n, (layer, kind) = t.numel(), name.rsplit(".", 1)
        # Layers of one kind differ: `dense_2` starts 34 values into the pattern.
        start = 17 * int(layer.rsplit("_", 1)[1]) if re.search(r"_\d+$", layer) else 0
        if kind == "weight" and "batch_normalization" in name:
            v = 1 + fill(n, 3, 7, 3, 8, start)
        elif kind == "weight":
            v = fill(n, 53, 97, 48, weight_scale(tuple(t.shape)), start)
        elif kind == "bias":
            v = fill(n, 7, 5, 2, 16, start)
        elif kind == "running_mean":
            v = fill(n, 11, 13, 6, 32, start)
        elif kind == "running_var":
            v = np.float32(0.5) + (np.arange(n) * 5 % 9).astype(np.float32) / np.float32(8)
        elif kind == "num_batches_tracked":
            v = np.array(7)
        else:
            raise ValueError(name)
        state[name] = torch.tensor(v.astype(np.float32)).reshape(t.shape).to(t.dtype)
    module.load_state_dict(state, strict=True)
    return {k: v.to(torch.float32).contiguous() for k, v in state.items()}


def inputs():
    noise = fill(300, 37, 101, 50, 32).reshape(3, 100)
    images = fill(2352, 29, 256, 128, 128).reshape(3, 1, 28, 28)
    return noise, images, (images + 1) / 2, fill(6, 5, 7, 3, 2).reshape(3, 2)


def stats(y):
    """Per example: sum, the sum weighted by (i % 7) - 3, sum of squares (in float64)."""
    y = y.reshape(len(y), -1).astype(np.float64)
    w = (np.arange(y.shape[1]) % 7 - 3).astype(np.float64)
    return [(row.sum(), (row * w).sum(), (row * row).sum()) for row in y]


def expr_outputs(expr, dir, exp_text, replace, model, weights, x):
    """`expr predict` of `model` on the rows of x, with the experiment's data replaced."""
    np.save(dir / "x.npy", x)
    np.save(dir / "y.npy", np.zeros((len(x), 1), np.float32))
    start, end = replace
    a = exp_text.index(start)
    b = exp_text.index(end, a) + len(end)
    probe = dir / "probe.exp"
    probe.write_text(exp_text[:a] + f'data train = npy(x = "images.npy", y = "y.npy", task = regression) | batch(3)\n'
                     + 'data probe = npy(x = "x.npy", y = "y.npy", task = regression) | batch(3)' + exp_text[b:])
    out = dir / "out.csv"
    subprocess.run([expr, "predict", str(probe), "--model", f"{model}={weights}", "--data", "probe",
                    "--probabilities", "none", "--to", str(out)], check=True, cwd=dir, stderr=subprocess.DEVNULL)
    with open(out) as f:
        rows = list(csv.DictReader(f))
    cols = [c for c in rows[0] if re.fullmatch(r"p\d+", c)]
    return np.array([[float(r[c]) for c in cols] for r in rows], np.float32)


def main():
    noise, images, unit_images, codes = inputs()
    g, d, enc, dec = dcgan.Generator(), dcgan.Discriminator(), vae.Encoder(), vae.Decoder()
    states = {m: formula_state(mod) for m, mod in
              [("generator", g), ("discriminator", d), ("encoder", enc), ("decoder", dec)]}
    for m in (g, d, enc, dec):
        m.eval()
    with torch.no_grad():
        out = {
            "generator": g(torch.tensor(noise)).numpy(),
            "discriminator": d(torch.tensor(images)).numpy(),
            "encoder": torch.cat(enc(torch.tensor(unit_images)), 1).numpy(),
            "decoder": dec(torch.tensor(codes)).numpy(),
        }
    for name in ("generator", "decoder"):
        print(f"// {name}: (sum, weighted sum, sum of squares) per example")
        for s in stats(out[name]):
            print("    (" + ", ".join(f"{v:.9}" for v in s) + "),")
    print("// encoder: z_mean, z_log_var per example")
    for row in out["encoder"]:
        print("    [" + ", ".join(f"{v:.9}" for v in row) + "],")
    print("// discriminator logits:", ", ".join(f"{v:.9}" for v in out["discriminator"].ravel()))

    if len(sys.argv) < 2:
        return
    expr = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        dir = Path(tmp)
        np.save(dir / "images.npy", images)
        for m, state in states.items():
            save_file(state, str(dir / f"{m}.safetensors"))
        dcgan_text = (ROOT / "experiments" / "dcgan.exp").read_text()
        vae_text = (ROOT / "experiments" / "vae.exp").read_text()
        dcgan_data = ("data train =", "| batch(256)")
        vae_data = ("data train_raw =", "| batch(128)")
        log_var_first = vae_text.replace("return z_mean, z_log_var", "return z_log_var, z_mean")
        got = {
            "generator": expr_outputs(expr, dir, dcgan_text, dcgan_data, "generator", "generator.safetensors", noise),
            "discriminator": expr_outputs(expr, dir, dcgan_text, dcgan_data, "discriminator",
                                          "discriminator.safetensors", images),
            "encoder": np.concatenate([
                expr_outputs(expr, dir, vae_text, vae_data, "encoder", "encoder.safetensors", unit_images),
                expr_outputs(expr, dir, log_var_first, vae_data, "encoder", "encoder.safetensors", unit_images),
            ], 1),
            "decoder": expr_outputs(expr, dir, vae_text, vae_data, "decoder", "decoder.safetensors", codes),
        }
    for m, want in out.items():
        want = want.reshape(3, -1)
        print(f"expr predict vs PyTorch, {m}: max |diff| {np.abs(got[m] - want).max():.2e}, "
              f"max |output| {np.abs(want).max():.3g}")


if __name__ == "__main__":
    main()
