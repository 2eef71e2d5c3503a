"""Reference numbers for the LSTM op (src/ops/lstm/tests.rs): torch.nn.LSTM's outputs and
gradients on fixed inputs and parameters, with sequences laid out (batch, features, steps) as
expr holds them, from a zero state and from a fixed one (`state_*`, with the last state and
the initial state's gradients). Run: python3 bench/reference/lstm.py"""
import torch

torch.set_default_dtype(torch.float64)
B, F, U, T = 2, 3, 4, 5


def values(n, mul, mod, shift, scale):  # as the Rust tests build them
    return torch.tensor([((i * mul % mod) - shift) / scale for i in range(n)])


def show(name, t):
    print(f"{name} = {[round(float(v), 8) for v in t.detach().flatten()]}")


def fixed(gates):
    """The input (B, F, T) and the parameters under PyTorch's names, of `gates` gates."""
    return values(B * F * T, 7, 17, 8, 6).reshape(B, F, T), {
        "weight_ih_l0": values(gates * U * F, 5, 13, 6, 10).reshape(gates * U, F),
        "weight_hh_l0": values(gates * U * U, 11, 19, 9, 20).reshape(gates * U, U),
        "bias_ih_l0": values(gates * U, 3, 7, 3, 10),
        "bias_hh_l0": values(gates * U, 2, 5, 2, 10),
    }


def module_with(module, params):
    rnn = module(F, U, batch_first=True)
    with torch.no_grad():
        for name, v in params.items():
            getattr(rnn, name).copy_(v)
    return rnn


def upstream(y):
    """The output's gradient: the loss is `sum(y * upstream)`."""
    return values(y.numel(), 1, 5, 0, 1).reshape(y.shape) * 0.3 - 0.5


# The initial state, h_0 then c_0 (B, U), and the last state's gradients, those of h_n then
# c_n, as the Rust tests build them (`fixed_state`, `state_upstream`).
INITIAL = [(3, 11, 5, 10), (5, 7, 3, 5)]
LAST_UPSTREAM = [(3, 7, 3, 5), (2, 9, 4, 5)]


def reference(module, gates):
    """Prints `module`'s (nn.LSTM or nn.GRU, of `gates` gates) outputs and gradients."""
    x0, params = fixed(gates)
    for sequences in [True, False]:
        rnn = module_with(module, params)
        x = x0.clone().requires_grad_()
        out, h = rnn(x.permute(0, 2, 1))  # (B, T, U)
        if isinstance(h, tuple):  # the LSTM's (h, c)
            h = h[0]
        y = out.permute(0, 2, 1) if sequences else h[0]  # (B, U, T) or (B, U)
        (y * upstream(y)).sum().backward()
        tag = "seq" if sequences else "last"
        show(f"{tag}_y", y)
        show(f"{tag}_dx", x.grad)
        for name in params:
            show(f"{tag}_d{name}", getattr(rnn, name).grad)


def reference_with_state(module, gates):
    """Prints `module`'s outputs, last state and gradients (the initial state's too) from a
    fixed initial state, the loss also reading the last state with weights of its own."""
    x0, params = fixed(gates)
    states = 2 if module is torch.nn.LSTM else 1
    for sequences in [True, False]:
        rnn = module_with(module, params)
        x = x0.clone().requires_grad_()
        initial = [
            values(B * U, *v).reshape(1, B, U).requires_grad_() for v in INITIAL[:states]
        ]
        out, last = rnn(x.permute(0, 2, 1), tuple(initial) if states == 2 else initial[0])
        last = list(last) if states == 2 else [last]
        y = out.permute(0, 2, 1) if sequences else last[0][0]
        loss = (y * upstream(y)).sum()
        for state, v in zip(last, LAST_UPSTREAM):
            loss = loss + (state[0] * values(B * U, *v).reshape(B, U)).sum()
        loss.backward()
        tag = f"state_{'seq' if sequences else 'last'}"
        show(f"{tag}_y", y)
        for name, state in zip(["h_n", "c_n"], last):
            show(f"{tag}_{name}", state)
        show(f"{tag}_dx", x.grad)
        for name in params:
            show(f"{tag}_d{name}", getattr(rnn, name).grad)
        for name, state in zip(["h_0", "c_0"], initial):
            show(f"{tag}_d{name}", state.grad)


if __name__ == "__main__":
    reference(torch.nn.LSTM, 4)
    reference_with_state(torch.nn.LSTM, 4)
