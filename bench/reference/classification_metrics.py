"""Reference numbers for src/run/classify.rs's tests: Keras 3's `Precision`, `Recall`,
`F1Score` and `AUC` and scikit-learn's `precision_score`, `recall_score`, `f1_score` and
`confusion_matrix` on fixed inputs, each Keras metric fed batch by batch as
`model.fit` feeds it (its state accumulates over the epoch).

    KERAS_BACKEND=torch python3 bench/reference/classification_metrics.py
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras
import numpy as np
from sklearn import metrics as sk

# Binary: one sigmoid output per example, three batches.
BIN_P = [
    [0.1, 0.6, 0.35, 0.8],
    [0.5, 0.05, 0.9, 0.45, 0.7],
    [0.3, 0.55, 0.999, 0.0],
]
BIN_Y = [
    [0, 1, 1, 0],
    [1, 0, 1, 1, 0],
    [0, 1, 1, 0],
]
# Logits for AUC's `from_logits = true`.
LOGITS = [[-2.0, 0.3, 1.5], [0.0, -0.7, 4.0, 2.2], [-3.5, 0.9]]
LOGIT_Y = [[0, 0, 1], [1, 0, 1, 0], [0, 1]]

# Multi-class: 4 classes (class 3 is never predicted), scores in three batches; no row has
# tied top scores (Keras' `top_k` breaks ties toward the last class, argmax toward the first).
MC_P = [
    [[2.0, 0.1, 0.3, 0.0], [0.2, 1.5, 0.1, 0.4], [0.1, 0.2, 3.0, 0.5], [1.0, 0.9, 0.0, 0.2]],
    [[0.0, 2.5, 0.1, 1.0], [0.3, 0.2, 0.1, 0.0], [0.1, 0.4, 0.2, 0.3], [1.2, 0.0, 1.1, 0.9]],
    [[0.5, 0.4, 0.6, 0.1], [0.0, 0.1, 0.0, 0.0], [2.0, 1.9, 0.0, 0.0], [0.1, 0.0, 0.3, 0.2],
     [0.9, 0.1, 0.2, 0.3]],
]
MC_Y = [[0, 1, 2, 1], [1, 3, 3, 2], [2, 1, 0, 3, 0]]


def keras_fed(metric, ys, ps):
    metric.reset_state()
    for y, p in zip(ys, ps):
        metric.update_state(np.array(y, dtype="float32"), np.array(p, dtype="float32"))
    return float(metric.result())


def col(xs):
    return [[v] for v in xs]


def binary():
    ys = [col(y) for y in BIN_Y]
    ps = [col(p) for p in BIN_P]
    flat_y = np.concatenate([np.array(y) for y in BIN_Y])
    flat_p = np.concatenate([np.array(p, dtype="float32") for p in BIN_P])
    for t in [0.5, 0.3]:
        pred = (flat_p > t).astype(int)
        print(f"binary threshold {t}:")
        print("  keras Precision", keras_fed(keras.metrics.Precision(thresholds=t), ys, ps))
        print("  keras Recall   ", keras_fed(keras.metrics.Recall(thresholds=t), ys, ps))
        print("  keras F1Score  ", keras_fed(
            keras.metrics.F1Score(average="micro", threshold=t),
            [np.array(y, dtype="float32") for y in ys], ps))
        print("  sklearn p/r/f1 ", sk.precision_score(flat_y, pred), sk.recall_score(flat_y, pred),
              sk.f1_score(flat_y, pred))
        print("  sklearn confusion", sk.confusion_matrix(flat_y, pred).tolist())
    for curve in ["ROC", "PR"]:
        for n in [200, 7]:
            auc = keras.metrics.AUC(num_thresholds=n, curve=curve)
            print(f"  keras AUC {curve} {n}:", repr(keras_fed(auc, ys, ps)))
        auc = keras.metrics.AUC(curve=curve, from_logits=True)
        print(f"  keras AUC {curve} 200 from_logits:",
              repr(keras_fed(auc, [col(y) for y in LOGIT_Y], [col(p) for p in LOGITS])))
    print("  sklearn roc_auc (exact)", sk.roc_auc_score(flat_y, flat_p))


def multiclass():
    flat_y = np.concatenate([np.array(y) for y in MC_Y])
    flat_p = np.concatenate([np.array(p, dtype="float32") for p in MC_P])
    pred = flat_p.argmax(axis=1)
    print("multi-class predicted", pred.tolist(), "true", flat_y.tolist())
    for avg in ["macro", "micro", "weighted"]:
        print(f"  sklearn {avg}: precision", repr(sk.precision_score(flat_y, pred, average=avg, zero_division=0)),
              "recall", repr(sk.recall_score(flat_y, pred, average=avg, zero_division=0)),
              "f1", repr(sk.f1_score(flat_y, pred, average=avg, zero_division=0)))
    # Keras' F1Score on one-hot labels and the top score set to 1 (its argmax decision).
    onehot = [keras.ops.one_hot(np.array(y), 4) for y in MC_Y]
    top = [np.eye(4, dtype="float32")[np.array(p).argmax(axis=1)] for p in MC_P]
    for avg in ["macro", "micro", "weighted"]:
        print(f"  keras F1Score {avg}", keras_fed(keras.metrics.F1Score(average=avg, threshold=0.5), onehot, top))
    for k in range(4):
        kp = keras_fed(keras.metrics.Precision(class_id=k, top_k=1), onehot, MC_P)
        kr = keras_fed(keras.metrics.Recall(class_id=k, top_k=1), onehot, MC_P)
        sp = sk.precision_score(flat_y == k, pred == k, zero_division=0)
        sr = sk.recall_score(flat_y == k, pred == k, zero_division=0)
        sf = sk.f1_score(flat_y == k, pred == k, zero_division=0)
        print(f"  class_id {k}: keras precision {kp!r} recall {kr!r}; sklearn {sp!r} {sr!r} f1 {sf!r}")
    print("  sklearn confusion", sk.confusion_matrix(flat_y, pred).tolist())


binary()
multiclass()


# Several columns of probabilities: MC_Y's 4 classes scored by a softmax-like output, and a
# multi-label output (3 sigmoid columns, several labels per example, no column separating its
# labels perfectly).
MC_PROB = [
    [[0.7, 0.1, 0.15, 0.05], [0.1, 0.6, 0.1, 0.2], [0.05, 0.1, 0.8, 0.05], [0.4, 0.35, 0.05, 0.2]],
    [[0.05, 0.55, 0.1, 0.3], [0.3, 0.3, 0.25, 0.15], [0.2, 0.3, 0.25, 0.25], [0.35, 0.05, 0.3, 0.3]],
    [[0.3, 0.25, 0.35, 0.1], [0.25, 0.3, 0.2, 0.25], [0.5, 0.45, 0.025, 0.025], [0.2, 0.1, 0.4, 0.3],
     [0.6, 0.1, 0.1, 0.2]],
]
ML_P = [
    [[0.9, 0.2, 0.6], [0.55, 0.8, 0.4], [0.7, 0.55, 0.8], [0.3, 0.6, 0.95]],
    [[0.45, 0.65, 0.5], [0.8, 0.9, 0.2], [0.05, 0.35, 0.75]],
    [[0.6, 0.3, 0.25], [0.2, 0.7, 0.85], [0.5, 0.5, 0.5], [0.15, 0.05, 0.1]],
]
ML_Y = [
    [[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]],
    [[0, 1, 1], [1, 1, 0], [0, 0, 1]],
    [[1, 0, 0], [0, 1, 1], [1, 0, 1], [0, 0, 0]],
]


def several_columns():
    onehot = [np.eye(4, dtype="float32")[np.array(y)] for y in MC_Y]
    flat_onehot = np.concatenate(onehot)
    flat_prob = np.concatenate([np.array(p, dtype="float32") for p in MC_PROB])
    for multi in [False, True]:
        for curve in ["ROC", "PR"]:
            auc = keras.metrics.AUC(curve=curve, multi_label=multi)
            print(f"multi-class AUC {curve} multi_label={multi}:", repr(keras_fed(auc, onehot, MC_PROB)))
    print("  sklearn roc_auc micro/macro (exact)",
          sk.roc_auc_score(flat_onehot, flat_prob, average="micro"),
          sk.roc_auc_score(flat_onehot, flat_prob, average="macro"))
    flat_y = np.concatenate([np.array(y) for y in ML_Y])
    flat_p = np.concatenate([np.array(p, dtype="float32") for p in ML_P])
    for multi in [False, True]:
        for curve in ["ROC", "PR"]:
            auc = keras.metrics.AUC(curve=curve, multi_label=multi)
            print(f"multi-label AUC {curve} multi_label={multi}:", repr(keras_fed(auc, ML_Y, ML_P)))
    for t in [0.5, 0.3]:
        pred = (flat_p > t).astype(int)
        print(f"multi-label threshold {t}: keras Precision (pooled)",
              repr(keras_fed(keras.metrics.Precision(thresholds=t), ML_Y, ML_P)),
              "Recall", repr(keras_fed(keras.metrics.Recall(thresholds=t), ML_Y, ML_P)))
        for avg in ["macro", "micro", "weighted"]:
            print(f"  sklearn {avg}: precision",
                  repr(sk.precision_score(flat_y, pred, average=avg, zero_division=0)),
                  "recall", repr(sk.recall_score(flat_y, pred, average=avg, zero_division=0)),
                  "f1", repr(sk.f1_score(flat_y, pred, average=avg, zero_division=0)))
            print(f"  keras F1Score {avg}", repr(keras_fed(
                keras.metrics.F1Score(average=avg, threshold=t),
                [np.array(y, dtype="float32") for y in ML_Y], ML_P)))
        print("  sklearn per label: precision",
              sk.precision_score(flat_y, pred, average=None, zero_division=0).tolist(),
              "recall", sk.recall_score(flat_y, pred, average=None, zero_division=0).tolist(),
              "f1", sk.f1_score(flat_y, pred, average=None, zero_division=0).tolist())


several_columns()
