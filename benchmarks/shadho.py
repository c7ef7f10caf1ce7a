"""SHADHO's scheduling on a simulated heterogeneous cluster: throughput and time to a target loss.

The cluster is SHADHO's example: class ``c16`` (16 cores, 20 workers), ``c8`` (8 cores, 25 workers)
and ``c4`` (4 cores, 50 workers). The search is configs/svm_digits.json's four-kernel SVM space
(SHADHO's exclusive linear / rbf / sigmoid / poly branches) with random search, so that only where
trials run differs between methods. Each run has a fixed simulated wall-clock budget and runs the
real driver, searcher and scheduler on the simulated engine.

The cost model, calibrated on measured ``SVC`` fits (benchmarks/calibrate_svc.py, data in
benchmarks/data/svc_digits.json, surrogate in benchmarks/svc_cost.py):

- a trial is SHADHO's setting, an SVM on MNIST-sized data (60,000 training images), scored by
  16-fold cross-validation whose folds run in parallel on the class's cores: ceil(16 / cores) waves,
  so 1, 2 and 4 waves on c16, c8 and c4;
- one fold's fit takes the surrogate's fit time of the config on digits (interpolated from 240
  measured fits, 60 per kernel), extrapolated to 56,250 images by the kernel's measured power law
  (fit time against training-set size, measured at 337, 674 and 1347 images);
- each trial also pays the measured per-trial overhead on digits (loading, splitting, predicting),
  scaled linearly with the data size;
- its loss is the surrogate's test loss of the config on digits (measured, interpolated);
- 1 % of runs crash at a random point (injected), and the study's timeout (``--timeout``) fails the
  slowest fits; both are retried by the study's own rules (a timeout moves to a faster class).

Methods, each with the same seeds:

- ``uniform``: scheduler ``fifo``; a free slot of any class takes the next config, whose kernel
  the searcher draws uniformly (what a study does without a placing scheduler);
- ``declared order``: scheduler ``shadho`` with ``"measure": false``, SHADHO's released behaviour:
  ranks mapped onto the classes in their declared order;
- ``shadho``: ours, with each class's speed measured online from trial durations.

Both shadho methods re-rank every 500 results (``--rerank``; the scheduler's default is 10) so that
the 50 simulated studies take minutes: each ranking fits 8 Gaussian processes per sub-space.

Both shadho methods run twice: with the classes declared from fastest to slowest (as SHADHO's
example does) and with declared speeds that are wrong (the 4-core class declared fastest), which is
what measuring is for. Reported per method: completed trials per hour (median over seeds) and the
time to reach the target loss (median; a run that never reaches it counts as the budget). The last
line, ``throughput_ratio=X``, is the median over seeds of shadho's throughput over uniform's (classes
declared in SHADHO's order).

    pip install -e ".[benchmark]"
    python benchmarks/shadho.py --seeds 10
"""
from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse
import io
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import svc_cost  # noqa: E402

from hpo_compss.experiment import parse_experiment  # noqa: E402
from hpo_compss.runtime.resources import detect_machine  # noqa: E402
from hpo_compss.runtime.simulated import CostModel, SimulatedEngine  # noqa: E402
from hpo_compss.study import run_study  # noqa: E402
from hpo_compss.trial import ComputeClass  # noqa: E402

SPACE = json.loads((HERE.parent / "configs" / "svm_digits.json").read_text())["space"]
#: SHADHO's example: (name, cores, workers)
CLUSTER = (("c16", 16, 20), ("c8", 8, 25), ("c4", 4, 50))
FOLDS = 16
MNIST_TRAIN = 60_000
#: (label, scheduler, declared speeds by class: None for the cores)
METHODS = (
    ("uniform", {"name": "fifo"}, None),
    ("declared order", {"name": "shadho", "measure": False}, None),
    ("shadho", {"name": "shadho"}, None),
    ("declared order, wrong speeds", {"name": "shadho", "measure": False}, {"c16": 1.0, "c8": 2.0, "c4": 3.0}),
    ("shadho, wrong speeds", {"name": "shadho"}, {"c16": 1.0, "c8": 2.0, "c4": 3.0}),
)


class TrialCost:
    """Seconds of one trial of a config on a class, and its loss (see the module docstring)."""

    def __init__(self) -> None:
        self.surrogate = svc_cost.load()
        self.fold_train = MNIST_TRAIN * (FOLDS - 1) // FOLDS
        self.overhead = self.surrogate.overhead_seconds * MNIST_TRAIN / self.surrogate.n_train

    def seconds(self, config: dict, cls: ComputeClass) -> float:
        waves = math.ceil(FOLDS / cls.cpus)
        return self.overhead + waves * self.surrogate.fit_seconds(config, self.fold_train)

    def loss(self, config: dict) -> float:
        return self.surrogate.loss(config)


def run(method: int, seed: int, hours: float, timeout: float, rerank: int) -> dict:
    """One study; its throughput, the time each loss was first reached, and where trials ran."""
    label, scheduler, speeds = METHODS[method]
    if scheduler["name"] == "shadho":
        scheduler = {**scheduler, "rerank": rerank}
    cost = TrialCost()
    classes = {name: {"cpus": cores, "max_tasks": workers, **({"speed": speeds[name]} if speeds else {})}
               for name, cores, workers in CLUSTER}
    experiment = parse_experiment({
        "name": "shadho-bench", "objective": "hpo_compss.examples.svm_digits:train", "space": SPACE,
        "algorithm": "random", "seed": seed, "budget": {"trials": 10_000_000, "seconds": hours * 3600},
        "scheduler": scheduler, "compute_classes": classes, "timeout": timeout, "retries": 1,
        "stop": {"first_failures": 0}}, check=False)
    model = CostModel(curve=lambda config, step: cost.loss(config), step_seconds=lambda config: 1.0, max_steps=1,
                      speed=lambda config, cls: 1.0 / cost.seconds(config, cls), failure_rate=0.01, seed=seed)
    engine = SimulatedEngine(experiment.compute_classes, model, timeout=timeout)
    folder = Path(tempfile.mkdtemp(prefix="shadho-bench-"))
    try:
        began = time.perf_counter()
        run_study(experiment, folder / "study", detect_machine(cpus=1), out=io.StringIO(), engine=engine)
        took = time.perf_counter() - began
        records = [json.loads(line) for line in (folder / "study" / "journal.jsonl").open()]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    start = next(r["time"] for r in records if r.get("study") == "started")
    complete = sorted((r["end"] - start, r["value"], r["class"], r["subspace"]) for r in records
                      if r.get("status") == "complete")
    moved = sum(1 for r in records if r.get("status") == "failed" and r.get("reason", "").startswith("timeout")
                and r.get("retry_on") not in (None, r.get("class")))
    return {"method": method, "seed": seed, "throughput": len(complete) / hours, "ends": complete,
            "moved": moved, "seconds": took}


def time_to(ends: list, target: float, budget: float) -> float:
    """Seconds until a complete trial's loss was at most ``target`` (``budget`` when never)."""
    return next((end for end, value, _, _ in ends if value <= target), budget)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--hours", type=float, default=1.0, help="simulated wall-clock budget of each study")
    parser.add_argument("--timeout", type=float, default=300.0, help="the study's trial timeout (simulated s)")
    parser.add_argument("--rerank", type=int, default=500, help="shadho re-ranks every this many results")
    parser.add_argument("--target", type=float, default=0.0045, help="the loss to reach (2 test images of 450)")
    parser.add_argument("--methods", type=int, nargs="*", default=list(range(len(METHODS))),
                        help="which methods to run, by position (0 is uniform, always run)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    methods = sorted({0, *args.methods})
    jobs = [(m, seed, args.hours, args.timeout, args.rerank) for seed in range(args.seeds) for m in methods]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run, *zip(*jobs)))
    budget = args.hours * 3600
    by_method = {m: [r for r in results if r["method"] == m] for m in methods}
    print(f"{len(CLUSTER)} classes {', '.join(f'{n} ({c} cores x {w})' for n, c, w in CLUSTER)}; "
          f"{args.hours:g} h simulated; {args.seeds} seeds; target loss {args.target:g}")
    print(f"{'method':32} {'trials/h':>9} {'x uniform':>9} {'to target':>10} {'reached':>8} {'timeouts moved':>15} {'wall s':>7}")
    uniform = {r["seed"]: r["throughput"] for r in by_method[0]}
    for m, runs in by_method.items():
        ratios = [r["throughput"] / uniform[r["seed"]] for r in runs]
        to_target = [time_to(r["ends"], args.target, budget) for r in runs]
        reached = sum(t < budget for t in to_target)
        print(f"{METHODS[m][0]:32} {statistics.median(r['throughput'] for r in runs):9.0f} "
              f"{statistics.median(ratios):9.2f} {statistics.median(to_target) / 60:8.1f} m "
              f"{reached:5d}/{len(runs)} {statistics.median(r['moved'] for r in runs):15.0f} "
              f"{statistics.median(r['seconds'] for r in runs):7.1f}")
    example = by_method[2][0]["ends"]
    print("shadho, seed 0: completed trials per class and kernel:")
    counts: dict[tuple[str, str], int] = {}
    for _, _, cls, subspace in example:
        counts[(cls, subspace)] = counts.get((cls, subspace), 0) + 1
    for (cls, subspace), count in sorted(counts.items()):
        print(f"  {cls:4} {subspace:16} {count:6d}")
    ratio = statistics.median(r["throughput"] / uniform[r["seed"]] for r in by_method[2])
    print(f"throughput_ratio={ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
