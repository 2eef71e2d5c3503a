"""The PyTorch twin of experiments/mnist.exp (the TensorFlow guide "Writing a training loop
from scratch", as a PyTorch user writes that loop).

Conv2d(1, 32, 3) + ReLU, max-pool 2, flatten, Linear(5408, 64) + ReLU, Linear(64, 10):
347,146 parameters. Keras' initialisers (glorot_uniform kernels, zero biases), Adam (lr 1e-3,
betas 0.9/0.999, eps 1e-7), batch 64, the cross-entropy of the logits. Pixels scaled to
[0, 1]; the 60,000 training images reshuffled each epoch (a full permutation; expr draws
from a 10,000-example buffer), the test set in batches of 64.

    EXPR_DATA=/path/to/data python3 bench/twins/mnist.py --threads 2 --epochs 5 [--examples K]

Per epoch: the training seconds, train loss/accuracy, test loss/accuracy. At the end
`final test_accuracy X`: expr's metrics.csv column `test_accuracy` (x 100, in percent)
after the last epoch.
"""
import torch.nn as nn

import common


def model():
    return common.keras_init(nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 13 * 13, 64), nn.ReLU(), nn.Linear(64, 10)))


def main():
    a = common.parse_args(__doc__, epochs=5)
    train, test = common.mnist_scaled(a)
    net = model()
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-7)
    common.fit_classifier(a, net, opt, train, test, 64, 64)


if __name__ == "__main__":
    main()
