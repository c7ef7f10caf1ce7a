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
