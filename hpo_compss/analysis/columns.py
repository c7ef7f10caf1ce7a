"""A config as table columns: its leaves by dotted path, so nested and exclusive configs line up in rows."""
from __future__ import annotations

from typing import Any

from ..experiment import Experiment
from ..space.domains import Repeat


def flatten(config: Any, prefix: str = "") -> dict[str, Any]:
    """{"model": {"C": 1}, "layers": [8, 16]} -> {"model.C": 1, "layers[0]": 8, "layers[1]": 16}."""
    if isinstance(config, dict):
        out: dict[str, Any] = {}
        for key, value in config.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(config, list):
        out = {}
        for i, value in enumerate(config):
            out.update(flatten(value, f"{prefix}[{i}]"))
        return out
    return {prefix: config}


def log_scaled(experiment: Experiment) -> set[str] | None:
    """Flattened names of parameters whose domain is on a log scale (None without a space: explicit configs)."""
    if experiment.space is None:
        return None
    names: set[str] = set()
    for sub in experiment.space.subspaces:
        for path, domain in sub.leaves.items():
            name = ".".join(str(p) for p in path)
            inner = domain.domain if isinstance(domain, Repeat) else domain
            if inner.log_scale:
                names.update([name] if not isinstance(domain, Repeat) else [f"{name}[{i}]" for i in range(domain.n)])
    return names
