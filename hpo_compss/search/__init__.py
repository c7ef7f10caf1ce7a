"""Searchers by name; each is an ask/tell object with no knowledge of backends."""
from __future__ import annotations

import difflib
from typing import Any

from ..errors import ConfigError
from ..space import Space
from .background import Background
from .base import Searcher, Suggestion, trial_seed
from .explicit import ExplicitSearch
from .gp import GPSearch
from .grid import GridSearch
from .random_search import RandomSearch
from .sobol import SobolSearch
from .tpe import TPESearch

SEARCHERS: dict[str, type[Searcher]] = {cls.name: cls for cls in (RandomSearch, GridSearch, SobolSearch, ExplicitSearch, GPSearch, TPESearch)}

__all__ = ["Background", "Searcher", "Suggestion", "SEARCHERS", "make_searcher", "trial_seed"]


def make_searcher(algorithm: dict[str, Any], space: Space | None, seed: int, mode: str = "min") -> Searcher:
    """Build the searcher ``algorithm["name"]`` with the rest of ``algorithm`` as its options."""
    options = dict(algorithm)
    name = options.pop("name", None)
    if not isinstance(name, str) or name not in SEARCHERS:
        close = difflib.get_close_matches(str(name), SEARCHERS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(("algorithm", "name"), f"unknown algorithm {name!r}{hint}; expected one of {', '.join(SEARCHERS)}")
    return SEARCHERS[name](space, seed, options, mode)
