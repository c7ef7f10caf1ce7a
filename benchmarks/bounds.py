"""Where our GP puts its evaluations: how many on a bound of the box, in a corner, and how close within a batch.

EI with ARD length scales tends to pile points onto the edges of the unit cube, where the posterior
variance is largest, and a batch of pending points may collapse onto one spot. For each problem of
``optimisers.py`` (by default the four synthetic ones) our GP runs ``--seeds`` times with its adapter
(60 evaluations in batches of 4), and this reports, over all evaluations, the share with a coordinate
exactly on a bound, within ``NEAR`` of one, and in a corner (every coordinate on a bound), the smallest distance
between two points of one batch (unit cube; the median over seeds of each run's smallest, and the
smallest of all), and the median final regret (for problems of unknown minimum, from the best run stored).

Results are stored under ``--label`` in ``--results``, and every label stored is shown side by side,
so the code before a change (another tree on PYTHONPATH) can be compared with the code after it:

    PYTHONPATH=/path/to/old/tree python benchmarks/bounds.py --label before
    PYTHONPATH=. python benchmarks/bounds.py --label after
"""
from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import itertools
import json
import math
import multiprocessing
from pathlib import Path

import numpy as np

from optimisers import HERE, PROBLEMS, Param, Problem, run_arguments, run_ours

SYNTHETIC = ("branin", "hartmann6", "rosenbrock4", "ackley5")
#: a coordinate this close to a bound (in the unit cube) counts as near it: moving points just off a
#: bound must not pass for spreading them
NEAR = 0.025


def unit(param: Param, value: float) -> float:
    """A numeric parameter's value in [0, 1], as the searcher's encoding sees it (log domains in log space)."""
    if param.log:
        return (math.log(value) - math.log(param.low)) / (math.log(param.high) - math.log(param.low))
    return (value - param.low) / (param.high - param.low)


def run(job: tuple[str, int, int, int]) -> dict:
    """One run of our GP, with each evaluated config's position in the unit cube."""
    name, seed, evaluations, batch = job
    problem = PROBLEMS[name]
    numeric = [p for p in problem.params if p.kind != "cat"]
    points: list[list[float]] = []

    def recorded(config: dict) -> float:
        points.append([unit(p, config[p.name]) for p in numeric])
        return problem.function(config)

    values, _ = run_ours("gp", Problem(problem.name, problem.params, recorded, problem.minimum), seed, evaluations, batch)
    X = np.array(points)
    on_bound = (X <= 1e-12) | (X >= 1 - 1e-12)
    near = (X < NEAR) | (X > 1 - NEAR)
    smallest = min(float(np.linalg.norm(a - b)) for start in range(0, len(X), batch)
                   for a, b in itertools.combinations(X[start:start + batch], 2))
    return {"problem": name, "seed": seed, "best": min(values), "bound": float(on_bound.any(axis=1).mean()),
            "near": float(near.any(axis=1).mean()),
            "corner": float(on_bound.all(axis=1).mean()), "batch_distance": smallest}


def table(stored: dict[str, list[dict]], problems: list[str]) -> str:
    labels = list(stored)
    every = [r for runs in stored.values() for r in runs]
    floor = {p: PROBLEMS[p].minimum if PROBLEMS[p].minimum is not None
             else min((r["best"] for r in every if r["problem"] == p), default=0.0) for p in problems}
    columns = [("on a bound", lambda rs: f"{np.mean([r['bound'] for r in rs]):.0%}"),
               (f"within {NEAR} of a bound", lambda rs: f"{np.mean([r['near'] for r in rs]):.0%}"),
               ("in a corner", lambda rs: f"{np.mean([r['corner'] for r in rs]):.0%}"),
               ("batch min distance (median / min)",
                lambda rs: f"{np.median([r['batch_distance'] for r in rs]):.3f} / {min(r['batch_distance'] for r in rs):.1e}"),
               ("median regret", lambda rs: f"{np.median([r['best'] for r in rs]) - floor[rs[0]['problem']]:.3g}")]
    header = "| problem | " + " | ".join(f"{title} ({label})" for title, _ in columns for label in labels) + " |"
    lines = [header, "|---" * (1 + len(columns) * len(labels)) + "|"]
    for p in problems:
        cells = []
        for _, show in columns:
            for label in labels:
                runs = [r for r in stored[label] if r["problem"] == p]
                cells.append(show(runs) if runs else "-")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = run_arguments(__doc__.splitlines()[0], 1, SYNTHETIC)
    parser.add_argument("--label", default="", help="run now and store under this label; without it, only show")
    parser.add_argument("--results", type=Path, default=HERE / "results" / "bounds.json")
    args = parser.parse_args()
    problems = args.problems.split(",")
    stored = json.loads(args.results.read_text()) if args.results.exists() else {}
    if args.label:
        jobs = [(p, s, args.evaluations, args.batch) for p in problems for s in range(args.seeds)]
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            stored[args.label] = pool.map(run, jobs)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(stored, indent=1) + "\n")
    print(f"our GP, {args.seeds} seeds, {args.evaluations} evaluations in batches of {args.batch}\n")
    print(table(stored, problems))


if __name__ == "__main__":
    main()
