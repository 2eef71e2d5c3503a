"""The PyTorch twin of experiments/resnet20.exp: ResNet-20 of He et al. 2016 (section 4.2)
on CIFAR-10, with the shortcut of a halving block a strided 1x1 conv and batch norm (the
paper's option B).

A 3x3 conv (16 filters) + batch norm + ReLU; three stages of three residual blocks (16, 32
and 64 filters; each block conv-BN-ReLU-conv-BN added to its input, then ReLU; the first
block of the 2nd and 3rd stage halves the image with a stride-2 conv and a stride-2 1x1
conv-BN shortcut); global average pooling; Linear(64, 10). 274,042 parameters as expr and
Keras count them (272,474 trained, 1,568 running means and variances). Convs without
bias, he_normal (Keras': a normal cut at 2 sigma, values of std sqrt(2 / fan_in)); the
dense layer glorot_uniform with a zero bias. Batch norm as Keras' defaults (momentum 0.99,
i.e. PyTorch's 0.01; eps 1e-3; PyTorch's running variance takes the unbiased batch
variance, Keras' and expr's the biased one). Keras' `same` padding: a stride-2 3x3 conv
pads one row and column after the image only (PyTorch's padding=1 would pad both sides),
so it is padded explicitly here.

SGD (lr 0.1, momentum 0.9, weight decay 1e-4 added to the gradient), lr divided by 10 at
epochs 91 and 136 (0-based epochs, as the .exp's `on epoch_start`). expr's momentum is
Keras' (v = 0.9 v - lr g; p += v), PyTorch's (b = 0.9 b + g; p -= lr b) the same while lr
is constant: they differ only in the steps after each lr change. Batch 128; each training
image scaled to [0, 1], normalised per channel (mean 0.4914, 0.4822, 0.4465; std 0.2470,
0.2435, 0.2616), mirrored left-right with probability 1/2 and shifted by -4..4 pixels
both ways, black (a 0 byte) filling in (expr's random_flip then random_crop(padding = 4)),
anew each epoch, as the batch is assembled (inside the timed seconds).

CIFAR-10 is read from $EXPR_DATA/cifar10 (the binary version's data_batch_1..5.bin); when
it is missing, 50,000 random images and labels of CIFAR's shape stand in (the output says
`synthetic`), for timing only.

    EXPR_DATA=/path python3 bench/twins/resnet20.py --threads 2 --epochs 182 [--examples K]

At the end `final train_loss X`: the mean of the last epoch's batch losses. resnet20.exp
declares no metrics, so expr's metrics.csv has no column for it (`train_loss = mean(loss)
on train` would be this figure); the twin does not evaluate the test set.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import common

def conv_bn(cin, cout, kernel, stride=1):
    conv = nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2 if stride == 1 else 0, bias=False)
    common.he_normal_(conv.weight)
    return nn.Sequential(conv, nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.stride = stride
        self.a = conv_bn(cin, cout, 3, stride)
        self.b = conv_bn(cout, cout, 3)
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 else None

    def forward(self, x):
        # Keras' `same` for stride 2: the one padded row and column go after the image.
        h = self.a(F.pad(x, (0, 1, 0, 1)) if self.stride != 1 else x)
        h = self.b(F.relu(h))
        return F.relu(h + (self.shortcut(x) if self.shortcut is not None else x))


def model():
    layers = [conv_bn(3, 16, 3), nn.ReLU()]
    cin = 16
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        for b in range(3):
            layers.append(Block(cin, filters, stride if b == 0 else 1))
            cin = filters
    dense = nn.Linear(64, 10)
    common.keras_init(dense)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), dense)


def main():
    a = common.parse_args(__doc__, epochs=182)
    (x, y), _ = common.cifar10_sets(a)
    net = model()
    common.parameters_line(common.count_parameters(net))
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    for epoch in range(1, a.epochs + 1):
        e = epoch - 1
        common.set_lr(opt, 0.1 * 0.1 ** (min(1, e // 91) + min(1, e // 136)))
        seconds, loss, _ = common.classify_epoch(net, opt, x, y, 128, prepare=common.cifar_augmented)
        common.epoch_line(epoch, seconds, train_loss=loss)
    common.final_line("train_loss", loss)


if __name__ == "__main__":
    main()
