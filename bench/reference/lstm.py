"""Reference numbers for the LSTM op (src/ops/lstm/tests.rs): torch.nn.LSTM's outputs and
gradients on fixed inputs and parameters, with sequences laid out (batch, features, steps) as
expr holds them. Run: python3 bench/reference/lstm.py"""
import torch

torch.set_default_dtype(torch.float64)
B, F, U, T = 2, 3, 4, 5


def values(n, mul, mod, shift, scale):  # as the Rust tests build them
    return torch.tensor([((i * mul % mod) - shift) / scale for i in range(n)])


def show(name, t):
    print(f"{name} = {[round(float(v), 8) for v in t.detach().flatten()]}")


def reference(module, gates):
    """Prints `module`'s (nn.LSTM or nn.GRU, of `gates` gates) outputs and gradients."""
    x0 = values(B * F * T, 7, 17, 8, 6).reshape(B, F, T)
    params = {
        "weight_ih_l0": values(gates * U * F, 5, 13, 6, 10).reshape(gates * U, F),
        "weight_hh_l0": values(gates * U * U, 11, 19, 9, 20).reshape(gates * U, U),
        "bias_ih_l0": values(gates * U, 3, 7, 3, 10),
        "bias_hh_l0": values(gates * U, 2, 5, 2, 10),
    }

    for sequences in [True, False]:
        rnn = module(F, U, batch_first=True)
        with torch.no_grad():
            for name, v in params.items():
                getattr(rnn, name).copy_(v)
        x = x0.clone().requires_grad_()
        out, h = rnn(x.permute(0, 2, 1))  # (B, T, U)
        if isinstance(h, tuple):  # the LSTM's (h, c)
            h = h[0]
        y = out.permute(0, 2, 1) if sequences else h[0]  # (B, U, T) or (B, U)
        up = values(y.numel(), 1, 5, 0, 1).reshape(y.shape) * 0.3 - 0.5
        (y * up).sum().backward()
        tag = "seq" if sequences else "last"
        show(f"{tag}_y", y)
        show(f"{tag}_dx", x.grad)
        for name in params:
            show(f"{tag}_d{name}", getattr(rnn, name).grad)


if __name__ == "__main__":
    reference(torch.nn.LSTM, 4)
