"""An explicit list of configs (PHS's explicit sets), evaluated in the order given."""
from __future__ import annotations

import copy

from ..errors import ConfigError
from .base import Searcher, Suggestion


class ExplicitSearch(Searcher):
    name = "explicit"
    needs_space = False

    def configure(self) -> None:
        configs = self.options.pop("configs", None)
        if not isinstance(configs, list) or not configs:
            raise ConfigError(("algorithm", "configs"), "expected a non-empty list of config objects")
        for index, config in enumerate(configs):
            if not isinstance(config, dict):
                raise ConfigError(("algorithm", "configs", index), f"expected an object, got {config!r}")
        self.configs = configs

    @property
    def size(self) -> int:
        return len(self.configs)

    def ask(self, config_id: int, budget: float | None = None, subspace: str | None = None) -> Suggestion:
        return Suggestion(copy.deepcopy(self.configs[config_id % len(self.configs)]))
