"""Reference numbers for src/lower/loss/tests.rs: the loss options (label smoothing,
reduction, class weights) and the losses Keras has that expr added (kl_divergence,
cosine_similarity, hinge, squared_hinge, log_cosh, poisson), on fixed inputs, in
float64 where the framework allows (Keras computes in float32).

    python3 bench/reference/loss_options.py

PyTorch 2.15 and Keras 3 (TensorFlow 2.21) were used for the numbers in the tests.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import torch
import torch.nn.functional as F
import keras

LOGITS = [[2.0, 1.0, 0.1], [0.5, 2.5, 0.3], [-1.0, 0.0, 4.0], [1.2, -0.7, 0.4]]
LABELS = [0, 2, 2, 1]
WEIGHTS = [1.0, 3.0, 0.5]  # the labels weigh 5, not the batch size


def show(name, value, grad=None):
    print(f"{name} {value:.9e}")
    if grad is not None:
        print(f"  grad [" + ", ".join(f"{v:.9e}" for v in grad) + "]")


def torch_ce(**kw):
    x = torch.tensor(LOGITS, dtype=torch.float64, requires_grad=True)
    loss = F.cross_entropy(x, torch.tensor(LABELS), **kw)
    loss.backward()
    return loss.item(), x.grad.flatten().tolist()


def keras_loss(loss, y_true, y_pred):
    return float(loss(np.array(y_true, np.float32), np.array(y_pred, np.float32)))


# PyTorch's CrossEntropyLoss: weight, label_smoothing, reduction.
show("ce weighted smoothed mean", *torch_ce(weight=torch.tensor(WEIGHTS, dtype=torch.float64), label_smoothing=0.1))
show("ce weighted smoothed sum", *torch_ce(weight=torch.tensor(WEIGHTS, dtype=torch.float64), label_smoothing=0.1, reduction="sum"))
show("ce smoothed mean", *torch_ce(label_smoothing=0.1))
show("ce weighted mean", *torch_ce(weight=torch.tensor(WEIGHTS, dtype=torch.float64)))
x = torch.tensor(LOGITS, dtype=torch.float64, requires_grad=True)
nll = F.nll_loss(F.log_softmax(x, dim=1), torch.tensor(LABELS), weight=torch.tensor(WEIGHTS, dtype=torch.float64))
nll.backward()
show("nll weighted mean", nll.item(), x.grad.flatten().tolist())

# Keras' CategoricalCrossentropy with label_smoothing, on probabilities, mean and sum.
probs = torch.softmax(torch.tensor(LOGITS, dtype=torch.float64), dim=1).tolist()
one_hot = np.eye(3)[LABELS].tolist()
show("keras cce smoothed probs mean", keras_loss(keras.losses.CategoricalCrossentropy(label_smoothing=0.1), one_hot, probs))
show("keras cce smoothed probs sum", keras_loss(keras.losses.CategoricalCrossentropy(label_smoothing=0.1, reduction="sum"), one_hot, probs))
show("keras cce smoothed logits mean", keras_loss(keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), one_hot, LOGITS))

# Keras' BinaryCrossentropy with label_smoothing.
BIN_LOGITS = [[0.3], [-1.2], [2.0], [0.7]]
BIN_T = [[1.0], [0.0], [0.0], [1.0]]
bin_probs = (1 / (1 + np.exp(-np.array(BIN_LOGITS)))).tolist()
show("keras bce smoothed logits mean", keras_loss(keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.2), BIN_T, BIN_LOGITS))
show("keras bce smoothed probs sum", keras_loss(keras.losses.BinaryCrossentropy(label_smoothing=0.2, reduction="sum"), BIN_T, bin_probs))

# Regression losses summed: Keras sums each example's mean over its values.
P = [[1.5, 2.0, 2.0], [4.0, -1.0, 0.5]]
T = [[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]]
show("keras mse sum", keras_loss(keras.losses.MeanSquaredError(reduction="sum"), T, P))
show("keras huber sum", keras_loss(keras.losses.Huber(reduction="sum"), T, P))

# The new losses.
DIST_T = [[0.2, 0.3, 0.5], [0.0, 1.0, 0.0], [0.1, 0.1, 0.8], [0.5, 0.5, 0.0]]
show("keras kld", keras_loss(keras.losses.KLDivergence(), DIST_T, probs))
COS_P = [[1.0, 2.0, -0.5], [0.5, 2.5, 0.3], [0.0, 0.0, 0.0], [1.2, -0.7, 0.4]]
COS_T = [[0.5, 1.0, 0.0], [-1.0, 0.0, 2.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
show("keras cosine", keras_loss(keras.losses.CosineSimilarity(), COS_T, COS_P))
COS_T2 = [[0.5, 1.0, 0.0], [-1.0, 0.0, 2.0], [1.0, 1.0, 1.0], [2.0, -1.0, 1.0]]
show("keras cosine nonzero", keras_loss(keras.losses.CosineSimilarity(), COS_T2, LOGITS))
HINGE_T01 = [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0]]
HINGE_TPM = [[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0], [1.0, 1.0, -1.0], [-1.0, 1.0, 1.0]]
HP = [[0.3, -0.2, 1.5], [0.5, -2.5, 0.3], [-1.0, 0.0, 0.4], [1.2, -0.7, 0.4]]
show("keras hinge 01", keras_loss(keras.losses.Hinge(), HINGE_T01, HP))
show("keras hinge pm", keras_loss(keras.losses.Hinge(), HINGE_TPM, HP))
show("keras squared hinge 01", keras_loss(keras.losses.SquaredHinge(), HINGE_T01, HP))
show("keras log cosh", keras_loss(keras.losses.LogCosh(), T, P))
POIS_P = [[0.5, 2.0, 1.0], [3.0, 0.1, 0.7]]
POIS_T = [[1.0, 2.0, 0.0], [4.0, 0.0, 1.0]]
show("keras poisson", keras_loss(keras.losses.Poisson(), POIS_T, POIS_P))
show("keras poisson sum", keras_loss(keras.losses.Poisson(reduction="sum"), POIS_T, POIS_P))

# class_weight on categorical_crossentropy: PyTorch's CrossEntropyLoss(weight=...) with
# probability targets (smoothed first), whose mean divides by the batch size.
def torch_ce_dense(targets, **kw):
    x = torch.tensor(LOGITS, dtype=torch.float64, requires_grad=True)
    loss = F.cross_entropy(x, torch.tensor(targets, dtype=torch.float64), **kw)
    loss.backward()
    return loss.item(), x.grad.flatten().tolist()


show("cce weighted smoothed mean", *torch_ce_dense(one_hot, weight=torch.tensor(WEIGHTS, dtype=torch.float64), label_smoothing=0.1))
show("cce weighted soft sum", *torch_ce_dense(DIST_T, weight=torch.tensor(WEIGHTS, dtype=torch.float64), reduction="sum"))


# class_weight = (w0, w1) on binary_crossentropy: each value's loss weighted by the weight
# of its (unsmoothed) target, w0 (1 - t) + w1 t, as Keras' fit(class_weight=...) weighs
# examples; PyTorch's binary_cross_entropy(_with_logits) with that per-element weight.
BIN_W = [0.4, 2.5]
MULTI_LOGITS = [[0.3, -0.4], [-1.2, 0.8], [2.0, 0.1], [0.7, -2.2]]
MULTI_T = [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [1.0, 1.0]]


def torch_bce(logits, targets, smoothing, from_logits, reduction="mean"):
    x = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(targets, dtype=torch.float64)
    w = BIN_W[0] * (1 - t) + BIN_W[1] * t
    ts = t * (1 - smoothing) + smoothing / 2
    if from_logits:
        loss = F.binary_cross_entropy_with_logits(x, ts, weight=w, reduction=reduction)
    else:
        loss = F.binary_cross_entropy(torch.sigmoid(x), ts, weight=w, reduction=reduction)
    loss.backward()
    return loss.item(), x.grad.flatten().tolist()


show("bce weighted smoothed logits mean", *torch_bce(MULTI_LOGITS, MULTI_T, 0.2, True))
show("bce weighted probs sum (grad wrt logits)", *torch_bce(BIN_LOGITS, BIN_T, 0.0, False, "sum"))
