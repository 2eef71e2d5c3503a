"""Writes reverse_digits_train.npz and reverse_digits_test.npz, the sequence-to-sequence task
of experiments/seq2seq_reverse.exp: reverse a sequence of 3 to 8 digits.

    python3 make_reverse_digits.py   (numpy only; seeded, so the files come out the same)

Each example is a source of digits 1-9 padded with 0 to 8 positions, and the reversed digits
twice over: as the decoder's input after a start token 10 (teacher forcing, as Keras'
lstm_seq2seq feeds its decoder), and as the targets, one class per position, ended by the
end token 11 and padded with 0. `x` holds the source and the decoder's input side by side,
(examples, 8 + 9) bytes, which the experiment's step slices apart; `y` the targets,
(examples, 9) bytes.
"""
import numpy as np

SOURCE, TARGET = 8, 9
START, END = 10, 11


def examples(n, rng):
    x = np.zeros((n, SOURCE + TARGET), np.uint8)
    y = np.zeros((n, TARGET), np.uint8)
    for i in range(n):
        length = rng.integers(3, SOURCE + 1)
        digits = rng.integers(1, 10, length)
        reversed_digits = digits[::-1]
        x[i, :length] = digits
        x[i, SOURCE] = START
        x[i, SOURCE + 1 : SOURCE + 1 + length] = reversed_digits
        y[i, :length] = reversed_digits
        y[i, length] = END
    return x, y


if __name__ == "__main__":
    rng = np.random.default_rng(2026)
    for name, n in [("train", 20000), ("test", 2000)]:
        x, y = examples(n, rng)
        np.savez_compressed(f"reverse_digits_{name}.npz", x=x, y=y)
