"""Parse time of ``hpo-compss trace`` per million Paraver records, and its peak memory.

Writes a synthetic trace in COMPSs' conventions (``write_trace``: per task one state record and three
events) of about ``--records`` records over 48 cores of 4 hosts, then analyses it as
``hpo-compss trace`` does. ``--filler K`` adds K runtime events (8001002) per task, as real COMPSs
traces have many more records than tasks; the peak resident memory against the file's size then
shows that the reader streams (its memory follows the tasks, not the file).

    python benchmarks/trace_parse.py --records 1000000
    python benchmarks/trace_parse.py --records 27600000 --filler 56     # about 1 GB
"""
from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import tempfile
import time
from pathlib import Path

from hpo_compss.analysis.paraver import TaskRun, Trace, write_trace
from hpo_compss.analysis.trace_analysis import analyse

RECORDS_PER_TASK = 4


def synthetic(prv: Path, records: int, filler: int = 0, seed: int = 0) -> Path:
    rng = random.Random(seed)
    free: dict[tuple[str, int], float] = {}
    runs = []
    for number in range(1, records // (RECORDS_PER_TASK + filler) + 1):
        where = (f"node{rng.randrange(4)}", rng.randrange(12))
        start = free.get(where, 0.0) + rng.uniform(0.0, 0.01)
        free[where] = start + rng.uniform(0.01, 2.0)
        runs.append(TaskRun(number, 1 + number % 3, where[0], (where[1],), 1.7e9 + start, 1.7e9 + free[where]))
    write_trace(prv, runs, {1: "train", 2: "evaluate", 3: "preprocess"})
    if filler:
        inflated = prv.with_suffix(".tmp")
        with open(prv) as source, open(inflated, "w") as out:
            for line in source:
                out.write(line)
                fields = line.split(":")
                if len(fields) > 7 and fields[6] == "8000002" and fields[7] != "0\n":  # a task has started
                    stem = ":".join(fields[:6])
                    out.writelines(f"{stem}:8001002:{1 + k % 50}\n" for k in range(filler))
        inflated.replace(prv)
    return prv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--filler", type=int, default=0, help="runtime events per task")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        prv = Path(folder) / "synthetic.prv"
        writer = multiprocessing.Process(target=synthetic, args=(prv, args.records, args.filler))  # its memory is not ours
        writer.start()
        writer.join()
        size = prv.stat().st_size
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        summary = analyse(Trace(prv))
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    records = sum(summary.record_counts.values())
    print(f"{records:,} records ({size / 1e6:,.0f} MB), {len(summary.tasks):,} tasks: parsed and analysed in "
          f"{seconds:.2f} s = {seconds / records * 1e6:.2f} s per million records; peak memory {peak:.0f} MB "
          f"({before:.0f} MB before it)")


if __name__ == "__main__":
    main()
