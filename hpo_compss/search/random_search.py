"""Random search: each config an independent draw, sub-spaces picked uniformly (unless a scheduler picks one)."""
from __future__ import annotations

from .base import Searcher, Suggestion, rng_for


class RandomSearch(Searcher):
    name = "random"

    def ask(self, config_id: int, budget: float | None = None, subspace: str | None = None) -> Suggestion:
        rng = rng_for(self.seed, 0, config_id)
        count = len(self.space.subspaces)
        drawn = int(rng.random() * count) if count > 1 else 0
        sub = self.subspace_named(subspace, drawn)
        return Suggestion(sub.sample(rng), sub.name)
