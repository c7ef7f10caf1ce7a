"""Searchers by name; each is an ask/tell object with no knowledge of backends.

Each searcher's module is imported when it is first made, so a study that uses no model searcher
never loads scipy.optimize, and a reader of a study (``status``) loads no searcher at all.
"""
from __future__ import annotations

import difflib
from importlib import import_module
from typing import Any

from ..errors import ConfigError
from ..space import Space
from .background import Background
from .base import Searcher, Suggestion, trial_seed


class _Searchers(dict):
    """Searcher classes by name; a value given as "module:Class" is imported when first looked up."""

    def __getitem__(self, name: str) -> type[Searcher]:
        found = super().__getitem__(name)
        if isinstance(found, str):
            module, _, cls = found.partition(":")
            found = self[name] = getattr(import_module(f"{__name__}.{module}"), cls)
        return found

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default


SEARCHERS: dict[str, type[Searcher]] = _Searchers(
    random="random_search:RandomSearch", grid="grid:GridSearch", sobol="sobol:SobolSearch",
    explicit="explicit:ExplicitSearch", gp="gp:GPSearch", tpe="tpe:TPESearch", auto="auto:AutoSearch")

__all__ = ["Background", "Searcher", "Suggestion", "SEARCHERS", "make_searcher", "trial_seed"]


def make_searcher(algorithm: dict[str, Any], space: Space | None, seed: int, mode: str = "min",
                  budget: int | None = None) -> Searcher:
    """Build the searcher ``algorithm["name"]`` with the rest of ``algorithm`` as its options; ``budget``
    is the study's trial budget, when known."""
    options = dict(algorithm)
    name = options.pop("name", None)
    if not isinstance(name, str) or name not in SEARCHERS:
        close = difflib.get_close_matches(str(name), SEARCHERS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(("algorithm", "name"), f"unknown algorithm {name!r}{hint}; expected one of {', '.join(SEARCHERS)}")
    return SEARCHERS[name](space, seed, options, mode, budget)
