"""Recurrent layers that hand their state on (`return_state`, `initial_state`) in a graph
model, against PyTorch: the numbers that tests/seq2seq_twin.rs stores.

An encoder–decoder of token sequences padded at their ends: an embedding whose id 0 is
padding; an encoder LSTM whose last state (h, c) is all it gives (its output is left
unread); a decoder LSTM over the same embedded sequence that starts from that state and
returns every step; a dense layer that makes a GRU state from h; a bidirectional GRU over
the decoder's steps whose two cells both start from it and which returns its last states
beside its output; a dense classifier on the output and the sum of the states. It trains 2
SGD steps of 8 sequences in expr from its seeded initial weights. Here, expr's initial
model file is loaded into `nn.Embedding`, `nn.LSTM`, `nn.GRU(bidirectional=True)` and
`nn.Linear` modules with a strict `load_state_dict`, the recurrent layers read the
sequences packed (`pack_padded_sequence`, as expr's cells skip the padded steps) and take
their states as `h_0`/`(h_0, c_0)` and give them as `h_n`/`(h_n, c_n)`. The same 2 steps
run in float64, and every tensor is compared. The script prints both losses and, per tensor
of the final model, its sum and sum of squares.

    cargo build --release && python3 bench/reference/seq2seq_twin.py
"""
import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from twin import compare, named_as_expr, padded_ids, template

LABELS = np.array([0, 2, 1, 1, 2, 0, 0, 1], dtype=np.int64)


class Twin(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(7, 5)
        self.lstm = torch.nn.LSTM(5, 4, batch_first=True)
        self.lstm_1 = torch.nn.LSTM(5, 4, batch_first=True)
        self.dense = torch.nn.Linear(4, 3)
        self.gru = torch.nn.GRU(4, 3, batch_first=True, bidirectional=True)
        self.dense_1 = torch.nn.Linear(9, 3)

    def forward(self, x):  # x: (batch, 6) ids
        lengths = (x != 0).sum(1)
        e = pack_padded_sequence(self.embedding(x), lengths, batch_first=True, enforce_sorted=False)
        _, (h, c) = self.lstm(e)  # (1, batch, 4) each
        d, _ = self.lstm_1(e, (h, c))  # packed: the GRU reads the real steps only
        s = torch.tanh(self.dense(h[0]))
        _, g = self.gru(d, torch.stack([s, s]))  # (2, batch, 3): forward, backward
        y = torch.cat([g[0], g[1]], 1)  # the bidirectional layer's output without sequences
        return self.dense_1(torch.cat([y, g[0] + g[1]], 1))


if __name__ == "__main__":
    compare(template("seq2seq_twin"), padded_ids(), LABELS, 0.5, named_as_expr(Twin))
