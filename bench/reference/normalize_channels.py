"""Reference numbers for `normalize(mean = (..), std = (..))` on (3, 2, 2) images:
torchvision's ToTensor() then Normalize(mean, std) with CIFAR-10's per-channel
statistics, on fixed bytes. tests/data_subsets.rs stores the output.

    python3 bench/reference/normalize_channels.py
"""

import numpy as np
import torch

BYTES = np.array(
    [[[0, 1], [128, 255]], [[0, 64], [200, 255]], [[3, 17], [99, 250]]], dtype=np.uint8
)
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)

# ToTensor: bytes / 255 in float32; Normalize: (x - mean) / std per channel, in float32.
x = torch.from_numpy(BYTES).float().div(255)
out = (x - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)

# The same with NumPy's float32, as a cross-check.
xn = BYTES.astype(np.float32) / np.float32(255)
outn = (xn - np.array(MEAN, np.float32)[:, None, None]) / np.array(STD, np.float32)[:, None, None]
assert np.allclose(out.numpy(), outn, atol=0, rtol=0)

print(", ".join(f"{v:.9}" for v in out.flatten().tolist()))
