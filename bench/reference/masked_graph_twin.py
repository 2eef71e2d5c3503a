"""Padding masks in a graph model (`embedding(mask_zero = true)` read by cross-attention,
self-attention and the global pool) against PyTorch: the numbers that
tests/masked_graph_twin.rs stores.

A small graph model (an embedding whose id 0 is padding; a memory made from it by a
per-position dense layer, which carries the mask; attention whose queries come from the
embedding and whose keys and values come from the memory, 2 heads; causal self-attention
of the embedding, 3 heads; their sum normalised at each position; the mean over the
positions that are not padding; a dense classifier) trains 2 SGD steps of 8 token sequences,
padded at their ends, starts and middles, in expr from its seeded initial weights. Here,
expr's initial model file is loaded into `nn.Embedding`, `nn.Linear`, two
`nn.MultiheadAttention(6, heads, batch_first=True)` and `nn.LayerNorm` modules with a
strict `load_state_dict`; both attentions get the padding as `key_padding_mask`, the
self-attention also its causal `attn_mask`. The same 2 steps run in float64, and every
tensor is compared. The script prints both losses and, per tensor of the final model, its
sum and sum of squares.

    cargo build --release && python3 bench/reference/masked_graph_twin.py
"""
import numpy as np
import torch

from twin import compare, named_as_expr, template

LABELS = np.array([0, 2, 1, 1, 2, 0, 0, 1], dtype=np.int64)


def ids():  # (8, 6): token ids 1..6 with zeros (padding); every sequence keeps its first token
    x = np.array([[1 + (n * 5 + t * t + 2 * t) % 6 for t in range(6)] for n in range(8)], dtype=np.int64)
    for n, pads in enumerate([[4, 5], [], [3], [1, 2, 5], [5], [2, 3, 4, 5], [], [1]]):
        x[n, pads] = 0
    return x


class Twin(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(7, 6)
        self.dense = torch.nn.Linear(6, 6)
        self.multi_head_attention = torch.nn.MultiheadAttention(6, 2, batch_first=True)
        self.multi_head_attention_1 = torch.nn.MultiheadAttention(6, 3, batch_first=True)
        self.layer_normalization = torch.nn.LayerNorm(6, eps=1e-3)
        self.dense_1 = torch.nn.Linear(6, 3)

    def forward(self, x):  # x: (batch, 6) ids
        pad = x == 0  # True where a key is left out
        e = self.embedding(x)  # (batch, 6, 6)
        memory = torch.tanh(self.dense(e))
        h, _ = self.multi_head_attention(e, memory, memory, key_padding_mask=pad, need_weights=False)
        causal = torch.ones(6, 6, dtype=torch.bool).triu(1)
        s, _ = self.multi_head_attention_1(e, e, e, key_padding_mask=pad, attn_mask=causal, need_weights=False)
        c = self.layer_normalization(h + s)
        keep = (~pad).to(c.dtype)[:, :, None]
        return self.dense_1((c * keep).sum(1) / keep.sum(1))


if __name__ == "__main__":
    compare(template("masked_graph_twin"), ids(), LABELS, 0.5, named_as_expr(Twin))
