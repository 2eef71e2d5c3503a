"""Reference numbers for src/run/plateau.rs: Keras' ReduceLROnPlateau callback fed a
fixed sequence of a monitored metric, the optimizer's learning rate after each epoch.

    python3 bench/reference/reduce_on_plateau.py
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras

CURVE = [1.0, 0.9, 0.95, 0.92, 0.91, 0.9, 0.899995, 0.85, 0.86, 0.87, 0.88, 0.84, 0.845, 0.85, 0.86, 0.87,
         float("nan"), 0.9, 0.91]


def follow(mode, **kw):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    cb = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", mode=mode, verbose=0, **kw)
    cb.set_model(model)
    cb.on_train_begin()
    lrs = []
    for epoch, v in enumerate(CURVE):
        value = -v if mode == "max" else v
        cb.on_epoch_end(epoch, {"val_loss": value})
        lrs.append(float(model.optimizer.learning_rate))
    return lrs


for name, mode, kw in [
    ("defaults but patience 2", "min", dict(patience=2)),
    ("factor 0.5, patience 1, cooldown 2, min_lr 0.02", "min", dict(factor=0.5, patience=1, cooldown=2, min_lr=0.02)),
    ("max, factor 0.5, patience 0, min_delta 0.01", "max", dict(factor=0.5, patience=0, min_delta=0.01)),
]:
    print(f"{name}: [" + ", ".join(f"{v:.9e}" for v in follow(mode, **kw)) + "]")
