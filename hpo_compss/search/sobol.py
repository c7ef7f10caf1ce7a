"""Quasi-random search with a scrambled Sobol sequence (scipy.stats.qmc).

Point ``i`` of the sequence is decoded through each domain's own quantile function; with several
exclusive sub-spaces the first coordinate picks the sub-space. Point ``i`` depends on (seed, i) only.
"""
from __future__ import annotations

from scipy.stats import qmc

from .base import Searcher, Suggestion


class SobolSearch(Searcher):
    name = "sobol"

    def configure(self) -> None:
        self.scramble = self.option("scramble", bool, True)
        self.picks_subspace = len(self.space.subspaces) > 1
        dims = max(1, self.space.dims + int(self.picks_subspace))
        self.engine = qmc.Sobol(dims, scramble=self.scramble, seed=self.seed)
        self.next_index = 0

    def ask(self, config_id: int, budget: float | None = None, subspace: str | None = None) -> Suggestion:
        if config_id != self.next_index:
            self.engine.reset()
            if config_id:  # scipy's fast_forward(0) after a reset underflows
                self.engine.fast_forward(config_id)
        point = self.engine.random(1)[0]
        self.next_index = config_id + 1
        drawn = 0
        if self.picks_subspace:
            drawn = min(int(point[0] * len(self.space.subspaces)), len(self.space.subspaces) - 1)
            point = point[1:]
        sub = self.subspace_named(subspace, drawn)
        return Suggestion(sub.decode(point), sub.name)
