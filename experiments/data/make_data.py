"""Writes the data files in this folder from the copies scikit-learn ships in its package.

    pip install scikit-learn pandas && python3 make_data.py

breast_cancer.csv: the Breast Cancer Wisconsin (Diagnostic) data set, 569 rows, 30 numeric
features and the diagnosis (`malignant` or `benign`), as `sklearn.datasets.load_breast_cancer`
gives it. diabetes.csv: the diabetes data set of Efron, Hastie, Johnstone and Tibshirani
(2004), 442 rows, 10 numeric features in their original units and `progression` (a measure of
disease progression one year after baseline), as `sklearn.datasets.load_diabetes(scaled=False)`.
"""

from sklearn.datasets import load_breast_cancer, load_diabetes

cancer = load_breast_cancer(as_frame=True)
frame = cancer.frame.copy()
frame["diagnosis"] = [cancer.target_names[t] for t in cancer.target]
frame = frame.drop(columns="target")
frame.to_csv("breast_cancer.csv", index=False)

diabetes = load_diabetes(as_frame=True, scaled=False)
frame = diabetes.frame.rename(columns={"target": "progression"})
frame.to_csv("diabetes.csv", index=False)

# digits.npz: scikit-learn's copy of the UCI optical recognition of handwritten digits test
# set, 1,797 images of 8x8 pixels (values 0-16, stored as uint8) and their digits (int64), as
# a user's `np.savez_compressed` writes them.
import numpy as np
from sklearn.datasets import load_digits

digits = load_digits()
np.savez_compressed(
    "digits.npz", x=digits.images.astype(np.uint8), y=digits.target.astype(np.int64)
)
