"""The PyTorch twin of experiments/regression.exp: an MLP regression on the diabetes table
of Efron et al. (2004), experiments/data/diabetes.csv (442 rows, ten features, the target
`progression`).

80% of the rows train and 20% are held out, after one shuffle by the seed (expr's
`split(0.8, shuffle = true)`: the first round(0.8 * 442) = 354 of expr's own
permutation, drawn as expr draws it by expr_random.py, so these are expr's very rows);
each feature column standardised by the training rows' mean and population std (the
target is not scaled).

Linear(10, 32) + ReLU, Linear(32, 1): 385 parameters. glorot_uniform kernels, zero
biases, Adam (lr 1e-2, eps 1e-7), batch 16 reshuffled each epoch, mean squared error; the
test rows in batches of 128.

    python3 bench/twins/regression.py --threads 2 --epochs 100 [--examples K]

At the end `final test_rmse X`: expr's metrics.csv column `test_rmse` (Keras'
RootMeanSquaredError over the held-out rows) after the last epoch; each epoch's line also
has train_rmse, test_mae and test_r2 (Keras' R2Score).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import common


def main():
    a = common.parse_args(__doc__, epochs=100)
    x, cells = common.read_csv(common.experiment_file("data", "diabetes.csv"), "progression")
    y = torch.tensor([[float(c)] for c in cells])
    left, right = common.split_rows(len(x), 0.8, shuffle=True, seed=a.seed)
    x_train, y_train = common.limit(a, x[left], y[left])
    x_train, x_test = common.standardize(x_train, x[right])  # by the rows that train, as expr's
    y_test = y[right]
    net = common.keras_init(nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1)))
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-2)
    for epoch in range(1, a.epochs + 1):
        squared, count = 0.0, 0
        with common.Timer() as t:
            for idx in common.batches(len(x_train), 16):
                xb, yb = x_train[idx], y_train[idx]
                pred = net(xb)
                loss = F.mse_loss(pred, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                squared += loss.item() * len(idx)
                count += len(idx)
        with torch.no_grad():
            pred = torch.cat([net(x_test[i:i + 128]) for i in range(0, len(x_test), 128)])
        err = (pred - y_test).double()
        test_rmse = err.pow(2).mean().sqrt().item()
        test_mae = err.abs().mean().item()
        test_r2 = 1 - err.pow(2).sum().item() / (y_test.double() - y_test.double().mean()).pow(2).sum().item()
        common.epoch_line(epoch, t.seconds, train_rmse=(squared / count) ** 0.5, test_rmse=test_rmse,
                          test_mae=test_mae, test_r2=test_r2)
    common.final_line("test_rmse", test_rmse)


if __name__ == "__main__":
    main()
