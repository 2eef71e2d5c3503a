"""The PyTorch twin of experiments/digits_npz.exp: a small CNN on scikit-learn's 1,797
handwritten digits (8x8, values 0-16), read from experiments/data/digits.npz (`x`, `y`).

80% of the images train and 20% are held out, after one shuffle by the seed (expr's
`split(0.8, shuffle = true)`: the first round(0.8 * 1797) = 1438 of expr's own
permutation, drawn as expr draws it by expr_random.py, so these are expr's very rows); pixels
scaled by 1/16, with a channel axis.

Conv2d(1, 16, 3, padding 1) + ReLU, max-pool 2, flatten, Linear(256, 64) + ReLU,
Linear(64, 10): 17,258 parameters. glorot_uniform kernels, zero biases, Adam (lr 1e-3,
eps 1e-7), batch 32 reshuffled each epoch, the cross-entropy of the logits; the test
images in batches of 256.

    python3 bench/twins/digits_npz.py --threads 2 --epochs 20 [--examples K]

At the end `final test_accuracy X`: expr's metrics.csv column `test_accuracy` (x 100, in
percent) after the last epoch.
"""
import numpy as np
import torch
import torch.nn as nn

import common


def main():
    a = common.parse_args(__doc__, epochs=20)
    archive = np.load(common.experiment_file("data", "digits.npz"))
    x = (torch.from_numpy(archive["x"]).float() / 16).unsqueeze(1)
    y = torch.from_numpy(archive["y"]).long()
    left, right = common.split_rows(len(x), 0.8, shuffle=True, seed=a.seed)
    x_train, y_train = common.limit(a, x[left], y[left])
    net = common.keras_init(nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10)))
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3)
    common.fit_classifier(a, net, opt, (x_train, y_train), (x[right], y[right]), 32, 256)


if __name__ == "__main__":
    main()
