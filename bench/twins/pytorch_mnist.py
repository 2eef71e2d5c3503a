"""The PyTorch twin of experiments/pytorch_mnist.exp, which is PyTorch's examples/mnist
(github.com/pytorch/examples, mnist/main.py): this is that script's model and loop.

Conv2d(1, 32, 3) + ReLU, Conv2d(32, 64, 3) + ReLU, max-pool 2, dropout 0.25, flatten,
Linear(9216, 128) + ReLU, dropout 0.5, Linear(128, 10): 1,199,882 parameters, with
PyTorch's own initialisation (expr's `kernel_init = torch, bias_init = torch`: U(+-1/sqrt(
fan_in)) for weights and biases). Adadelta (lr 1.0, rho 0.9, eps 1e-6), lr = 0.7 ** epoch
(StepLR, gamma 0.7), batch 64, the cross-entropy of the logits (log_softmax + nll_loss).
Pixels scaled to [0, 1] then normalised by mean 0.1307 and std 0.3081; the training set
fully reshuffled each epoch, the test set in batches of 1000.

    EXPR_DATA=/path/to/data python3 bench/twins/pytorch_mnist.py --threads 2 --epochs 14 [--examples K] [--seed 1]

At the end `final test_accuracy X`: expr's metrics.csv column `test_accuracy` (x 100, in
percent) after the last epoch.
"""
import torch
import torch.nn as nn

import common


def model():
    # nn.Conv2d's and nn.Linear's default initialisation is what the .exp asks for.
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Dropout(0.25), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10))


def prepare(x):
    return ((x.float() / 255 - 0.1307) / 0.3081).unsqueeze(1)


def main():
    a = common.parse_args(__doc__, epochs=14, seed=1)
    x, y = common.mnist("train")
    x, y = common.limit(a, prepare(x), y)
    x_test, y_test = common.mnist("test")
    net = model()
    common.parameters_line(common.count_parameters(net))
    opt = torch.optim.Adadelta(net.parameters(), lr=1.0, rho=0.9, eps=1e-6)
    common.fit_classifier(a, net, opt, (x, y), (prepare(x_test), y_test), 64, 1000,
                          lr_at=lambda epoch: 1.0 * 0.7 ** epoch)


if __name__ == "__main__":
    main()
