"""The PyCOMPSs HPO paper's grid (optimizer x epochs x batch size), scaled down to an MLP on digits.

scikit-learn's MLP offers the optimizers adam, sgd and lbfgs (the paper's Keras model had RMSprop).
"""
from __future__ import annotations

import warnings

from .svm_digits import _data


def train(config: dict, trial) -> dict:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x_train, x_test, y_train, y_test = _data()
    model = MLPClassifier(hidden_layer_sizes=(64,), solver=config["optimizer"], max_iter=config["num_epochs"],
                          batch_size=config["batch_size"], learning_rate_init=0.01, random_state=trial.seed % 2**32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x_train, y_train)
    accuracy = float(model.score(x_test, y_test))
    return {"loss": 1.0 - accuracy, "accuracy": accuracy, "epochs_run": int(model.n_iter_)}
