"""Reference numbers for src/run/scalar.rs: PyTorch's OneCycleLR (cosine annealing, two
phases) and Keras' PolynomialDecay, the learning rate at given 0-based steps.

    python3 bench/reference/schedules.py
"""
import os

# Keras on its PyTorch backend: its schedules are the same on every backend, and TensorFlow
# and PyTorch in one process clash.
os.environ.setdefault("KERAS_BACKEND", "torch")
import torch
import keras

STEPS = [0, 1, 7, 29, 30, 31, 55, 99]

opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=100)
lrs = []
for s in range(100):
    lrs.append(opt.param_groups[0]["lr"])
    opt.step()
    sched.step()
print("one_cycle(0.1, 100):", ", ".join(f"({s}, {lrs[s]:.12e})" for s in STEPS))

opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=100, pct_start=0.25,
                                            div_factor=10, final_div_factor=100)
lrs = []
for s in range(100):
    lrs.append(opt.param_groups[0]["lr"])
    opt.step()
    sched.step()
print("one_cycle(0.05, 100, 0.25, 10, 100):", ", ".join(f"({s}, {lrs[s]:.12e})" for s in STEPS))

p = keras.optimizers.schedules.PolynomialDecay(0.1, 50)
print("polynomial_decay(0.1, 50):", ", ".join(f"({s}, {float(p(s)):.12e})" for s in STEPS))
p = keras.optimizers.schedules.PolynomialDecay(0.1, 50, end_learning_rate=0.01, power=2.0)
print("polynomial_decay(0.1, 50, 0.01, 2):", ", ".join(f"({s}, {float(p(s)):.12e})" for s in STEPS))
