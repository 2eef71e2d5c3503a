#!/usr/bin/env python3
"""Checks `expr export --format onnx` against outside tools.

For each experiment in bench/onnx/ (small MNIST models, one epoch on 512 images, together
covering every layer kind and a graph model): train it
with `expr run`, export the saved model, check the file with `onnx.checker.check_model`
(full check, with shape inference), run it in onnxruntime on the first 200 test images at
batch sizes 200 and 1 (the batch axis is dynamic), and compare with `expr predict
--probabilities none` (the raw outputs, six decimals in its CSV).

    pip install --user onnx onnxruntime
    EXPR_DATA=/work/shared/data python3 bench/onnx_check.py [path/to/expr]
"""

import csv
import glob
import gzip
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

EXPR = sys.argv[1] if len(sys.argv) > 1 else "target/release/expr"


def test_images(n, exp, shape):
    """The first n MNIST test images as the experiment's pipeline makes them: scaled to
    [0, 1] where it says `scale(1 / 255)`, in the model's input shape (the batch axis first)."""
    path = os.path.join(os.environ["EXPR_DATA"], "mnist", "t10k-images-idx3-ubyte.gz")
    with gzip.open(path) as f:
        data = f.read()
    x = np.frombuffer(data, dtype=np.uint8, offset=16)[: n * 784].astype(np.float32)
    with open(exp) as f:
        if "scale(1 / 255)" in f.read():
            x /= 255.0
    return x.reshape([n] + shape[1:])


def expr_outputs(exp, run_dir, to):
    subprocess.run(
        [EXPR, "predict", exp, "--model", run_dir, "--probabilities", "none", "--to", to],
        check=True,
    )
    with open(to) as f:
        rows = list(csv.DictReader(f))
    return np.array([[float(r[f"p{k}"]) for k in range(10)] for r in rows], dtype=np.float32)


def main():
    worst = 0.0
    for exp in sorted(glob.glob("bench/onnx/*.exp")):
        runs = tempfile.mkdtemp()
        subprocess.run([EXPR, "run", exp, "--runs-dir", runs], check=True, stdout=subprocess.DEVNULL)
        (run_dir,) = glob.glob(os.path.join(runs, "*", "*"))
        subprocess.run([EXPR, "export", run_dir, "--format", "onnx"], check=True)
        path = os.path.join(run_dir, "classifier.onnx")
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        opset = model.opset_import[0].version
        want = expr_outputs(exp, run_dir, os.path.join(runs, "predictions.csv"))
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        x = test_images(len(want), exp, session.get_inputs()[0].shape)
        whole = session.run(None, {name: x})[0]
        ones = np.concatenate([session.run(None, {name: x[i : i + 1]})[0] for i in range(len(x))])
        diff = max(np.abs(whole - want).max(), np.abs(ones - want).max())
        worst = max(worst, diff)
        print(
            f"{exp}: onnx.checker ok (opset {opset}, {os.path.getsize(path)} bytes), "
            f"onnxruntime {ort.__version__} vs expr predict on {len(x)} images, "
            f"batch {len(x)} and 1: max |diff| = {diff:.2e}"
        )
    # The CSV rounds to six decimals: 5e-7, plus float noise.
    assert worst < 2e-5, worst
    print("all match")


if __name__ == "__main__":
    main()
