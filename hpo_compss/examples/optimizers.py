"""An MLP on scikit-learn's digits whose optimizer is an exclusive branch: SGD with momentum, or Adam.

Each trial's config holds one branch, ``{"opt": {"sgd": {"lr": 0.01, "momentum": 0.9}}}`` or
``{"opt": {"adam": {"lr": 0.001, "beta1": 0.9}}}``. The trial's seed sets the initial weights and the
order of the batches, so with ``repeats`` (configs/mlp_repeats.json) each repeat of a config trains
differently and the config's value is their mean.
"""
from __future__ import annotations

import warnings

from .svm_digits import _data


def train(config: dict, trial) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    (name, params), = config["opt"].items()  # the one branch this trial holds
    if name == "sgd":
        optimizer = {"solver": "sgd", "learning_rate_init": params["lr"], "momentum": params["momentum"]}
    else:
        optimizer = {"solver": "adam", "learning_rate_init": params["lr"], "beta_1": params["beta1"]}
    x_train, x_test, y_train, y_test = _data()
    model = MLPClassifier(hidden_layer_sizes=(32,), max_iter=20, random_state=trial.seed % 2**32, **optimizer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    accuracy = float(model.score(x_test, y_test))
    return {"loss": 1.0 - accuracy, "accuracy": accuracy}
