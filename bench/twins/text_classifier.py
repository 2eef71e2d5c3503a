"""The PyTorch twin of experiments/text_classifier.exp: which programming language a snippet
of code is in (C, JavaScript, Python, Rust), from experiments/data/code_snippets_*.csv.gz
read as 128 byte tokens padded with the id 0 (common.text_classes).

Embedding(257, 32) drawn uniform in [-0.05, 0.05] (Keras' and expr's default), Conv1d(32,
64, 5, `same` padding) + ReLU, the largest value of each channel over the tokens (the
padding left out: `masked_fill(-inf)` then `max`, as expr's `global_maxpool1d` under
`mask_zero = true`), dropout 0.2, Linear(64, 4): 18,788 parameters. glorot_uniform kernels,
zero biases, Adam (lr 1e-3, eps 1e-7), batch 32 reshuffled each epoch, the cross-entropy of
the logits; the test snippets in batches of 256.

    python3 bench/twins/text_classifier.py --threads 2 --epochs 10 [--examples K]

At the end `final test_accuracy X`: expr's metrics.csv column `test_accuracy` (x 100, in
percent) after the last epoch.
"""
import torch.nn as nn
import torch.nn.functional as F

import common


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(257, 32)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        self.conv = nn.Conv1d(32, 64, 5, padding=2)
        self.dropout = nn.Dropout(0.2)
        self.dense = nn.Linear(64, 4)
        common.keras_init(self)

    def forward(self, ids):
        h = F.relu(self.conv(self.embedding(ids).transpose(1, 2)))
        h = h.masked_fill((ids == 0)[:, None, :], float("-inf")).amax(-1)
        return self.dense(self.dropout(h))


def fit(doc, net, epochs):
    """Trains `net` on the snippets as the experiments do (`epochs` by default; the seed 0)."""
    a = common.parse_args(doc, epochs=epochs, seed=0)
    read = lambda part: common.text_classes(
        common.experiment_file("data", f"code_snippets_{part}.csv.gz"), "language", 128)
    (x, y), test = read("train"), read("test")
    x, y = common.limit(a, x, y)
    net = net()
    common.parameters_line(common.count_parameters(net))
    opt = common.keras_adam(net.parameters(), lr=1e-3)
    common.fit_classifier(a, net, opt, (x, y), test, 32, 256)


if __name__ == "__main__":
    fit(__doc__, Net, epochs=10)
