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

import common


def main():
    a = common.parse_args(__doc__, epochs=30)
    x, cells = common.read_csv(common.experiment_file("data", "breast_cancer.csv"), "diagnosis")
    y = common.classes_of(cells)
    left, right = common.split_rows(len(x), 0.8, shuffle=True, seed=a.seed)
    x_train, y_train = common.limit(a, x[left], y[left])
    x_train, x_test = common.standardize(x_train, x[right])  # by the rows that train, as expr's
    net = common.keras_init(nn.Sequential(nn.Linear(30, 32), nn.ReLU(), nn.Dropout(0.2),
                                          nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 2)))
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3)
    common.fit_classifier(a, net, opt, (x_train, y_train), (x_test, y[right]), 32, 128)


if __name__ == "__main__":
    main()
