"""Keras 3's weight regularizers on a fixed kernel: the penalty a Dense layer adds to
`model.losses`, and its gradient, for src/lower/penalty/tests.rs.
Run: python3 bench/reference/regularizers.py"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
import keras

W = np.array([[0.5, -1.25, 0.0], [2.0, -0.75, 0.125]], dtype=np.float32)
X = np.array([[1.0, -2.0], [0.5, 0.25]], dtype=np.float32)
Y = np.array([[0.0, 1.0, -1.0], [1.0, 0.0, 0.5]], dtype=np.float32)

for name, reg in [("l1(0.01)", keras.regularizers.L1(0.01)),
                  ("l2(0.01)", keras.regularizers.L2(0.01)),
                  ("l1_l2(0.01, 0.02)", keras.regularizers.L1L2(0.01, 0.02))]:
    layer = keras.layers.Dense(3, use_bias=False, kernel_regularizer=reg)
    layer.build((None, 2))
    layer.kernel.assign(W)
    with tf.GradientTape() as tape:
        pred = layer(X)
        mse = tf.reduce_mean((pred - Y) ** 2)
        penalty = tf.add_n(layer.losses)
        total = mse + penalty
    grad = tape.gradient(total, layer.kernel).numpy()
    print(f"{name}: penalty {float(penalty)!r} mse {float(mse)!r} total {float(total)!r}")
    print(f"  d(total)/dW {grad.flatten().tolist()}")
