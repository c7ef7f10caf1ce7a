"""Grid search: every combination of every sub-space's grid values, enumerated lazily in order.

Lists and choices give all their values; continuous and large integer domains give ``points`` values
spread evenly in their sampling scale (log domains in log space, normal ones at their quantiles).
"""
from __future__ import annotations

import math

from ..errors import ConfigError
from .base import Searcher, Suggestion

MAX_GRID = 10**12


class GridSearch(Searcher):
    name = "grid"

    def configure(self) -> None:
        points = self.option("points", int, 5, 2, 10_000)
        counts = [math.prod(domain.grid_size(points) for domain in sub.leaves.values()) for sub in self.space.subspaces]
        self._size = sum(counts)
        if self._size > MAX_GRID:
            raise ConfigError(("space",), f"the grid has {_scientific(self._size)} points, more than {MAX_GRID:.0e}")
        self.grids = [(sub, [(path, domain.grid(points)) for path, domain in sub.leaves.items()], count)
                      for sub, count in zip(self.space.subspaces, counts)]

    @property
    def size(self) -> int:
        return self._size

    def ask(self, config_id: int, budget: float | None = None, subspace: str | None = None) -> Suggestion:
        index = config_id
        for sub, axes, count in self.grids:
            if index < count:
                values = {}
                for path, axis in reversed(axes):  # the last parameter varies fastest
                    index, position = divmod(index, len(axis))
                    values[path] = axis[position]
                return Suggestion(sub.assemble(dict(reversed(values.items()))), sub.name)
            index -= count
        raise IndexError(f"config {config_id} is beyond the grid's {self._size} points")


def _scientific(count: int) -> str:
    """``count`` as 1.23e+45, also beyond the largest double."""
    exponent = int(math.log10(count))
    return f"{count / 10**exponent:.3g}e+{exponent:02d}"
