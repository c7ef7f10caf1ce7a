"""Dispatch rate of the Dask backend, side by side with the local engine and a bare Dask client, in one run.

    python benchmarks/dask_dispatch.py [--trials 2000] [--workers 2] [--rounds 3]

Trivial trials (``trivial.square``) on 2 workers, trials per second:
- the local engine: a whole study (searcher, journal, output files, progress) on 2 worker processes;
- the Dask backend: the same study on a LocalCluster of 2 worker processes, where each trial also
  runs in a supervised, pinned child process of its worker and reports through the inbox;
- a bare Dask client: ``client.submit`` of the same function on the same kind of cluster, results
  taken with ``as_completed`` (the least Dask itself costs).
Rounds are interleaved so all three see the same machine; medians are printed.
"""
from __future__ import annotations

import argparse
import statistics
import time
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from engine_overhead import drain, engine_rate  # noqa: E402
from hpo_compss.runtime.dask_engine import DaskOptions  # noqa: E402


def bare_dask_rate(trials: int, workers: int) -> float:
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        drain(client.get_executor(pure=False), trials)  # client.submit of each, results as they finish
    return trials / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path.cwd(), help="where the study folders go (default: here)")
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"local engine": [], "dask backend": [], "bare dask client": []}
    for _ in range(args.rounds):  # interleaved, so all see the same machine state
        rates["local engine"].append(engine_rate(args.trials, args.workers, args.dir))
        rates["dask backend"].append(engine_rate(args.trials, args.workers, args.dir, "dask",
                                                 dask=DaskOptions(workers=args.workers)))
        rates["bare dask client"].append(bare_dask_rate(args.trials, args.workers))
    print(f"{args.trials} trivial trials on {args.workers} workers, median of {args.rounds} rounds (cluster start-up included)")
    bare = statistics.median(rates["bare dask client"])
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:18s} {median:8.1f} trials/s  ({median / bare:.2f}x the bare client)")


if __name__ == "__main__":
    main()
