"""What the GP and TPE searchers share: branches with their results, pending configs, the initial design.

Each exclusive sub-space is a *branch* with its own encoding and its own results, so each can have
its own model (SHADHO). The first ``initial`` configs come from a scrambled Sobol design over the
whole space (``SobolSearch``), as does every config asked before any result is known. A config that
was asked but not yet told is *pending*: the subclasses take pending configs into account, so that
many trials can run at once without all proposing the same point. A failed config counts as the
worst result seen so far, which steers the search away from regions that crash.

Under a multi-fidelity scheduler a config is told its value at each budget it reaches, and the model
of each budget sees that budget's results only (as in BOHB). A config is proposed from the model of
the budget its first run goes to, where its scheduler first judges it: what looks best there goes on.
"""
from __future__ import annotations

import math
from abc import abstractmethod

import numpy as np

from ..errors import InvalidConfig
from ..space.encoding import Encoding
from ..space.structure import SubSpace
from .base import Searcher, Suggestion, rng_for
from .sobol import SobolSearch

#: the stream of rng_for reserved for model searchers' own random choices
MODEL_STREAM = 2
#: the most feature values one array of candidates may hold (16 MB): many features mean fewer candidates
MAX_CANDIDATE_VALUES = 2_000_000
#: the least distance (features, in the unit cube) of a new point from a told one and from a pending one
TOLD_DISTANCE = 1e-3
PENDING_DISTANCE = 0.05


class Branch:
    """One exclusive sub-space: its encoding, its told results and its pending points."""

    def __init__(self, index: int, sub: SubSpace):
        self.index = index
        self.sub = sub
        self.encoding = Encoding(sub)
        #: per budget (math.inf: a run the scheduler gave no budget), the told points and their
        #: sign-adjusted results (smaller is better; None for a failed config)
        self.levels: dict[float, tuple[list[np.ndarray], list[float | None]]] = {}
        #: the budget whose results the model sees (``ModelSearcher.ask``)
        self.level = math.inf
        #: every point told at any budget, by config id: a new point keeps away from them all
        self.told: dict[int, np.ndarray] = {}
        self.pending: dict[int, np.ndarray] = {}

    @property
    def X(self) -> list[np.ndarray]:
        return self.levels.get(self.level, ([], []))[0]

    @property
    def y(self) -> list[float | None]:
        return self.levels.get(self.level, ([], []))[1]

    def points(self) -> np.ndarray:
        return np.array(self.X, dtype=float).reshape(len(self.X), self.encoding.width)

    def pending_points(self) -> np.ndarray:
        pending = [self.pending[k] for k in sorted(self.pending)]
        return np.array(pending, dtype=float).reshape(len(pending), self.encoding.width)

    def is_taken(self, x: np.ndarray) -> bool:
        """Is this point within TOLD_DISTANCE of a told one, or within PENDING_DISTANCE of a pending one?

        A model's next point is often next to the last one, so without the wider gap around pending
        points a batch would gather on one spot; told points only need a small one.
        """
        told = np.array(list(self.told.values()), dtype=float).reshape(len(self.told), self.encoding.width)
        for taken, least in ((told, TOLD_DISTANCE), (self.pending_points(), PENDING_DISTANCE)):
            if len(taken) and np.min(np.linalg.norm(taken - x, axis=1)) < least:
                return True
        return False


class ModelSearcher(Searcher):
    """Ask/tell bookkeeping for searchers that model results; subclasses implement ``propose``."""

    adaptive = True

    def configure(self) -> None:
        dims = max(sub.dims for sub in self.space.subspaces)
        self.initial = self.option("initial", int, min(max(dims + 1, 5), 10), 1, 100_000)
        self.batch = self.option("batch", int, 0, 0, 100_000)
        self.branches = [Branch(i, sub) for i, sub in enumerate(self.space.subspaces)]
        self.by_name = {branch.sub.name: branch for branch in self.branches}
        self.design = SobolSearch(self.space, self.seed, {})
        self.owner: dict[int, Branch] = {}
        #: the branches the next proposal may come from: all, or the one a scheduler chose
        self.proposing: list[Branch] = self.branches

    def ask(self, config_id: int, budget: float | None = None, subspace: str | None = None) -> Suggestion:
        """The next config, from the results at ``budget`` (and from the branch ``subspace`` only, when
        given); one whose dependent values cannot be computed is still noted as pending (InvalidConfig
        carries its drawn values), so that it is told as a failure like any other."""
        for branch in self.branches:
            branch.level = math.inf if budget is None else budget
        self.proposing = [self.by_name[subspace]] if subspace in self.by_name else self.branches
        if config_id < self.initial or not self.has_results():
            try:
                suggestion = self.design.ask(config_id, subspace=subspace)
            except InvalidConfig as invalid:
                self._note(config_id, self.by_name[invalid.subspace], invalid.config)
                raise
            self._note(config_id, self.by_name[suggestion.subspace], suggestion.config)
            return suggestion
        branch, x = self.propose(np.random.default_rng(rng_for(self.seed, MODEL_STREAM, config_id).getrandbits(64)))
        config = branch.encoding.decode(x)
        # the point as a replay of the journal's config encodes it (decoding rounds): a resumed searcher
        # then holds the very points this one does, and proposes the same configs
        self._note(config_id, branch, config)
        return Suggestion(config, branch.sub.name)

    def _note(self, config_id: int, branch: Branch, config: dict) -> None:
        self.owner[config_id] = branch
        branch.pending[config_id] = branch.encoding.encode(config)

    def tell(self, config_id: int, suggestion: Suggestion, value: float | None, budget: float | None = None) -> None:
        branch = self.owner.pop(config_id, None) or self.by_name.get(suggestion.subspace)
        if branch is None:
            return
        x = branch.pending.pop(config_id, None)
        if x is None:
            x = branch.told.get(config_id)
        if x is None:
            try:
                x = branch.encoding.encode(suggestion.config)
            except ValueError:
                return  # a config from outside the space (an edited space file): nothing to learn
        ok = value is not None and math.isfinite(value)
        X, y = branch.levels.setdefault(math.inf if budget is None else budget, ([], []))
        X.append(x)
        y.append(self.sign * value if ok else None)
        branch.told[config_id] = x

    def restore(self, config_id: int, suggestion: Suggestion) -> bool:
        branch = self.by_name.get(suggestion.subspace)
        if branch is not None:
            try:
                self._note(config_id, branch, suggestion.config)
            except (ValueError, KeyError, TypeError):
                pass  # a config from outside the space (an edited space file): nothing to learn
        return True

    @staticmethod
    def affordable(count: int, width: int) -> int:
        """How many of ``count`` candidates of ``width`` features to draw at once, within MAX_CANDIDATE_VALUES."""
        return max(1, min(count, MAX_CANDIDATE_VALUES // max(width, 1)))

    def has_results(self) -> bool:
        return any(y is not None for branch in self.branches for y in branch.y)

    def targets(self) -> list[np.ndarray]:
        """Every branch's results with failures replaced by the worst result of all branches."""
        worst = max(y for branch in self.branches for y in branch.y if y is not None)
        return [np.array([worst if y is None else y for y in branch.y]) for branch in self.branches]

    def fallback(self, rng: np.random.Generator) -> tuple[Branch, np.ndarray]:
        """A random point no one has asked for, when the model's proposals are all taken."""
        for _ in range(100):
            branch = self.proposing[int(rng.integers(len(self.proposing)))]
            x = branch.encoding.from_unit(rng.random((1, branch.sub.dims)))[0]
            if not branch.is_taken(x):
                return branch, x
        return branch, x

    @abstractmethod
    def propose(self, rng: np.random.Generator) -> tuple[Branch, np.ndarray]:
        """The branch (one of ``proposing``) and feature vector of the next config, given results and
        pending points."""
