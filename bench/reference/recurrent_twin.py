"""`attention` and bidirectional `lstm` and `gru` under the padding mask of
`embedding(mask_zero = true)` against PyTorch: the numbers that tests/recurrent_twin.rs
stores.

A small model (an embedding whose id 0 is padding, self-attention with 2 heads, a
bidirectional LSTM returning sequences, a bidirectional GRU returning its last states, a
dense classifier) trains 2 SGD steps of 8 token sequences padded at the end to 6 steps, in
expr from its seeded initial weights. Here, expr's initial model file is loaded into
`nn.Embedding`, `nn.MultiheadAttention`, bidirectional `nn.LSTM`/`nn.GRU(batch_first=True)`
modules and an `nn.Linear` with a strict `load_state_dict` (the file's names and layouts are
the modules'); the attention leaves the padded keys out (`key_padding_mask`), the
recurrent layers read the sequences packed (`pack_padded_sequence`); the same 2 steps run
in float64, and every tensor is compared. The script prints both losses and, per tensor of the final model, its
sum and sum of squares.

    cargo build --release && python3 bench/reference/recurrent_twin.py
"""
import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from twin import compare, padded_ids, template

LABELS = np.array([0, 2, 1, 1, 2, 0, 0, 1], dtype=np.int64)


class Twin(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(7, 6)
        self.multi_head_attention = torch.nn.MultiheadAttention(6, 2, batch_first=True)
        self.lstm = torch.nn.LSTM(6, 4, batch_first=True, bidirectional=True)
        self.gru = torch.nn.GRU(8, 3, batch_first=True, bidirectional=True)
        self.dense = torch.nn.Linear(6, 3)

    def forward(self, x):  # x: (batch, length) ids, padded with 0 at the end
        padding = x == 0
        h = self.embedding(x)
        h, _ = self.multi_head_attention(h, h, h, key_padding_mask=padding, need_weights=False)
        lengths = (~padding).sum(1)
        packed = pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        _, h_n = self.gru(h)  # (2, batch, 3): the forward cell's last state, the backward's first
        return self.dense(torch.cat([h_n[0], h_n[1]], dim=1))


def build(initial):
    model = Twin().double()
    # strict: every tensor of the modules has one in expr's file, and nothing more.
    model.load_state_dict({k: v.double() for k, v in initial.items()}, strict=True)
    return model, model.parameters(), (lambda k: model.state_dict()[k])


if __name__ == "__main__":
    compare(template("recurrent_twin"), padded_ids(), LABELS, 0.5, build)
