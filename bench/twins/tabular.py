"""The PyTorch twin of experiments/tabular.exp: an MLP on the Breast Cancer Wisconsin
(Diagnostic) table, experiments/data/breast_cancer.csv (569 rows, 30 measurements, the
`diagnosis` as classes benign = 0, malignant = 1: the sorted text values, as expr numbers
them).

80% of the rows train and 20% are held out, after one shuffle by the seed (expr's
`split(0.8, shuffle = true)`: the first round(0.8 * 569) = 455 of expr's own
permutation, drawn as expr draws it by expr_random.py, so these are expr's very rows);
each column standardised by the training rows' mean and population std (StandardScaler).

Linear(30, 32) + ReLU, dropout 0.2, Linear(32, 16) + ReLU, Linear(16, 2): 1,554
parameters. glorot_uniform kernels, zero biases, Adam (lr 1e-3, eps 1e-7), batch 32
reshuffled each epoch, the cross-entropy of the logits; the test rows in batches of 128.

    python3 bench/twins/tabular.py --threads 2 --epochs 30 [--examples K]

At the end `final test_accuracy X`: expr's metrics.csv column `test_accuracy` (x 100, in
percent) after the last epoch.
"""
import torch.nn as nn
import torch.nn.functional as F

import common


def main():
    a = common.parse_args(__doc__, epochs=30)
    x, cells = common.read_csv(common.experiment_file("data", "breast_cancer.csv"), "diagnosis")
    y = common.classes_of(cells)
    left, right = common.split_rows(len(x), 0.8, shuffle=True, seed=a.seed)
    x_train, x_test = common.standardize(x[left], x[right])
    y_train, y_test = y[left], y[right]
    x_train, y_train = common.limit(a, x_train, y_train)
    net = common.keras_init(nn.Sequential(nn.Linear(30, 32), nn.ReLU(), nn.Dropout(0.2),
                                          nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 2)))
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3)
    for epoch in range(1, a.epochs + 1):
        losses, hits = [], 0
        with common.Timer() as t:
            for idx in common.batches(len(x_train), 32):
                xb, yb = x_train[idx], y_train[idx]
                logits = net(xb)
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item())
                hits += (logits.argmax(1) == yb).sum().item()
        test_loss, test_acc = common.evaluate(net, x_test, y_test, 128)
        common.epoch_line(epoch, t.seconds, train_loss=sum(losses) / len(losses),
                          train_accuracy=hits / len(x_train), test_loss=test_loss, test_accuracy=test_acc)
    common.final_line("test_accuracy", 100 * test_acc)


if __name__ == "__main__":
    main()
