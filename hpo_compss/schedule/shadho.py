"""SHADHO's scheduling: the hardest, least understood sub-spaces on the fastest compute classes.

Each exclusive sub-space is ranked twice: by its complexity (``SubSpace.complexity``: how much there
is to search) and by its uncertainty (how little its results pin a model down: the spread, over
bootstrap subsets of its results, of the inverse length scales of a Gaussian process fitted to each).
A sub-space with fewer than ``min_results`` results is as uncertain as can be. The two ranks are
added, and the sub-spaces, highest total first, are mapped onto the classes, fastest first
(``ClassSpeeds``: as declared, then as measured):

- more sub-spaces than classes: the ranked sub-spaces are cut into as many contiguous runs as there
  are classes, the longer runs first (SHADHO's split); the fastest class gets the top run;
- more classes than sub-spaces: the ranked classes are cut into as many runs as there are sub-spaces,
  so each sub-space has at least one class, the top one the fastest classes;
- one sub-space: every class draws from it, and only the speeds matter (for retries).

Of the classes with a free slot, the one served least recently gets the next config, which it draws
from the sub-space of its run it has started fewest trials of. The
ranking is made anew every ``rerank`` results (failures count: they are results too). Speeds come
from durations, which compare two classes only through a sub-space both ran: each class first runs
``probes`` trials of the lowest-ranked sub-space (likely the cheapest), unless it is its own. With
``"measure": false`` the declared speeds (``speed``, else cores) are trusted and nothing is probed.

Everything follows from the journal's order of results (bootstrap draws are seeded by their count),
so a resumed study ranks and places as the first run did.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
from scipy.stats import rankdata

from ..errors import ConfigError
from ..gaussian_process import GaussianProcess, transform_targets
from ..space.encoding import Encoding
from ..trial import ComputeClass
from .base import Ended, Placement, Scheduler

#: a bootstrap subset holds at most this many results (an m-out-of-n bootstrap beyond: see ``_uncertainty``)
MAX_BOOTSTRAP_POINTS = 40
#: how hard each bootstrap GP fit tries (L-BFGS-B iterations): a ranking needs no precise optimum
FIT_ITERATIONS = 20


class Shadho(Scheduler):
    """See the module docstring."""

    name = "shadho"
    OPTIONS = {"rerank", "bootstrap", "min_results", "probes", "measure"}
    stops_trials = False

    def configure(self) -> None:
        if self.space is None:
            raise ConfigError(("scheduler", "name"), "shadho ranks the sub-spaces of a search space, and this "
                                                     "experiment has none (an explicit list of configs)")
        self.rerank = self.option("rerank", int, 10, 1, 1_000_000)
        self.bootstraps = self.option("bootstrap", int, 8, 2, 1000)
        self.min_results = self.option("min_results", int, 5, 2, 1_000_000)
        #: False: trust the declared speeds, as SHADHO's released code trusts the declared order
        self.measure = self.option("measure", bool, True)
        self.probes = self.option("probes", int, 3 if self.measure else 0, 0, 1000)
        self.subspaces = {sub.name: sub for sub in self.space.subspaces}
        self.complexity = {name: sub.complexity() for name, sub in self.subspaces.items()}
        #: per sub-space, the encoded configs of its results and their sign-adjusted values (None: failed)
        self.results: dict[str, tuple[list[np.ndarray], list[float | None]]] = {name: ([], []) for name in self.subspaces}
        self.uncertainty: dict[str, float] = {name: math.inf for name in self.subspaces}
        #: trials started per (class, sub-space)
        self.started: Counter[tuple[str, str]] = Counter()
        self.usable = [cls.name for cls in self.classes]
        #: when each class last got a new config (the count of placements then)
        self.served: dict[str, int] = {}
        self.n_placed = 0
        self.n_results = 0
        self.ranked_at = 0
        self._encodings: dict[str, Encoding | None] = {}
        self._assign()

    # -- what it hears ----------------------------------------------------------------------------
    def use(self, classes: list[ComputeClass]) -> None:
        """The classes the engine runs (those of the experiment that fit where the study runs)."""
        self.usable = [cls.name for cls in classes]
        self._assign()

    def on_ended(self, ended: Ended) -> None:
        if self.measure:
            super().on_ended(ended)
        if ended.status not in ("complete", "failed") or ended.subspace not in self.subspaces:
            return
        encoding = self._encoding(ended.subspace)
        try:
            x = encoding.encode(ended.config) if encoding is not None else None
        except (ValueError, KeyError, TypeError):
            x = None  # a config from outside the space (an edited space file)
        if x is not None:
            X, y = self.results[ended.subspace]
            X.append(x)
            y.append(self.sign * ended.value if ended.status == "complete" and ended.value is not None else None)
        self.n_results += 1
        if self.n_results - self.ranked_at >= self.rerank:
            self.ranked_at = self.n_results
            self.uncertainty = {name: self._uncertainty(name) for name in self.subspaces}
            self._assign()

    # -- where trials go --------------------------------------------------------------------------
    def place(self, free: list[ComputeClass]) -> Placement:
        # the free class served least recently: where classes share one pool of cores (the local
        # engine), the fastest would otherwise take every slot that frees; with pools of their own
        # (COMPSs, Dask) every free class is served in turn anyway
        cls = min(free, key=lambda c: self.served.get(c.name, -1))
        self.served[cls.name] = self.n_placed = self.n_placed + 1
        probe = self._probe(cls)
        if probe is not None:
            self.started[(cls.name, probe)] += 1
            return Placement(cls, probe, f"probe {self.started[(cls.name, probe)]} of {self.probes}: {cls.name} "
                                         f"runs {probe}, to measure its speed against the classes that run it")
        run = self.runs.get(cls.name) or self.order
        subspace = min(run, key=lambda name: (self.started[(cls.name, name)], self.order.index(name)))
        self.started[(cls.name, subspace)] += 1
        return Placement(cls, subspace, self._why(cls, subspace))

    def place_drawn(self, subspace: str, free: list[ComputeClass]) -> Placement:
        own = [cls for cls in free if subspace in self.runs.get(cls.name, ())]
        cls = self._fastest(own or free)
        self.started[(cls.name, subspace)] += 1
        if own:
            return Placement(cls, subspace, self._why(cls, subspace))
        return Placement(cls, subspace, f"{subspace}'s classes had no room: the fastest free class, {cls.name}")

    def assignment(self) -> dict | None:
        if not self._changed:
            return None
        self._changed = False
        speeds = self.speeds.speeds()
        return {"results": self.n_results,
                "ranking": [{"subspace": name, "complexity": _finite(self.complexity[name]),
                             "uncertainty": _finite(self.uncertainty[name])} for name in self.order],
                "classes": {name: self.runs.get(name, []) for name in self.usable},
                "speeds": {name: round(speeds[name], 6) for name in self.usable}}

    def describe(self) -> str:
        runs = "; ".join(f"{name}: {', '.join(subs) or '-'}" for name, subs in self.runs.items())
        return f"shadho (re-ranks every {self.rerank} results; {runs})"

    # -- the ranking --------------------------------------------------------------------------------
    def _assign(self) -> None:
        """Rank the sub-spaces and map them onto the usable classes, fastest first."""
        names = sorted(self.subspaces)
        by_complexity = rankdata([self.complexity[name] for name in names])
        by_uncertainty = rankdata([self.uncertainty[name] for name in names])
        score = dict(zip(names, by_complexity + by_uncertainty))
        self.order = sorted(names, key=lambda name: (-score[name], -self.complexity[name], name))
        classes = [cls.name for cls in self.speeds.fastest_first() if cls.name in self.usable]
        runs: dict[str, list[str]] = {}
        if len(self.order) >= len(classes):
            for name, part in zip(classes, np.array_split(np.array(self.order, dtype=object), len(classes))):
                runs[name] = list(part)
        else:
            for subspace, part in zip(self.order, np.array_split(np.array(classes, dtype=object), len(self.order))):
                for name in part:
                    runs[name] = [subspace]
        self.runs = runs
        self._changed = True

    def _uncertainty(self, name: str) -> float:
        """The mean over features of the spread (standard deviation) of the fitted inverse length scales
        over ``bootstraps`` resamples of the sub-space's results; inf with fewer than ``min_results``.

        With n results, each resample draws m = min(n, MAX_BOOTSTRAP_POINTS) of them, and the spread is
        scaled by sqrt(m / n) (the m-out-of-n bootstrap): what a fit on all n would vary by. So a
        sub-space grows more certain as its results grow, as "how little the model knows" should,
        at the cost of fits on m points only."""
        X, y = self.results[name]
        if len(y) < self.min_results:
            return math.inf
        if not len(X[0]):
            return 0.0  # nothing to learn: every value is fixed
        known = [value for value in y if value is not None]
        worst = max(known) if known else 0.0
        points = np.array(X, dtype=float)
        targets = np.array([worst if value is None else value for value in y], dtype=float)
        rng = np.random.default_rng([len(y), sorted(self.subspaces).index(name)])
        inverse = []
        size = min(len(y), MAX_BOOTSTRAP_POINTS)
        for _ in range(self.bootstraps):
            pick = rng.integers(len(y), size=size)
            model = GaussianProcess(points.shape[1]).fit(points[pick], transform_targets(targets[pick]),
                                                          max_iterations=FIT_ITERATIONS)
            inverse.append(1.0 / model.scales)
        return float(np.mean(np.std(np.array(inverse), axis=0))) * math.sqrt(size / len(y))

    def _encoding(self, name: str) -> Encoding | None:
        if name not in self._encodings:
            try:
                self._encodings[name] = Encoding(self.subspaces[name])
            except ConfigError:  # too many features for a model: its uncertainty stays unknown
                self._encodings[name] = None
        return self._encodings[name]

    # -- helpers ------------------------------------------------------------------------------------
    def _fastest(self, classes: list[ComputeClass]) -> ComputeClass:
        speeds = self.speeds.speeds()
        return max(classes, key=lambda cls: speeds[cls.name])

    def _probe(self, cls: ComputeClass) -> str | None:
        """The sub-space ``cls`` should run to measure its speed, or None when it need not."""
        reference = self.order[-1]
        if len(self.usable) < 2 or reference in self.runs.get(cls.name, ()):
            return None
        return reference if self.started[(cls.name, reference)] < self.probes else None

    def _why(self, cls: ComputeClass, subspace: str) -> str:
        ranked = [name for name in self.speeds.fastest_first() if name.name in self.usable]
        speed = self.speeds.speeds()[cls.name]
        return (f"shadho: {subspace} ranks {self.order.index(subspace) + 1} of {len(self.order)}; {cls.name} is "
                f"fastest {ranked.index(cls) + 1} of {len(ranked)} (speed {speed:.3g})")


def _finite(value: float) -> float | None:
    """JSON holds no infinity: an unknown uncertainty is null."""
    return value if math.isfinite(value) else None
