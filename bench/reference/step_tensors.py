"""Reference numbers for the step functions along axes (src/lower/eval/nd.rs tests).

Inputs are fixed formulas, computed in float64 and rounded to float32 on both sides:
x[i] = 2 sin(0.7 i) over shape (2, 3, 4), b[j] = 1.5 + cos(j) over (2, 1, 4), and the
upstream gradient w[i] = cos(0.3 i) over each output. Prints each output and the
gradient of sum(out * w) for the inputs, as PyTorch computes them.
"""
import math

import torch

torch.set_printoptions(precision=8)


def fixed(shape, f):
    n = math.prod(shape)
    return torch.tensor([f(i) for i in range(n)], dtype=torch.float64).float().reshape(shape)


def show(name, out, *inputs):
    w = fixed(out.shape, lambda i: math.cos(0.3 * i))
    (out * w).sum().backward()
    print(name, "out", [round(v, 6) for v in out.detach().flatten().tolist()])
    for k, t in enumerate(inputs):
        print(name, "grad", k, [round(v, 6) for v in t.grad.flatten().tolist()])
        t.grad = None


def x():
    return fixed((2, 3, 4), lambda i: 2 * math.sin(0.7 * i)).requires_grad_()


a, b = x(), fixed((2, 1, 4), lambda j: 1.5 + math.cos(j)).requires_grad_()
show("div_broadcast", a / b, a, b)
a, b = x(), fixed((2, 1, 4), lambda j: 1.5 + math.cos(j)).requires_grad_()
show("sub_broadcast", b - a, a, b)
a = x()
show("sum_axis1_keep", a.sum(dim=1, keepdim=True), a)
a = x()
show("mean_axes12", a.mean(dim=(1, 2)), a)
a = x()
show("max_axis2", a.amax(dim=2), a)
a = x()
show("min_axis1_keep", a.amin(dim=1, keepdim=True), a)
a = x()
show("softmax_axis1", torch.softmax(a, dim=1), a)
a = x()
show("log_softmax_axis2", torch.log_softmax(a, dim=2), a)
a = x()
show("clip", torch.clamp(a, -0.5, 1.0), a)
