"""When a study stops itself before its budget: a target reached, no improvement for a while
(patience), or a run whose first attempts all fail alike (a bug in the objective, caught before it
burns the allocation)."""
from __future__ import annotations

from ..experiment import Experiment
from ..results import ConfigState


def failure_signature(reason: str) -> str:
    """What two failures must share to be "the same": ``exception: KeyError``, ``crashed: killed by SIGSEGV``."""
    return ": ".join(reason.split(": ")[:2])


class StopRules:
    """The stop rules of one run of a study; each answer is a reason to stop, or "" to go on."""

    def __init__(self, experiment: Experiment):
        self.experiment = experiment
        #: configs finished since the best last improved (``stop.patience``)
        self.stale = 0
        #: the failure signatures of this run's first attempts, while they all failed alike
        self.opening: list[str] = []

    def config_done(self, state: ConfigState, improved: bool) -> str:
        """A config has all its results: stop at the target, or when patience ran out (both final)."""
        self.stale = 0 if improved else self.stale + 1
        experiment = self.experiment
        if state.mean is not None and experiment.reached_target(state.mean):
            return f"target {experiment.target:g} reached by trial {state.first_trial}"
        if experiment.patience is not None and self.stale >= experiment.patience:
            return f"no improvement in {self.stale} configs (patience)"
        return ""

    def attempt_ended(self, status: str, reason: str) -> bool:
        """An attempt of this run ended: True when it makes the first ``first_failures`` all fail alike."""
        limit = self.experiment.first_failures
        if not limit or status == "cancelled" or len(self.opening) >= limit:
            return False
        if status != "failed":
            self.opening = [""] * limit  # a success: the rule is done for this run
            return False
        self.opening.append(failure_signature(reason))
        return len(self.opening) == limit and len(set(self.opening)) == 1
