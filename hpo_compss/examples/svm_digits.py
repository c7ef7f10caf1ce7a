"""SHADHO's SVM example on scikit-learn's bundled digits: one exclusive branch per kernel.

Returns SHADHO's result form: ``loss`` (1 - test accuracy) plus extra metrics that are recorded.
The data set is loaded once per worker process and reused by every trial it runs.
"""
from __future__ import annotations

import functools
import time


@functools.lru_cache(maxsize=1)
def _data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    return train_test_split(digits.data / 16.0, digits.target, test_size=0.25, random_state=0, stratify=digits.target)


def train(config: dict) -> dict:
    from sklearn.svm import SVC

    (kernel, params), = config["kernel"].items()
    x_train, x_test, y_train, y_test = _data()
    model = SVC(kernel=kernel, **params)
    start = time.perf_counter()
    model.fit(x_train, y_train)
    trained = time.perf_counter()
    accuracy = float(model.score(x_test, y_test))
    return {"loss": 1.0 - accuracy, "accuracy": accuracy, "train_time": trained - start,
            "test_time": time.perf_counter() - trained, "support_vectors": int(model.n_support_.sum())}
