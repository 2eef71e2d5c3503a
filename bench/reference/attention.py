"""Reference numbers for `dense` on sequences and for `attention` (src/lower/act/attention_tests.rs):
PyTorch's outputs and gradients on fixed inputs, in float64.

Sequences are laid out as expr holds them, (batch, channels, length); PyTorch's modules take
(batch, length, channels), so the script permutes in and out. The loss is sum(y * upstream).

    python3 bench/reference/attention.py
"""
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
B, D, T = 2, 4, 3


def seq(n, f):
    return torch.tensor([f(i) for i in range(n)])


def x_values():  # (B, D, T), expr's layout
    return seq(B * D * T, lambda i: ((i * 7 % 23) - 11) / 8).reshape(B, D, T)


def upstream(shape):
    n = 1
    for s in shape:
        n *= s
    return seq(n, lambda i: (i % 5) * 0.3 - 0.5).reshape(shape)


def show(name, t):
    print(f"const {name.upper()}: &[f64] = &{[float(f'{float(v):.9g}') for v in t.detach().flatten()]};")


# dense(units = 3) on a (4, 3) sequence: nn.Linear at each position; then with softmax
# over the units.
w = seq(3 * D, lambda i: ((i * 5 % 11) - 5) / 6).reshape(3, D).requires_grad_()
b = seq(3, lambda i: (i - 1) / 4).requires_grad_()
for tag, act in [("dense", lambda y: y), ("dense_softmax", lambda y: F.softmax(y, dim=-1))]:
    x = x_values().requires_grad_()
    w.grad, b.grad = None, None
    y = act(F.linear(x.permute(0, 2, 1), w, b)).permute(0, 2, 1)  # (B, 3, T)
    (y * upstream(y.shape)).sum().backward()
    show(f"{tag}_y", y)
    show(f"{tag}_dx", x.grad)
    show(f"{tag}_dw", w.grad)  # (out, in), PyTorch's layout
    show(f"{tag}_db", b.grad)

# attention: nn.MultiheadAttention(D, heads, batch_first=True), causal by attn_mask.
for heads, causal in [(1, False), (2, True), (2, False)]:
    mha = torch.nn.MultiheadAttention(D, heads, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(seq(3 * D * D, lambda i: ((i * 5 % 17) - 8) / 10).reshape(3 * D, D))
        mha.in_proj_bias.copy_(seq(3 * D, lambda i: ((i * 3 % 7) - 3) / 10))
        mha.out_proj.weight.copy_(seq(D * D, lambda i: ((i * 11 % 13) - 6) / 10).reshape(D, D))
        mha.out_proj.bias.copy_(seq(D, lambda i: ((i % 5) - 2) / 10))
    x = x_values().requires_grad_()
    xs = x.permute(0, 2, 1)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1) if causal else None
    y, _ = mha(xs, xs, xs, attn_mask=mask, need_weights=False)
    y = y.permute(0, 2, 1)
    (y * upstream(y.shape)).sum().backward()
    tag = f"mha{heads}_{'causal' if causal else 'full'}"
    show(f"{tag}_y", y)
    show(f"{tag}_dx", x.grad)
    show(f"{tag}_d_in_w", mha.in_proj_weight.grad)
    show(f"{tag}_d_in_b", mha.in_proj_bias.grad)
    show(f"{tag}_d_out_w", mha.out_proj.weight.grad)
    show(f"{tag}_d_out_b", mha.out_proj.bias.grad)
