"""Reference numbers for `embedding(mask_zero = true)` before the global 1-D pools
(src/lower/act/mask_tests.rs).

Keras 3 (KERAS_BACKEND=torch): Embedding(6, 3, mask_zero=True) then
GlobalAveragePooling1D, which averages over the unmasked steps; the loss is
sum(y * upstream), and the table's gradient comes from torch's autograd. Keras'
GlobalMaxPooling1D ignores masks, so the masked max is PyTorch's idiom:
masked_fill(-inf) then max over the steps.

Run: KERAS_BACKEND=torch python3 bench/reference/mask_zero.py
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

IDS = np.array([[3, 1, 0, 4, 0], [2, 5, 4, 0, 0]], dtype="int64")
TABLE = np.array(
    [[((r * 3 + c) * 7 % 11 - 5) / 4.0 for c in range(3)] for r in range(6)],
    dtype="float32",
)
UPSTREAM = np.array([[0.5, -1.0, 0.25], [1.5, 0.75, -0.5]], dtype="float32")


def show(name, t):
    flat = t.detach().cpu().numpy().reshape(-1)
    print(name, "= [" + ", ".join(f"{v:.7}" for v in flat) + "]")


emb = keras.layers.Embedding(6, 3, mask_zero=True)
pool = keras.layers.GlobalAveragePooling1D()
ids = torch.tensor(IDS)
emb.build((2, 5))
emb.embeddings.assign(TABLE)
y = pool(emb(ids))
loss = (y * torch.tensor(UPSTREAM)).sum()
loss.backward()
show("mean", y)
show("mean_table_grad", emb.embeddings.value.grad)

table = torch.tensor(TABLE, requires_grad=True)
x = table[ids]  # (batch, steps, width)
mask = ids != 0
y = x.masked_fill(~mask[:, :, None], float("-inf")).max(dim=1).values
(y * torch.tensor(UPSTREAM)).sum().backward()
show("max", y)
show("max_table_grad", table.grad)
