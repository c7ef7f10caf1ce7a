"""How long one GP or TPE suggestion takes with many results: 400 results in 6 dimensions by default.

The results are told at once, so the first ask fits the GP from scratch, as after a resume. The
rounds after it are what a running study sees: batches of asks, each round's results told, the GP's
hyperparameters refitted (warm) while results are few or have grown by a tenth, otherwise only its
data updated; pending points are fantasies.

    python benchmarks/suggestion_time.py --results 400 --dims 6
    python benchmarks/suggestion_time.py --searchers tpe --results 100,1000,10000
"""
from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # as the driver sets them (hpo_compss.cli)

import argparse
import time

import numpy as np

from hpo_compss.search import Suggestion, make_searcher
from hpo_compss.space import space_from_json


def hartmann_like(x: np.ndarray) -> float:
    return float(-np.exp(-((x - 0.3) ** 2).sum() * 4) + 0.1 * np.sin(10 * x).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="400", help="how many results (comma-separated: each in turn)")
    parser.add_argument("--searchers", default="gp,tpe")
    parser.add_argument("--dims", type=int, default=6)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    space = space_from_json({f"x{i}": {"uniform": [0, 1]} for i in range(args.dims)})
    for name, results in ((n, int(r)) for n in args.searchers.split(",") for r in args.results.split(",")):
        searcher = make_searcher({"name": name}, space, 0)
        # results at random points, then a few rounds of the model's own batches
        rng = np.random.default_rng(0)
        for i in range(results - args.rounds * args.batch):
            x = rng.random(args.dims)
            config = {f"x{d}": float(x[d]) for d in range(args.dims)}
            searcher.tell(i, Suggestion(config, space.subspaces[0].name), hartmann_like(x))
        next_id, times = results - args.rounds * args.batch, []
        for _ in range(args.rounds):
            asked = []
            for _ in range(args.batch):
                start = time.perf_counter()
                asked.append((next_id, searcher.ask(next_id)))
                times.append(time.perf_counter() - start)
                next_id += 1
            for i, suggestion in asked:
                x = np.array([suggestion.config[f"x{d}"] for d in range(args.dims)])
                searcher.tell(i, suggestion, hartmann_like(x))
        print(f"{name}: {results} results, {args.dims} dims: first ask (fit from scratch) {1000 * times[0]:.0f} ms; "
              f"then median {1000 * np.median(times[1:]):.0f} ms, max {1000 * max(times[1:]):.0f} ms per suggestion")


if __name__ == "__main__":
    main()
