"""An MLP on scikit-learn's digits trained epoch by epoch, for multi-fidelity search (configs/mlp_asha.json).

Each epoch is one ``partial_fit`` pass over the training set; after it the trial reports its
validation error, so the scheduler can pause it at a rung. The model and the epochs it has had are
saved in ``trial.checkpoint_dir``: a promoted trial loads them and goes on from the next epoch, up to
``trial.budget`` epochs in all.
"""
from __future__ import annotations

import os
import pickle

import numpy as np

from .svm_digits import _data


def train(config: dict, trial) -> dict:
    from sklearn.neural_network import MLPClassifier

    x_train, x_valid, y_train, y_valid = _data()
    saved = os.path.join(trial.checkpoint_dir, "mlp.pkl")
    if os.path.exists(saved):
        with open(saved, "rb") as handle:
            model, done = pickle.load(handle)
    else:
        model = MLPClassifier(hidden_layer_sizes=(config["hidden"],), learning_rate_init=config["lr"],
                              alpha=config["alpha"], batch_size=config["batch_size"], random_state=trial.seed % 2**32)
        done = 0
    error = 1.0 - float(model.score(x_valid, y_valid)) if done else 1.0  # (a rerun may find its work saved)
    for epoch in range(done + 1, int(trial.budget) + 1):
        model.partial_fit(x_train, y_train, classes=np.arange(10))
        error = 1.0 - float(model.score(x_valid, y_valid))
        trial.report(epoch, error)
    with open(saved + ".part", "wb") as handle:  # replaced whole, so a kill never leaves half a checkpoint
        pickle.dump((model, int(trial.budget)), handle)
    os.replace(saved + ".part", saved)
    return {"loss": error, "accuracy": 1.0 - error, "epochs": int(trial.budget)}
