"""The searcher interface: ask for the config of a given id, tell it the result.

Searchers know nothing of processes or runtimes. ``ask(config_id)`` is called with consecutive ids;
the non-adaptive searchers make each config a pure function of (seed, config_id), so a study is the
same whatever order trials finish in and whatever the number of workers. Adaptive searchers are
reproducible given the order of ``tell`` calls, which the journal records and replays.
"""
from __future__ import annotations

import hashlib
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, did_you_mean
from ..space import Space
from ..space.structure import SubSpace


@dataclass(frozen=True)
class Suggestion:
    config: dict
    #: the exclusive sub-space it came from ("" when the space has only one)
    subspace: str = ""


class Searcher(ABC):
    """Base class: subclasses set ``name``, read their options in ``configure`` and implement ``ask``."""

    name: str = ""
    needs_space: bool = True
    #: whether its proposals depend on results (then it is asked on a thread of its own, see .background)
    adaptive: bool = False
    #: when above 0, results reach it in fixed batches of this many configs, in config-id order, so its
    #: proposals are the same whatever the number of workers and the order trials end in (.background)
    batch: int = 0

    def __init__(self, space: Space | None, seed: int, options: dict[str, Any], mode: str = "min",
                 budget: int | None = None):
        if self.needs_space and space is None:
            raise ConfigError(("space",), f"the '{self.name}' algorithm needs a search space")
        self.space = space
        self.seed = seed
        self.mode = mode
        #: the study's trial budget, when known (a searcher may choose how to search by it)
        self.budget = budget
        self.options = dict(options)
        #: the options ``option`` was asked for, which an unknown one is compared with
        self.known: list[str] = []
        #: +1 when smaller values are better, -1 when larger ones are: ``sign * value`` is always minimised
        self.sign = 1.0 if mode == "min" else -1.0
        self.configure()
        if self.options:
            key = sorted(self.options)[0]
            raise ConfigError(("algorithm", key),
                              f"unknown option for the '{self.name}' algorithm{did_you_mean(key, self.known)}")

    def configure(self) -> None:
        """Read the algorithm's options with ``option`` and set up; an option left unread is an error."""

    def describe(self) -> str:
        """What searches, for the start-up line."""
        return f"algorithm {self.name}{self.batching()}"

    def batching(self) -> str:
        if not self.batch:
            return ""
        return f", told results in batches of {self.batch} configs (the same configs with any number of workers)"

    @property
    def size(self) -> int | None:
        """How many distinct configs it can propose; None when unbounded."""
        return None

    @abstractmethod
    def ask(self, config_id: int, budget: float | None = None, subspace: str | None = None) -> Suggestion:
        """The config to evaluate as ``config_id`` (ids are asked in increasing order); ``budget``: the
        budget its scheduler gives its first run (None: none, it runs to its end); ``subspace``: the
        exclusive sub-space to draw it from, when the scheduler chose one (None: the searcher picks).

        A searcher that picks sub-spaces by a draw makes that draw whether or not one is given, so
        ``ask(i, subspace=s)`` is ``ask(i)`` whenever ``ask(i)`` falls in ``s``."""

    def tell(self, config_id: int, suggestion: Suggestion, value: float | None, budget: float | None = None) -> None:
        """The config's result (the mean over repeats), or None when every attempt failed; ``budget``: the
        budget its scheduler gave the run (None: none, the run went to its end). A multi-fidelity
        scheduler's config is told its value at each budget it reaches."""

    def restore(self, config_id: int, suggestion: Suggestion) -> bool:
        """Take back a config an earlier run asked for (from the journal, before its result is told).

        Returns False when the searcher would now propose another config; adaptive searchers, whose
        proposals depend on results, override it to note the config as pending without asking.
        """
        return self.ask(config_id, subspace=suggestion.subspace or None).config == suggestion.config

    def option(self, key: str, kind: type, default: Any, low: float | None = None, high: float | None = None) -> Any:
        """Read one option with a clear error naming ``algorithm.<key>``."""
        self.known.append(key)
        value = self.options.pop(key, default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ConfigError(("algorithm", key), f"expected {kind.__name__}, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(("algorithm", key), f"expected a value in [{low}, {high}], got {value!r}")
        return value

    def subspace_named(self, name: str | None, drawn: int) -> SubSpace:
        """The sub-space ``name``, or (None, or a name the space no longer has) the ``drawn``-th one."""
        subspaces = self.space.subspaces
        return next((sub for sub in subspaces if sub.name == name), subspaces[drawn])



def _hash(seed: int, stream: int, index: int, bits: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{stream}:{index}".encode(), digest_size=bits // 8).digest()
    return int.from_bytes(digest, "little")


def rng_for(seed: int, stream: int, index: int) -> random.Random:
    """An independent generator for one (seed, stream, index), cheap enough to make per config."""
    return random.Random(_hash(seed, stream, index, 128))


def trial_seed(seed: int, trial: int) -> int:
    """The seed a trial's objective gets (32 bits, as numpy's legacy seeding wants): f(study seed, trial id)."""
    return _hash(seed, 1, trial, 32)
