"""Gaussian-process Bayesian optimisation (PHS's and SHADHO's GP), asynchronous and batch-parallel.

Each exclusive branch has its own GP (``hpo_compss.gaussian_process``) on its own features. Targets are transformed
together, so all branches' models speak of the same scale, and the next config is the point of
highest log expected improvement over the union of the branches: that is the rule that picks the
branch. Pending configs are fantasised at the posterior mean (the kriging believer): the model
takes them as observed, so their neighbourhoods lose their appeal and a batch spreads out.

The acquisition is maximised over a mixed space: sampled candidates (random points and
perturbations of the best ones), then L-BFGS-B (``scipy.optimize``) on the continuous features of the
best few, then a discrete neighbour search on integers and categoricals. Points far from the data
are mostly on the edges of the unit cube, so plain EI piles evaluations there: the prior mean is a
shallow bowl, so far from the data the edges look worse than the middle, and continuous features
are searched a little inside the cube unless the best result is near a bound (``_box``).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from ..space.encoding import Encoding
from .acquisition import log_expected_improvement, log_expected_improvement_gradient
from ..gaussian_process import GaussianProcess, transform_targets
from .model_based import Branch, ModelSearcher

#: hyperparameters are refitted at every result up to this many results, then when they grew by REFIT_GROWTH
REFIT_ALWAYS = 100
REFIT_GROWTH = 0.1
#: when there are more branches than this, only the most promising ones get a full optimisation
FULLY_OPTIMISED_BRANCHES = 3
#: continuous features are searched this far inside the unit cube, unless the best result lies within
#: OPEN of that bound: log EI grows toward the edges, where the variance does, and would pile points on them
MARGIN = 0.02
OPEN = 2 * MARGIN
#: weight of the prior mean's bowl on each continuous feature (in standardised targets): corners and
#: edges far from the data look worse than the middle (``benchmarks/bounds.py`` measures the effect)
BOWL = 1.0


class GPSearch(ModelSearcher):
    name = "gp"

    def configure(self) -> None:
        super().configure()
        self.candidates = self.option("candidates", int, 1000, 1, 1_000_000)
        self.starts = self.option("starts", int, 5, 1, 100)
        #: per branch and budget modelled, the GP and how many results its hyperparameters were fitted on
        self.models: dict[tuple[int, float], tuple[int, GaussianProcess]] = {}

    def propose(self, rng: np.random.Generator) -> tuple[Branch, np.ndarray]:
        targets = transform_targets(np.concatenate(self.targets()))
        split = np.cumsum([len(branch.y) for branch in self.branches])[:-1]
        per_branch = np.split(targets, split)
        models = [self._model(branch, y) for branch, y in zip(self.branches, per_branch)]
        best = min(float(np.min(model.predict(model.X)[0])) + offset
                   for model, offset in models if len(model.X))
        screened = []
        for branch, (model, offset) in zip(self.branches, models):
            if branch not in self.proposing:
                continue
            low, high = self._box(branch, model)
            candidates = self._candidates(branch, model, low, high, rng)
            scores = log_expected_improvement(*_shifted(model.predict(candidates), offset), best)
            screened.append((float(np.max(scores)), branch, model, offset, (low, high), candidates, scores))
        screened.sort(key=lambda item: -item[0])
        proposals = [self._optimise(branch, model, offset, best, box, candidates, scores)
                     for _, branch, model, offset, box, candidates, scores in screened[:FULLY_OPTIMISED_BRANCHES]]
        proposals = [p for p in proposals if p is not None]
        if not proposals:
            return self.fallback(rng)
        _, branch, x = max(proposals, key=lambda p: p[0])
        return branch, x

    def _model(self, branch: Branch, y: np.ndarray) -> tuple[GaussianProcess, float]:
        """The branch's GP on its results, with pending points fantasised.

        Hyperparameters are refitted while results are few, and then each time their number has grown
        by a tenth; in between, the last hyperparameters are kept and only the data are updated.
        """
        offset = float(np.mean(y)) if len(y) else 0.0
        key = (branch.index, branch.level)
        fitted_on, model = self.models.get(key, (0, GaussianProcess(branch.encoding.width, BOWL * branch.encoding.continuous)))
        if len(y) <= REFIT_ALWAYS or len(y) >= (1 + REFIT_GROWTH) * fitted_on:
            model.fit(branch.points(), y - offset)
            fitted_on = len(y)
        else:
            model = model.condition(branch.points(), y - offset)
        self.models[key] = (fitted_on, model)
        pending = branch.pending_points()
        if len(pending):
            believed = model.predict(pending)[0]
            model = model.condition(np.vstack([model.X, pending]), np.r_[model.y, believed])
        return model, offset

    def _box(self, branch: Branch, model: GaussianProcess) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the features for the acquisition's search.

        A point on a bound is only half surrounded by others, so its variance, and its log EI, stay
        high; one a little inside informs the bound as well. A bound opens when the best result lies
        near it: then the data, not the variance, points there, and an optimum on it is reached.
        """
        free = branch.encoding.continuous
        low, high = np.where(free, MARGIN, 0.0), np.where(free, 1 - MARGIN, 1.0)
        if len(branch.y):
            incumbent = model.X[int(np.argmin(model.y[:len(branch.y)]))]
            low[free & (incumbent < OPEN)] = 0.0
            high[free & (incumbent > 1 - OPEN)] = 1.0
        return low, high

    def _candidates(self, branch: Branch, model: GaussianProcess, low: np.ndarray, high: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
        """Random points plus perturbations of the best observed ones (scaled by the length scales), in the box.

        Perturbations that leave the box are reflected into it rather than clipped, which would put
        them exactly on its bounds.
        """
        encoding = branch.encoding
        free = encoding.continuous
        count = self.affordable(max(64, self.candidates // len(self.branches)), encoding.width)
        random_points = encoding.from_unit(rng.random((count, branch.sub.dims)))
        random_points[:, free] = low[free] + random_points[:, free] * (high - low)[free]
        if not len(branch.y):
            return random_points
        order = np.argsort(model.y[:len(branch.y)])[:5]
        anchors = model.X[order]
        local = np.repeat(anchors, max(1, count // (4 * len(anchors))), axis=0)
        noise = rng.normal(0.0, 1.0, local.shape) * np.minimum(0.25 * model.scales, 0.2)
        local = np.where(free, _reflect(local + noise, low, high), local)
        for slot in encoding.discrete:  # with some chance, resample each discrete value
            redraw = rng.random(len(local)) < 1.0 / max(1, len(encoding.slots))
            fresh = encoding.from_unit(rng.random((int(redraw.sum()), branch.sub.dims)))
            local[redraw, slot.start:slot.start + slot.width] = fresh[:, slot.start:slot.start + slot.width]
        return np.vstack([random_points, encoding.snap(local)])

    def _optimise(self, branch: Branch, model: GaussianProcess, offset: float, best: float,
                  box: tuple[np.ndarray, np.ndarray], candidates: np.ndarray, scores: np.ndarray) -> tuple[float, Branch, np.ndarray] | None:
        """The best untaken point of this branch: gradient steps from the best candidates, then discrete steps."""
        encoding = branch.encoding
        free = encoding.continuous
        found: list[tuple[float, np.ndarray]] = []
        for index in np.argsort(-scores)[:self.starts]:
            start = candidates[index]
            if free.any():
                def negative(z: np.ndarray, start: np.ndarray = start) -> tuple[float, np.ndarray]:
                    x = start.copy()
                    x[free] = z
                    mean, variance, d_mean, d_variance = model.predict_with_gradient(x)
                    value, by_mean, by_variance = log_expected_improvement_gradient(mean + offset, variance, best)
                    return -value, -(by_mean * d_mean + by_variance * d_variance)[free]

                result = minimize(negative, start[free], jac=True, method="L-BFGS-B",
                                  bounds=list(zip(box[0][free], box[1][free])), options={"maxiter": 100})
                start = start.copy()
                start[free] = result.x
            found.append(self._climb(encoding, model, offset, best, start))
        found.extend((float(s), c) for s, c in zip(scores, candidates))
        found.sort(key=lambda item: -item[0])
        for score, x in found:
            if np.isfinite(score) and not branch.is_taken(x):
                return score, branch, x
        return None

    def _climb(self, encoding: Encoding, model: GaussianProcess, offset: float, best: float,
               x: np.ndarray) -> tuple[float, np.ndarray]:
        """Greedy moves to the best discrete neighbour while log EI improves."""
        score = float(log_expected_improvement(*_shifted(model.predict(x[None, :]), offset), best)[0])
        for _ in range(20):
            neighbours = encoding.neighbours(x)
            if not len(neighbours):
                break
            scores = log_expected_improvement(*_shifted(model.predict(neighbours), offset), best)
            top = int(np.argmax(scores))
            if scores[top] <= score:
                break
            score, x = float(scores[top]), neighbours[top]
        return score, x


def _reflect(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """x folded back into [low, high] at each bound it crosses, as a mirror would."""
    width = np.maximum(high - low, 1e-12)
    folded = np.mod(x - low, 2 * width)
    return low + np.where(folded > width, 2 * width - folded, folded)


def _shifted(prediction: tuple[np.ndarray, np.ndarray], offset: float) -> tuple[np.ndarray, np.ndarray]:
    mean, variance = prediction
    return mean + offset, variance
