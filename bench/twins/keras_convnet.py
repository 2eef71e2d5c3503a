"""The PyTorch twin of experiments/keras_convnet.exp: Keras' "Simple MNIST convnet"
(keras.io/examples/vision/mnist_convnet) in PyTorch, for timing expr against.

Conv2d(1, 32, 3) + ReLU, max-pool 2, Conv2d(32, 64, 3) + ReLU, max-pool 2, flatten,
dropout 0.5, Linear(1600, 10) + softmax: 34,826 parameters. Keras' initialisers (glorot
uniform kernels, zero biases), Adam (lr 1e-3, Keras' eps 1e-7), batch 128, the categorical
cross-entropy of the softmax. As `model.fit(validation_split = 0.1)`: the last 6,000
training images are held out for validation, the first 54,000 shuffled each epoch; pixels
scaled to [0, 1].

    EXPR_DATA=/path/to/data python3 bench/twins/keras_convnet.py [--epochs 1] [--threads 2] [--examples K]

prints `parameters 34826`, then per epoch the training seconds (the batches' assembly,
forward, backward and update), the training loss and accuracy, and the validation accuracy,
and at the end `final val_accuracy X`: expr's metrics.csv column `val_accuracy` (x 100, in
percent) after the last epoch. `--examples K` trains on the first K of the 54,000 images
(the protocol of bench/twins/common.py).
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import common


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class Convnet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.dense = nn.Linear(1600, 10)
        for m in (self.conv1, self.conv2, self.dense):
            nn.init.xavier_uniform_(m.weight)  # Keras' glorot_uniform
            nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.dropout(torch.flatten(x, 1), 0.5, self.training)
        return self.dense(x)  # logits; the softmax is in the loss


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--examples", type=int, default=None, help="train on the first K training images only")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    root = os.path.join(os.environ.get("EXPR_DATA", "data"), "mnist")
    x = torch.from_numpy(read_idx(os.path.join(root, "train-images-idx3-ubyte.gz")).copy())
    y = torch.from_numpy(read_idx(os.path.join(root, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    x = (x.float() / 255).unsqueeze(1)
    x_train, y_train, x_val, y_val = x[:54000], y[:54000], x[54000:], y[54000:]
    if a.examples is not None:
        x_train, y_train = x_train[:a.examples], y_train[:a.examples]
    model = Convnet()
    assert sum(p.numel() for p in model.parameters()) == 34826
    print(f"parameters {sum(p.numel() for p in model.parameters())}", flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    for epoch in range(a.epochs):
        model.train()
        order = torch.randperm(len(x_train))
        loss_sum, correct, batches = 0.0, 0, 0
        counter = common.flops_begin()
        start_cpu, start = time.process_time(), time.perf_counter()
        for i in range(0, len(order), 128):
            idx = order[i:i + 128]
            xb, yb = x_train[idx], y_train[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item()
            correct += (logits.argmax(1) == yb).sum().item()
            batches += 1
        train_s, train_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        common.flops_end(counter)
        model.eval()
        with torch.no_grad():
            val_acc = (model(x_val).argmax(1) == y_val).float().mean().item()
        print(f"epoch {epoch + 1}: train {train_s:.3f} s, cpu {train_cpu:.3f} s, "
              f"loss {loss_sum / batches:.4f}, accuracy {correct / len(x_train):.4f}, "
              f"val_accuracy {val_acc:.4f}", flush=True)
    print(f"final val_accuracy {100 * val_acc:.6g}", flush=True)


if __name__ == "__main__":
    main()
