"""`attention` and `dense` on sequences against PyTorch: the numbers that tests/attention_twin.rs
stores.

A small sequence model (causal attention with 2 heads, layernorm at each position, a dense
layer at each position, attention with 3 heads drawn as PyTorch draws them, a dense
classifier) trains 2 SGD steps of 4 generated (8, 6) sequences in expr from its seeded
initial weights. Here, expr's initial model file is loaded into two
`nn.MultiheadAttention(batch_first=True)` modules with `load_state_dict` (the names and
layouts of the file are the module's), the same 2 steps run in PyTorch (float64), and every
tensor is compared. The script prints both losses and, per tensor of the final model, its
sum and sum of squares.

    cargo build --release && python3 bench/reference/attention_twin.py
"""
import numpy as np
import torch

from twin import compare, template

LABELS = np.array([0, 2, 1, 1, 2, 0, 0, 1], dtype=np.int64)
T = 6


def sequences():  # (8, 8, 6): (examples, channels, length), as expr holds sequences
    n, c, t = np.meshgrid(np.arange(8), np.arange(8), np.arange(T), indexing="ij")
    k = (n * 5 + c * 7 + t * 3) % 13
    return (k.astype(np.float32) / np.float32(6.5) - np.float32(1.0)).astype(np.float32)



class Twin(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = torch.nn.MultiheadAttention(8, 2, batch_first=True)
        self.norm = torch.nn.LayerNorm(8, eps=1e-3)
        self.dense = torch.nn.Linear(8, 6)
        self.attention_1 = torch.nn.MultiheadAttention(6, 3, batch_first=True)
        self.classify = torch.nn.Linear(6 * T, 3)

    def forward(self, x):  # x: (batch, channels, length)
        h = x.transpose(1, 2)  # (batch, length, channels), PyTorch's layout
        causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        h, _ = self.attention(h, h, h, attn_mask=causal, need_weights=False)
        h = torch.tanh(self.dense(self.norm(h)))
        h, _ = self.attention_1(h, h, h, need_weights=False)
        return self.classify(h.transpose(1, 2).flatten(1))  # expr flattens (channels, length)


# expr's layer names → the twin's modules.
PREFIXES = {"multi_head_attention.": "attention.", "layer_normalization.": "norm.", "dense.": "dense.",
            "multi_head_attention_1.": "attention_1.", "dense_1.": "classify."}


def twin_name(name):
    for a, b in PREFIXES.items():
        if name.startswith(a):
            return b + name[len(a):]
    raise KeyError(name)


def build(initial):
    model = Twin().double()
    # strict: every tensor of the module has one in expr's file, and nothing more.
    model.load_state_dict({twin_name(k): v.double() for k, v in initial.items()}, strict=True)
    return model, model.parameters(), (lambda k: model.state_dict()[twin_name(k)])


if __name__ == "__main__":
    compare(template("attention_twin"), sequences(), LABELS, 0.1, build)
