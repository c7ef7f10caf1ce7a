"""SHADHO's scheduling across compute classes, measured class speeds, and retries that learn from failures."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest
from scipy.stats import rankdata

from hpo_compss.experiment import parse_experiment
from hpo_compss.runtime.resources import detect_machine
from hpo_compss.runtime.simulated import CostModel, SimulatedEngine
from hpo_compss.schedule import Ended, make_scheduler, retry_move
from hpo_compss.schedule.speeds import ClassSpeeds
from hpo_compss.space import space_from_json
from hpo_compss.study import run_study
from hpo_compss.trial import ComputeClass

from conftest import cli, journal, objective, trial_records, write_experiment

KERNELS = {"kernel": {"exclusive": True,
                      "linear": {"C": {"log2_uniform": [-5, 15]}},
                      "rbf": {"C": {"log2_uniform": [-5, 15]}, "gamma": {"log10_uniform": [-4, 1]}},
                      "poly": {"C": {"log2_uniform": [-5, 15]}, "gamma": {"log10_uniform": [-4, 1]},
                               "degree": {"randint": [2, 6]}}}}
C16, C8, C4 = ComputeClass("c16", cpus=16), ComputeClass("c8", cpus=8), ComputeClass("c4", cpus=4)


@pytest.mark.parametrize("domain, expected", [
    ({"uniform": [-2, 3]}, 2 + 0.999 * 5),
    ({"log10_uniform": [-5, 8]}, 2 + 0.999 * 13),  # exponents: the width in sampling space
    ({"log2_uniform": [-5, 15]}, 2 + 0.999 * 20),
    ({"loguniform": [1e-5, 1e8]}, 2 + 0.999 * math.log(1e13)),  # values, sampled in natural-log space
    ({"normal": [0, 2]}, 2 + 2 * 3.2905267314919255 * 2),  # the central 99.9 % of N(0, 2)
    ({"randint": [2, 6]}, 2 - 1 / 4),
    ({"choice": ["a", "b", "c"]}, 2 - 1 / 3),
    ({"constant": 7}, 1.0),
    ({"repeat": {"randint": [0, 2]}, "n": 3}, (2 - 1 / 2) ** 3),
])
def test_each_domain_kind_has_shadhos_complexity(domain, expected):
    space = space_from_json({"p": domain})
    assert space.subspaces[0].complexity() == pytest.approx(expected, rel=1e-9)


def test_a_subspaces_complexity_is_the_product_of_its_domains():
    subspaces = {sub.name: sub.complexity() for sub in space_from_json(KERNELS).subspaces}
    c, gamma, degree = 2 + 0.999 * 20, 2 + 0.999 * 5, 2 - 1 / 4
    assert subspaces == pytest.approx({"kernel=linear": c, "kernel=rbf": c * gamma, "kernel=poly": c * gamma * degree})


def shadho(classes, space=KERNELS, **options):
    return make_scheduler({"name": "shadho", **options}, "min", space_from_json(space), classes)


def test_before_any_result_the_most_complex_subspaces_go_to_the_fastest_classes():
    # more sub-spaces (3) than classes (2): the ranked list is cut in two, the longer run first
    two = shadho([ComputeClass("small", cpus=1), ComputeClass("big", cpus=2)])
    assert two.order == ["kernel=poly", "kernel=rbf", "kernel=linear"]
    assert two.runs == {"big": ["kernel=poly", "kernel=rbf"], "small": ["kernel=linear"]}
    # as many: one each, in rank order
    assert shadho([C4, C8, C16]).runs == {"c16": ["kernel=poly"], "c8": ["kernel=rbf"], "c4": ["kernel=linear"]}


def test_with_more_classes_than_subspaces_each_subspace_gets_a_run_of_classes_the_top_one_the_fastest():
    space = {"m": {"exclusive": True, "a": {"x": {"uniform": [0, 1]}}, "b": {"x": {"uniform": [0, 10]}}}}
    classes = [ComputeClass(f"k{cpus}", cpus=cpus) for cpus in (1, 2, 4, 8, 16)]
    runs = shadho(classes, space).runs
    assert runs == {"k16": ["m=b"], "k8": ["m=b"], "k4": ["m=b"], "k2": ["m=a"], "k1": ["m=a"]}
    # one sub-space: every class draws from it
    assert set(map(tuple, shadho(classes, {"x": {"uniform": [0, 1]}}).runs.values())) == {("",)}


def test_the_ranking_adds_the_complexity_rank_and_the_rank_of_the_fitted_uncertainty():
    scheduler = shadho([C16, C8, C4], rerank=12, min_results=4)
    rng = np.random.default_rng(0)
    searcher = make_searcher_configs(rng)
    for trial, (subspace, config, value) in enumerate(searcher):
        scheduler.on_ended(Ended(trial, subspace, config, "c16", "complete", value, 1.0))
    uncertainty = scheduler.uncertainty
    assert all(math.isfinite(u) and u > 0 for u in uncertainty.values())
    names = sorted(uncertainty)
    total = dict(zip(names, rankdata([scheduler.complexity[n] for n in names]) + rankdata([uncertainty[n] for n in names])))
    assert scheduler.order == sorted(names, key=lambda n: (-total[n], -scheduler.complexity[n], n))
    assert scheduler.runs == {cls: [name] for cls, name in zip(("c16", "c8", "c4"), scheduler.order)}
    assert scheduler.assignment()["ranking"][0]["uncertainty"] == pytest.approx(uncertainty[scheduler.order[0]])


def make_searcher_configs(rng):
    """Four results per sub-space: rbf's loss hangs on gamma alone, the others' on C."""
    configs = []
    for _ in range(4):
        c, gamma = 2.0 ** rng.uniform(-5, 15), 10.0 ** rng.uniform(-4, 1)
        configs.append(("kernel=linear", {"kernel": {"linear": {"C": c}}}, math.log(c)))
        configs.append(("kernel=rbf", {"kernel": {"rbf": {"C": c, "gamma": gamma}}}, math.log(gamma) ** 2))
        configs.append(("kernel=poly", {"kernel": {"poly": {"C": c, "gamma": gamma, "degree": 3}}}, math.sin(c)))
    return configs


def test_class_speeds_are_measured_from_durations_of_shared_subspaces_whatever_was_declared():
    declared_wrong = [ComputeClass("fast", cpus=1, speed=1.0), ComputeClass("slow", cpus=1, speed=4.0)]
    speeds = ClassSpeeds(declared_wrong)
    assert [c.name for c in speeds.fastest_first()] == ["slow", "fast"]
    for seconds in (1.0, 1.2, 0.8, 1.1):  # the same sub-space takes 4x as long on "slow"
        speeds.observe("fast", "a", seconds)
        speeds.observe("slow", "a", 4 * seconds)
    speeds.observe("fast", "b", 30.0)  # an expensive sub-space on "fast" alone says nothing of speed
    assert [c.name for c in speeds.fastest_first()] == ["fast", "slow"]
    measured = speeds.speeds()
    assert 3.0 < measured["fast"] / measured["slow"] < 4.0  # the prior (declared 1:4) pulls a little


def test_retries_move_out_of_memory_to_more_memory_and_timeouts_to_a_faster_class():
    small, mid, big = (ComputeClass(n, memory_gb=m) for n, m in (("small", 4), ("mid", 16), ("big", 64)))
    classes, speeds = [small, mid, big], {"small": 1.0, "mid": 2.0, "big": 3.0}
    move = retry_move("exception: MemoryError: unable to allocate", small, classes, speeds)
    assert move.cls == "mid" and "out of memory on small (4 GB)" in move.why
    assert retry_move("crashed: killed by SIGKILL (out of memory?)", mid, classes, speeds).cls == "big"
    assert retry_move("exception: MemoryError", big, classes, speeds) is None  # nowhere bigger
    assert retry_move("timeout: killed after 60 s", small, classes, speeds).cls == "big"
    assert retry_move("timeout: killed after 60 s", big, classes, speeds) is None
    assert retry_move("exception: ValueError: bad", small, classes, speeds) is None
    lost = retry_move("lost: the COMPSs task ended without reporting", mid, classes, speeds, host="n2")
    assert lost.cls == "mid" and "(on n2)" in lost.why


def simulated(folder, scheduler, classes, hours=0.15, timeout=None, memory=None, retries=0, seed=0):
    experiment = parse_experiment({
        "name": "sim", "objective": "hpo_compss.examples.svm_digits:train", "space": KERNELS, "algorithm": "random",
        "seed": seed, "budget": {"trials": 100_000, "seconds": hours * 3600}, "scheduler": scheduler,
        "compute_classes": classes, "retries": retries, "stop": {"first_failures": 0},
        **({"timeout": timeout} if timeout else {})}, check=False)
    cost = {"kernel=linear": 1.0, "kernel=rbf": 10.0, "kernel=poly": 20.0}
    waves = {16: 1, 8: 2, 4: 4}

    def seconds(config, cls):
        kernel = f"kernel={next(iter(config['kernel']))}"
        return 2.0 + waves[cls.cpus] * cost[kernel]

    model = CostModel(curve=lambda config, step: math.log2(next(iter(config["kernel"].values()))["C"]),
                      step_seconds=lambda config: 1.0, max_steps=1, speed=lambda config, cls: 1.0 / seconds(config, cls),
                      memory_gb=memory, seed=seed)
    engine = SimulatedEngine(experiment.compute_classes, model, timeout=timeout)
    run_study(experiment, folder, detect_machine(cpus=1), out=io.StringIO(), engine=engine)
    return journal(folder)


CLUSTER = {"c16": {"cpus": 16, "max_tasks": 4}, "c8": {"cpus": 8, "max_tasks": 5}, "c4": {"cpus": 4, "max_tasks": 10}}


def test_shadho_raises_throughput_on_a_heterogeneous_cluster_and_journals_where_and_why(tmp_path):
    uniform = simulated(tmp_path / "uniform", "fifo", CLUSTER)
    placed = simulated(tmp_path / "shadho", {"name": "shadho", "rerank": 100}, CLUSTER)
    done = [r for r in placed if r.get("status") == "complete"]
    assert len(done) > 1.4 * sum(r.get("status") == "complete" for r in uniform)
    running = [r for r in placed if r.get("status") == "running"]
    assert all(r["placed"].startswith(("shadho: ", "probe ")) for r in running)
    assigned = [r for r in placed if r.get("study") == "assigned"]
    assert assigned and assigned[-1]["speeds"]["c16"] > assigned[-1]["speeds"]["c8"] > assigned[-1]["speeds"]["c4"]
    # but for the probes, each class draws from its run of the assignment in force
    current, checked = None, 0
    for record in placed:
        if record.get("study") == "assigned":
            current = record["classes"]
        elif record.get("status") == "running" and not record["placed"].startswith("probe"):
            assert record["subspace"] in current[record["class"]]
            checked += 1
    assert checked > 0.9 * len(running)


def test_shadho_measures_that_declared_speeds_are_wrong_and_maps_by_the_measured_ones(tmp_path):
    wrong = {name: {**body, "speed": {"c16": 1.0, "c8": 2.0, "c4": 3.0}[name]} for name, body in CLUSTER.items()}
    records = simulated(tmp_path / "measured", {"name": "shadho", "rerank": 100}, wrong)
    first, last = [r for r in records if r.get("study") == "assigned"][::len(records)][0], \
        [r for r in records if r.get("study") == "assigned"][-1]
    assert first["classes"]["c4"] == ["kernel=poly"]  # believed at first
    assert last["classes"]["c16"] != ["kernel=linear"] and "kernel=linear" not in last["classes"]["c16"]
    assert last["speeds"]["c16"] > last["speeds"]["c4"]
    trusting = simulated(tmp_path / "trusting", {"name": "shadho", "rerank": 100, "measure": False}, wrong)
    assert [r for r in trusting if r.get("study") == "assigned"][-1]["speeds"] == {"c16": 1.0, "c8": 2.0, "c4": 3.0}


def test_a_timeout_on_a_slow_class_moves_to_a_faster_one(tmp_path):
    records = simulated(tmp_path / "s", "fifo", CLUSTER, hours=0.2, timeout=60.0)  # poly takes 82 s on c4
    timed_out = [r for r in records if r.get("status") == "failed" and r["reason"].startswith("timeout")]
    assert timed_out and all(r["class"] == "c4" and r["retry"] and r["retry_on"] == "c16" for r in timed_out)
    again = {(r["trial"], r["attempt"]): r for r in records if r.get("status") in ("complete", "cancelled")}
    finished = [again[(r["trial"], r["attempt"] + 1)] for r in timed_out if (r["trial"], r["attempt"] + 1) in again]
    assert finished and all(r["class"] == "c16" for r in finished)
    moved = [r for r in records if r.get("status") == "running" and r["attempt"] == 2]
    assert moved and all(r["placed"].startswith("timeout on c4: retried on c16") for r in moved)


def test_out_of_memory_in_a_simulation_moves_to_the_class_with_more_memory(tmp_path):
    classes = {"c4": {"cpus": 4, "max_tasks": 4, "memory_gb": 8}, "c16": {"cpus": 16, "max_tasks": 2, "memory_gb": 64}}
    records = simulated(tmp_path / "s", "fifo", classes, hours=0.1,
                        memory=lambda config: 32.0 if "poly" in config["kernel"] else 1.0)
    oom = [r for r in records if r.get("status") == "failed"]
    assert oom and all(r["class"] == "c4" and "MemoryError" in r["reason"] and r["retry_on"] == "c16" for r in oom)
    polys = [r for r in records if r.get("status") == "complete" and r["subspace"] == "kernel=poly"]
    assert polys and all(r["class"] == "c16" for r in polys)


def test_a_real_out_of_memory_failure_is_retried_on_the_class_with_more_memory(tmp_path):
    data = {"name": "oom", "objective": objective("allocate"), "space": {"mb": {"choice": [600]}},
            "budget": {"trials": 1}, "retries": 0,
            "compute_classes": {"small": {"cpus": 1, "memory_gb": 0.4}, "big": {"cpus": 1, "memory_gb": 1.5}}}
    result = cli("run", str(write_experiment(tmp_path, data)), "--study-dir", str(tmp_path / "study"), timeout=120)
    assert result.returncode == 0, result.stderr
    first, second = trial_records(tmp_path / "study", "failed")[0], trial_records(tmp_path / "study", "complete")[0]
    assert first["class"] == "small" and "MemoryError" in first["reason"]
    assert first["retry"] and first["retry_on"] == "big" and first["moved"].startswith("out of memory on small (0.4 GB)")
    assert second["class"] == "big" and second["attempt"] == 2 and second["value"] == 600
    running = trial_records(tmp_path / "study", "running")
    assert running[1]["placed"] == first["moved"]
    assert cli("report", str(tmp_path / "study")).returncode == 0
    summary = (tmp_path / "study" / "report" / "summary.md").read_text()
    assert f"- {first['moved']} (1)" in summary


def test_a_real_study_on_two_classes_uses_both_and_shows_the_assignment(tmp_path):
    data = {"name": "two", "objective": "hpo_compss.examples.svm_digits:train", "space": KERNELS,
            "algorithm": "random", "budget": {"trials": 8}, "seed": 3, "scheduler": {"name": "shadho", "rerank": 4},
            "compute_classes": {"one": {"cpus": 1, "max_tasks": 1}, "two": {"cpus": 2}}}
    result = cli("run", str(write_experiment(tmp_path, data)), "--study-dir", str(tmp_path / "study"), timeout=300)
    assert result.returncode == 0, result.stderr
    complete = trial_records(tmp_path / "study", "complete")
    assert len(complete) == 8 and {r["class"] for r in complete} == {"one", "two"}
    assigned = [r for r in journal(tmp_path / "study") if r.get("study") == "assigned"]
    assert assigned[0]["classes"] == {"two": ["kernel=poly", "kernel=rbf"], "one": ["kernel=linear"]}
    assert all(r["placed"] for r in trial_records(tmp_path / "study", "running"))
    report = cli("report", str(tmp_path / "study"))
    assert report.returncode == 0, report.stderr
    summary = (tmp_path / "study" / "report" / "summary.md").read_text()
    assert "timeline.png" in summary and "and sub-space" in summary
    rows = [line for line in summary.splitlines() if line.startswith(("| one |", "| two |"))]
    assert {row.split(" | ")[0] for row in rows} == {"| one", "| two"}
    assert "Sub-spaces by class after" in summary
