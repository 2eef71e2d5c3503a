"""Keras' VAE example and experiments/vae.exp trained from the same start on the same
inputs: Keras' initial weights, one fixed order of the 70,000 images (the same each epoch)
and one fixed draw of the sampling noise per image. With the randomness taken out, what
is left between the two runs is the computation itself (and float rounding, which the
training amplifies, as any two libraries' does). Needs TensorFlow (Keras 3) and
safetensors (`pip install tensorflow-cpu safetensors`):

    EXPR_DATA=../shared/data python3 bench/reference/vae_controlled.py OUT_DIR [--epochs 3]
    cargo run --release -- run OUT_DIR/vae_controlled.exp

The first command trains Keras' model (the example's layers and loss, Adam with Keras'
defaults, batches of 128) and prints its mean loss per epoch; it also writes into OUT_DIR
the images in their order with the noise as `npz` targets, Keras' initial weights in
expr's layout (`encoder.safetensors`, `decoder.safetensors`, as vae.exp saves them) and
`vae_controlled.exp`: vae.exp reading those, loading those weights in `before`, without
the shuffle, with the noise read from the data in place of `normal(2)`.
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from safetensors.numpy import save_file

sys.path.insert(0, str(Path(__file__).parent))
from keras_vae import mnist_digits, models  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def expr_layout(encoder, decoder):
    """Keras' weights as expr saves them: PyTorch's layouts (conv kernels (out, in, kh, kw),
    transposed conv kernels (in, out, kh, kw), dense (out, in)) and channels-first
    flattening on each side of the dense layers next to a reshape."""
    e = [w.numpy() for w in encoder.weights]
    d = [w.numpy() for w in decoder.weights]
    conv = lambda k: k.transpose(3, 2, 0, 1)
    enc = {
        "conv2d.weight": conv(e[0]), "conv2d.bias": e[1],
        "conv2d_1.weight": conv(e[2]), "conv2d_1.bias": e[3],
        "dense.weight": e[4].reshape(7, 7, 64, 16).transpose(2, 0, 1, 3).reshape(3136, 16).T,
        "dense.bias": e[5],
        "dense_1.weight": e[6].T, "dense_1.bias": e[7],
        "dense_2.weight": e[8].T, "dense_2.bias": e[9],
    }
    dec = {
        "dense.weight": d[0].reshape(2, 7, 7, 64).transpose(0, 3, 1, 2).reshape(2, 3136).T,
        "dense.bias": d[1].reshape(7, 7, 64).transpose(2, 0, 1).reshape(3136),
        "conv2d_transpose.weight": conv(d[2]), "conv2d_transpose.bias": d[3],
        "conv2d_transpose_1.weight": conv(d[4]), "conv2d_transpose_1.bias": d[5],
        "conv2d_transpose_2.weight": conv(d[6]), "conv2d_transpose_2.bias": d[7],
    }
    return enc, dec


def expr_file(out, epochs):
    """vae.exp reading the fixed inputs and starting from Keras' weights."""
    s = (ROOT / "experiments" / "vae.exp").read_text()
    edits = [
        ('data train_raw = mnist(split = "train")\n\ndata test_raw = mnist(split = "test")\n\n'
         "data train = concat(train_raw, test_raw)\n",
         f'data train = npz("{out}/inputs.npz", x = "x", y = "y", task = regression)\n'),
        ("  | shuffle(buffer = 70000)\n", ""),
        ("exp(0.5 * z_log_var) * normal(2)", "exp(0.5 * z_log_var) * y"),
        ("epochs = 30", f"epochs = {epochs}"),
        ("after {", f'before {{\n  load(encoder, from = "{out}/encoder.safetensors")\n'
                    f'  load(decoder, from = "{out}/decoder.safetensors")\n}}\n\nafter {{'),
    ]
    for old, new in edits:
        assert old in s, f"vae.exp changed: {old!r} not found"
        s = s.replace(old, new)
    (out / "vae_controlled.exp").write_text(s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    encoder, decoder = models()
    rng = np.random.RandomState(0)
    digits = mnist_digits()
    order = rng.permutation(len(digits))
    noise = rng.randn(len(digits), 2).astype("float32")
    images = np.rint(digits[order, :, :, 0] * 255).astype("uint8")
    np.savez(out / "inputs.npz", x=images, y=noise)
    for name, tensors in zip(("encoder", "decoder"), expr_layout(encoder, decoder)):
        tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
        save_file(tensors, out / f"{name}.safetensors")
    expr_file(out, args.epochs)

    optimizer = keras.optimizers.Adam()
    weights = encoder.trainable_weights + decoder.trainable_weights

    @tf.function
    def step(data, eps):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, _ = encoder(data)
            z = z_mean + ops.exp(0.5 * z_log_var) * eps
            reconstruction = decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
            kl = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            total = reconstruction_loss + ops.mean(ops.sum(kl, axis=1))
        optimizer.apply_gradients(zip(tape.gradient(total, weights), weights))
        return total

    x = images[..., None].astype("float32") / 255
    for epoch in range(args.epochs):
        total, count = 0.0, 0
        for i in range(0, len(x), 128):
            batch = x[i : i + 128]
            total += float(step(tf.constant(batch), tf.constant(noise[i : i + 128]))) * len(batch)
            count += len(batch)
        # Weighted by batch size, as expr's `mean(total_loss) on train`.
        print(f"Epoch {epoch + 1}, loss: {total / count:.4f}", flush=True)


if __name__ == "__main__":
    main()
