"""The PyTorch twin of experiments/text_lstm.exp: the snippets of text_classifier.py read by
a bidirectional LSTM.

Embedding(257, 32) drawn uniform in [-0.05, 0.05] (Keras' and expr's default),
LSTM(32, 32, bidirectional=True) on the snippets packed by their lengths
(`pack_padded_sequence`: the padding skipped, as under expr's `mask_zero = true`), the
forward cell's last state and the backward cell's first side by side, dropout 0.2,
Linear(64, 4): 25,380 parameters. The LSTM keeps PyTorch's initialisation (expr's `lstm`
draws as PyTorch does), the Linear glorot_uniform with a zero bias; Adam (lr 1e-3,
eps 1e-7), batch 32 reshuffled each epoch, the cross-entropy of the logits; the test
snippets in batches of 256.

    python3 bench/twins/text_lstm.py --threads 2 --epochs 15 [--examples K]

At the end `final test_accuracy X`: expr's metrics.csv column `test_accuracy` (x 100, in
percent) after the last epoch.
"""
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

import common


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(257, 32)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        self.lstm = nn.LSTM(32, 32, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.2)
        self.dense = common.keras_init(nn.Linear(64, 4))

    def forward(self, ids):
        lengths = (ids != 0).sum(1).clamp(min=1)
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.dense(self.dropout(torch.cat([h[0], h[1]], dim=1)))


def main():
    a = common.parse_args(__doc__, epochs=15, seed=0)
    read = lambda part: common.text_classes(
        common.experiment_file("data", f"code_snippets_{part}.csv.gz"), "language", 128)
    (x, y), test = read("train"), read("test")
    x, y = common.limit(a, x, y)
    net = Net()
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3)
    common.fit_classifier(a, net, opt, (x, y), test, 32, 256)


if __name__ == "__main__":
    main()
