"""The one error a user sees for bad input: a key path and what was expected there."""
from __future__ import annotations

from typing import Iterable, Union

Key = Union[str, int]


def format_path(path: Iterable[Key]) -> str:
    """Render ("space", "kernel", 0) as ``space.kernel[0]`` (the form jq users know)."""
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "(top level)"


class ConfigError(ValueError):
    """Invalid experiment or space: carries the JSON key path so the message can point at it."""

    def __init__(self, path: Iterable[Key], expected: str):
        self.path = tuple(path)
        self.expected = expected
        super().__init__(f"{format_path(self.path)}: {expected}")


class InvalidConfig(ConfigError):
    """A drawn config whose dependent values cannot be computed: that one trial fails, not the study.

    ``config`` holds what could be built (every drawn value, the dependents computed before the
    failing one), so the journal records the point and a model searcher learns from it.
    """

    def __init__(self, path: Iterable[Key], expected: str, config: dict, subspace: str):
        super().__init__(path, expected)
        self.config = config
        self.subspace = subspace
