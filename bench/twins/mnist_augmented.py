"""The PyTorch twin of experiments/mnist_augmented.exp: mnist.exp with each training image
shifted at random by whole pixels, anew each epoch.

Conv2d(1, 32, 3) + ReLU, max-pool 2, flatten, Linear(5408, 64) + ReLU, Linear(64, 10):
347,146 parameters. glorot_uniform kernels, zero biases, Adam (lr 1e-3, betas 0.9/0.999,
eps 1e-7), batch 64, the cross-entropy of the logits. Each training image moved by dy, dx
drawn uniformly in -3..3 (expr's `random_translate(0.1)`: round(0.1 * 28) = 3, as
torchvision's RandomAffine(translate = (0.1, 0.1)) draws whole shifts), black filling in,
as the batch is assembled (inside the timed seconds); pixels scaled to [0, 1]; the test
set, not shifted, in batches of 64.

    EXPR_DATA=/path/to/data python3 bench/twins/mnist_augmented.py --threads 2 --epochs 5 [--examples K]

At the end `final test_accuracy X`: expr's metrics.csv column `test_accuracy` (x 100, in
percent) after the last epoch.
"""
import common
from mnist import model


def main():
    a = common.parse_args(__doc__, epochs=5)
    x, y = common.mnist("train")
    x, y = common.limit(a, x.unsqueeze(1), y)  # bytes; shifted and scaled per batch
    x_test, y_test = common.mnist("test")
    net = model()
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-7)
    common.fit_classifier(a, net, opt, (x, y), ((x_test.float() / 255).unsqueeze(1), y_test), 64, 64,
                          prepare=lambda b: common.shifted(b, 3).float() / 255)


if __name__ == "__main__":
    main()
