"""The PyTorch twin of experiments/residual_mnist.exp: a small residual network on MNIST.

Conv2d(1, 16, 3, padding 1) + ReLU, max-pool 2, two residual blocks (each: Conv2d(16, 16,
3, padding 1) + ReLU, Conv2d(16, 16, 3, padding 1), added to the block's input, ReLU),
max-pool 2, flatten, Linear(784, 10): 17,290 parameters. glorot_uniform kernels, zero
biases; Adam (lr 1e-3, eps 1e-7) with lr = 1e-3 * 0.8 ** epoch at each epoch's start,
batch 64, the cross-entropy of the logits. Pixels scaled to [0, 1]; the training set
reshuffled each epoch, the test set in batches of 256.

    EXPR_DATA=/path/to/data python3 bench/twins/residual_mnist.py --threads 2 --epochs 10 [--examples K]

At the end `final test_accuracy X`: expr's metrics.csv column `test_accuracy` (x 100, in
percent) after the last epoch.
"""
import torch.nn as nn
import torch.nn.functional as F

import common


class Residual(nn.Module):
    def __init__(self, filters):
        super().__init__()
        self.conv1 = nn.Conv2d(filters, filters, 3, padding=1)
        self.conv2 = nn.Conv2d(filters, filters, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))) + x)


def model():
    return common.keras_init(nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        Residual(16), Residual(16), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 7 * 7, 10)))


def main():
    a = common.parse_args(__doc__, epochs=10)
    train, test = common.mnist_scaled(a)
    net = model()
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3)
    common.fit_classifier(a, net, opt, train, test, 64, 256,
                          lr_at=lambda epoch: 1e-3 * 0.8 ** epoch)


if __name__ == "__main__":
    main()
