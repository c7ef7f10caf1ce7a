"""The simulated engine: the real driver, searcher and scheduler against a cost model in virtual time."""
from __future__ import annotations

import io
import json
import math
from pathlib import Path

from hpo_compss.experiment import parse_experiment
from hpo_compss.runtime.resources import detect_machine
from hpo_compss.runtime.simulated import CostModel, SimulatedEngine
from hpo_compss.schedule import make_scheduler
from hpo_compss.study import run_study
from hpo_compss.trial import ComputeClass

from conftest import journal

SCHEDULER = {"name": "asha", "type": "promotion", "min": 1, "max": 27, "eta": 3, "hedges": 0}


def simulate(study: Path, scheduler: dict, workers: int = 8, trials: int = 300, seconds: float = 20_000,
             failure_rate: float = 0.0, classes: list[ComputeClass] | None = None, speeds: dict | None = None,
             algorithm: str = "random", curve=lambda config, step: config["x"] + 1.0 / step):
    experiment = parse_experiment({"name": "sim", "objective": "hpo_compss.examples.sincos:sin_cos",
                                   "space": {"x": {"uniform": [0, 1]}}, "algorithm": algorithm, "seed": 2,
                                   "budget": {"trials": trials, "seconds": seconds}, "scheduler": scheduler},
                                  check=False)
    model = CostModel(curve=curve,
                      step_seconds=lambda config: 10.0 + 50.0 * config["x"], max_steps=27,
                      speeds=speeds or {}, failure_rate=failure_rate, seed=1)
    engine = SimulatedEngine(classes or [ComputeClass("cpu", max_tasks=workers)], model)
    result = run_study(experiment, study, detect_machine(cpus=1), out=io.StringIO(), engine=engine)
    return result, engine


def test_a_simulated_study_is_the_same_at_every_run_and_keeps_to_its_slots_and_its_time_budget(tmp_path):
    first, engine = simulate(tmp_path / "a", SCHEDULER, trials=2000, seconds=5000, failure_rate=0.05)
    second, _ = simulate(tmp_path / "b", SCHEDULER, trials=2000, seconds=5000, failure_rate=0.05)
    strip = ("time", "submitted", "start", "end", "source", "pid", "host")

    def decisions(study: Path) -> list[str]:
        return [json.dumps({k: v for k, v in r.items() if k not in strip}, sort_keys=True)
                for r in journal(study) if "study" not in r]
    assert decisions(tmp_path / "a") == decisions(tmp_path / "b")
    assert first.stop_reason == "time budget of 5000 s used" and 5000 <= engine.clock.now < 5000 + 1e-6
    records = journal(tmp_path / "a")
    runs = [(r["start"], r["end"]) for r in records if r.get("status") in ("complete", "paused", "failed", "cancelled")]
    for start, _ in runs:  # at most 8 runs at any moment
        assert sum(s <= start < e for s, e in runs) <= 8
    failed = [r for r in records if r.get("status") == "failed"]
    assert failed and all(r["reason"] == "crashed: injected failure" for r in failed)
    assert len(failed) < 0.15 * len(runs)


def test_the_real_scheduler_decides_in_a_simulation_as_in_a_live_study(tmp_path):
    simulate(tmp_path / "study", SCHEDULER, workers=16, trials=200, seconds=1e9)
    records = journal(tmp_path / "study")
    scheduler = make_scheduler(SCHEDULER)
    promotions = 0
    for record in records:
        if record.get("status") == "running":
            if record["budget"] > 1:
                assert scheduler.promotion() == (record["trial"], record["budget"])
                promotions += 1
            scheduler.on_start(record["trial"], record["budget"])
        elif record.get("status") == "paused":
            scheduler.on_pause(record["trial"], record["budget"], record["value"])
    assert promotions > 200 // 3 and scheduler.promotion() is None
    # every config ran to the first rung; at least the best third of each rung went on (asynchronous
    # promotion, made while a rung fills, may promote a few more)
    budgets = [r["budget"] for r in records if r.get("status") in ("paused", "complete")]
    counts = [budgets.count(b) for b in (1, 3, 9, 27)]
    assert counts[0] == 200 and all(low // 3 <= high < low for low, high in zip(counts, counts[1:]))


def test_a_class_twice_as_fast_runs_its_trials_in_half_the_time(tmp_path):
    classes = [ComputeClass("fast", max_tasks=1), ComputeClass("slow", max_tasks=1)]
    simulate(tmp_path / "study", "fifo", trials=4, seconds=1e9, classes=classes, speeds={"fast": 2.0, "slow": 1.0})
    seconds = {}
    for record in journal(tmp_path / "study"):
        if record.get("status") == "complete":
            seconds.setdefault(record["class"], []).append((record["end"] - record["start"]) / (10 + 50 * record["config"]["x"]) / 27)
    assert {name: [round(s, 9) for s in values] for name, values in seconds.items()} == {
        "fast": [0.5] * len(seconds["fast"]), "slow": [1.0] * len(seconds["slow"])}


def test_a_model_searcher_under_promotion_learns_from_the_first_rung(tmp_path):
    """Every config pauses at the first rung long before any completes: the searcher hears that value."""
    means = {}
    for algorithm in ("random", "tpe"):
        simulate(tmp_path / algorithm, SCHEDULER, trials=120, seconds=1e9, algorithm=algorithm)
        asked = [r["config"]["x"] for r in journal(tmp_path / algorithm) if r.get("status") == "running"
                 and r["budget"] == 1]
        means[algorithm] = sum(asked[60:]) / 60  # the later configs: x small is good (loss x + 1 / step)
    assert means["tpe"] < 0.3 < means["random"]


def test_when_early_values_mislead_new_trials_start_at_the_full_budget_and_the_model_learns_from_it(tmp_path):
    """A large x learns fast and looks best early, but the small ones end best (the curves cross)."""
    def crossing(config, step):
        return 0.3 * config["x"] + 1.5 * (1 - config["x"]) ** 2 * math.exp(-step / 8)

    hedged = {**SCHEDULER, "hedges": 6}
    starts = {}
    for name, curve in (("crossing", crossing), ("ordered", None)):
        simulate(tmp_path / name, hedged, workers=4, trials=150, seconds=1e9, algorithm="tpe",
                 **({"curve": curve} if curve else {}))
        records = journal(tmp_path / name)
        paused = {r["trial"] for r in records if r.get("status") == "paused"}
        first = {}
        for r in records:
            if r.get("status") == "running":
                first.setdefault(r["trial"], r["budget"])
        starts[name] = [first[t] for t in sorted(first)]
        assert sum(budget == 27 and trial not in paused for trial, budget in first.items()) >= 6
    assert starts["ordered"].count(27) == 6 and set(starts["ordered"]) == {1, 27}
    assert starts["crossing"][-20:] == [27] * 20  # every rung misleads: the last configs run in full
    best = min((r["value"], r["config"]["x"]) for r in journal(tmp_path / "crossing") if r.get("status") == "complete")
    assert best[1] < 0.01  # the model of full runs finds the config that ends best
