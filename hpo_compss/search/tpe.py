"""Multivariate tree-structured Parzen estimator (TPE), asynchronous and batch-parallel.

The results are split at a quantile into good and bad ones (the best ceil(0.1 n), at most 25, as in
Optuna). Each group gives a density over the whole space: which branch (exclusive sub-space) and,
within it, a mixture of one kernel per result over all the branch's features jointly (truncated
normals on continuous features, their mass per cell on ordinal ones, smoothed one-hot on categoricals)
plus a uniform prior component. Candidates are drawn from the good density and the one with the
largest good/bad ratio is proposed; because the ratio is over branch and parameters together, it is
also the rule that picks the branch. Pending configs join the bad group (a constant liar at the
worst value), so trials that run at once look elsewhere.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri

from .model_based import Branch, ModelSearcher

PRIOR_WEIGHT = 1.0
BANDWIDTH = 0.2
MIN_BANDWIDTH = 1e-3


class TPESearch(ModelSearcher):
    name = "tpe"

    def configure(self) -> None:
        super().configure()
        self.candidates = self.option("candidates", int, 24, 1, 100_000)

    def propose(self, rng: np.random.Generator) -> tuple[Branch, np.ndarray]:
        good, bad = self._split()
        branch_good = self._branch_log_weights(good)
        branch_bad = self._branch_log_weights(bad)
        width = max(branch.encoding.width for branch in self.branches)
        picks = rng.choice(len(self.branches), size=self.affordable(self.candidates, width), p=np.exp(branch_good))
        best: list[tuple[float, Branch, np.ndarray]] = []
        for index in np.unique(picks):
            branch = self.branches[index]
            above, below = _Parzen(branch, bad[index]), _Parzen(branch, good[index])
            samples = below.sample(rng, int(np.sum(picks == index)))
            scores = (branch_good[index] - branch_bad[index]) + below.log_density(samples) - above.log_density(samples)
            best.extend((float(s), branch, x) for s, x in zip(scores, samples))
        best.sort(key=lambda item: -item[0])
        for _, branch, x in best:
            if not branch.is_taken(x):
                return branch, x
        return self.fallback(rng)

    def _split(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per branch, the feature vectors of the good and of the bad results (pending ones are bad)."""
        targets = self.targets()
        values = np.concatenate(targets)
        count = min(max(1, math.ceil(0.1 * len(values))), 25)
        order = np.argsort(values, kind="stable")
        good_rank = np.zeros(len(values), dtype=bool)
        good_rank[order[:count]] = True
        good, bad, start = [], [], 0
        for branch, y in zip(self.branches, targets):
            is_good = good_rank[start:start + len(y)]
            start += len(y)
            points = branch.points()
            good.append(points[is_good])
            bad.append(np.vstack([points[~is_good], branch.pending_points()]))
        return good, bad

    def _branch_log_weights(self, groups: list[np.ndarray]) -> np.ndarray:
        counts = np.array([len(points) for points in groups], dtype=float) + PRIOR_WEIGHT / len(groups)
        return np.log(counts / counts.sum())


class _Parzen:
    """A mixture over one branch's features: a kernel per point and a uniform prior component."""

    def __init__(self, branch: Branch, points: np.ndarray):
        self.encoding = branch.encoding
        self.slots = self.encoding.slots
        self.points = points
        weights = np.r_[np.ones(len(points)), PRIOR_WEIGHT]
        self.log_weights = np.log(weights / weights.sum())
        self.bandwidth = max(BANDWIDTH * max(len(points), 1) ** (-1.0 / (len(self.slots) + 4)), MIN_BANDWIDTH)

    def _centres(self, slot_index: int) -> np.ndarray:
        slot = self.slots[slot_index]
        return self.points[:, slot.start:slot.start + slot.width]

    def log_density(self, X: np.ndarray) -> np.ndarray:
        """log of the mixture's density (mass on discrete features) at the rows of ``X``."""
        per_component = np.zeros((len(X), len(self.points) + 1))
        for slot_index, slot in enumerate(self.slots):
            block = X[:, slot.start:slot.start + slot.width]
            centres = self._centres(slot_index)
            if slot.kind == "categorical":
                own = centres @ block.T  # (points, X): 1 where the categories agree
                log_kernel = np.log((own + PRIOR_WEIGHT / slot.width) / (1 + PRIOR_WEIGHT)).T
                prior = -math.log(slot.width)
            else:
                x, mu, sigma = block[:, 0][:, None], centres[:, 0][None, :], self._sigma(slot)
                mass = ndtr((1 - mu) / sigma) - ndtr(-mu / sigma)
                if slot.kind == "continuous":
                    log_kernel = -0.5 * ((x - mu) / sigma) ** 2 - math.log(sigma * math.sqrt(2 * math.pi))
                    prior = 0.0
                else:
                    lower, upper = slot.domain.edges(slot.domain.cells(block[:, 0]))  # the value's own cell
                    cell = ndtr((upper[:, None] - mu) / sigma) - ndtr((lower[:, None] - mu) / sigma)
                    log_kernel = np.log(np.maximum(cell, 1e-300))
                    prior = np.log(upper - lower)
                log_kernel = log_kernel - np.log(np.maximum(mass, 1e-300))
            per_component[:, :-1] += log_kernel
            per_component[:, -1] += prior
        return logsumexp(per_component + self.log_weights, axis=1)

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` valid feature vectors drawn from the mixture."""
        components = rng.choice(len(self.points) + 1, size=count, p=np.exp(self.log_weights))
        from_prior = components == len(self.points)
        unit = rng.random((count, len(self.slots)))
        X = self.encoding.from_unit(unit)  # the prior component's draws, replaced below for the others
        chosen = np.minimum(components, max(len(self.points) - 1, 0))
        for slot_index, slot in enumerate(self.slots):
            if not len(self.points):
                break
            centres = self._centres(slot_index)[chosen]
            if slot.kind == "categorical":
                keep = rng.random(count) < 1 / (1 + PRIOR_WEIGHT)  # the kernel's own category, else uniform
                block = X[:, slot.start:slot.start + slot.width]
                use = keep & ~from_prior
                block[use] = centres[use]
                continue
            mu, sigma = centres[:, 0], self._sigma(slot)
            low, high = ndtr(-mu / sigma), ndtr((1 - mu) / sigma)
            u = np.clip(low + unit[:, slot_index] * (high - low), 1e-12, 1 - 1e-12)
            value = np.clip(mu + sigma * ndtri(u), 0.0, np.nextafter(1.0, 0.0))
            X[~from_prior, slot.start] = value[~from_prior]
        return self.encoding.snap(X)

    def _sigma(self, slot) -> float:
        """The kernel's width; at least half a cell on an ordinal feature, so neighbours share mass."""
        return max(self.bandwidth, 0.5 / slot.size) if slot.kind == "ordinal" else self.bandwidth
