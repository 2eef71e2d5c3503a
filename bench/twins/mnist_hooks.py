"""The PyTorch twin of experiments/mnist_hooks.exp: mnist.exp with the TensorFlow guide's
section 8 (per-tensor gradient clipping and a decaying learning rate).

Conv2d(1, 32, 3) + ReLU, max-pool 2, flatten, Linear(5408, 64) + ReLU, Linear(64, 10):
347,146 parameters. glorot_uniform kernels, zero biases, Adam (betas 0.9/0.999, eps 1e-7)
with lr = 1e-3 * 0.95 ** epoch set at each epoch's start, batch 64, the cross-entropy of
the logits. After each backward, every gradient tensor is clipped to norm 1.0 on its own,
as tf.clip_by_norm (g * 1 / max(norm, 1), no epsilon), before Adam's update. Pixels scaled
to [0, 1]; the training set reshuffled each epoch, the test set in batches of 64.

    EXPR_DATA=/path/to/data python3 bench/twins/mnist_hooks.py --threads 2 --epochs 5 [--examples K]

At the end `final test_accuracy X`: expr's metrics.csv column `test_accuracy` (x 100, in
percent) after the last epoch.
"""
import torch

import common
from mnist import model


def clip_each(params, most):
    """tf.clip_by_norm on each gradient tensor: scaled to norm `most` where it is longer."""
    grads = [p.grad for p in params if p.grad is not None]
    for g, norm in zip(grads, torch._foreach_norm(grads)):
        g.mul_(most / norm.clamp(min=most))


def main():
    a = common.parse_args(__doc__, epochs=5)
    train, test = common.mnist_scaled(a)
    net = model()
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-7)
    common.fit_classifier(a, net, opt, train, test, 64, 64,
                          lr_at=lambda epoch: 1e-3 * 0.95 ** epoch, after_backward=lambda p: clip_each(p, 1.0))


if __name__ == "__main__":
    main()
