"""Reference numbers for src/lower/optimizer.rs's tests: Keras 3's optimizers (and
torch.optim where PyTorch's update is the same) applied to fixed parameters and gradients
for three steps. Run: python3 bench/reference/optimizers.py; paste the output into the tests.

Parameters start at P0; step t applies GRADS[t]. Everything float32, as expr computes.
`weight_decay` on sgd and adam is PyTorch's coupled L2 (grad += wd * param before the
update); Keras' own `weight_decay` argument is decoupled, so those references feed Keras
the coupled gradient by hand, and print torch.optim's for comparison.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import subprocess
import sys

import numpy as np

# TensorFlow and torch each bring an LLVM that clash in one process: torch's numbers come
# from a second run of this script, `optimizers.py torch`.
TORCH = sys.argv[1:] == ["torch"]
if TORCH:
    import torch
else:
    import keras

P0 = [1.0, -2.0, 0.5, 0.0]
GRADS = [
    [0.5, -1.0, 0.25, 0.0],
    [0.25, 2.0, -0.5, 1e-3],
    [-1.5, 0.75, 0.125, -2.0],
]


def keras_run(opt, coupled_wd=0.0):
    v = keras.Variable(np.array(P0, dtype=np.float32))
    for g in GRADS:
        g = np.array(g, dtype=np.float32)
        if coupled_wd:
            g = g + np.float32(coupled_wd) * v.numpy()
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), v)])
    return v.numpy()


def torch_run(make):
    p = torch.nn.Parameter(torch.tensor(P0, dtype=torch.float32))
    opt = make([p])
    for g in GRADS:
        p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
    return p.detach().numpy()


def show(name, values):
    print(f"{name}: [{', '.join(repr(float(x)) for x in values)}]")


if TORCH:
    show("adadelta torch lr 1.0 (rho 0.9, eps 1e-6)", torch_run(lambda p: torch.optim.Adadelta(p, lr=1.0)))
    show("sgd lr 0.1 momentum 0.9 wd 0.1 (torch)",
         torch_run(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1)))
    show("adam lr 0.1 wd 0.1 eps 1e-7 (torch; eps after the bias correction)",
         torch_run(lambda p: torch.optim.Adam(p, lr=0.1, eps=1e-7, weight_decay=0.1)))
else:
    O = keras.optimizers
    show("adadelta keras defaults (lr 0.001, rho 0.95, eps 1e-7)", keras_run(O.Adadelta()))
    show("adadelta keras lr 1.0 rho 0.9 eps 1e-6", keras_run(O.Adadelta(1.0, rho=0.9, epsilon=1e-6)))
    show("adagrad keras defaults (lr 0.001, init 0.1, eps 1e-7)", keras_run(O.Adagrad()))
    show("adagrad keras lr 0.1", keras_run(O.Adagrad(0.1)))
    show("nadam keras defaults (lr 0.001)", keras_run(O.Nadam()))
    show("nadam keras lr 0.1", keras_run(O.Nadam(0.1)))
    show("adamax keras lr 0.1", keras_run(O.Adamax(0.1)))
    show("lion keras lr 0.1", keras_run(O.Lion(0.1)))
    show("lion keras lr 0.1 beta1 0.5 beta2 0.9", keras_run(O.Lion(0.1, beta_1=0.5, beta_2=0.9)))
    show("sgd lr 0.1 momentum 0.9 coupled wd 0.1 (keras + coupled grad)",
         keras_run(O.SGD(0.1, momentum=0.9), coupled_wd=0.1))
    show("adam lr 0.1 coupled wd 0.1 (keras + coupled grad)",
         keras_run(O.Adam(0.1), coupled_wd=0.1))
    sys.stdout.flush()
    subprocess.run([sys.executable, __file__, "torch"], check=True)
