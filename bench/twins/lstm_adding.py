"""The PyTorch twin of experiments/lstm_adding.exp: an LSTM on the adding problem
(Hochreiter and Schmidhuber 1997).

Data as expr's `adding_problem(length = 50, ...)` (src/data/synthetic.rs) makes them: each
example a (2, 50) sequence (features, steps), row 0 uniform in [0, 1), row 1 marking one
step of the first half (0..25) and one of the second (25..50) with 1; the target the sum of
the two marked values. 10,000 training examples (seed 1) and 1,000 test examples (seed 2),
expr's very examples: expr_random.py draws them as expr does (ChaCha8 seeded by the seed,
rand's f32 and gen_range), checked against the means of x, y and y^3 that expr reports.

nn.LSTM(2, 64, batch_first=True) over the 50 steps, its last hidden state into
Linear(64, 1): 17,473 parameters. The LSTM's weights and biases PyTorch's defaults
(U(+-1/8), which expr's `lstm` also draws), the dense kernel glorot_uniform and its bias 0.
Adam (lr 1e-2, eps 1e-7), batch 50, mean squared error; the test set in batches of 500.

    python3 bench/twins/lstm_adding.py --threads 2 --epochs 12 [--examples K] [--seed 0]

At the end `final test_mse X`: expr's metrics.csv column `test_mse` (the mean of the test
batches' mean squared errors) after the last epoch.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import common
import expr_random


def adding_problem(length, examples, seed):
    """expr's examples, bit for bit (expr_random.py): (examples, 2, length) inputs, (examples,
    1) targets."""
    x, y = expr_random.adding_problem(length, examples, seed)
    return torch.from_numpy(x), torch.from_numpy(y)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(2, 64, batch_first=True)
        self.dense = common.keras_init(nn.Linear(64, 1))

    def forward(self, x):  # x: (batch, features, steps), expr's layout
        _, (h, _) = self.lstm(x.transpose(1, 2))
        return self.dense(h[-1])


def main():
    a = common.parse_args(__doc__, epochs=12, seed=0)
    x, y = common.limit(a, *adding_problem(50, 10000, 1))
    x_test, y_test = adding_problem(50, 1000, 2)
    net = Net()
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-2)
    for epoch in range(1, a.epochs + 1):
        losses = []
        with common.Timer() as t:
            for idx in common.batches(len(x), 50):
                loss = F.mse_loss(net(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        with torch.no_grad():
            test = [F.mse_loss(net(x_test[i:i + 500]), y_test[i:i + 500]).item() for i in range(0, len(x_test), 500)]
        test_mse = sum(test) / len(test)
        common.epoch_line(epoch, t.seconds, train_mse=sum(losses) / len(losses), test_mse=test_mse)
    common.final_line("test_mse", test_mse)


if __name__ == "__main__":
    main()
