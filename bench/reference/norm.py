"""Reference numbers for batchnorm and layernorm (src/ops/batch_norm.rs,
src/layers/layernorm.rs): PyTorch's outputs and gradients on fixed inputs, and Keras'
running statistics after two training steps. Run: python3 bench/reference/norm.py"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
EPS = 1e-3


def images():  # (2, 3, 2, 2), as the Rust tests build them
    return torch.tensor([((i * 7 % 24) - 11.5) / 4.0 for i in range(24)]).reshape(2, 3, 2, 2)


def flat():  # (4, 3)
    return torch.tensor([((i * 5 % 12) - 5.5) / 3.0 for i in range(12)]).reshape(4, 3)


def upstream(n):
    return torch.tensor([(i % 5) * 0.3 - 0.5 for i in range(n)])


def show(name, t):
    print(f"{name} = {[round(float(v), 7) for v in t.flatten()]}")


gamma0 = torch.tensor([1.0, 0.5, -1.5])
beta0 = torch.tensor([0.1, -0.2, 0.3])
for label, x0 in [("bn_image", images()), ("bn_flat", flat())]:
    for training in [True, False]:
        x = x0.clone().requires_grad_()
        g = gamma0.clone().requires_grad_()
        b = beta0.clone().requires_grad_()
        rm = torch.tensor([0.2, -0.1, 0.05])
        rv = torch.tensor([1.5, 0.8, 2.0])
        y = F.batch_norm(x, rm, rv, g, b, training=training, momentum=0.01, eps=EPS)
        (y * upstream(y.numel()).reshape(y.shape)).sum().backward()
        tag = f"{label}_{'train' if training else 'eval'}"
        show(f"{tag}_y", y)
        show(f"{tag}_dx", x.grad)
        show(f"{tag}_dgamma", g.grad)
        show(f"{tag}_dbeta", b.grad)
        if training:
            # PyTorch's running_var takes the unbiased batch variance; Keras' the biased one.
            show(f"{tag}_torch_running_var", rv)

# Layer norm: flat over features; images over channels at each position (Keras' axis=-1
# in NHWC), i.e. PyTorch's layer_norm over C of the NHWC permutation.
for label, x0 in [("ln_flat", flat()), ("ln_image", images())]:
    x = x0.clone().requires_grad_()
    g = gamma0.clone().requires_grad_()
    b = beta0.clone().requires_grad_()
    if x0.dim() == 4:
        y = F.layer_norm(x.permute(0, 2, 3, 1), (3,), g, b, eps=EPS).permute(0, 3, 1, 2)
    else:
        y = F.layer_norm(x, (3,), g, b, eps=EPS)
    (y * upstream(y.numel()).reshape(y.shape)).sum().backward()
    show(f"{label}_y", y)
    show(f"{label}_dx", x.grad)
    show(f"{label}_dgamma", g.grad)
    show(f"{label}_dbeta", b.grad)

# Keras' running statistics: two training calls on flat batches, default momentum/epsilon.
import keras

bn = keras.layers.BatchNormalization()
x1 = flat().numpy().astype("float32")
x2 = (flat().numpy() * 0.5 + 1.0).astype("float32")
bn(x1, training=True)
bn(x2, training=True)
show("keras_moving_mean", torch.tensor(np.array(bn.moving_mean)))
show("keras_moving_var", torch.tensor(np.array(bn.moving_variance)))
print("keras_params", bn.count_params(), "non-trainable", sum(int(np.prod(w.shape)) for w in bn.non_trainable_weights))
ln = keras.layers.LayerNormalization()
print("keras_layernorm_epsilon", ln.epsilon)
