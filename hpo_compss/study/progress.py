"""What the driver prints: the start-up lines, one line per ended attempt, and notes in between."""
from __future__ import annotations

from typing import IO

from ..clock import Clock
from ..experiment import Experiment
from ..results import Ledger


class Progress:
    """Writes to ``out`` (flushed at each note), timing from its creation on ``clock``."""

    def __init__(self, experiment: Experiment, out: IO[str], clock: Clock):
        self.experiment = experiment
        self.out = out
        self.clock = clock
        self.started = clock.monotonic()

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def attempt(self, record: dict, ledger: Ledger) -> None:
        """``[done/total] trial N value  best ...  elapsed  failures``, for an attempt that ended."""
        experiment = self.experiment
        total = experiment.trials * experiment.repeats
        done = ledger.n_ended
        best = ledger.best
        best_text = f"best {best.mean:.6g} (trial {best.first_trial})" if best else "best -"
        if record["status"] == "complete":
            what = f"{experiment.metric} {record['value']:.6g}"
        elif record["status"] == "pruned" and record.get("value") is not None:
            what = f"PRUNED at step {record.get('step', 0):g}, {experiment.metric} {record['value']:.6g}"
        elif record["status"] == "paused":
            what = f"paused at budget {record['budget']:g}, {experiment.metric} {record['value']:.6g}"
        else:
            what = f"{record['status'].upper()} ({record.get('reason', '')})"
            if record.get("retry"):
                what += f", retrying (attempt {record['attempt'] + 1} of {experiment.retries + 1})"
        self.out.write(f"[{done}/{total}] trial {record['trial']} {what}  {best_text}  "
                       f"{self.clock.monotonic() - self.started:.1f} s  failures {ledger.count('failed')}\n")

    def flush(self) -> None:
        self.out.flush()


def budget_text(budget: dict) -> str:
    seconds = f" and {budget['seconds']:g} s a run" if budget.get("seconds") is not None else ""
    return f"{budget.get('trials')} configs{seconds}"


def id_list(ids: list[int]) -> str:
    """``1, 2, 3`` up to ten ids, then how many more."""
    return ", ".join(map(str, ids[:10])) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
