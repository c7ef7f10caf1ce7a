"""What supervising each COMPSs trial in a child process costs, against the local engine's kept worker.

    python benchmarks/trial_isolation.py [--trials 50] [--objective trivial|svm]

Under COMPSs a task runs its trial in a child process (``runtime.supervisor``), so a crash or a hang
is the trial's failure and the timeout is exact. The child is kept for the next task with the same
binding; with ``fresh_process`` it is new for every trial. This measures both per trial, one trial
at a time, for a trivial objective (interpreter start-up) and for scikit-learn's SVM on digits
(start-up plus the objective's imports and data loading, which a kept child pays once). The COMPSs
runtime's own per-task overhead comes on top and is not measured here.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

from hpo_compss.trial import ComputeClass, Trial  # noqa: E402
from hpo_compss.runtime.local import LocalEngine  # noqa: E402
from hpo_compss.runtime.resources import detect_machine  # noqa: E402
from hpo_compss.runtime.supervisor import supervise  # noqa: E402

OBJECTIVES = {"trivial": (f"{HERE / 'trivial.py'}:square", {"x": 0.5}),
              "svm": ("hpo_compss.examples.svm_digits:train", {"kernel": {"rbf": {"C": 10.0, "gamma": 0.001}}})}


def task(trial: int, config: dict, folder: str) -> Trial:
    return Trial(trial, trial, 0, 1, trial, config, workdir=os.path.join(folder, "trials", str(trial)))


def per_trial_supervised(objective: str, config: dict, trials: int, folder: str, fresh: bool) -> float:
    start = time.perf_counter()
    for trial in range(trials):
        assert supervise(objective, task(trial, config, folder), folder, None, fresh).status == "complete"
    return (time.perf_counter() - start) / trials


def per_trial_kept(objective: str, config: dict, trials: int, folder: str) -> float:
    engine = LocalEngine(detect_machine(cpus=1), [ComputeClass("cpu")], objective, Path(folder))
    start = time.perf_counter()
    with engine:
        for trial in range(trials):
            engine.submit(task(trial, config, folder), engine.classes[0])
            while not (done := engine.wait(None)):
                pass
            assert done[0].outcome.status == "complete"
    return (time.perf_counter() - start) / trials


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--objective", choices=sorted(OBJECTIVES), default="trivial")
    args = parser.parse_args()
    objective, config = OBJECTIVES[args.objective]
    with tempfile.TemporaryDirectory(dir=".") as folder:
        os.makedirs(os.path.join(folder, "trials"))
        kept = per_trial_kept(objective, config, args.trials, folder)
        supervised = per_trial_supervised(objective, config, args.trials, folder, fresh=False)
        fresh = per_trial_supervised(objective, config, args.trials, folder, fresh=True)
    print(f"{args.objective}: local engine {kept * 1000:.1f} ms/trial; COMPSs task's supervised child: "
          f"kept {supervised * 1000:.1f} ms/trial, fresh_process {fresh * 1000:.1f} ms/trial")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
