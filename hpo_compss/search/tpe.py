"""Multivariate tree-structured Parzen estimator (TPE), asynchronous and batch-parallel.

Within a branch (exclusive sub-space) the branch's own results are split at a quantile into good and
bad ones (the best ceil(0.1 n), at most 25). Each group gives a mixture over the branch's features
jointly: one kernel per result (truncated normals on continuous features, their mass per cell on
ordinal ones, smoothed one-hot on categoricals) plus a broad prior component. A kernel's width on a
feature is the larger gap to its neighbours there, so kernels are narrow where results crowd and
wide where they are sparse; the width never falls below 1 / (n + 2) of the range, so a few close
results do not collapse the search. In the bad group, results older than the latest 25 weigh less
and less, so regions left behind early stop repelling. Candidates are drawn from the good density
and the one with the largest good/bad ratio is proposed. Pending configs join the bad group (a
constant liar at the worst value), so trials that run at once look elsewhere.

Branches are chosen in two ways. Normally the branch is a categorical in the joint ratio: its share
of the good and of the bad results over all branches, each share with a prior count of one result
per branch (not a fraction of one), so candidates come mostly from branches that hold good results
while a branch without any still wins now and then on its own ratio. And a branch whose results are
poor on average may hold the best optimum in a narrow basin, which a ratio of averages would starve;
so any branch with fewer than half its equal share of the trials gets the next one. Its own split
moves it towards its own best results, and once they are good overall the ratio takes over.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr, ndtri

from .model_based import Branch, ModelSearcher

#: the prior component's weight, against one per result
PRIOR_WEIGHT = 1.0
#: the good group: this fraction of a branch's results, at most GOOD_MAX of them
GAMMA, GOOD_MAX = 0.1, 25
#: results in the bad group beyond the latest this many weigh less and less (the oldest 1 / n)
RECENT = 25
#: a branch with fewer than this fraction of its equal share of the trials gets the next one
BRANCH_FLOOR = 0.5
#: the prior count of good and of bad results every branch has
BRANCH_PRIOR = 1.0


class TPESearch(ModelSearcher):
    name = "tpe"

    def configure(self) -> None:
        super().configure()
        self.candidates = self.option("candidates", int, 24, 1, 100_000)

    def propose(self, rng: np.random.Generator) -> tuple[Branch, np.ndarray]:
        targets = self.targets()
        branch_ratio, branch_good = self._branch_log_ratio(targets)
        counts = np.array([len(y) + len(b.pending) for b, y in zip(self.branches, targets)])
        behind = counts < BRANCH_FLOOR * counts.sum() / len(counts)
        allowed = np.array([branch in self.proposing for branch in self.branches])
        if len(self.proposing) < len(self.branches):  # a scheduler chose the branch
            branch_good = np.where(allowed, 0.0, -np.inf)
        elif behind.any():  # the least tried of the branches left behind, and only it
            fewest = np.flatnonzero(counts == counts[behind].min())
            branch_good = np.full(len(counts), -np.inf)
            branch_good[rng.choice(fewest)] = 0.0
        width = max(branch.encoding.width for branch in self.branches)
        picks = rng.choice(len(self.branches), size=self.affordable(self.candidates, width), p=np.exp(branch_good))
        best: list[tuple[float, Branch, np.ndarray]] = []
        for index in np.unique(picks):
            branch = self.branches[index]
            good, bad, bad_weights = _split(branch, targets[index])
            below, above = _Parzen(branch, good), _Parzen(branch, bad, bad_weights)
            samples = below.sample(rng, int(np.sum(picks == index)))
            scores = branch_ratio[index] + below.log_density(samples) - above.log_density(samples)
            best.extend((float(s), branch, x) for s, x in zip(scores, samples))
        best.sort(key=lambda item: -item[0])
        for _, branch, x in best:
            if not branch.is_taken(x):
                return branch, x
        return self.fallback(rng)

    def _branch_log_ratio(self, targets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per branch, log good/bad share and log good share, from the best results over all branches
        (pending configs are bad); each share has a prior count, so no branch's chance is ever zero."""
        values = np.concatenate(targets)
        threshold = np.sort(values)[_good_count(len(values)) - 1]
        good = np.array([np.sum(y <= threshold) for y in targets], dtype=float)
        bad = np.array([len(y) + len(b.pending) for b, y in zip(self.branches, targets)]) - good
        log_good = np.log((good + BRANCH_PRIOR) / (good + BRANCH_PRIOR).sum())
        log_bad = np.log((bad + BRANCH_PRIOR) / (bad + BRANCH_PRIOR).sum())
        return log_good - log_bad, log_good


def _split(branch: Branch, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The branch's good points, its bad points (pending ones last) and the bad points' weights."""
    points = branch.points()
    is_good = np.zeros(len(y), dtype=bool)
    if len(y):
        is_good[np.argsort(y, kind="stable")[:_good_count(len(y))]] = True
    bad = np.vstack([points[~is_good], branch.pending_points()])
    return points[is_good], bad, _age_weights(len(bad))


def _good_count(count: int) -> int:
    """How many of ``count`` results are good: ceil(GAMMA count), at least 1, at most GOOD_MAX."""
    return min(max(1, math.ceil(GAMMA * count)), GOOD_MAX)


def _age_weights(count: int) -> np.ndarray:
    """Weights of ``count`` results, oldest first: 1 for the latest RECENT, a ramp from 1 / count before."""
    if count <= RECENT:
        return np.ones(count)
    return np.concatenate([np.linspace(1.0 / count, 1.0, count - RECENT), np.ones(RECENT)])


def _widths(centres: np.ndarray, floor: float) -> np.ndarray:
    """Kernel widths on one feature: each the larger gap to a neighbouring centre (for the outermost
    centres the inner gap: the domain's ends are no neighbours), clipped to [max(floor, 1 / (n + 2)), 1];
    then the prior component's, 1 (the whole range)."""
    n = len(centres)
    order = np.argsort(centres)
    padded = np.concatenate([[0.0], centres[order], [1.0]])
    gaps = np.maximum(padded[1:-1] - padded[:-2], padded[2:] - padded[1:-1])
    if n >= 2:
        gaps[0], gaps[-1] = padded[2] - padded[1], padded[-2] - padded[-3]
    widths = np.empty(n)
    widths[order] = gaps
    return np.append(np.clip(widths, max(floor, 1.0 / min(100, n + 2)), 1.0), 1.0)


class _Parzen:
    """A weighted mixture over one branch's features: a kernel per point and a broad prior component
    (a normal at the middle of each range with the range as its width, uniform on categoricals)."""

    def __init__(self, branch: Branch, points: np.ndarray, weights: np.ndarray | None = None):
        self.encoding = branch.encoding
        self.slots = self.encoding.slots
        n = len(points)
        weights = np.append(np.ones(n) if weights is None else weights, PRIOR_WEIGHT)
        self.log_weights = np.log(weights / weights.sum())
        self.mu: dict[int, np.ndarray] = {}  # numeric slots: centres (the prior's last), widths
        self.sigma: dict[int, np.ndarray] = {}
        self.table: dict[int, np.ndarray] = {}  # categorical slots: each component's probabilities
        self.log_constant = self.log_weights.copy()  # per component: its weight and normalisers
        for index, slot in enumerate(self.slots):
            block = points[:, slot.start:slot.start + slot.width]
            if slot.kind == "categorical":
                # the own category's weight is 1 + p/(n+1) against p/(n+1) for each other: the
                # smoothing fades as results accumulate
                table = np.full((n + 1, slot.width), PRIOR_WEIGHT / (n + 1))
                table[:-1] += block
                table[-1] = 1.0
                self.table[index] = table / table.sum(axis=1, keepdims=True)
            else:
                floor = 0.5 / slot.size if slot.kind == "ordinal" else 0.0  # neighbour values share mass
                mu = self.mu[index] = np.append(block[:, 0], 0.5)
                sigma = self.sigma[index] = _widths(block[:, 0], floor)
                # each kernel is renormalised to its mass within [0, 1]
                self.log_constant -= np.log(np.maximum(ndtr((1 - mu) / sigma) - ndtr(-mu / sigma), 1e-300))
                if slot.kind == "continuous":
                    self.log_constant -= np.log(sigma * math.sqrt(2 * math.pi))

    def log_density(self, X: np.ndarray) -> np.ndarray:
        """log of the mixture's density (mass on discrete features) at the rows of ``X``."""
        per_component = np.broadcast_to(self.log_constant, (len(X), len(self.log_constant))).copy()
        for index, slot in enumerate(self.slots):
            block = X[:, slot.start:slot.start + slot.width]
            if slot.kind == "categorical":
                per_component += np.log(block @ self.table[index].T)
            elif slot.kind == "continuous":
                per_component -= 0.5 * ((block[:, :1] - self.mu[index]) / self.sigma[index]) ** 2
            else:
                mu, sigma = self.mu[index], self.sigma[index]
                lower, upper = slot.domain.edges(slot.domain.cells(block[:, 0]))  # the value's own cell
                cell = ndtr((upper[:, None] - mu) / sigma) - ndtr((lower[:, None] - mu) / sigma)
                per_component += np.log(np.maximum(cell, 1e-300))
        top = per_component.max(axis=1, keepdims=True)
        return top[:, 0] + np.log(np.exp(per_component - top).sum(axis=1))

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` valid feature vectors drawn from the mixture."""
        components = rng.choice(len(self.log_weights), size=count, p=np.exp(self.log_weights))
        X = np.zeros((count, self.encoding.width))
        for index, slot in enumerate(self.slots):
            u = rng.random(count)
            if slot.kind == "categorical":
                cumulative = np.cumsum(self.table[index][components], axis=1)
                chosen = np.minimum((cumulative < u[:, None]).sum(axis=1), slot.width - 1)
                X[np.arange(count), slot.start + chosen] = 1.0
                continue
            mu, sigma = self.mu[index][components], self.sigma[index][components]
            low, high = ndtr(-mu / sigma), ndtr((1 - mu) / sigma)
            p = np.clip(low + u * (high - low), 1e-12, 1 - 1e-12)
            X[:, slot.start] = np.clip(mu + sigma * ndtri(p), 0.0, np.nextafter(1.0, 0.0))
        return self.encoding.snap(X)
