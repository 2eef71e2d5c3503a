"""torch.nn.LSTM forward + backward on the batch of src/ops/timing.rs's `timing_lstm`
(batch 32, 2 features, 64 units, 50 steps), 2 threads. Prints the median ms of 50 calls.
Run: python3 bench/reference/lstm_timing.py"""
import time

import torch

torch.set_num_threads(2)
B, F, U, T = 32, 2, 64, 50
lstm = torch.nn.LSTM(F, U, batch_first=True)
x = torch.rand(B, T, F, requires_grad=True)


def call():
    _, (h, _) = lstm(x)
    h.sum().backward()


for _ in range(5):
    call()
times = []
for _ in range(50):
    start = time.perf_counter()
    call()
    times.append((time.perf_counter() - start) * 1e3)
times.sort()
print(f"torch.nn.LSTM B{B} F{F} U{U} T{T} forward+backward: {times[25]:.3f} ms")
