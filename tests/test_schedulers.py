"""The schedulers' rules against hand-computed cases, and studies that prune trials as they report."""
from __future__ import annotations

import json
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest

from hpo_compss.schedule import CONTINUE, PRUNE, make_scheduler
from hpo_compss.schedule.successive_halving import rung_levels

from conftest import ROOT, cli, journal, objective, write_experiment


def test_asha_rungs_are_min_times_powers_of_eta_up_to_max():
    assert rung_levels(1, 81, 3) == [1, 3, 9, 27, 81]
    assert rung_levels(1, 100, 3) == [1, 3, 9, 27, 81, 100]
    assert rung_levels(2, 2, 2) == [2]


def test_asha_stops_a_trial_outside_the_top_third_of_its_rung_once_the_rung_holds_eta_values():
    asha = make_scheduler({"name": "asha", "min": 1, "max": 27, "eta": 3})
    # rung 1: 5 (alone: goes on), 3 (two values: goes on), 4 (of [3, 4, 5] only the best 1 goes on),
    # 1 (of four, the best 2 go on), 3.5 (of five, the best 2 go on: 1 and 3)
    decisions = [asha.on_report(trial, 1, value) for trial, value in enumerate([5, 3, 4, 1, 3.5])]
    assert decisions == [CONTINUE, CONTINUE, PRUNE, CONTINUE, PRUNE]
    # a report past several rungs at once is recorded at each; the top rung (the end) judges nothing
    assert asha.on_report(1, 30, 2.0) == CONTINUE
    assert asha.brackets[0].recorded == [{0: 5, 1: 3, 2: 4, 3: 1, 4: 3.5}, {1: 2.0}, {1: 2.0}]
    assert asha.on_report(1, 31, 9.0) == CONTINUE  # rungs it passed are not judged again


def test_asha_in_max_mode_keeps_the_largest_values():
    asha = make_scheduler({"name": "asha", "max": 9, "eta": 2}, mode="max")
    assert [asha.on_report(t, 1, v) for t, v in enumerate([0.5, 0.9, 0.1])] == [CONTINUE, CONTINUE, PRUNE]


def test_the_median_rule_compares_the_best_so_far_with_the_median_of_finished_running_averages():
    median = make_scheduler({"name": "median", "min": 1, "min_trials": 2})
    for trial, curve in ((0, [(1, 4.0), (2, 2.0)]), (1, [(1, 6.0), (2, 4.0)])):
        for step, value in curve:
            assert median.on_report(trial, step, value) == CONTINUE  # fewer than 2 finished: no judgement
        median.on_end(trial, complete=True)
    assert median.on_report(2, 1, 5.5) == PRUNE  # averages at step 1: 4 and 6, median 5
    assert median.on_report(3, 1, 4.5) == CONTINUE
    assert median.on_report(3, 2, 4.2) == PRUNE  # averages up to step 2: 3 and 5, median 4; best so far 4.2


def asha_study(tmp_path, pause: float = 0.01, trials: int = 12):
    return write_experiment(tmp_path, {
        "name": "asha", "objective": objective("learning_curve"),
        "space": {"x": {"uniform": [0, 1]}, "pause": {"constant": pause}},
        "algorithm": "random", "budget": {"trials": trials}, "seed": 3,
        "scheduler": {"name": "asha", "resource": "epochs", "min": 1, "max": 9, "eta": 3},
        "compute_classes": {"cpu": {"cpus": 1}}})


def replayed_prunes(records: list[dict]) -> dict[int, float]:
    """The trials a fresh ASHA would prune, and at which step, hearing the journal's reports in order."""
    asha = make_scheduler({"name": "asha", "min": 1, "max": 9, "eta": 3})
    pruned: dict[int, float] = {}
    for record in records:
        if "progress" in record and asha.on_report(record["progress"], record["step"], record["value"]) == PRUNE:
            pruned.setdefault(record["progress"], record["step"])
        elif record.get("status") == "running":
            asha.on_start(record["trial"], record.get("budget"))
    return pruned


def check_asha_journal(records: list[dict], stops_may_cross_ends: bool = False) -> None:
    """Every prune is the rule's decision. With ``stops_may_cross_ends`` (COMPSs, where a stop takes a
    poll of the inbox to arrive), a trial decided at its last steps may complete before its stop reaches it."""
    ends = {r["trial"]: r for r in records if r.get("status") in ("complete", "pruned", "failed")}
    reports: dict[int, list[dict]] = {}
    for record in records:
        if "progress" in record:
            reports.setdefault(record["progress"], []).append(record)
    pruned = {t: r for t, r in ends.items() if r["status"] == "pruned"}
    assert pruned and len(pruned) < len(ends)
    assert all(r["status"] != "failed" for r in ends.values())
    for trial, end in ends.items():
        last = reports[trial][-1]
        if end["status"] == "complete":
            assert last["step"] == 9 and end["budget"] == 9
        else:  # pruned at the step it was judged at, with the value it last reported there
            assert (end["value"], end["step"]) == (last["value"], last["step"])
    # every decision is the rule's, given the journal's order of reports; the trial stops at its next report
    # after the decision, so it may have run a step or two more meanwhile
    decided = replayed_prunes(records)
    assert set(pruned) <= set(decided)
    assert all(ends[t]["status"] == "complete" for t in set(decided) - set(pruned)) and (
        stops_may_cross_ends or set(decided) == set(pruned))
    assert all(decided[t] <= r["step"] < 9 for t, r in pruned.items())


def test_an_asha_study_prunes_trials_at_their_rungs_and_journals_every_report(tmp_path):
    path = asha_study(tmp_path)
    study = tmp_path / "study"
    result = cli("run", str(path), "--study-dir", str(study))
    assert result.returncode == 0, result.stderr
    assert "asha (stopping) on epochs, rungs 1, 3, 9" in result.stdout
    records = journal(study)
    check_asha_journal(records)
    for trial, status in {r["trial"]: r["status"] for r in records if "trial" in r}.items():  # pruned: deleted
        assert (study / "trials" / str(trial) / "checkpoint").exists() == (status == "complete")
    status = json.loads(cli("status", str(study), "--json").stdout)
    assert status["n_pruned"] == sum(r.get("status") == "pruned" for r in records)
    assert status["n_reports"] == sum("progress" in r for r in records)
    assert status["n_complete"] + status["n_pruned"] == 12


def test_an_asha_study_killed_mid_rung_resumes_with_every_decision_intact(tmp_path):
    path = asha_study(tmp_path, pause=0.15, trials=10)
    study = tmp_path / "study"
    driver = subprocess.Popen([sys.executable, "-m", "hpo_compss.cli", "run", str(path), "--study-dir", str(study)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ((study / "journal.jsonl").exists() and any(r.get("status") == "pruned" for r in journal(study))):
        assert time.monotonic() < deadline and driver.poll() is None
        time.sleep(0.05)
    time.sleep(0.4)  # into the next trial's steps
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    result = cli("resume", str(study))
    assert result.returncode == 0, result.stderr
    check_asha_journal(journal(study))


def test_scheduler_objects_validate_against_the_json_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((ROOT / "hpo_compss" / "experiment.schema.json").read_text())
    jsonschema.validate(json.loads(asha_study(tmp_path).read_text()), schema)
    for bad in ({"name": "asha"}, {"name": "asha", "max": 9, "eta": 1}, {"name": "median", "max": 9}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"objective": "m:f", "space": {"x": [1]}, "scheduler": bad}, schema)


# -- promotion: pause at a rung, continue from the checkpoint -------------------------------------------------
def test_hyperbands_brackets_are_the_papers_table_for_r_81_and_eta_3():
    from hpo_compss.schedule.successive_halving import hyperband_brackets

    assert hyperband_brackets(1, 81, 3) == [(81, 1), (34, 3), (15, 9), (8, 27), (5, 81)]
    hyperband = make_scheduler({"name": "hyperband", "min": 1, "max": 81, "eta": 3, "type": "promotion", "hedges": 0})
    assert [b.levels for b in hyperband.brackets] == [[1, 3, 9, 27, 81], [3, 9, 27, 81], [9, 27, 81], [27, 81], [81]]
    # new trials go to the brackets in the table's proportions, spread over a cycle of 143 trials
    cycle = [hyperband.cycle[t % len(hyperband.cycle)] for t in range(143)]
    assert [cycle.count(b) for b in range(5)] == [81, 34, 15, 8, 5]
    # each next trial goes to the bracket furthest behind its share: (given + 1) / size smallest
    assert cycle[:6] == [0, 0, 1, 0, 0, 1]
    assert [hyperband.first_budget(t) for t in range(6)] == [1, 1, 3, 1, 1, 3]


def test_asha_promotes_the_best_third_of_a_rung_once_it_holds_enough_results_to_reach_the_top():
    asha = make_scheduler({"name": "asha", "type": "promotion", "min": 1, "max": 9, "eta": 3, "hedges": 0})
    assert asha.first_budget(0) == 1 and asha.pauses(0, 1) and asha.pauses(0, 3) and not asha.pauses(0, 9)
    for trial, value in enumerate([5, 3, 4, 7, 8, 9, 10, 11]):
        asha.on_pause(trial, 1, value)
    assert asha.promotion() is None  # two rungs below the top: nothing goes on before 3**2 results
    asha.on_pause(8, 1, 12)
    assert asha.promotion() == (1, 3)  # the best of nine
    asha.on_start(1, 3)
    assert asha.promotion() == (2, 3)  # and the next of the best three
    asha.on_start(2, 3)
    asha.on_pause(9, 1, 1)
    assert asha.promotion() == (9, 3)  # of ten, the best one (trial 9) has not gone on yet
    asha.on_start(9, 3)
    assert asha.promotion() is None  # promoted once only
    asha.on_pause(1, 3, 2.5)
    asha.on_pause(2, 3, 0.7)
    assert asha.promotion() is None  # rung 3 holds two values: nothing from it before three
    asha.on_pause(9, 3, 0.5)
    assert asha.promotion() == (9, 9)  # the higher rung first


def promotion_study(tmp_path, pause: float = 0.01, trials: int = 14, name: str = "asha", **options) -> Path:
    return write_experiment(tmp_path, {
        "name": "promotion", "objective": objective("checkpointed_curve"),
        "space": {"x": {"uniform": [0, 1]}, "pause": {"constant": pause}},
        "algorithm": "random", "budget": {"trials": trials}, "seed": 5,
        "scheduler": {"name": name, "type": "promotion", "min": 1, "max": 9, "eta": 3, "hedges": 0, **options},
        "compute_classes": {"cpu": {"cpus": 1}}})


def check_promotion_journal(study: Path, name: str = "asha", killed: bool = False) -> None:
    """Every promotion is the one the rule picks given the journal before it; each run of a trial goes on
    from its checkpoint (its steps after those of its last pause); nothing is left to promote at the end."""
    records = journal(study)
    scheduler = make_scheduler({"name": name, "type": "promotion", "min": 1, "max": 9, "eta": 3, "hedges": 0})
    last_paused: dict[int, float] = {}
    promotions = 0
    runs: set[tuple[int, float]] = set()
    for record in records:
        if record.get("status") == "running":
            if record["budget"] > scheduler.first_budget(record["trial"]):
                if (record["trial"], record["budget"]) not in runs:  # else the rerun of an interrupted run
                    assert scheduler.promotion() == (record["trial"], record["budget"])
                    promotions += 1
                assert record.get("after_step") == last_paused[record["trial"]]
            runs.add((record["trial"], record["budget"]))
            scheduler.on_start(record["trial"], record["budget"])
        elif record.get("status") == "paused":
            # (a run killed after its save reruns with nothing left to report: its step stays the last one's)
            assert scheduler.pauses(record["trial"], record["budget"]) and (
                record.get("step") == record["budget"] or killed)
            scheduler.on_pause(record["trial"], record["budget"], record["value"])
            last_paused[record["trial"]] = record.get("step")
        elif "progress" in record and last_paused.get(record["progress"]) is not None:
            assert record["step"] > last_paused[record["progress"]]
    assert promotions >= 2 and scheduler.promotion() is None
    ends = {r["trial"]: r["status"] for r in records if r.get("status") in ("complete", "paused", "failed", "pruned")}
    assert set(ends.values()) <= {"complete", "paused"} and "complete" in ends.values()
    paused_at: dict[int, set[float]] = {}
    run_to: dict[int, set[float]] = {}
    for record in records:
        if record.get("status") == "paused":
            paused_at.setdefault(record["trial"], set()).add(record["budget"])
        if record.get("status") == "running":
            run_to.setdefault(record["trial"], set()).add(record["budget"])
    for trial in ends:  # each run started from scratch, from the checkpoint of a pause, or (a run
        # killed after its save, rerun) from the end of its own budget
        lines = (study / "trials" / str(trial) / "checkpoint" / "runs.txt").read_text().split("\n")[:-1]
        starts = [int(line.split()[0]) for line in lines]
        assert starts[0] == 1 and {start - 1 for start in starts} <= {0, *paused_at.get(trial, ()), *run_to[trial]}
        output = (study / "trials" / str(trial) / "stdout.txt").read_text().splitlines()  # every run's, in order
        expected = [f"run from step {line.split()[0]} to {line.split()[1]}" for line in lines]
        assert output == expected or (killed and set(output) <= set(expected))
        assert len(starts) >= len(paused_at.get(trial, ())) + (ends[trial] == "complete")


@pytest.mark.parametrize("name", ["asha", "hyperband"])
def test_a_promotion_study_pauses_trials_at_rungs_and_continues_them_from_their_checkpoints(tmp_path, name):
    trials = 14 if name == "asha" else 18  # hyperband's first bracket needs 9 of its own at its first rung
    path = promotion_study(tmp_path, name=name, trials=trials)
    study = tmp_path / "study"
    result = cli("run", str(path), "--study-dir", str(study))
    assert result.returncode == 0, result.stderr
    assert f"{name} (promotion)" in result.stdout and "paused at budget 1" in result.stdout
    check_promotion_journal(study, name)
    status = json.loads(cli("status", str(study), "--json").stdout)
    assert status["n_paused"] + status["n_complete"] == trials and status["best"] is not None


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM])
def test_a_promotion_study_killed_mid_rung_resumes_with_every_decision_intact(tmp_path, stop):
    path = promotion_study(tmp_path, pause=0.1, trials=12)
    study = tmp_path / "study"
    driver = subprocess.Popen([sys.executable, "-m", "hpo_compss.cli", "run", str(path), "--study-dir", str(study)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not ((study / "journal.jsonl").exists() and any(r.get("after_step") for r in journal(study))):
        assert time.monotonic() < deadline and driver.poll() is None
        time.sleep(0.05)
    time.sleep(0.15)  # inside the promoted run
    driver.send_signal(stop)
    driver.wait(30)
    result = cli("resume", str(study))
    assert result.returncode == 0, result.stderr
    check_promotion_journal(study, killed=True)


def test_max_paused_retires_the_least_promising_paused_trials_and_deletes_their_checkpoints(tmp_path):
    study = tmp_path / "study"
    result = cli("run", str(promotion_study(tmp_path, trials=20, max_paused=3)), "--study-dir", str(study))
    assert result.returncode == 0, result.stderr
    records = journal(study)
    retired = [r for r in records if r.get("reason", "").startswith("retired: at most 3 trials wait paused")]
    assert len(retired) >= 5 and all(r["status"] == "pruned" for r in retired)
    paused: dict[int, dict] = {}
    for record in records:  # a retirement follows the pauses of one harvest; it takes the lowest rung's worst
        if record.get("status") == "paused":
            paused[record["trial"]] = record
        elif record.get("status") in ("running", "pruned") and record["trial"] in paused:
            left = paused.pop(record["trial"])
            if record["status"] == "pruned":
                lowest = min(p["budget"] for p in [left, *paused.values()])
                assert left["budget"] == lowest
                assert left["value"] >= max((p["value"] for p in paused.values() if p["budget"] == lowest), default=0)
    assert len(paused) <= 3
    ends = {r["trial"]: r for r in records if r.get("status") not in (None, "running")}
    for trial, end in ends.items():  # never promoted after; checkpoints kept only while they may be used
        assert not any(r.get("status") == "running" and r["trial"] == trial and r["submitted"] > end["end"]
                       for r in records if end["status"] == "pruned")
        assert (study / "trials" / str(trial) / "checkpoint").exists() == (end["status"] != "pruned")



@pytest.mark.parametrize("crossing", [False, True])
def test_asha_hedges_run_to_the_top_and_new_trials_start_above_the_rungs_that_rank_them_wrongly(crossing):
    asha = make_scheduler({"name": "asha", "type": "promotion", "min": 1, "max": 9, "eta": 3, "hedges": 3})

    def finish(trial: int, x: float) -> None:
        """Config x ends at x; after one step it looks like 1 - x when the curves cross, like x + 1 when not."""
        for step in range(1, 10):
            asha.on_report(trial, step, x if step >= 3 else (1 - x if crossing else x + 1))
        asha.on_end(trial, True)

    assert asha.first_budget(0) == 9  # hedges start at the full budget
    asha.on_start(0, 9)
    asha.on_start(1, 9)
    assert asha.first_budget(2) == 1  # two hedges at once at most
    asha.on_end(0, False)  # a hedge that failed gives no sample, and another one is due
    assert asha.first_budget(2) == 9
    asha.on_start(2, 9)
    finish(1, 0.2)
    finish(2, 0.5)
    assert asha.floor == 1 and asha.first_budget(3) == 9  # not judged before the last hedge has ended
    asha.on_start(3, 9)
    finish(3, 0.8)
    assert asha.floor == (3 if crossing else 1) and asha.first_budget(4) == asha.floor
    for trial in range(4, 13):
        asha.on_pause(trial, 1, trial)
    assert asha.promotion() == (None if crossing else (4, 3))  # a misleading rung promotes nothing


def test_without_hedges_every_new_promotion_trial_starts_at_the_first_rung():
    asha = make_scheduler({"name": "asha", "type": "promotion", "min": 1, "max": 9, "eta": 3, "hedges": 0})
    for trial in range(3):
        assert asha.first_budget(trial) == 1
        asha.on_start(trial, 1)
