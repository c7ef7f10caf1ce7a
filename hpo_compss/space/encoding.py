"""A sub-space as model features: what the GP and TPE see instead of raw parameters.

Every draw of a leaf domain is a *slot*. A continuous slot is one feature, the domain's quantile (log
domains in log space, normal ones through their CDF); an ordinal slot (integers, powers of two,
linspace) is one feature at the centre of its value's cell, so neighbouring values stay neighbours
(loginteger's cells are even on a log scale, and each value sits at its log position); a categorical
slot (choice) is one-hot, so no order is invented between its values. The domain says which cell a
point falls in and which point stands for a value (``cells``, ``centres``). Features lie in [0, 1],
and ``decode(encode(config)) == config`` for every config of the sub-space.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import ConfigError
from .domains import Domain, Repeat
from .structure import Path, SubSpace

#: features of one sub-space a model searcher may see: its candidate arrays hold thousands of rows of them
MAX_FEATURES = 10_000


@dataclass(frozen=True)
class Slot:
    """One draw of one leaf domain and where its features start."""

    path: Path
    #: the draw's position in a repeat; None for a plain domain
    item: int | None
    domain: Domain
    start: int
    width: int

    @property
    def kind(self) -> str:
        return self.domain.kind

    @property
    def size(self) -> int:
        """How many values a discrete slot has (0 for a continuous one)."""
        return getattr(self.domain, "size", 0)


class Encoding:
    """Map configs of one sub-space to feature vectors and back."""

    def __init__(self, sub: SubSpace):
        self.sub = sub
        slots, start = [], 0
        for path, domain in sub.leaves.items():
            draws = [(i, domain.domain) for i in range(domain.n)] if isinstance(domain, Repeat) else [(None, domain)]
            for item, draw in draws:
                if draw.dims == 0:
                    continue
                width = draw.size if draw.kind == "categorical" else 1
                slots.append(Slot(path, item, draw, start, width))
                start += width
        if start > MAX_FEATURES:
            raise ConfigError(("space",), f"gp and tpe would see {start} features in {sub.title}, more than {MAX_FEATURES}")
        self.slots: list[Slot] = slots
        self.width = start
        #: features a gradient optimiser may move freely (continuous slots)
        self.continuous = np.zeros(start, dtype=bool)
        for slot in slots:
            self.continuous[slot.start] = slot.kind == "continuous"
        self.discrete = [slot for slot in slots if slot.kind != "continuous"]

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """The features of a config; ValueError when it is not a config of this sub-space."""
        x = np.zeros(self.width)
        for slot in self.slots:
            value = _get(config, slot.path)
            if slot.item is not None:
                count = self.sub.leaves[slot.path].n  # type: ignore[attr-defined]
                if not isinstance(value, list) or len(value) != count:
                    raise ValueError(f"{'.'.join(slot.path)}: expected a list of {count} values, got {value!r}")
                value = value[slot.item]
            if slot.kind == "categorical":
                x[slot.start + slot.domain.index(value)] = 1.0
            else:
                x[slot.start] = slot.domain.to_unit(value)
        return x

    def decode(self, x: np.ndarray) -> dict:
        """The config at a feature vector (snapped to the nearest valid point first)."""
        values: dict[Path, Any] = {}
        for slot in self.slots:
            value = slot.domain.from_unit(self._unit(slot, x))
            if slot.item is None:
                values[slot.path] = value
            else:
                values.setdefault(slot.path, []).append(value)
        for path, domain in self.sub.leaves.items():
            if path not in values:  # constants, and repeats of constants
                values[path] = domain.decode([])
        return self.sub.assemble(values)

    def from_unit(self, unit: np.ndarray) -> np.ndarray:
        """Valid feature vectors for points of the sub-space's unit cube, shape (m, sub.dims)."""
        unit = np.atleast_2d(unit)
        x = np.zeros((len(unit), self.width))
        for column, slot in enumerate(self.slots):
            u = unit[:, column]
            if slot.kind == "continuous":
                x[:, slot.start] = u
                continue
            index = slot.domain.cells(u)
            if slot.kind == "categorical":
                x[np.arange(len(u)), slot.start + index] = 1.0
            else:
                x[:, slot.start] = slot.domain.centres(index)
        return x

    def snap(self, x: np.ndarray) -> np.ndarray:
        """The nearest valid feature vectors: ordinals to their cell centres, categoricals to one-hot."""
        x = np.clip(np.array(x, dtype=float), 0.0, 1.0)
        flat = np.atleast_2d(x)
        for slot in self.discrete:
            block = flat[:, slot.start:slot.start + slot.width]
            if slot.kind == "categorical":
                index = np.argmax(block, axis=1)
                block[:] = 0.0
                block[np.arange(len(block)), index] = 1.0
            else:
                block[:, 0] = slot.domain.centres(slot.domain.cells(block[:, 0]))
        return x

    def neighbours(self, x: np.ndarray) -> np.ndarray:
        """Valid points one discrete step away: an ordinal moved by one value, or a categorical changed."""
        found = []
        for slot in self.discrete:
            if slot.kind == "categorical":
                current = int(np.argmax(x[slot.start:slot.start + slot.width]))
                for other in range(slot.width):
                    if other != current:
                        y = x.copy()
                        y[slot.start:slot.start + slot.width] = 0.0
                        y[slot.start + other] = 1.0
                        found.append(y)
            else:
                index = int(slot.domain.cells(x[slot.start]))
                for other in (index - 1, index + 1):
                    if 0 <= other < slot.size:
                        y = x.copy()
                        y[slot.start] = slot.domain.centres(other)
                        found.append(y)
        return np.array(found, dtype=float).reshape(len(found), self.width)

    def _unit(self, slot: Slot, x: np.ndarray) -> float:
        if slot.kind == "categorical":
            return float(slot.domain.centres(int(np.argmax(x[slot.start:slot.start + slot.width]))))
        return float(min(max(x[slot.start], 0.0), np.nextafter(1.0, 0.0)))


def _get(config: Mapping[str, Any], path: Path) -> Any:
    value: Any = config
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            raise ValueError(f"the config has no {'.'.join(path)}")
        value = value[key]
    return value
