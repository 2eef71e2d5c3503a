"""The PyTorch twin of experiments/mnist_validation.exp: mnist.exp's network trained on the
first 90% of MNIST's training images, the last 10% (6,000, in file order, as Keras'
`validation_split = 0.1` takes them) held out for validation.

Conv2d(1, 32, 3) + ReLU, max-pool 2, flatten, Linear(5408, 64) + ReLU, Linear(64, 10):
347,146 parameters. glorot_uniform kernels, zero biases, Adam (lr 1e-3, eps 1e-7), batch
64, the cross-entropy of the logits. Pixels scaled to [0, 1] then normalised by mean
0.1307 and std 0.3081; the 54,000 training images reshuffled each epoch, the validation
images in batches of 256. `--examples K` keeps the first K of the 54,000.

    EXPR_DATA=/path/to/data python3 bench/twins/mnist_validation.py --threads 2 --epochs 5 [--examples K]

At the end `final val_accuracy X`: expr's metrics.csv column `val_accuracy` (x 100, in
percent) after the last epoch.
"""
import common
from mnist import model


def main():
    a = common.parse_args(__doc__, epochs=5)
    x, y = common.mnist("train")
    x = ((x.float() / 255 - 0.1307) / 0.3081).unsqueeze(1)
    left, right = common.split_rows(len(x), 0.9, shuffle=False, seed=a.seed)
    x_train, y_train = common.limit(a, x[left], y[left])
    net = model()
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3)
    common.fit_classifier(a, net, opt, (x_train, y_train), (x[right], y[right]), 64, 256, test_name="val")


if __name__ == "__main__":
    main()
