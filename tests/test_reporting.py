"""Trials that report as they run, and trials stopped one at a time (the local engine and the driver)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from hpo_compss.runtime.local import STOP_GRACE, LocalEngine
from hpo_compss.runtime.resources import detect_machine
from hpo_compss.trial import ComputeClass, Report, Trial

from conftest import objective, processes_of


def task(study: Path, trial: int, config: dict, budget: float | None = None) -> Trial:
    return Trial(trial, trial, 0, 1, trial, config, workdir=str(study / "trials" / str(trial)), budget=budget)


def engine(study: Path, name: str) -> LocalEngine:
    (study / "trials").mkdir(parents=True)
    return LocalEngine(detect_machine(cpus=1), [ComputeClass("cpu")], objective(name), study)


def events_until(local: LocalEngine, done, seconds: float = 30.0) -> list:
    deadline = time.monotonic() + seconds
    events: list = []
    while not done(events):
        assert time.monotonic() < deadline, f"still waiting after {seconds} s: {events}"
        events += local.wait(0.1)
    return events


def reports(events: list) -> list[tuple[float, float]]:
    return [(e.step, e.value) for e in events if isinstance(e, Report)]


def test_reports_arrive_in_order_while_the_trial_runs_and_before_its_end(tmp_path):
    study = tmp_path / "study"
    with engine(study, "learning_curve") as local:
        local.submit(task(study, 0, {"x": 1.0, "pause": 0.3}, budget=4), ComputeClass("cpu"))
        first = events_until(local, lambda events: events)
        assert reports(first) == [(1.0, 2.0)] and local.running == 1  # while the trial still runs
        rest = events_until(local, lambda events: any(not isinstance(e, Report) for e in events))
    assert reports(first + rest) == [(1.0, 2.0), (2.0, 1.5), (3.0, 1.0 + 1 / 3), (4.0, 1.25)]
    (end,) = [e for e in rest if not isinstance(e, Report)]
    assert end.outcome.status == "complete" and end.outcome.value == 1.25 and end.outcome.step == 4.0
    # trial.budget reached the objective, and its checkpoint folder is trials/<id>/checkpoint
    assert (study / "trials" / "0" / "checkpoint" / "steps.txt").read_text().split() == ["1", "2", "3", "4"]


def test_a_stopped_trial_ends_pruned_at_its_next_report_and_its_slot_is_reused(tmp_path):
    study = tmp_path / "study"
    with engine(study, "learning_curve") as local:
        local.submit(task(study, 0, {"x": 1.0, "pause": 0.2}, budget=1000), ComputeClass("cpu"))
        events = events_until(local, lambda events: len(reports(events)) >= 2)
        (worker,) = processes_of(study)
        asked = time.monotonic()
        local.stop(0, "pruned")
        events += events_until(local, lambda events: local.running == 0)
        took = time.monotonic() - asked
        assert local.free_classes()  # its core is back in the pool
        local.submit(task(study, 1, {"x": 0.0, "pause": 0.0}, budget=2), ComputeClass("cpu"))
        after = events_until(local, lambda events: local.running == 0)
        assert processes_of(study) == [worker]  # the same worker process ran the next trial
    (end,) = [e for e in events if not isinstance(e, Report)]
    last_step, last_value = reports(events)[-1]
    assert took < 1.0
    assert end.outcome.status == "pruned" and end.outcome.value == last_value and end.outcome.step == last_step
    assert end.outcome.reason == f"stopped by the scheduler at step {last_step:g}"
    steps_run = (study / "trials" / "0" / "checkpoint" / "steps.txt").read_text().split()
    assert len(steps_run) == last_step  # it did not go on after the step it was stopped at
    assert [e.outcome.status for e in after if not isinstance(e, Report)] == ["complete"]


def test_a_stopped_trial_that_does_not_report_again_is_killed_within_a_second(tmp_path):
    study = tmp_path / "study"
    with engine(study, "deaf_after_one_report") as local:
        marker = tmp_path / "deaf"
        local.submit(task(study, 0, {"x": 0.25, "marker": str(marker)}), ComputeClass("cpu"))
        events_until(local, lambda events: reports(events) and marker.exists())  # past its report's look for a stop
        (worker,) = processes_of(study)
        asked = time.monotonic()
        local.stop(0, "pruned")
        (end,) = events_until(local, lambda events: local.running == 0)
        took = time.monotonic() - asked
        gone = not os.path.exists(f"/proc/{worker}") or worker not in processes_of(study)
    assert STOP_GRACE <= took < 1.0 and gone
    assert end.outcome.status == "pruned" and end.outcome.value == 0.25 and end.outcome.step == 1.0
    assert "killed, as it had not returned" in end.outcome.reason


@pytest.mark.parametrize("bad, reason", [
    ("nan", "invalid report: report(2, nan): the value is nan"),
    ("backwards", "invalid report: report(0, ...): step 0 does not come after step 1"),
    ("text", "invalid report: report(2, '1.0'): the value is not a number"),
    ("inf step", "invalid report: report(inf, 1.0): the step is inf"),
    ("bool", "invalid report: report(2, True): the value is not a number"),
])
@pytest.mark.parametrize("catch", [False, True])
def test_a_bad_report_fails_its_trial_with_the_reason_even_if_the_objective_catches_it(tmp_path, bad, reason, catch):
    study = tmp_path / "study"
    with engine(study, "bad_report") as local:
        local.submit(task(study, 0, {"bad": bad, "catch": catch}), ComputeClass("cpu"))
        events = events_until(local, lambda events: local.running == 0)
    (end,) = [e for e in events if not isinstance(e, Report)]
    assert reports(events) == [(1.0, 1.0)]
    assert (end.outcome.status, end.outcome.reason, end.outcome.value) == ("failed", reason, None)
