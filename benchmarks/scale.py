"""Studies of many trivial trials: the driver's time and memory, and what status, report and resume cost.

    python benchmarks/scale.py [--trials 25000 50000 100000] [--workers 2] [--dir .]

For each size, a random-search study of that many trivial trials runs to the end; then `status`
(from the summary the driver keeps, and from the whole journal), `report` and a `resume` of the
finished study (which replays the whole journal) run on it. Each command is a fresh process, and its
peak memory is its own (ru_maxrss, workers excluded). Figures are medians of --rounds runs of each
reader.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: runs one hpo-compss command and reports its own peak memory (MB) on stderr's last line
MEASURED = """
import resource, sys
from hpo_compss.cli import main
code = main(sys.argv[1:])
print(f"maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}", file=sys.stderr)
sys.exit(code)
"""


def measure(*command: str, quiet: bool = True) -> tuple[float, float]:
    """(seconds, peak MB) of one `hpo-compss COMMAND`."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURED, *command], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"hpo-compss {' '.join(command)} failed:\n{done.stderr}")
    peak = float(done.stderr.strip().splitlines()[-1].split()[1])
    return seconds, peak


def median_of(rounds: int, *command: str) -> tuple[float, float]:
    runs = [measure(*command) for _ in range(rounds)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, nargs="+", default=[25_000, 50_000, 100_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path.cwd(),
                        help="where the study folders go (default: here; /tmp can be a much slower file system)")
    args = parser.parse_args()
    rows = []
    for trials in args.trials:
        folder = Path(tempfile.mkdtemp(dir=args.dir, prefix="scale-"))
        try:
            experiment = folder / "scale.json"
            experiment.write_text(json.dumps({
                "name": "scale", "objective": f"{HERE / 'trivial.py'}:square", "space": {"x": {"uniform": [-1, 1]}},
                "algorithm": "random", "budget": {"trials": trials}}))
            study = str(folder / "study")
            run = measure("run", str(experiment), "--study-dir", study, "--cpus", str(args.workers))
            journal_mb = (folder / "study" / "journal.jsonl").stat().st_size / 2**20
            status = median_of(args.rounds, "status", study)
            summary = folder / "study" / "summary.json"
            kept = summary.read_bytes()
            summary.unlink()
            full = median_of(args.rounds, "status", study)
            summary.write_bytes(kept)
            report = median_of(1, "report", study)
            resume = median_of(args.rounds, "resume", study, "--cpus", str(args.workers))
            rows.append((trials, journal_mb, run, status, full, report, resume))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print(f"random search of trivial trials on {args.workers} workers; seconds and peak MB of each command "
          f"(medians of {args.rounds} runs; report once)")
    print(f"{'trials':>8} {'journal':>8} | {'run':>15} | {'status':>13} | {'status, no summary':>18} | "
          f"{'report':>14} | {'resume (replay)':>15}")
    for trials, journal_mb, run, status, full, report, resume in rows:
        cells = [f"{s:6.1f} s {m:5.0f} MB" for s, m in (run, status, full, report, resume)]
        print(f"{trials:>8} {journal_mb:6.0f}MB | " + " | ".join(cells))
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(f"resume time per 1,000 trials: {1000 * first[6][0] / first[0]:.3f} s at {first[0]}, "
              f"{1000 * last[6][0] / last[0]:.3f} s at {last[0]} (linear if equal)")


if __name__ == "__main__":
    main()
