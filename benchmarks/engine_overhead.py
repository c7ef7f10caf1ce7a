"""Local engine overhead per trial against a bare ProcessPoolExecutor, side by side in one run.

    python benchmarks/engine_overhead.py [--trials 2000] [--workers 2] [--rounds 3]

The engine's figure includes everything a real study does per trial: asking the searcher, a
journal record when the trial starts and one (fsynced) when it ends, its own stdout/stderr files,
seeding, the result's validation and the progress line (written to /dev/null here). The pool's
figure is the bare minimum: submit a function, collect its result.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from hpo_compss.experiment import parse_experiment  # noqa: E402
from hpo_compss.runtime.resources import detect_machine  # noqa: E402
from hpo_compss.study import run_study  # noqa: E402
from trivial import square  # noqa: E402


def engine_rate(trials: int, workers: int, where: Path, backend: str = "local", **options) -> float:
    """Trials per second of a whole study of ``trials`` trivial trials (``options``: ``run_study``'s, such as ``dask``)."""
    experiment = parse_experiment({
        "name": "overhead", "objective": f"{HERE / 'trivial.py'}:square",
        "space": {"x": {"uniform": [-1, 1]}}, "algorithm": "random", "budget": {"trials": trials}})
    with tempfile.TemporaryDirectory(dir=where) as folder, open(os.devnull, "w") as sink:
        start = time.perf_counter()
        outcome = run_study(experiment, Path(folder) / "study", detect_machine(cpus=workers), out=sink, backend=backend,
                            **options)
        elapsed = time.perf_counter() - start
    assert outcome.ledger.count("complete") == trials, outcome.ledger.status()
    return trials / elapsed


def pool_rate(trials: int, workers: int) -> float:
    start = time.perf_counter()
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        drain(pool, trials)
    return trials / (time.perf_counter() - start)


def drain(pool: concurrent.futures.Executor, trials: int) -> None:
    """Submit ``trials`` trivial calls to ``pool`` and take their results as they finish."""
    futures = [pool.submit(square, {"x": i / trials}) for i in range(trials)]
    for future in concurrent.futures.as_completed(futures):
        future.result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path.cwd(),
                        help="where the study folders go (default: here; /tmp can be a much slower file system)")
    args = parser.parse_args()
    engine, pool = [], []
    for _ in range(args.rounds):  # interleaved, so both see the same machine state
        engine.append(engine_rate(args.trials, args.workers, args.dir))
        pool.append(pool_rate(args.trials, args.workers))
    e, p = statistics.median(engine), statistics.median(pool)
    print(f"{args.trials} trivial trials on {args.workers} workers, median of {args.rounds} rounds (each includes start-up)")
    print(f"  local engine (journal fsynced per harvest): {e:8.0f} trials/s  ({1e6 / e:6.0f} us per trial)")
    print(f"  bare ProcessPoolExecutor:                   {p:8.0f} trials/s  ({1e6 / p:6.0f} us per trial)")
    print(f"  ratio engine/pool: {e / p:.2f}  (goal >= 0.50)")


if __name__ == "__main__":
    main()
