"""The PyTorch twin of experiments/mnist_folder.exp: MNIST read from folders of PNG files
(one sub-folder per digit, Keras' image_dataset_from_directory layout), each training
image rotated by up to 15 degrees and shifted by up to 3 pixels at random, anew each epoch.

Conv2d(1, 32, 3) + ReLU, max-pool 2, flatten, Linear(5408, 64) + ReLU, Linear(64, 10):
347,146 parameters. glorot_uniform kernels, zero biases, Adam (lr 1e-3, eps 1e-7), batch
64, the cross-entropy of the logits. Pixels scaled to [0, 1]; each training image rotated
about its centre by an angle uniform in -15..15 degrees (torchvision's RandomRotation(15):
nearest pixel, black corners; `common.rotated_by` equals torchvision's F.rotate on the
six cases of expr's src/data/augment.rs test), then moved by dy, dx uniform in -3..3 (expr's
`random_translate(0.1)`), as the batch is assembled (inside the timed seconds); the whole
training set reshuffled each epoch, the test set in batches of 64.

The images are read from experiments/mnist_png/{train,test}/<digit>/*.png (written by
`cargo run --release --example mnist_to_png -- experiments/mnist_png`) when that folder
exists (needs Pillow); else from $EXPR_DATA/mnist's IDX files, the same pixels (the output
then says so). Reading is not timed.

    EXPR_DATA=/path/to/data python3 bench/twins/mnist_folder.py --threads 2 --epochs 5 [--examples K]

At the end `final test_accuracy X`: expr's metrics.csv column `test_accuracy` (x 100, in
percent) after the last epoch.
"""
import os

import numpy as np
import torch

import common
from mnist import model


def read_folder(root):
    """(uint8 (n, 28, 28), int64 (n,)) of a class-folder tree, classes sorted by name,
    files sorted within each (expr reads a folder class by class)."""
    from PIL import Image
    images, labels = [], []
    for label, name in enumerate(sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))):
        folder = os.path.join(root, name)
        for f in sorted(os.listdir(folder)):
            with Image.open(os.path.join(folder, f)) as im:
                images.append(np.asarray(im.convert("L").resize((28, 28), Image.BILINEAR)))
            labels.append(label)
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)


def load(split):
    root = common.experiment_file("mnist_png", split)
    if os.path.isdir(root):
        return read_folder(root)
    print(f"data: {root} is missing, MNIST's {split} images read from $EXPR_DATA/mnist instead (the same pixels)",
          flush=True)
    return common.mnist(split)


def main():
    a = common.parse_args(__doc__, epochs=5)
    x, y = load("train")
    x, y = common.limit(a, (x.float() / 255).unsqueeze(1), y)
    x_test, y_test = load("test")
    net = model()
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3)
    common.fit_classifier(a, net, opt, (x, y), ((x_test.float() / 255).unsqueeze(1), y_test), 64, 64,
                          prepare=lambda b: common.shifted(common.rotated(b, 15), 3))


if __name__ == "__main__":
    main()
