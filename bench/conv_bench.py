"""PyTorch's side of the DCGAN layer timing (src/ops/timing.rs, `timing_dcgan_layers`): the
generator's two 5x5 transposed convs (256 -> 128 on 7x7 at stride 1, 128 -> 64 on 7x7 at
stride 2, `same` as Keras places it) and the discriminator's second conv (64 -> 128 on 14x14
at stride 2), batch 16, float32. Forward alone, then forward and backward with the input's
gradient; median ms of 30 runs after 5, and GFLOP/s of the layer's own multiply-adds.

    python3 bench/conv_bench.py [THREADS]
"""
import statistics
import sys
import time

import torch

torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
N = 16


def median_ms(f, runs=30):
    for _ in range(5):
        f()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def report(name, layer, x, r, macs):
    with torch.no_grad():
        fwd = median_ms(lambda: layer(x))

    def step():
        (layer(x) * r).sum().backward()

    both = median_ms(step)
    print(f"{name}: forward {fwd:.2f} ms ({2 * macs / fwd / 1e6:.0f} GFLOP/s), "
          f"forward+backward {both:.2f} ms ({6 * macs / both / 1e6:.0f} GFLOP/s)")


def main():
    print(f"threads {torch.get_num_threads()}; batch {N}")
    for i, o, side, stride in [(256, 128, 7, 1), (128, 64, 7, 2)]:
        layer = torch.nn.ConvTranspose2d(i, o, 5, stride, padding=2, output_padding=stride - 1,
                                         bias=False)
        x = torch.randn(N, i, side, side, requires_grad=True)
        r = torch.randn(N, o, side * stride, side * stride)
        report(f"ConvTranspose2d {i}->{o} on {side}x{side} stride {stride}", layer, x, r,
               N * i * o * 25 * side * side)
    layer = torch.nn.Conv2d(64, 128, 5, 2, padding=2)
    x = torch.randn(N, 64, 14, 14, requires_grad=True)
    r = torch.randn(N, 128, 7, 7)
    report("Conv2d 64->128 on 14x14 stride 2", layer, x, r, N * 64 * 128 * 25 * 49)


if __name__ == "__main__":
    main()
