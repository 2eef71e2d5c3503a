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
import torch.nn.functional as F

import common


def model():
    return common.keras_init(nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 13 * 13, 64), nn.ReLU(), nn.Linear(64, 10)))


def main():
    a = common.parse_args(__doc__, epochs=5)
    x, y = common.mnist("train")
    x, y = common.limit(a, (x.float() / 255).unsqueeze(1), y)
    x_test, y_test = common.mnist("test")
    x_test = (x_test.float() / 255).unsqueeze(1)
    net = model()
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-7)
    for epoch in range(1, a.epochs + 1):
        losses, hits = [], 0
        with common.Timer() as t:
            for idx in common.batches(len(x), 64):
                xb, yb = x[idx], y[idx]
                logits = net(xb)
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item())
                hits += (logits.argmax(1) == yb).sum().item()
        test_loss, test_acc = common.evaluate(net, x_test, y_test, 64)
        common.epoch_line(epoch, t.seconds, train_loss=sum(losses) / len(losses),
                          train_accuracy=hits / len(x), test_loss=test_loss, test_accuracy=test_acc)
    common.final_line("test_accuracy", 100 * test_acc)


if __name__ == "__main__":
    main()
