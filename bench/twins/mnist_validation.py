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
import torch.nn.functional as F

import common
from mnist import model


def main():
    a = common.parse_args(__doc__, epochs=5)
    x, y = common.mnist("train")
    x = ((x.float() / 255 - 0.1307) / 0.3081).unsqueeze(1)
    left, right = common.split_rows(len(x), 0.9, shuffle=False, seed=a.seed)
    x_val, y_val = x[right], y[right]
    x, y = common.limit(a, x[left], y[left])
    net = model()
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3)
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
        val_loss, val_acc = common.evaluate(net, x_val, y_val, 256)
        common.epoch_line(epoch, t.seconds, train_loss=sum(losses) / len(losses),
                          train_accuracy=hits / len(x), val_loss=val_loss, val_accuracy=val_acc)
    common.final_line("val_accuracy", 100 * val_acc)


if __name__ == "__main__":
    main()
