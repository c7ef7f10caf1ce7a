"""What reproducible batches cost: the same study as trials end and in batches by config id.

    python benchmarks/reproducible.py [--trials 120] [--workers 2] [--rounds 3]

Each trial takes 0.05 to 0.45 s, so trials run at once end at different times. With ``"batch": q``
a config is asked only once the batches before its own have ended, so workers wait for a batch's
last trial; the figure is the wall time and the workers' utilisation (busy time over wall time times
workers) of each setting, side by side in each round, and the ratio of the medians.
"""
from __future__ import annotations

import argparse
import json
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


def run(trials: int, workers: int, batch: int, where: Path) -> tuple[float, float]:
    """Wall time and utilisation of one study."""
    algorithm = {"name": "tpe", "batch": batch} if batch else {"name": "tpe"}
    experiment = parse_experiment({
        "name": "batches", "objective": f"{HERE / 'trivial.py'}:uneven_square",
        "space": {"x": {"uniform": [-1, 1]}, "y": {"uniform": [-1, 1]}}, "algorithm": algorithm,
        "budget": {"trials": trials}})
    with tempfile.TemporaryDirectory(dir=where) as folder, open(os.devnull, "w") as sink:
        start = time.perf_counter()
        outcome = run_study(experiment, Path(folder) / "study", detect_machine(cpus=workers), out=sink)
        wall = time.perf_counter() - start
        records = [json.loads(line) for line in (Path(folder) / "study" / "journal.jsonl").open()]
    runs = [r for r in records if r.get("status") == "complete"]
    assert len(runs) == trials, outcome.ledger.status()
    busy = sum(r["end"] - r["start"] for r in runs)
    return wall, busy / (wall * workers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = {"as trials end": 0, **{f"batch {q}": q for q in (args.workers, 2 * args.workers, 4 * args.workers)}}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in settings}
    for _ in range(args.rounds):
        for name, batch in settings.items():
            results[name].append(run(args.trials, args.workers, batch, Path(tempfile.gettempdir())))
    base = statistics.median(wall for wall, _ in results["as trials end"])
    print(f"{args.trials} trials of 0.05-0.45 s on {args.workers} workers, tpe, {args.rounds} rounds (medians)")
    print(f"{'setting':<16} {'wall s':>8} {'utilisation':>12} {'wall / as trials end':>22}")
    for name, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        use = statistics.median(u for _, u in runs)
        print(f"{name:<16} {wall:8.2f} {use:12.0%} {wall / base:22.2f}")


if __name__ == "__main__":
    main()
