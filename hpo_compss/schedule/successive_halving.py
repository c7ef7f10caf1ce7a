"""Asynchronous successive halving (ASHA, Li et al. 2020) and Hyperband's brackets of it (Li et al. 2018).

Rungs sit at ``min``, ``min * eta``, ``min * eta**2``... up to ``max``. A rung judges a trial against
the others that reached it, and keeps the best ``1 / eta``. Two forms (``"type"``):

- ``stopping``: every trial is given ``max``. When it first reports at or past a rung, its value there
  is recorded; it goes on while it is among the best ``ceil(n / eta)`` of the ``n`` values the rung
  holds, and is pruned otherwise. A rung with fewer than ``eta`` values lets every trial pass.
- ``promotion``: a new trial is given the first rung's budget and is *paused* when it returns there.
  Whenever a slot frees, the highest rung with a paused trial among its best ``floor(n / eta)`` promotes
  that trial: it continues from its checkpoint with the next rung's budget. Only when no trial can be
  promoted does a new config start. Nothing is ever stopped in the middle, and nothing is lost: a
  paused trial can still be promoted later, when the rung has more results. A rung k rungs below the
  top promotes only once it holds ``eta**k`` results, as many as it takes to send one trial to the
  top: earlier promotions rest on a handful of results, and a model searcher, which proposes from
  the first rung's results, would see few of them before the workers fill with promoted trials.

  Low rungs may mislead: a config that learns fast looks best early and may end worst. So
  ``hedges`` new trials (default ``HEDGES``, ``HEDGES_AT_ONCE`` at a time) are given the full budget,
  as Hyperband's last bracket is, and their reports give their values at every rung: a sample no rung
  chose. Once they have ended, a rung whose ranking of them agrees with the top's (Kendall's tau at
  least ``RELIABLE_TAU``) is reliable, and the lowest rung above every unreliable one becomes the
  floor: new trials start there, and no rung below it promotes. Trials that report nothing give no
  sample; then, as with ``"hedges": 0``, every rung is trusted.
  Each paused trial keeps its checkpoint; ``max_paused`` bounds them: beyond it, the paused trial at
  the lowest rung with the worst rank there is retired (it ends as pruned, its checkpoint deleted)
  and is never promoted.

``hyperband`` runs several such systems (brackets) at once: bracket ``s`` starts its trials at
``max * eta**-s``, and new trials go to the brackets in proportion to the number of configs Hyperband's
table gives each (``hyperband_brackets``), in a fixed cycle by trial id, so a resumed study puts every
trial where the first run did.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

from ..errors import ConfigError
from .base import CONTINUE, PRUNE, Scheduler

STOPPING, PROMOTION = "stopping", "promotion"
#: hedges (trials started at the full budget to sample every rung) by default, and how many run at once
HEDGES = 6
HEDGES_AT_ONCE = 2
#: a rung is reliable when its ranking of the hedges agrees this well with the top's (Kendall's tau):
#: with 6 hedges, at most 3 of their 15 pairs the other way round. Real curves (the MLP example) shuffle
#: near-equal configs at every rung: 0.7 judged even their 9th epoch unreliable; crossing curves give < 0
RELIABLE_TAU = 0.5


def rung_levels(low: float, high: float, eta: int) -> list[float]:
    """``low * eta**k`` for k = 0, 1... while below ``high``, then ``high``."""
    levels, level = [], low
    while level < high * (1 - 1e-9):
        levels.append(level)
        level *= eta
    return levels + [high]


def hyperband_brackets(low: float, high: float, eta: int) -> list[tuple[int, float]]:
    """Hyperband's brackets, most aggressive first: (configs n, starting budget r) for s = s_max... 0,
    with s_max = floor(log_eta(high / low)), n = ceil((s_max + 1) / (s + 1) * eta**s), r = high * eta**-s."""
    s_max = int(math.floor(math.log(high / low, eta) + 1e-9))
    return [(math.ceil((s_max + 1) / (s + 1) * eta ** s), high * eta ** -s) for s in range(s_max, -1, -1)]


@dataclass
class _Bracket:
    """One successive-halving system: its rungs and what reached each.

    Each rung keeps its results ranked (value, then trial id) and a frontier before which every trial
    has been promoted, so finding the next promotion costs little however many trials a rung holds.
    """

    levels: list[float]
    #: per rung below the top: the (sign-adjusted) value of each trial recorded there
    recorded: list[dict[int, float]] = field(default_factory=list)
    ranked: list[list[tuple[float, int]]] = field(default_factory=list)
    promoted: list[set[int]] = field(default_factory=list)
    frontier: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        below_top = range(len(self.levels) - 1)
        self.recorded = [{} for _ in below_top]
        self.ranked = [[] for _ in below_top]
        self.promoted = [set() for _ in below_top]
        self.frontier = [0 for _ in below_top]

    def rung_of(self, budget: float) -> int:
        return min(range(len(self.levels)), key=lambda k: abs(self.levels[k] - budget))

    def record(self, rung: int, trial: int, value: float) -> int:
        """Record the trial's value at the rung (once); returns its rank there, 0 for the best."""
        if trial in self.recorded[rung]:
            return bisect.bisect_left(self.ranked[rung], (self.recorded[rung][trial], trial))
        self.recorded[rung][trial] = value
        rank = bisect.bisect_left(self.ranked[rung], (value, trial))
        self.ranked[rung].insert(rank, (value, trial))
        self.frontier[rung] = min(self.frontier[rung], rank)
        return rank

    def next_promotion(self, rung: int, eta: int) -> int | None:
        """The best trial of the rung's top ``floor(n / eta)`` not yet promoted from it, if any; none before
        the rung holds ``eta**k`` results, k its rungs below the top."""
        ranked, promoted = self.ranked[rung], self.promoted[rung]
        top = len(ranked) // eta if len(ranked) >= eta ** (len(self.levels) - 1 - rung) else 0
        while self.frontier[rung] < top and ranked[self.frontier[rung]][1] in promoted:
            self.frontier[rung] += 1
        return ranked[self.frontier[rung]][1] if self.frontier[rung] < top else None


class SuccessiveHalving(Scheduler):
    """``asha``: one bracket from ``min`` to ``max``."""

    name = "asha"
    OPTIONS = {"min", "max", "eta", "type", "hedges", "max_paused"}

    def configure(self) -> None:
        if "max" not in self.spec:
            raise ConfigError(("scheduler", "max"), f"missing: the budget (in {self.resource}) every trial runs up to")
        self.min_budget = self.option("min", float, 1.0, 1e-12)
        self.max = self.option("max", float, None, self.min_budget)
        self.eta = self.option("eta", int, 3, 2, 1000)
        self.type = self.option("type", str, STOPPING)
        self.hedge_count = self.option("hedges", int, HEDGES, 0, 1000)
        if self.type not in (STOPPING, PROMOTION):
            raise ConfigError(("scheduler", "type"), f"expected \"stopping\" or \"promotion\", got {self.type!r}")
        self.brackets = [_Bracket(rung_levels(start, self.max, self.eta)) for start in self.starts()]
        #: per bracket, how many trials it gets in each cycle of len(cycle) new trials
        self.cycle = self.bracket_cycle()
        #: the rung each trial of the stopping form has passed
        self.passed: dict[int, int] = {}
        #: at most this many trials wait paused (None: no bound), and the rung each paused trial waits at
        self.max_paused = self.option("max_paused", int, None, 1, 10**9)
        self.paused: dict[int, int] = {}
        #: hedges running (trials that start at the full budget while others start below it), and each
        #: hedge that ran to its end's values at the rungs of ``rungs``
        self.hedges: set[int] = set()
        self.sampled: list[list[float]] = []
        #: the least budget a new trial starts at, and a promotion starts from
        self.floor = self.min_budget

    def starts(self) -> list[float]:
        return [self.min_budget]

    def bracket_cycle(self) -> list[int]:
        return [0]

    def bracket(self, trial: int) -> _Bracket:
        return self.brackets[self.cycle[trial % len(self.cycle)]]

    @property
    def rungs(self) -> list[float]:
        return self.brackets[0].levels

    def first_budget(self, trial: int) -> float:
        if self.type == STOPPING or self.hedge_due():
            return self.max
        return max(self.bracket(trial).levels[0], self.floor)

    def hedge_due(self) -> bool:
        """Is a new trial a hedge: are hedges still wanted, and are few running?"""
        return self.floor < self.max and len(self.hedges) < HEDGES_AT_ONCE and len(self.sampled) + len(self.hedges) < self.hedge_count

    def judge_rungs(self) -> None:
        """Raise the floor above every rung whose ranking of the hedges disagrees with the top's."""
        if not self.hedge_count or len(self.sampled) < self.hedge_count:
            return
        from scipy.stats import kendalltau  # (only here: the scheduler is loaded by every experiment file)

        top = [values[-1] for values in self.sampled]
        floor = len(self.rungs) - 1
        while floor > 0 and kendalltau([values[floor - 1] for values in self.sampled], top).statistic >= RELIABLE_TAU:
            floor -= 1  # (a rung that cannot rank them, all equal, gives nan: not reliable)
        self.floor = self.rungs[floor]

    # -- stopping -------------------------------------------------------------------------------------
    def decide(self, trial: int, step: float, value: float) -> str:
        if self.type != STOPPING:
            return CONTINUE
        bracket = self.bracket(trial)
        rung = self.passed.get(trial, 0)
        while rung < len(bracket.levels) - 1 and step >= bracket.levels[rung]:  # the top rung judges nothing
            rank = bracket.record(rung, trial, value)
            count = len(bracket.ranked[rung])
            rung += 1
            self.passed[trial] = rung
            if count >= self.eta and rank >= math.ceil(count / self.eta):
                return PRUNE
        return CONTINUE

    # -- promotion ------------------------------------------------------------------------------------
    def pauses(self, trial: int, budget: float | None) -> bool:
        bracket = self.bracket(trial)
        return self.type == PROMOTION and budget is not None and bracket.rung_of(budget) < len(bracket.levels) - 1

    def on_pause(self, trial: int, budget: float, value: float) -> None:
        bracket = self.bracket(trial)
        self.paused[trial] = bracket.rung_of(budget)
        bracket.record(self.paused[trial], trial, self.sign * value)

    def retirements(self) -> list[int]:
        excess = len(self.paused) - self.max_paused if self.max_paused is not None else 0
        if excess <= 0:
            return []

        def promise(trial: int) -> tuple[int, float]:
            """Lower for a trial at a lower rung, then for a worse rank there."""
            bracket, rung = self.bracket(trial), self.paused[trial]
            rank = bracket.record(rung, trial, bracket.recorded[rung][trial])
            return rung, -rank / len(bracket.ranked[rung])

        return sorted(self.paused, key=promise)[:excess]

    def promotion(self) -> tuple[int, float] | None:
        if self.type != PROMOTION:
            return None
        for bracket in self.brackets:
            for rung in range(len(bracket.levels) - 2, -1, -1):
                if bracket.levels[rung] < self.floor:
                    break
                trial = bracket.next_promotion(rung, self.eta)
                if trial is not None:
                    return trial, bracket.levels[rung + 1]
        return None

    def on_start(self, trial: int, budget: float | None) -> None:
        super().on_start(trial, budget)
        self.paused.pop(trial, None)
        if self.type == PROMOTION and budget is not None:
            bracket = self.bracket(trial)
            rung = bracket.rung_of(budget)
            if rung > 0:
                bracket.promoted[rung - 1].add(trial)
            paused_before = any(trial in recorded for recorded in bracket.recorded)
            if budget >= self.max and self.floor < self.max and self.hedge_count and not paused_before:
                self.hedges.add(trial)

    def on_end(self, trial: int, complete: bool) -> None:
        """A paused trial that ends (retired) is never promoted; a hedge that ran to its end gives its value
        at each rung: its first report at or past it."""
        super().on_end(trial, complete)
        rung = self.paused.pop(trial, None)
        if rung is not None:
            self.bracket(trial).promoted[rung].add(trial)
        if trial not in self.hedges:
            return
        self.hedges.discard(trial)
        curve = self.curves.get(trial, [])
        values = [next((value for step, value in curve if step >= level * (1 - 1e-9)), None) for level in self.rungs]
        if complete and None not in values:
            self.sampled.append(values)
            self.judge_rungs()

    def describe(self) -> str:
        return f"asha ({self.type}) on {self.resource}, rungs {', '.join(f'{r:g}' for r in self.rungs)}"


class Hyperband(SuccessiveHalving):
    """``hyperband``: Hyperband's brackets, each an asynchronous successive halving."""

    name = "hyperband"

    def starts(self) -> list[float]:
        return [start for _, start in hyperband_brackets(self.min_budget, self.max, self.eta)]

    def bracket_cycle(self) -> list[int]:
        """Bracket indices in the proportions of Hyperband's table, spread: each next trial goes to the
        bracket furthest behind its share."""
        sizes = [n for n, _ in hyperband_brackets(self.min_budget, self.max, self.eta)]
        given = [0] * len(sizes)
        cycle = []
        for _ in range(sum(sizes)):
            index = min(range(len(sizes)), key=lambda b: ((given[b] + 1) / sizes[b], b))
            given[index] += 1
            cycle.append(index)
        return cycle

    def describe(self) -> str:
        brackets = "; ".join(", ".join(f"{r:g}" for r in b.levels) for b in self.brackets)
        return f"hyperband ({self.type}) on {self.resource}, brackets {brackets}"

