"""Cross-attention (`attention(value = memory)` in a graph model) against PyTorch: the
numbers that tests/cross_attention_twin.rs stores.

A small graph model (an embedding; a memory made from it by max-pooling to half its length
and a per-position dense layer; attention whose queries come from the embedding and whose
keys and values come from the memory, 2 heads; a second, causal one with 3 heads, whose 6
queries see 3 keys; the mean over positions and a dense classifier) trains 2 SGD steps of 8
token sequences in expr from its seeded initial weights. Here, expr's initial model file is
loaded into `nn.Embedding`, `nn.Linear` and two `nn.MultiheadAttention(6, heads,
batch_first=True)` modules with a strict `load_state_dict`, called as `mha(h, memory,
memory)` (the causal one with the lower-triangular `attn_mask` Keras' `use_causal_mask`
makes for 6 queries and 3 keys); the same 2 steps run in float64, and every tensor is
compared. The script prints both losses and, per tensor of the final model, its sum and sum
of squares.

    cargo build --release && python3 bench/reference/cross_attention_twin.py
"""
import numpy as np
import torch
import torch.nn.functional as F

from twin import compare, named_as_expr, template

LABELS = np.array([0, 2, 1, 1, 2, 0, 0, 1], dtype=np.int64)


def ids():  # (8, 6): token ids 1..6, each sequence with 3 to 4 different ones
    return np.array([[1 + (n * 5 + t * t + 2 * t) % 6 for t in range(6)] for n in range(8)], dtype=np.int64)


class Twin(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(7, 6)
        self.dense = torch.nn.Linear(6, 6)
        self.multi_head_attention = torch.nn.MultiheadAttention(6, 2, batch_first=True)
        self.multi_head_attention_1 = torch.nn.MultiheadAttention(6, 3, batch_first=True)
        self.dense_1 = torch.nn.Linear(6, 3)

    def forward(self, x):  # x: (batch, 6) ids
        e = self.embedding(x)  # (batch, 6, 6)
        memory = F.max_pool1d(e.transpose(1, 2), 2).transpose(1, 2)  # (batch, 3, 6)
        memory = self.dense(memory)
        h, _ = self.multi_head_attention(e, memory, memory, need_weights=False)
        # True where a query may not look: key j after query i.
        causal = torch.ones(6, 3, dtype=torch.bool).triu(1)
        c, _ = self.multi_head_attention_1(h, memory, memory, attn_mask=causal, need_weights=False)
        return self.dense_1(c.mean(1))


if __name__ == "__main__":
    compare(template("cross_attention_twin"), ids(), LABELS, 0.5, named_as_expr(Twin))
