"""The PyTorch twin of experiments/char_gpt.exp: nanoGPT's "baby GPT" (4 layers, 4 heads,
width 128, block 64, batch 12, dropout 0) on the same text, the same examples and the
same schedule, trained for the same number of steps.

Examples are expr's `text(path, block = 64)`: non-overlapping windows of 64 characters
(inputs) and the 64 characters one later (targets), the vocabulary the text's sorted
distinct characters; `split(0.9)` keeps the first 90% of the windows for training, the rest
for validation. Each epoch trains on the training windows in a fresh random order, in
batches of 12. AdamW (lr 1e-3, betas (0.9, 0.99), eps 1e-8, weight decay 0.1 on every
parameter, as expr's `adamw` decays all), gradients clipped to a global norm of 1, the
learning rate `warmup(1e-3, 100) * cosine(1, steps, alpha = 0.1)` as expr computes it
(linear rise over 100 steps times Keras' CosineDecay), every weight N(0, 0.02), biases 0
(nanoGPT's init).

Blocks are pre-norm: x + attn(ln(x)), then x + mlp(ln(x)), the MLP 128 -> 512 (GELU,
erf) -> 128, then a final layer norm and a linear head; attention is
nn.MultiheadAttention with a causal mask, position embeddings learned (nanoGPT's `wpe`).

    python3 bench/twins/char_gpt.py [--epochs 2] [--threads 2] [--examples K]

prints `parameters 833918`, then per epoch the training seconds (the epoch's batches:
assembly, forward, backward, clipping, update), the training loss, the validation loss (the
mean of the batches' means, as expr's `mean(loss) on val`) and the median seconds per
training step, and at the end `final val_loss X`: expr's metrics.csv column `val_loss` after
the last epoch (the protocol of bench/twins/common.py). `--examples K` trains on the first
K training windows; the cosine runs over the .exp's 2,540 steps whatever the epochs, as
the .exp writes `cosine(1, 2540, 0.1)`.

    python3 bench/twins/char_gpt.py --load RUN/gpt.safetensors

loads the model expr trained (its file, as `after { save(gpt, ...) }` writes it) into the
twin's modules (`load_expr`) and prints its validation loss in PyTorch.
"""
import argparse
import gzip
import math
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import common

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "experiments", "data", "vim_manual.txt.gz")


class Block(nn.Module):
    def __init__(self, width, heads, hidden):
        super().__init__()
        self.ln1 = nn.LayerNorm(width, eps=1e-5)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(width, eps=1e-5)
        self.up = nn.Linear(width, hidden)
        self.down = nn.Linear(hidden, width)

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class Gpt(nn.Module):
    def __init__(self, vocab, block, width=128, heads=4, layers=4, hidden=512):
        super().__init__()
        self.tokens = nn.Embedding(vocab, width)
        self.positions = nn.Embedding(block, width)
        self.blocks = nn.ModuleList(Block(width, heads, hidden) for _ in range(layers))
        self.ln = nn.LayerNorm(width, eps=1e-5)
        self.head = nn.Linear(width, vocab)
        mask = torch.triu(torch.full((block, block), float("-inf")), diagonal=1)
        self.register_buffer("mask", mask)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, 0.0, 0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.tokens(ids) + self.positions.weight[:t]
        for b in self.blocks:
            x = b(x, self.mask[:t, :t])
        return self.head(self.ln(x)).transpose(1, 2)  # (batch, vocab, t), as expr's


def load_expr(model, path):
    """expr's tensors, named by its layers (Keras style, numbered in the order written),
    into the twin's modules: per block, layer norms 2i and 2i+1, attention i, dense 2i and
    2i+1; then layer norm 2L and dense 2L, the head."""
    from safetensors.torch import load_file

    saved = load_file(path)
    n = lambda base, i: base if i == 0 else f"{base}_{i}"
    names = {"tokens.weight": "embedding.weight", "positions.weight": "position_embedding.weight"}
    layers = len(model.blocks)
    for i in range(layers):
        for ours, theirs in (
            ("ln1", n("layer_normalization", 2 * i)),
            ("ln2", n("layer_normalization", 2 * i + 1)),
            ("up", n("dense", 2 * i)),
            ("down", n("dense", 2 * i + 1)),
        ):
            for p in ("weight", "bias"):
                names[f"blocks.{i}.{ours}.{p}"] = f"{theirs}.{p}"
        for p in ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"):
            names[f"blocks.{i}.attn.{p}"] = f"{n('multi_head_attention', i)}.{p}"
    for p in ("weight", "bias"):
        names[f"ln.{p}"] = f"{n('layer_normalization', 2 * layers)}.{p}"
        names[f"head.{p}"] = f"{n('dense', 2 * layers)}.{p}"
    state = {ours: saved[theirs] for ours, theirs in names.items()}
    assert set(saved) == set(names.values()), set(saved) ^ set(names.values())
    model.load_state_dict({**state, "mask": model.mask})


def val_loss(model, xv, yv, block, per_batch=False):
    """The mean loss over every validation token, or (`per_batch`) the mean of the
    batches' means, as expr's `mean(loss) on val` (and Keras' loss tracker) averages."""
    model.eval()
    with torch.no_grad():
        batches = [(xv[i : i + 128], yv[i : i + 128]) for i in range(0, len(xv), 128)]
        means = [F.cross_entropy(model(x), y).item() for x, y in batches]
    if per_batch:
        return sum(means) / len(means)
    return sum(m * len(x) for m, (x, _) in zip(means, batches)) / len(xv)


def windows(block):
    text = gzip.open(CORPUS, "rt", encoding="utf-8").read()
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    n = (len(ids) - block - 1) // block + 1
    starts = torch.arange(n) * block
    x = torch.stack([ids[s : s + block] for s in starts.tolist()])
    y = torch.stack([ids[s + 1 : s + 1 + block] for s in starts.tolist()])
    cut = round(n * 0.9)
    return vocab, (x[:cut], y[:cut]), (x[cut:], y[cut:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--block", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--load", help="an expr model file to evaluate instead of training")
    ap.add_argument("--steps", type=int, help="stop after this many steps (timing)")
    ap.add_argument("--examples", type=int, help="train on the first K training windows only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    vocab, (xt, yt), (xv, yv) = windows(args.block)
    if args.examples is not None:
        xt, yt = xt[:args.examples], yt[:args.examples]
    model = Gpt(len(vocab), args.block)
    if args.load:
        load_expr(model, args.load)
        print(f"expr's model in PyTorch: val loss {val_loss(model, xv, yv, args.block):.4f} per token, {val_loss(model, xv, yv, args.block, per_batch=True):.4f} as the mean of the batches' means")
        return
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    batch = 12
    per_epoch = math.ceil(len(xt) / batch)
    steps = 2540  # the .exp's `cosine(1, 2540, 0.1)`: 2 epochs of 1,270 steps

    def lr_at(step):  # expr's warmup(1e-3, 100) * cosine(1, steps, alpha = 0.1)
        warm = min(step / 100, 1.0)
        progress = min(step, steps) / steps
        return 1e-3 * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    print(f"vocabulary {len(vocab)}, {len(xt)} training and {len(xv)} validation windows, "
          f"{per_epoch * args.epochs} steps")
    print(f"parameters {sum(p.numel() for p in model.parameters())}", flush=True)
    step, times = 0, []
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(xt))
        total = 0.0
        counter = common.flops_begin()
        epoch_start = time.perf_counter()
        for i in range(per_epoch):
            idx = order[i * batch : (i + 1) * batch]
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            t0 = time.perf_counter()
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            times.append(time.perf_counter() - t0)
            total += loss.item()
            step += 1
            if args.steps and step == args.steps:
                print(f"{step} steps: median step {statistics.median(times) * 1000:.1f} ms, mean {statistics.mean(times) * 1000:.1f} ms")
                return
        train_s = time.perf_counter() - epoch_start
        common.flops_end(counter)
        val = val_loss(model, xv, yv, args.block, per_batch=True)
        print(f"epoch {epoch + 1}: train {train_s:.3f} s, train loss {total / per_epoch:.4f}, val loss {val:.4f}, "
              f"median step {statistics.median(times) * 1000:.1f} ms", flush=True)
    print(f"final val_loss {val:.6g}", flush=True)


if __name__ == "__main__":
    main()
