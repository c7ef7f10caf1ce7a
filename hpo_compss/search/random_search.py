"""Random search: each config an independent draw, sub-spaces picked uniformly."""
from __future__ import annotations

from .base import Searcher, Suggestion, rng_for


class RandomSearch(Searcher):
    name = "random"

    def ask(self, config_id: int, budget: float | None = None) -> Suggestion:
        rng = rng_for(self.seed, 0, config_id)
        subspaces = self.space.subspaces
        sub = subspaces[int(rng.random() * len(subspaces))] if len(subspaces) > 1 else subspaces[0]
        return Suggestion(sub.sample(rng), sub.name)
