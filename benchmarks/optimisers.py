"""Our GP and TPE against random search, Optuna (TPE, GP), scikit-optimize (GP) and hyperopt (TPE).

Every optimiser gets each problem for ``--evaluations`` evaluations (60) in synchronous batches of
``--batch`` (4): it proposes a batch before any of the batch's results is known, as on a cluster with
4 workers. Each (problem, optimiser, seed) run is appended to ``--results`` (a JSON-lines cache), so
runs already there are not repeated; ``--redo gp,tpe`` runs those optimisers again. The summary gives
the median final regret per problem, the mean rank across problems (rank of the median regret, ties
shared) and each optimiser's own time per suggestion (objective time excluded).

Regret is the best value found minus the known minimum; for the two scikit-learn problems, whose
minimum is unknown, it is measured from the best value any run found. ``svm_conditional`` is a
conditional space (a kernel, then that kernel's own params): an exclusive scope for us, define-by-run
for Optuna, a nested ``hp.choice`` for hyperopt, the flat union for scikit-optimize.

    pip install -e ".[benchmark]"
    python benchmarks/optimisers.py --seeds 10 --jobs 2
"""
from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # one core per run, so runs in parallel do not contend

import argparse
import json
import math
import multiprocessing
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

HERE = Path(__file__).resolve().parent


# -- problems -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "float", "int" or "cat"
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple = ()


@dataclass(frozen=True)
class Problem:
    name: str
    params: tuple[Param, ...]
    function: Callable[[dict], float]
    minimum: float | None  # None: unknown, measured from the best run
    #: conditional problems: the categorical "kernel" picks one branch, and only its params are active
    branches: dict[str, tuple[Param, ...]] | None = None


def branin(c: dict) -> float:
    x1, x2 = c["x1"], c["x2"]
    return (x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


HARTMANN_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
HARTMANN_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                              [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(c: dict) -> float:
    x = np.array([c[f"x{i}"] for i in range(6)])
    return float(-HARTMANN_ALPHA @ np.exp(-(HARTMANN_A * (x - HARTMANN_P) ** 2).sum(axis=1)))


def rosenbrock4(c: dict) -> float:
    x = [c[f"x{i}"] for i in range(4)]
    return float(sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3)))


def ackley5(c: dict) -> float:
    x = np.array([c[f"x{i}"] for i in range(5)])
    return float(-20 * np.exp(-0.2 * np.sqrt(np.mean(x**2))) - np.exp(np.mean(np.cos(2 * np.pi * x))) + 20 + math.e)


def griewank8(c: dict) -> float:
    x = np.array([c[f"x{i}"] for i in range(8)])
    return float(1 + (x**2).sum() / 4000 - np.prod(np.cos(x / np.sqrt(np.arange(1, 9)))))


def levy6(c: dict) -> float:
    w = 1 + (np.array([c[f"x{i}"] for i in range(6)]) - 1) / 4
    middle = ((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:-1] + 1) ** 2)).sum()
    return float(np.sin(np.pi * w[0]) ** 2 + middle + (w[-1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[-1]) ** 2))


def styblinski_tang8(c: dict) -> float:
    x = np.array([c[f"x{i}"] for i in range(8)])
    return float(0.5 * (x**4 - 16 * x**2 + 5 * x).sum())


#: per kernel: (best error, how much worse it gets, centre and width of its basin in log10 C, log10 gamma
#: and coef0, best degree)
SVM_SHAPE = {
    "linear": (0.12, 0.30, {"C": (0.5, 2.5)}, None),
    "rbf": (0.07, 0.40, {"C": (2.0, 2.0), "gamma": (-3.0, 1.5)}, None),
    "poly": (0.01, 0.50, {"C": (-1.0, 2.0), "gamma": (-1.5, 1.5), "coef0": (0.7, 0.5)}, 3),
    "sigmoid": (0.15, 0.35, {"C": (0.0, 2.0), "gamma": (-4.0, 1.5), "coef0": (0.2, 0.5)}, None),
}


def svm_conditional(c: dict) -> float:
    """A synthetic SVM validation error: every kernel is a basin over its own parameters.

    linear's basin is broad and one-dimensional, so every search finds its 0.12 at once; rbf reaches
    0.07; poly holds the clearly better optimum (0.01, at degree 3) but is worse than linear on most
    of its space, so a search that settles in linear or rbf early ends with a regret of 0.06 to 0.11.
    The basins have heavy tails (d / (1 + d) of the squared distance d), so far points still say
    which way is better. Deterministic: no data, no noise.
    """
    kernel = c["kernel"]
    best, depth, basin, degree = SVM_SHAPE[kernel]
    distance = 0.0
    for name, (centre, width) in basin.items():
        value = math.log10(c[f"{kernel}_{name}"]) if name in ("C", "gamma") else c[f"{kernel}_{name}"]
        distance += ((value - centre) / width) ** 2
    penalty = 0.03 * abs(c[f"{kernel}_degree"] - degree) if degree is not None else 0.0
    return best + depth * distance / (1 + distance) + penalty


def _svm_branches() -> dict[str, tuple[Param, ...]]:
    """Each kernel's own params, named after it: C and gamma on log scales, poly's degree, coef0."""
    branches = {}
    for kernel in SVM_SHAPE:
        params = [Param(f"{kernel}_C", "float", 1e-3, 1e4, log=True)]
        if kernel != "linear":
            params.append(Param(f"{kernel}_gamma", "float", 1e-6, 10.0, log=True))
        if kernel == "poly":
            params.append(Param("poly_degree", "int", 2, 5))
        if kernel in ("poly", "sigmoid"):
            params.append(Param(f"{kernel}_coef0", "float", 0 if kernel == "poly" else -1, 1))
        branches[kernel] = tuple(params)
    return branches


def svc_digits(c: dict) -> float:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    return 1.0 - float(cross_val_score(SVC(C=c["C"], gamma=c["gamma"]), X, y, cv=3).mean())


def forest_breast_cancer(c: dict) -> float:
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import cross_val_score

    X, y = load_breast_cancer(return_X_y=True)
    model = RandomForestClassifier(n_estimators=int(c["n_estimators"]), max_depth=int(c["max_depth"]),
                                   min_samples_split=int(c["min_samples_split"]), max_features=c["max_features"],
                                   criterion=c["criterion"], random_state=0, n_jobs=1)
    return 1.0 - float(cross_val_score(model, X, y, cv=3).mean())


def _box(count: int, low: float, high: float) -> tuple[Param, ...]:
    return tuple(Param(f"x{i}", "float", low, high) for i in range(count))


PROBLEMS = {p.name: p for p in (
    Problem("branin", (Param("x1", "float", -5, 10), Param("x2", "float", 0, 15)), branin, 0.397887357729739),
    Problem("hartmann6", _box(6, 0, 1), hartmann6, -3.32236801141551),
    Problem("rosenbrock4", _box(4, -5, 10), rosenbrock4, 0.0),
    Problem("ackley5", _box(5, -32.768, 32.768), ackley5, 0.0),
    Problem("svc_digits", (Param("C", "float", 1e-2, 1e4, log=True), Param("gamma", "float", 1e-6, 1.0, log=True)),
            svc_digits, None),
    Problem("forest_breast_cancer", (Param("n_estimators", "int", 10, 100), Param("max_depth", "int", 1, 16),
                                     Param("min_samples_split", "int", 2, 20), Param("max_features", "float", 0.1, 1.0),
                                     Param("criterion", "cat", choices=("gini", "entropy"))), forest_breast_cancer, None),
    Problem("griewank8", _box(8, -600, 600), griewank8, 0.0),
    Problem("levy6", _box(6, -10, 10), levy6, 0.0),
    Problem("styblinski_tang8", _box(8, -5, 5), styblinski_tang8, -39.16616570377142 * 8),
    Problem("svm_conditional", (Param("kernel", "cat", choices=tuple(SVM_SHAPE)),), svm_conditional, 0.01,
            branches=_svm_branches()),
)}


# -- optimisers: each runs one problem and returns the values in evaluation order and its own time ------
class Run:
    """Times the objective apart from the optimiser."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.values: list[float] = []
        self.objective_seconds = 0.0

    def evaluate(self, config: dict) -> float:
        start = time.perf_counter()
        value = self.problem.function(config)
        self.objective_seconds += time.perf_counter() - start
        self.values.append(value)
        return value


def run_ours(name: str, problem: Problem, seed: int, evaluations: int, batch: int) -> tuple[list[float], float]:
    from hpo_compss.space import space_from_json
    from hpo_compss.search import make_searcher

    def domain(p: Param):
        if p.kind == "cat":
            return list(p.choices)
        if p.kind == "int":
            return {"integer": [int(p.low), int(p.high)]}
        return {"loguniform" if p.log else "uniform": [p.low, p.high]}

    if problem.branches:  # an exclusive scope: each kernel a branch with its own params
        space = {"kernel": {"exclusive": True, **{kernel: {p.name: domain(p) for p in params}
                                                  for kernel, params in problem.branches.items()}}}
    else:
        space = {p.name: domain(p) for p in problem.params}

    def flat(config: dict) -> dict:
        if not problem.branches:
            return config
        (kernel, params), = config["kernel"].items()
        return {"kernel": kernel, **params}

    searcher = make_searcher({"name": name}, space_from_json(space), seed)
    run, spent, config_id = Run(problem), 0.0, 0
    while config_id < evaluations:
        start = time.perf_counter()
        asked = [(i, searcher.ask(i)) for i in range(config_id, min(config_id + batch, evaluations))]
        spent += time.perf_counter() - start
        values = [run.evaluate(flat(s.config)) for _, s in asked]
        start = time.perf_counter()
        for (i, suggestion), value in zip(asked, values):
            searcher.tell(i, suggestion, value)
        spent += time.perf_counter() - start
        config_id += len(asked)
    return run.values, spent


def run_optuna(sampler_name: str, problem: Problem, seed: int, evaluations: int, batch: int) -> tuple[list[float], float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if sampler_name == "tpe":  # group: on a conditional space, a multivariate model per set of params
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True,
                                             group=problem.branches is not None)
    else:
        sampler = optuna.samplers.GPSampler(seed=seed)
    study = optuna.create_study(sampler=sampler)

    def suggest_params(trial, params: tuple[Param, ...], config: dict) -> dict:
        for p in params:
            if p.kind == "float":
                config[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
            elif p.kind == "int":
                config[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high))
            else:
                config[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        return config

    def suggest(trial) -> dict:  # define-by-run: the kernel first, then only its own params
        config = suggest_params(trial, problem.params, {})
        return suggest_params(trial, problem.branches[config["kernel"]], config) if problem.branches else config

    run, spent, done = Run(problem), 0.0, 0
    while done < evaluations:
        start = time.perf_counter()
        trials = [study.ask() for _ in range(min(batch, evaluations - done))]
        configs = [suggest(trial) for trial in trials]
        spent += time.perf_counter() - start
        values = [run.evaluate(config) for config in configs]
        start = time.perf_counter()
        for trial, value in zip(trials, values):
            study.tell(trial, value)
        spent += time.perf_counter() - start
        done += len(trials)
    return run.values, spent


def run_skopt(problem: Problem, seed: int, evaluations: int, batch: int) -> tuple[list[float], float]:
    """scikit-optimize has no conditional spaces: it searches the flat union of every branch's params,
    and the objective ignores those of the branches not chosen."""
    from skopt import Optimizer
    from skopt.space import Categorical, Integer, Real

    def dimension(p: Param):
        if p.kind == "cat":
            return Categorical(list(p.choices), name=p.name)
        if p.kind == "int":
            return Integer(int(p.low), int(p.high), name=p.name)
        return Real(p.low, p.high, prior="log-uniform" if p.log else "uniform", name=p.name)

    params = problem.params + tuple(p for branch in (problem.branches or {}).values() for p in branch)
    optimizer = Optimizer([dimension(p) for p in params], base_estimator="GP", random_state=seed)
    run, spent, done = Run(problem), 0.0, 0
    while done < evaluations:
        start = time.perf_counter()
        points = optimizer.ask(n_points=min(batch, evaluations - done), strategy="cl_min")
        spent += time.perf_counter() - start
        values = [run.evaluate({p.name: (v.item() if hasattr(v, "item") else v) for p, v in zip(params, point)})
                  for point in points]
        start = time.perf_counter()
        optimizer.tell(points, values)
        spent += time.perf_counter() - start
        done += len(points)
    return run.values, spent


def run_hyperopt(problem: Problem, seed: int, evaluations: int, batch: int) -> tuple[list[float], float]:
    from hyperopt import Trials, fmin, hp, tpe

    def dimension(p: Param):
        if p.kind == "cat":
            return hp.choice(p.name, list(p.choices))
        if p.kind == "int":
            return hp.uniformint(p.name, int(p.low), int(p.high))
        if p.log:
            return hp.loguniform(p.name, math.log(p.low), math.log(p.high))
        return hp.uniform(p.name, p.low, p.high)

    space = {p.name: dimension(p) for p in problem.params}
    if problem.branches:  # a nested choice: each kernel carries only its own params
        space = {"branch": hp.choice("kernel", [{"kernel": kernel, **{p.name: dimension(p) for p in params}}
                                                 for kernel, params in problem.branches.items()])}
    run = Run(problem)
    start = time.perf_counter()
    # max_queue_len: hyperopt proposes ``batch`` points before it evaluates any of them
    fmin(lambda config: run.evaluate(dict(config.get("branch", config))), space,
         algo=tpe.suggest, max_evals=evaluations, trials=Trials(), rstate=np.random.default_rng(seed),
         max_queue_len=batch, show_progressbar=False)
    return run.values, time.perf_counter() - start - run.objective_seconds


OPTIMISERS: dict[str, Callable[[Problem, int, int, int], tuple[list[float], float]]] = {
    "hpo_compss gp": lambda *a: run_ours("gp", *a),
    "hpo_compss tpe": lambda *a: run_ours("tpe", *a),
    "random": lambda *a: run_ours("random", *a),
    "optuna tpe": lambda *a: run_optuna("tpe", *a),
    "optuna gp": lambda *a: run_optuna("gp", *a),
    "skopt gp": run_skopt,
    "hyperopt tpe": run_hyperopt,
}
SHORT = {"hpo_compss gp": "gp", "hpo_compss tpe": "tpe"}


# -- running and summarising --------------------------------------------------------------------------
def _one(job: tuple[str, str, int, int, int]) -> dict:
    problem, optimiser, seed, evaluations, batch = job
    warnings.filterwarnings("ignore")  # OMP_NUM_THREADS=1 (above) also keeps Optuna's torch on one thread
    start = time.perf_counter()
    values, spent = OPTIMISERS[optimiser](PROBLEMS[problem], seed, evaluations, batch)
    return {"problem": problem, "optimiser": optimiser, "seed": seed, "evaluations": evaluations, "batch": batch,
            "values": values, "optimiser_seconds": spent, "seconds": time.perf_counter() - start}


def summarise(records: list[dict], problems: list[str], optimisers: list[str]) -> str:
    best_seen = {p: min(min(r["values"]) for r in records if r["problem"] == p) for p in problems}
    median, per_suggestion = {}, {}
    for p in problems:
        floor = PROBLEMS[p].minimum if PROBLEMS[p].minimum is not None else best_seen[p]
        for o in optimisers:
            runs = [r for r in records if r["problem"] == p and r["optimiser"] == o]
            median[p, o] = float(np.median([min(r["values"]) - floor for r in runs])) if runs else math.nan
    for o in optimisers:
        runs = [r for r in records if r["optimiser"] == o]
        per_suggestion[o] = sum(r["optimiser_seconds"] for r in runs) / max(1, sum(len(r["values"]) for r in runs))
    ranks = {o: [] for o in optimisers}
    for p in problems:
        regret = {o: math.inf if math.isnan(median[p, o]) else median[p, o] for o in optimisers}  # no runs: last
        order = sorted(optimisers, key=regret.get)
        for o in optimisers:  # ties share the mean of their ranks
            tied = [i + 1 for i, other in enumerate(order) if math.isclose(regret[other], regret[o], rel_tol=1e-9, abs_tol=1e-12)]
            ranks[o].append(sum(tied) / len(tied))
    seeds = len({r["seed"] for r in records})
    lines = [f"median final regret over {seeds} seeds ({records[0]['evaluations']} evaluations, batches of "
             f"{records[0]['batch']}); lower is better", "",
             "| problem | " + " | ".join(optimisers) + " |", "|---" * (len(optimisers) + 1) + "|"]
    for p in problems:
        lines.append(f"| {p} | " + " | ".join(f"{median[p, o]:.3g}" for o in optimisers) + " |")
    lines.append("| **mean rank** | " + " | ".join(f"**{np.mean(ranks[o]):.2f}**" for o in optimisers) + " |")
    lines.append("| time per suggestion (ms) | " + " | ".join(f"{1000 * per_suggestion[o]:.1f}" for o in optimisers) + " |")
    return "\n".join(lines)


def run_arguments(description: str, jobs: int | None, problems: list[str]) -> argparse.ArgumentParser:
    """The options every run of problems takes: seeds, evaluations in batches, parallel jobs, problems."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evaluations", type=int, default=60)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=jobs)
    parser.add_argument("--problems", default=",".join(problems))
    return parser


def main() -> None:
    parser = run_arguments(__doc__.splitlines()[0], os.cpu_count(), list(PROBLEMS))
    parser.add_argument("--optimisers", default=",".join(OPTIMISERS))
    parser.add_argument("--redo", default="", help="optimisers to run again although cached (comma-separated)")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "optimisers.jsonl")
    args = parser.parse_args()
    problems, optimisers = args.problems.split(","), args.optimisers.split(",")
    redo = {name for name in args.redo.split(",") if name}
    redo = {o for o in OPTIMISERS if o in redo or SHORT.get(o) in redo}
    cached = []
    if args.results.exists():
        cached = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    key = lambda r: (r["problem"], r["optimiser"], r["seed"], r["evaluations"], r["batch"])  # noqa: E731
    wanted = [(p, o, s, args.evaluations, args.batch) for p in problems for o in optimisers for s in range(args.seeds)]
    kept = [r for r in cached if r["optimiser"] not in redo]
    have = {key(r) for r in kept}
    todo = [job for job in wanted if job not in have]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text("".join(json.dumps(r) + "\n" for r in kept))
    print(f"{len(todo)} runs to do, {len(wanted) - len(todo)} cached", flush=True)
    with multiprocessing.get_context("spawn").Pool(args.jobs, maxtasksperchild=1) as pool, open(args.results, "a") as out:
        for record in pool.imap_unordered(_one, todo):
            out.write(json.dumps(record) + "\n")
            out.flush()
            print(f"{record['problem']:>21} {record['optimiser']:>15} seed {record['seed']}: best {min(record['values']):.6g}"
                  f" ({record['seconds']:.1f} s)", flush=True)
    wanted_keys = set(wanted)
    records = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    print(summarise([r for r in records if key(r) in wanted_keys], problems, optimisers))


if __name__ == "__main__":
    main()
