"""PyTorch's side of the attention timing (src/ops/timing.rs, `timing_attention`):
nn.MultiheadAttention(128, 4, batch_first=True) with a causal mask on (12, 64, 128), forward
and backward with the input's gradient, float32, 2 threads; and the heads alone
(F.scaled_dot_product_attention, is_causal). Median and mean CPU ms of 50 runs after 5.

    python3 bench/attention_bench.py
"""
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)
B, D, T, H = 12, 128, 64, 4
RUNS = 50


def median_ms(f):
    for _ in range(5):
        f()
    times = []
    cpu = time.process_time()
    for _ in range(RUNS):
        start = time.perf_counter()
        f()
        times.append((time.perf_counter() - start) * 1e3)
    cpu = (time.process_time() - cpu) * 1e3 / RUNS
    times.sort()
    return times[RUNS // 2], cpu


mha = torch.nn.MultiheadAttention(D, H, batch_first=True)
x = torch.randn(B, T, D, requires_grad=True)
r = torch.randn(B, T, D)
mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)


def layer():
    x.grad = None
    mha.zero_grad()
    y, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
    (y * r).sum().backward()


q, k, v = (torch.randn(B, H, T, D // H, requires_grad=True) for _ in range(3))
rh = torch.randn(B, H, T, D // H)


def core():
    for t in (q, k, v):
        t.grad = None
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    (y * rh).sum().backward()


def forward():
    with torch.no_grad():
        mha(x, x, x, attn_mask=mask, need_weights=False)


print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; (median wall ms, mean CPU ms)")
print(f"nn.MultiheadAttention, forward+backward (incl. mul+sum)  {median_ms(layer)}")
print(f"  the heads alone (scaled_dot_product_attention)       {median_ms(core)}")
print(f"  the layer's forward alone (no_grad)                  {median_ms(forward)}")

# The transformer block's MLP (`timing_mlp`): Linear(128, 512), GELU, Linear(512, 128) on
# (12, 64, 128), forward and backward with the input's gradient.
fc1, fc2 = torch.nn.Linear(D, 4 * D), torch.nn.Linear(4 * D, D)


def mlp():
    x.grad = None
    fc1.zero_grad()
    fc2.zero_grad()
    y = fc2(F.gelu(fc1(x)))
    (y * r).sum().backward()


def mlp_forward():
    with torch.no_grad():
        fc2(F.gelu(fc1(x)))


print(f"MLP 128-512-128 (GELU), forward+backward (incl. mul+sum) {median_ms(mlp)}")
print(f"  its forward alone (no_grad)                          {median_ms(mlp_forward)}")
