"""The PyTorch twin of experiments/cifar10_cnn.exp: a small CNN on CIFAR-10 with the
standard augmentation of the CIFAR literature.

Conv2d(3, 32, 3, padding 1) + ReLU, max-pool 2, Conv2d(32, 64, 3, padding 1) + ReLU,
max-pool 2, Conv2d(64, 128, 3, padding 1) + ReLU, max-pool 2, flatten, dropout 0.3,
Linear(2048, 128) + ReLU, Linear(128, 10): 356,810 parameters. glorot_uniform kernels,
zero biases, Adam (lr 1e-3, eps 1e-7), batch 128, the cross-entropy of the logits. Each
training image scaled to [0, 1], normalised per channel (mean 0.4914, 0.4822, 0.4465; std
0.2470, 0.2435, 0.2616), mirrored left-right with probability 1/2 and shifted by -4..4
pixels both ways, black (a 0 byte) filling in (expr's random_flip then
random_crop(padding = 4)), anew each epoch, as the batch is assembled (inside the timed
seconds); the test set in batches of 256, not augmented.

CIFAR-10 is read from $EXPR_DATA/cifar10 (the binary version's data_batch_1..5.bin,
test_batch.bin); when it is missing, random images and labels of CIFAR's shape (50,000
and 10,000) stand in (the output says `synthetic`), for timing only.

    EXPR_DATA=/path python3 bench/twins/cifar10_cnn.py --threads 2 --epochs 30 [--examples K]

At the end `final test_accuracy X`: expr's metrics.csv column `test_accuracy` (x 100, in
percent) after the last epoch (about 10% on synthetic data).
"""
import torch.nn as nn

import common


def model():
    return common.keras_init(nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(128 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10)))


def main():
    a = common.parse_args(__doc__, epochs=30)
    train, test = common.cifar10_sets(a)
    net = model()
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3)
    common.fit_classifier(a, net, opt, train, test, 128, 256,
                          prepare=common.cifar_augmented, prepare_test=common.cifar_normalized)


if __name__ == "__main__":
    main()
