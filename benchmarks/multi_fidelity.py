"""Multi-fidelity search on the simulated engine: ASHA and Hyperband against full-budget search and Optuna.

Every method gets the compute of 30 full-fidelity evaluations (30 x 27 steps of 1 simulated second).
Ours run on the simulated engine with 4 asynchronous workers and the real driver, searcher and
scheduler: the multi-fidelity ones until 30 x 27 / 4 simulated seconds have passed, the full-budget
ones (random and GP, ``fifo``) for 30 configs. Optuna's TPE runs its trials one at a time with its
SuccessiveHalvingPruner or HyperbandPruner (min resource 1, reduction factor 3), until it has used the
same number of steps. A trial's value after s steps is the problem at fidelity z = s / 27; a config's
quality is its value at z = 1, and only trials that ran to 27 steps count for the final result.

Problems (z = 1 is the target; the cost is the same per step everywhere):

- ``mf_branin``: Branin with b(z) = 5.1 / (4 pi^2) - 0.01 (1 - z), c(z) = 5 / pi - 0.1 (1 - z),
  t(z) = 1 / (8 pi) + 0.05 (1 - z) (Kandasamy et al. 2017, BOCA, with the three fidelities equal);
- ``mf_hartmann3``, ``mf_hartmann6``: Hartmann with alpha'(z) = alpha - 0.1 (1 - z) for each of its
  four terms (Kandasamy et al. 2017, with one fidelity for all four);
- ``crossing``: learning curves that cross. loss(x, s) = 0.3 x1 + (x2 - 0.5)^2 + 1.5 (1 - x1)^2 e^(-s/8):
  a large x1 (a high learning rate) learns fast and looks best early, a small one ends best.
- ``mlp``: the MLP example (``hpo_compss.examples.mlp_epochs``, configs/mlp_asha.json's space): the
  real validation error of scikit-learn's MLPClassifier on digits after s epochs of ``partial_fit``,
  trained for real on demand (each config once, random_state 0, so every method sees the same curve).
  Its regret is the error itself. Slow (the training is real): about 25 s of CPU per run.

Reported: the median final regret over seeds, and the compute (as a share of the 30 full
evaluations) each method needed to reach the full-budget GP's median final regret. The last line,
``compute_ratio=X``, is that share for our best multi-fidelity method, the median over the three
standard functions.

    pip install -e ".[benchmark]"
    python benchmarks/multi_fidelity.py --seeds 10
"""
from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse
import io
import json
import math
import multiprocessing
import statistics
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

MAX_STEPS, ETA, WORKERS, FULL_EVALUATIONS = 27, 3, 4, 30
BUDGET = FULL_EVALUATIONS * MAX_STEPS  # compute, in steps


@dataclass(frozen=True)
class Problem:
    bounds: dict[str, tuple[float, float]]
    function: Callable[[dict, float], float]  # (config, fidelity z in (0, 1]) -> value
    minimum: float


def mf_branin(c: dict, z: float) -> float:
    x1, x2 = c["x1"], c["x2"]
    b = 5.1 / (4 * math.pi ** 2) - 0.01 * (1 - z)
    cc = 5 / math.pi - 0.1 * (1 - z)
    t = 1 / (8 * math.pi) + 0.05 * (1 - z)
    return (x2 - b * x1 ** 2 + cc * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
A3 = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
P3 = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
A6 = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
P6 = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])


def _hartmann(a: np.ndarray, p: np.ndarray) -> Callable[[dict, float], float]:
    def function(c: dict, z: float) -> float:
        x = np.array([c[f"x{i}"] for i in range(a.shape[1])])
        return float(-(ALPHA - 0.1 * (1 - z)) @ np.exp(-(a * (x - p) ** 2).sum(axis=1)))
    return function


def crossing(c: dict, z: float) -> float:
    return 0.3 * c["x1"] + (c["x2"] - 0.5) ** 2 + 1.5 * (1 - c["x1"]) ** 2 * math.exp(-z * MAX_STEPS / 8)


class _MLPCurves:
    """The MLP example's validation error after each epoch, trained on demand, kept per config."""

    def __init__(self) -> None:
        self.runs: dict[tuple, tuple] = {}

    def __call__(self, c: dict, z: float) -> float:
        from sklearn.neural_network import MLPClassifier

        from hpo_compss.examples.svm_digits import _data

        key = tuple(sorted(c.items()))
        if key not in self.runs:
            model = MLPClassifier(hidden_layer_sizes=(round(2 ** c["log2_hidden"]),), learning_rate_init=10 ** c["log_lr"],
                                  alpha=10 ** c["log_alpha"], batch_size=round(2 ** c["log2_batch"]), random_state=0)
            self.runs[key] = (model, [])
        model, errors = self.runs[key]
        x_train, x_valid, y_train, y_valid = _data()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while len(errors) < round(z * MAX_STEPS):
                model.partial_fit(x_train, y_train, classes=np.arange(10))
                errors.append(1.0 - float(model.score(x_valid, y_valid)))
        return errors[round(z * MAX_STEPS) - 1]


mlp = _MLPCurves()

PROBLEMS = {
    "mf_branin": Problem({"x1": (-5, 10), "x2": (0, 15)}, mf_branin, 0.397887357729739),
    "mf_hartmann3": Problem({f"x{i}": (0, 1) for i in range(3)}, _hartmann(A3, P3), -3.86278214782076),
    "mf_hartmann6": Problem({f"x{i}": (0, 1) for i in range(6)}, _hartmann(A6, P6), -3.32236801141551),
    "crossing": Problem({"x1": (0, 1), "x2": (0, 1)}, crossing, 1.5 * math.exp(-MAX_STEPS / 8)),
    "mlp": Problem({"log_lr": (-4, -0.5), "log2_hidden": (4, 7), "log_alpha": (-6, -2), "log2_batch": (5, 7)}, mlp, 0.0),
}
STANDARD = ("mf_branin", "mf_hartmann3", "mf_hartmann6")

OURS = {  # name -> (algorithm, scheduler)
    "random (full budget)": ("random", "fifo"),
    "gp (full budget)": ("gp", "fifo"),
    "asha (promotion)": ("random", {"name": "asha", "type": "promotion", "min": 1, "max": MAX_STEPS, "eta": ETA}),
    "hyperband (promotion)": ("random", {"name": "hyperband", "type": "promotion", "min": 1, "max": MAX_STEPS,
                                         "eta": ETA}),
    "asha (stopping)": ("random", {"name": "asha", "type": "stopping", "min": 1, "max": MAX_STEPS, "eta": ETA}),
    "asha + tpe": ("tpe", {"name": "asha", "type": "promotion", "min": 1, "max": MAX_STEPS, "eta": ETA}),
    "asha + gp": ("gp", {"name": "asha", "type": "promotion", "min": 1, "max": MAX_STEPS, "eta": ETA}),
    "hyperband + gp": ("gp", {"name": "hyperband", "type": "promotion", "min": 1, "max": MAX_STEPS, "eta": ETA}),
}
OPTUNA = ("Optuna TPE + successive halving", "Optuna TPE + hyperband")
METHODS = (*OURS, *OPTUNA)


def run_ours(method: str, problem: Problem, seed: int) -> list[tuple[float, float]]:
    """(compute used, value) of each trial that ran to the full budget, in the order they ended."""
    from hpo_compss.experiment import parse_experiment
    from hpo_compss.runtime.resources import detect_machine
    from hpo_compss.runtime.simulated import CostModel, SimulatedEngine
    from hpo_compss.study import run_study
    from hpo_compss.trial import ComputeClass

    algorithm, scheduler = OURS[method]
    full = scheduler == "fifo"
    budget = {"trials": FULL_EVALUATIONS} if full else {"trials": 100_000, "seconds": BUDGET / WORKERS}
    experiment = parse_experiment({
        "name": "mf", "objective": "hpo_compss.examples.sincos:sin_cos", "algorithm": algorithm, "seed": seed,
        "space": {name: {"uniform": list(bounds)} for name, bounds in problem.bounds.items()},
        "budget": budget, "scheduler": scheduler}, check=False)
    model = CostModel(curve=lambda config, step: problem.function(config, step / MAX_STEPS),
                      step_seconds=lambda config: 1.0, max_steps=MAX_STEPS)
    engine = SimulatedEngine([ComputeClass("cpu", max_tasks=WORKERS)], model)
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as folder:
        run_study(experiment, Path(folder) / "study", detect_machine(cpus=1), out=io.StringIO(), engine=engine)
        records = [json.loads(line) for line in (Path(folder) / "study" / "journal.jsonl").read_text().splitlines()]
    origin = engine.clock.epoch
    return sorted(((r["end"] - origin) * WORKERS, r["value"]) for r in records if r.get("status") == "complete")


def run_optuna(method: str, problem: Problem, seed: int) -> list[tuple[float, float]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore")
    pruner = (optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=ETA) if "halving" in method
              else optuna.pruners.HyperbandPruner(min_resource=1, max_resource=MAX_STEPS, reduction_factor=ETA))
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    used, finished = 0, []
    while used < BUDGET:
        trial = study.ask()
        config = {name: trial.suggest_float(name, low, high) for name, (low, high) in problem.bounds.items()}
        for step in range(1, MAX_STEPS + 1):
            if used >= BUDGET:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                break
            used += 1
            value = problem.function(config, step / MAX_STEPS)
            trial.report(value, step)
            if trial.should_prune():
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, value)
            finished.append((float(used), value))
    return finished


def _one(job: tuple[str, str, int]) -> dict:
    method, problem, seed = job
    mlp.runs.clear()  # (a process runs many jobs: keep its memory bounded)
    runner = run_optuna if method in OPTUNA else run_ours
    return {"method": method, "problem": problem, "seed": seed, "finished": runner(method, PROBLEMS[problem], seed)}


def final_regret(run: dict) -> float:
    values = [value for _, value in run["finished"]]
    return (min(values) - PROBLEMS[run["problem"]].minimum) if values else math.inf


def compute_to(run: dict, target: float) -> float:
    """The share of the compute budget used when the best full-budget value first came within ``target``."""
    best = math.inf
    for used, value in run["finished"]:
        best = min(best, value - PROBLEMS[run["problem"]].minimum)
        if best <= target:
            return used / BUDGET
    return math.inf


def _cell(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    problems, methods = args.problems.split(","), args.methods.split(",")
    jobs = [(m, p, s) for p in problems for m in methods for s in range(args.seeds)]
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        runs = pool.map(_one, jobs, chunksize=1)
    by = {(r["method"], r["problem"]): [] for r in runs}
    for run in runs:
        by[(run["method"], run["problem"])].append(run)
    print(f"median final regret over {args.seeds} seeds (compute of {FULL_EVALUATIONS} full evaluations, "
          f"{WORKERS} workers)\n")
    print("| method | " + " | ".join(problems) + " |\n|---" + "|---" * len(problems) + "|")
    for method in methods:
        print(f"| {method} | " + " | ".join(_cell(statistics.median(final_regret(r) for r in by[(method, p)]))
                                            for p in problems) + " |")
    targets = {p: statistics.median(final_regret(r) for r in by[("gp (full budget)", p)]) for p in problems
               if ("gp (full budget)", p) in by}
    print("\nmedian share of the compute budget used to reach the full-budget GP's median final regret\n")
    print("| method | " + " | ".join(targets) + " |\n|---" + "|---" * len(targets) + "|")
    shares = {}
    for method in methods:
        shares[method] = {p: statistics.median(compute_to(r, targets[p]) for r in by[(method, p)]) for p in targets}
        print(f"| {method} | " + " | ".join(_cell(shares[method][p]) for p in targets) + " |")
    standard = [p for p in STANDARD if p in targets]
    multi = [m for m in methods if m in OURS and OURS[m][1] != "fifo"]
    if standard and multi:
        ratios = {m: statistics.median(shares[m][p] for p in standard) for m in multi}
        best = min(ratios, key=ratios.get)
        print(f"\nbest of ours: {best}")
        print(f"compute_ratio={ratios[best]:.3g}")


if __name__ == "__main__":
    main()
