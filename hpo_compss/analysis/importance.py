"""Parameter importance from finished trials: how much of the results' spread each parameter explains alone.

The method is the correlation ratio (eta squared) of the results' ranks on the parameter's groups: a
categorical parameter's values, or a numeric one's ten quantile bins (on the log of a log domain,
which is the same thing for quantiles). It is the share of the variance of the ranks explained by
the group means, an estimate of the parameter's first-order (main-effect) sensitivity index. Ranks
make one huge loss weigh no more than any other bad one. With k groups and n trials, noise alone
gives about (k - 1) / (n - 1); that bias is removed (the adjusted ratio), so an irrelevant
parameter scores near 0. Interactions are not attributed to either parameter.

Failed trials count, tied for the worst result: a parameter that decides which trials fail is as
important as one that decides how good they are. A parameter that fewer than three trials have
(one of a branch seldom tried) gets no score, only its count.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.stats import rankdata

BINS = 10
MIN_TRIALS = 3


class Importance(NamedTuple):
    score: float | None  # None: fewer than MIN_TRIALS trials have the parameter
    n: int  # the trials that have it


def correlation_ratio(groups: np.ndarray, values: np.ndarray) -> float:
    """Adjusted eta squared of ``values`` (ranked) on the integer group labels ``groups``."""
    n = len(values)
    labels, groups = np.unique(groups, return_inverse=True)
    k = len(labels)
    if n < 3 or k < 2:
        return 0.0
    ranks = rankdata(values)
    total = float(np.sum((ranks - ranks.mean()) ** 2))
    if total == 0:
        return 0.0
    sums, counts = np.bincount(groups, ranks), np.bincount(groups)
    between = float(np.sum(counts * (sums / counts - ranks.mean()) ** 2))
    chance = (k - 1) / (n - 1)
    return max(0.0, (between / total - chance) / (1 - chance)) if chance < 1 else 0.0


def groups_of(column: list, numeric: bool) -> np.ndarray:
    """Integer group labels: quantile bins of a numeric column, the distinct values of another one."""
    if numeric:
        x = np.asarray(column, dtype=float)
        edges = np.unique(np.quantile(x, np.linspace(0, 1, BINS + 1)[1:-1]))
        return np.searchsorted(edges, x, side="right")
    return np.unique([repr(v) for v in column], return_inverse=True)[1]


def importance(columns: dict[str, tuple[list, bool]], losses: np.ndarray) -> dict[str, Importance]:
    """``columns``: name -> (values per trial, numeric?); ``losses``: each trial's result, lower is better,
    ``inf`` for a failed trial. Trials lacking a parameter (another branch) are left out of its score."""
    scores = {}
    for name, (column, numeric) in columns.items():
        present = np.array([v is not None for v in column], dtype=bool)
        kept = [v for v in column if v is not None]
        scores[name] = Importance(correlation_ratio(groups_of(kept, numeric), losses[present])
                                  if len(kept) >= MIN_TRIALS else None, len(kept))
    return scores
