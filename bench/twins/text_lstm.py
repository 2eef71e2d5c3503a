"""The PyTorch twin of experiments/text_lstm.exp: the snippets of text_classifier.py read by
a bidirectional LSTM, trained as text_classifier.py trains (`fit`).

Embedding(257, 32) as there, LSTM(32, 32, bidirectional=True) in PyTorch's own
initialisation (expr's `lstm` draws as PyTorch does) on the snippets packed by their
lengths (`pack_padded_sequence`: the padding skipped, as under expr's `mask_zero = true`),
the forward cell's last state and the backward cell's first side by side, dropout 0.2,
Linear(64, 4) glorot_uniform: 25,380 parameters.

    python3 bench/twins/text_lstm.py --threads 2 --epochs 15 [--examples K]
"""
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence

import common
from text_classifier import fit


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


if __name__ == "__main__":
    fit(__doc__, Net, epochs=15)
