"""What the PyTorch twins of experiments/*.exp share: the command line, the data readers,
Keras' initialisers, the random shifts of expr's augmentations, and the lines the benchmark
suite reads.

Every twin takes

    python3 bench/twins/NAME.py --threads N --epochs E [--examples K] [--seed S]

and prints `parameters {n}` once (the count `expr check` prints as "Total params"), then
per epoch `epoch {i}: train {seconds:.3f} s, ...` (the seconds of the epoch's training
batches only: batch assembly from in-memory tensors, forward, backward, update; not the
evaluation), and at the end `final {metric} {value}`, the experiment's headline figure under
the name of its column in expr's metrics.csv (accuracies in percent).
"""
import argparse
import gzip
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def experiment_file(*parts):
    """A path under experiments/ (where the .exp files read their CSV and NPZ data)."""
    return os.path.join(ROOT, "experiments", *parts)


def parse_args(doc, epochs, seed=42):
    """The suite's options; `epochs` and `seed` default to the experiment's."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--examples", type=int, default=None,
                   help="train on the first K training examples only (default: all)")
    p.add_argument("--seed", type=int, default=seed)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    return a


def limit(args, *tensors):
    """The first `--examples` rows of each tensor (all of them without the option)."""
    if args.examples is None:
        return tensors
    return tuple(t[:args.examples] for t in tensors)


# ----- data -----

def read_idx(path):
    """An IDX file (gzipped or not) as a numpy array of its shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def mnist(split):
    """MNIST's `split` ("train" or "test") from $EXPR_DATA/mnist: (uint8 images (n, 28, 28),
    int64 labels (n,)) as tensors."""
    root = os.path.join(os.environ.get("EXPR_DATA", "data"), "mnist")
    prefix = "train" if split == "train" else "t10k"

    def find(kind):
        for name in (f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte.gz",
                     f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"):
            if os.path.exists(os.path.join(root, name)):
                return os.path.join(root, name)
        raise SystemExit(f"no MNIST {split} {kind} in {root} (set EXPR_DATA)")

    x = torch.from_numpy(read_idx(find("images")).copy())
    y = torch.from_numpy(read_idx(find("labels")).astype(np.int64))
    return x, y


def mnist_scaled(args):
    """MNIST as most of the .exp files read it, `scale(1 / 255) | channel_axis()`: the
    training set (its first `--examples`) and the test set as ((n, 1, 28, 28) floats,
    labels)."""
    x, y = mnist("train")
    x_test, y_test = mnist("test")
    scaled = lambda images: (images.float() / 255).unsqueeze(1)
    return limit(args, scaled(x), y), (scaled(x_test), y_test)


def cifar10(split, seed=0):
    """CIFAR-10's `split` from $EXPR_DATA/cifar10 (the binary version: data_batch_1..5.bin,
    test_batch.bin) as (uint8 (n, 3, 32, 32), int64 (n,)) tensors and whether it is real.
    Without the files: random bytes and labels of CIFAR's shape (50,000 or 10,000 images),
    from a fixed seed, for timing only."""
    root = os.path.join(os.environ.get("EXPR_DATA", "data"), "cifar10")
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    for folder in (root, os.path.join(root, "cifar-10-batches-bin")):
        paths = [os.path.join(folder, n) for n in names]
        if all(os.path.exists(p) for p in paths):
            raw = np.concatenate([np.fromfile(p, dtype=np.uint8).reshape(-1, 3073) for p in paths])
            x = torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).copy())
            return x, torch.from_numpy(raw[:, 0].astype(np.int64)), True
    n = 50000 if split == "train" else 10000
    g = np.random.default_rng(1234 + (split == "test"))
    x = torch.from_numpy(g.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8))
    return x, torch.from_numpy(g.integers(0, 10, n).astype(np.int64)), False


def read_csv(path, target):
    """A CSV file with a header, as expr's `csv(path, target = ...)` reads numeric
    features: (float32 features (rows, columns but the target, in file order), the target
    column's cells as strings)."""
    import csv
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], [r for r in rows[1:] if r]
    t = header.index(target)
    features = [[float(c) for i, c in enumerate(r) if i != t] for r in rows]
    return torch.tensor(features, dtype=torch.float32), [r[t] for r in rows]


def text_classes(path, target, length, text="text"):
    """A CSV (or `.csv.gz`) of labelled texts as expr's `text_classes(...)` reads it: each
    text as `length` int64 tokens (UTF-8 byte + 1, cut after `length` bytes, right-padded
    with the id 0), each label numbered as `classes_of` does."""
    import csv
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    ids = torch.zeros(len(rows), length, dtype=torch.int64)
    for i, row in enumerate(rows):
        tokens = list(row[text].encode("utf-8"))[:length]
        ids[i, :len(tokens)] = torch.tensor(tokens, dtype=torch.int64) + 1
    return ids, classes_of([row[target] for row in rows])


def classes_of(cells):
    """Text classes as expr reads them without `classes = (...)`: their sorted values
    numbered from 0."""
    names = sorted(set(cells))
    return torch.tensor([names.index(c) for c in cells], dtype=torch.int64)


def cifar10_sets(args):
    """CIFAR-10's training set (its first `--examples`) and test set as bytes, saying so
    when they are the synthetic stand-in."""
    x, y, real = cifar10("train")
    test = cifar10("test")[:2]
    if not real:
        print("data synthetic: $EXPR_DATA/cifar10 is missing, random images of CIFAR-10's shape (timing only)",
              flush=True)
    return limit(args, x, y), test


def split_rows(n, fraction, shuffle, seed):
    """expr's `split(fraction[, shuffle = true])` as the first transform of a data set:
    (left rows, right rows) of 0..n, the left `round(fraction * n)` (ties to even, as
    Python's round and Keras' split_dataset), after expr's own permutation of the seed
    (ChaCha8, bit for bit: expr_random.split_order), so the parts hold expr's very rows."""
    if shuffle:
        import expr_random
        order = expr_random.split_order(n, seed)
    else:
        order = np.arange(n)
    left = min(int(round(fraction * n)), n)
    return order[:left], order[left:]


def standardize(train, *others):
    """scikit-learn's StandardScaler fitted on `train` (population std; a column that never
    varies only centred), applied to `train` and `others`, as expr's `standardize()`."""
    mean = train.double().mean(0)
    std = train.double().std(0, unbiased=False)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return tuple(((t.double() - mean) / std).float() for t in (train,) + others)


def shifted(images, most, fill=0):
    """Each image of a (n, c, h, w) batch moved by whole pixels, dy and dx drawn uniformly in
    -most..most, the uncovered pixels `fill`: expr's `random_translate` (most = round(f *
    size)) and `random_crop(padding = most)`, which are the same shift."""
    n, c, h, w = images.shape
    padded = F.pad(images, (most, most, most, most), value=fill)
    dy = torch.randint(0, 2 * most + 1, (n,))
    dx = torch.randint(0, 2 * most + 1, (n,))
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
    return padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]


def rotated(images, degrees):
    """Each image of a float (n, c, h, w) batch rotated about its centre by an angle drawn
    uniformly in -degrees..degrees: torchvision's RandomRotation(degrees), expr's
    `random_rotation`."""
    return rotated_by(images, torch.empty(images.shape[0], dtype=torch.float64).uniform_(-degrees, degrees))


def rotated_by(images, angles):
    """Image i of a float (n, c, h, w) batch rotated about its centre by angles[i] degrees
    (positive counter-clockwise), nearest pixel, black corners: torchvision's F.rotate (its
    inverse affine matrix, in float64, then its affine grid and grid_sample in float32),
    for a whole batch at once."""
    n, _, h, w = images.shape
    rad = torch.deg2rad(angles.double())
    cos, sin, zero = torch.cos(rad), torch.sin(rad), torch.zeros(n, dtype=torch.float64)
    # torchvision's inverse matrix for rotate(angle): [cos, -sin, 0; sin, cos, 0].
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1).float()
    base = torch.empty(1, h, w, 3)
    base[..., 0] = torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, w)
    base[..., 1] = torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, h).unsqueeze(-1)
    base[..., 2] = 1
    scaled = theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h])
    grid = base.view(1, h * w, 3).expand(n, -1, -1).bmm(scaled).view(n, h, w, 2)
    return F.grid_sample(images, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def flipped(images):
    """Each image of a (n, c, h, w) batch mirrored left-right with probability 1/2."""
    flip = torch.rand(images.shape[0]) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(3), images)


# CIFAR-10's per-channel pixel mean and std, as the .exp files normalise by them.
CIFAR_MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
CIFAR_STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


def cifar_normalized(images):
    """uint8 (n, 3, 32, 32) scaled to [0, 1] and normalised per channel."""
    return (images.float() / 255 - CIFAR_MEAN) / CIFAR_STD


def cifar_augmented(images):
    """uint8 (n, 3, 32, 32) -> the training batch the model sees: `random_flip(horizontal
    = true) | random_crop(padding = 4)` after the normalisation; shifting the bytes with 0
    filling in and normalising after is the same (expr fills with what a 0 byte becomes)."""
    return cifar_normalized(shifted(flipped(images), 4))


def batches(n, size, shuffle=True):
    """Index tensors of `size` rows over 0..n, in a fresh random order each call (expr's
    `shuffle(buffer)` draws from a buffer; a full permutation here, as DataLoader's
    shuffle), the last batch possibly short."""
    order = torch.randperm(n) if shuffle else torch.arange(n)
    return [order[i:i + size] for i in range(0, n, size)]


# ----- models -----

def keras_init(module):
    """Keras' defaults, expr's too: glorot_uniform kernels, zero biases (every Linear and
    Conv2d of `module`)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Conv1d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


# Keras' truncated normals divide the standard deviation by the std of a unit normal cut
# at 2 sigma, so the values have the std the formula says (expr's TRUNCATED_STD).
TRUNCATED_STD = 0.87962566103423978


def he_normal_(weight):
    """Keras' HeNormal (and expr's he_normal): a normal cut at 2 sigma whose values have
    standard deviation sqrt(2 / fan_in)."""
    fan_in = weight[0].numel()
    scale = (2.0 / fan_in) ** 0.5 / TRUNCATED_STD
    return nn.init.trunc_normal_(weight, 0.0, scale, -2 * scale, 2 * scale)


def count_parameters(*modules):
    """The parameters and the batch norms' running averages, as Keras' and expr's "Total
    params" count them."""
    n = 0
    for m in modules:
        n += sum(p.numel() for p in m.parameters())
        for name, b in m.named_buffers():
            if name.endswith("running_mean") or name.endswith("running_var"):
                n += b.numel()
    return n


def keras_adam(params, lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-7):
    """torch.optim.Adam with Keras' defaults. Keras (and expr) add epsilon to sqrt(v) before
    the bias correction, PyTorch after it: the updates differ only while sqrt(v) is near
    epsilon (1e-7), i.e. not measurably."""
    return torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), eps=epsilon)


def set_lr(opt, lr):
    for group in opt.param_groups:
        group["lr"] = lr


# ----- evaluation -----

@torch.no_grad()
def evaluate(model, x, y, batch, prepare=lambda b: b):
    """expr's `mean(loss) on test` (the mean of the batches' mean cross-entropies, Keras'
    Mean) and `sparse_categorical_accuracy` (counted over every example), in eval mode."""
    model.eval()
    losses, hits = [], 0
    for i in range(0, len(x), batch):
        logits = model(prepare(x[i:i + batch]))
        yb = y[i:i + batch]
        losses.append(F.cross_entropy(logits, yb).item())
        hits += (logits.argmax(1) == yb).sum().item()
    model.train()
    return sum(losses) / len(losses), hits / len(x)


# ----- the standard step of a classifier -----

def classify_epoch(net, opt, x, y, batch, prepare=None, after_backward=None):
    """One epoch of expr's standard step on a classifier: each batch of a fresh random order
    (`prepare`d, e.g. augmented, as it is assembled), logits = net(x), the cross-entropy of
    the logits, backward, `after_backward(params)` (gradient hooks), the update. Returns
    (seconds, the mean of the batch losses, the accuracy over the examples)."""
    net.train()
    params = list(net.parameters())
    losses, hits = [], 0
    with Timer() as t:
        for idx in batches(len(x), batch):
            xb, yb = x[idx], y[idx]
            if prepare is not None:
                xb = prepare(xb)
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if after_backward is not None:
                after_backward(params)
            opt.step()
            losses.append(loss.item())
            hits += (logits.argmax(1) == yb).sum().item()
    return t.seconds, sum(losses) / len(losses), hits / len(x)


def fit_classifier(args, net, opt, train, test, batch, test_batch, test_name="test", lr_at=None,
                   prepare=None, prepare_test=lambda b: b, after_backward=None):
    """The standard `train { model, data, validate, loss, optimizer }` of a classifier:
    per epoch (`lr_at(epoch from 0)` set first, as `on epoch_start`), the training batches
    and the evaluation on `test` in batches of `test_batch`, then the epoch's line; at the
    end `final {test_name}_accuracy` in percent."""
    (x, y), (x_test, y_test) = train, test
    for epoch in range(1, args.epochs + 1):
        lr = {}
        if lr_at is not None:
            set_lr(opt, lr_at(epoch - 1))
            lr = {"lr": opt.param_groups[0]["lr"]}
        seconds, loss, accuracy = classify_epoch(net, opt, x, y, batch, prepare, after_backward)
        test_loss, test_accuracy = evaluate(net, x_test, y_test, test_batch, prepare_test)
        epoch_line(epoch, seconds, **lr, train_loss=loss, train_accuracy=accuracy,
                   **{f"{test_name}_loss": test_loss, f"{test_name}_accuracy": test_accuracy})
    final_line(f"{test_name}_accuracy", 100 * test_accuracy)


# ----- output -----

def flops_begin():
    """With `TWIN_FLOPS=1` in the environment, starts counting the floating-point operations
    of what runs next (torch's FlopCounterMode: matrix products, convolutions and attention,
    forward and backward; elementwise work is not counted), else does nothing. The suite
    runs each twin once so, to turn epoch seconds into GFLOP/s; counting slows the epoch,
    so that run's seconds are not used."""
    if os.environ.get("TWIN_FLOPS") != "1":
        return None
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False)
    counter.__enter__()
    return counter


def flops_end(counter):
    """Stops what `flops_begin` started, printing `flops {n}`: the operations of the epoch."""
    if counter is not None:
        counter.__exit__(None, None, None)
        print(f"flops {counter.get_total_flops()}", flush=True)


class Timer:
    """Wall seconds of a training epoch: `with timer: ...` around the batches (and its
    operations with `TWIN_FLOPS=1`, see `flops_begin`)."""

    def __enter__(self):
        self.counter = flops_begin()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        flops_end(self.counter)


def parameters_line(n):
    print(f"parameters {n}", flush=True)


def epoch_line(epoch, seconds, **metrics):
    """`epoch {i}: train {s} s, name value, ...` (epochs counted from 1)."""
    extra = "".join(f", {k} {v:.6g}" if isinstance(v, float) else f", {k} {v}" for k, v in metrics.items())
    print(f"epoch {epoch}: train {seconds:.3f} s{extra}", flush=True)


def final_line(name, value):
    print(f"final {name} {value:.6g}", flush=True)
