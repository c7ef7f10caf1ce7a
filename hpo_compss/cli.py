"""``hpo-compss``: run, resume, status, validate, report, trace. ``python main.py ARGS`` is ``hpo-compss run ARGS``.

Bad input of any kind ends in one line on stderr, ``error: <file>: <key path>: <what was expected>``,
and exit code 2, before any trial runs.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .errors import ConfigError

EXIT_USAGE = 2
EXIT_FAILURE = 1
STUDY_DIR_HELP = "the study folder (runs/<name> unless --study-dir named another)"
#: The driver's own linear algebra (a GP's matrices) is small: one BLAS thread, set before numpy
#: loads, so it never fights the trials for their cores. Trials get their own counts (runtime.process).
DRIVER_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
for _name in DRIVER_THREAD_VARIABLES:
    os.environ[_name] = "1"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hpo-compss", description="Hyperparameter optimisation on PyCOMPSs or this machine.")
    parser.add_argument("--version", action="version", version=f"hpo-compss {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a study (resumes it if its folder already holds this experiment)")
    run.add_argument("experiment", help="experiment JSON file (or a bare space: an object of lists)")
    run.add_argument("--objective", help="MODULE:FUNCTION or path/to/file.py:FUNCTION, overrides the file's")
    run.add_argument("--study-dir", type=Path, help="study folder (default runs/<name>)")
    run.add_argument("--seed", type=int, help="study seed, overrides the file's")
    _resource_flags(run)

    resume = commands.add_parser("resume", help="finish a study that was interrupted or killed, or give it more budget")
    resume.add_argument("study_dir", type=Path, help=STUDY_DIR_HELP)
    resume.add_argument("--trials", type=int, metavar="N", help="the study's new budget of configs (budget.trials)")
    resume.add_argument("--seconds", type=float, metavar="S", help="the new limit of each run (budget.seconds)")
    _resource_flags(resume)

    status = commands.add_parser("status", help="progress, best so far, failures")
    status.add_argument("study_dir", type=Path, help=STUDY_DIR_HELP)
    status.add_argument("--json", action="store_true", help="machine-readable output")

    report = commands.add_parser("report", help="write DIR/report: summary.md, trials.csv and figures")
    report.add_argument("study_dir", type=Path, help=STUDY_DIR_HELP)
    report.add_argument("--html", action="store_true",
                        help="write instead one self-contained page, DIR/report/report.html, to open anywhere offline")
    report.add_argument("--also", type=Path, nargs="+", default=[], metavar="DIR",
                        help="with --html: other study folders to show beside it")

    serve = commands.add_parser("serve", help="a read-only live dashboard of study folders (loopback and a token)")
    serve.add_argument("study_dirs", type=Path, nargs="+", metavar="study_dir", help=STUDY_DIR_HELP)
    serve.add_argument("--port", type=int, default=0, help="loopback port to listen on (default: one the system picks)")
    serve.add_argument("--socket", type=Path, metavar="PATH", help="listen on this UNIX socket instead (only you can open it)")

    repair = commands.add_parser("repair", help="move a journal's damaged lines aside, so the study can resume")
    repair.add_argument("study_dir", type=Path, help=STUDY_DIR_HELP)

    trace = commands.add_parser("trace", help="analyse a Paraver trace (COMPSs' or a local study's)")
    trace.add_argument("prv", type=Path, help="the .prv file (its .pcf and .row beside it)")
    trace.add_argument("--study", type=Path, metavar="DIR", help="match tasks to this study's trials")
    trace.add_argument("--json", action="store_true", help="machine-readable output")
    trace.add_argument("--plot", type=Path, metavar="FILE", help="draw the task timeline into this PNG")

    validate = commands.add_parser("validate", help="check an experiment file without running anything")
    validate.add_argument("experiment")
    validate.add_argument("--objective", help="objective to check, when the file has none")
    return parser


def _resource_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=("auto", "local", "compss", "dask"), default="auto",
                        help="where trials run: COMPSs inside runcompss/enqueue_compss, else this machine (auto); "
                             "compss outside the runtime runs the binding's sequential mode; dask: a Dask cluster "
                             "(pip install -e '.[dask]')")
    dask = parser.add_argument_group("the dask backend")
    dask.add_argument("--scheduler-address", metavar="ADDRESS", help="join the Dask scheduler at this address")
    dask.add_argument("--scheduler-file", metavar="FILE", help="join the Dask scheduler this file names "
                                                              "(dask-jobqueue's SLURM runner writes one)")
    dask.add_argument("--dask-cluster", choices=("local", "slurm", "runner"), default="local",
                      help="else start one: a LocalCluster; workers as SLURM jobs (dask_jobqueue.SLURMCluster); or, "
                           "under srun in an allocation, dask_jobqueue's SLURM runner")
    dask.add_argument("--dask-workers", type=int, metavar="N", help="LocalCluster: worker processes (default: "
                                                                   "cores / the largest class's cores)")
    dask.add_argument("--dask-jobs", type=int, default=1, metavar="N", help="SLURMCluster: worker jobs to submit")
    dask.add_argument("--dask-job-cores", type=int, metavar="N",
                      help="SLURMCluster: cores of each worker job (default: the largest compute class's)")
    dask.add_argument("--dask-walltime", default="01:00:00", metavar="HH:MM:SS",
                      help="SLURMCluster: each worker job's wall time (workers leave 5 min before it)")
    dask.add_argument("--dask-job-directive", action="append", default=[], metavar="LINE",
                      help="SLURMCluster: an extra #SBATCH option, such as --partition=debug (repeatable)")
    dask.add_argument("--dask-interface", metavar="NAME", help="SLURMCluster: the network interface to listen on "
                                                              "(lo: loopback only)")
    parser.add_argument("--max-running", type=int, metavar="N",
                        help="COMPSs: trials handed to the runtime at once (default: from the workers and max_tasks)")
    parser.add_argument("--cpus", type=int, help="cores to use (default: all this process may use, or the SLURM allocation)")
    parser.add_argument("--gpus", help="GPUs to use: a count or ids like 0,2 (default: CUDA_VISIBLE_DEVICES or SLURM's)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # like `python -m`, let objectives be modules of the current folder
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    source = next(str(value) for value in (getattr(args, key, None) for key in ("experiment", "study_dir", "prv"))
                  if value is not None) if args.command != "serve" else " ".join(map(str, args.study_dirs))
    from .journal import JournalWriteError
    from .lock import LockLost

    try:
        return COMMANDS[args.command](args)
    except BrokenPipeError:  # the reader went away (`| head`): what it wanted, it had
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except ConfigError as error:
        flag = bool(error.path) and str(error.path[0]).startswith("--")  # a flag's error is not the file's
        print(f"error: {error}" if flag else f"error: {source}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (JournalWriteError, LockLost) as error:
        print(f"error: {source}: {error}; the driver stopped. Continue with: hpo-compss resume {source}",
              file=sys.stderr)
        return EXIT_FAILURE


def _run(args: argparse.Namespace) -> int:
    from .experiment import load_experiment

    experiment = load_experiment(args.experiment, objective=args.objective, seed=args.seed)
    return _drive(experiment, args.study_dir or Path("runs") / experiment.name, args)


def _resume(args: argparse.Namespace) -> int:
    from .folder import load_study, with_budget

    experiment = load_study(args.study_dir)
    if args.trials is not None or args.seconds is not None:
        experiment = with_budget(experiment, args.trials, args.seconds)
    return _drive(experiment, args.study_dir, args)


def _drive(experiment, directory: Path, args: argparse.Namespace) -> int:
    from .runtime.resources import detect_machine
    from .study import Interrupted, run_study

    machine = detect_machine(args.cpus, args.gpus)
    if args.max_running is not None and args.max_running < 1:
        raise ConfigError(("--max-running",), f"expected a positive integer, got {args.max_running}")
    backend = _backend(args.backend)
    dask = _dask_options(args) if backend == "dask" else None
    if dask is not None and dask.cluster == "runner":  # before the study's lock: only the driver's task goes on
        from .runtime.dask_engine import join_runner

        dask.runner = join_runner(experiment.compute_classes, dask.interface)
    try:
        outcome = run_study(experiment, directory, machine, backend=backend, max_running=args.max_running, dask=dask)
    except Interrupted as interruption:
        print(f"stopped by {interruption}; the journal is complete. Continue with: hpo-compss resume {directory}", file=sys.stderr)
        _trace_study(directory, backend)
        return 128 + interruption.signum
    _trace_study(directory, backend)
    ledger = outcome.ledger
    print(f"study {experiment.name}: {ledger.n_trials} trials ({ledger.count('complete')} complete, "
          f"{ledger.count('failed')} failed) in {outcome.seconds:.1f} s; stopped: {outcome.stop_reason}")
    best = ledger.best_json()
    if best is None:
        print("no trial completed")
        return 1
    print(_best_line(experiment.metric, best))
    print(f"study folder: {directory}  (hpo-compss status {directory})")
    return 0


def _dask_options(args: argparse.Namespace):
    from .runtime.dask_engine import DaskOptions

    for flag, value in (("--dask-workers", args.dask_workers), ("--dask-jobs", args.dask_jobs),
                        ("--dask-job-cores", args.dask_job_cores)):
        if value is not None and value < 1:
            raise ConfigError((flag,), f"expected a positive integer, got {value}")
    if args.scheduler_file and not os.path.isfile(args.scheduler_file):
        raise ConfigError(("--scheduler-file",), f"no such file: {args.scheduler_file} (a scheduler writes it as it starts)")
    if not re.fullmatch(r"(\d+-)?\d+(:\d\d){0,2}", args.dask_walltime):
        raise ConfigError(("--dask-walltime",), f"expected a SLURM time such as 01:00:00 or 1-12:00:00, got {args.dask_walltime!r}")
    return DaskOptions(args.scheduler_address, args.scheduler_file, args.dask_workers, args.dask_cluster, args.dask_jobs,
                       args.dask_job_cores, args.dask_walltime, tuple(args.dask_job_directive), args.dask_interface)


def _trace_study(directory: Path, backend: str) -> None:
    """The Paraver trace of the study from its journal, for the engines whose runs say their cores (COMPSs
    writes its own with --tracing)."""
    from .analysis.study_trace import trace_study

    if backend not in ("local", "dask"):
        return
    try:
        trace_study(directory)
    except OSError as error:
        print(f"warning: cannot write the study's trace: {error}", file=sys.stderr)


def _backend(choice: str) -> str:
    """The engine to use: COMPSs inside its runtime (or when asked for), the local engine otherwise."""
    from .runtime.compss import compss_context

    if choice == "local":
        return "local"
    if choice == "dask":
        import importlib.util

        if importlib.util.find_spec("distributed") is None:
            raise ConfigError(("--backend",), "dask needs the dask extra: pip install -e '.[dask]' "
                                              "(dask[distributed], dask-jobqueue)")
        return "dask"
    context = compss_context()
    if choice == "compss":
        if context is None:
            raise ConfigError(("--backend",), "compss needs the PyCOMPSs binding, which is not importable here: "
                                              "run under runcompss or enqueue_compss, or use --backend local")
        if context == "sequential":
            print("warning: not inside the COMPSs runtime: the COMPSs code path runs in the binding's sequential "
                  "mode, one trial at a time (runcompss or enqueue_compss run trials in parallel)", file=sys.stderr)
        return "compss"
    return "compss" if context == "runtime" else "local"


def _best_line(metric: str, best: dict) -> str:
    spread = f" ± {best['std']:.3g} over {best['n']} repeats" if "std" in best else ""
    return f"best {metric} {best['value']:.6g}{spread} (trial {best['trial']}): {json.dumps(best['config'])}"


def _status(args: argparse.Namespace) -> int:
    from .folder import load_study, read_ledger
    from .lock import driver_running

    experiment = load_study(args.study_dir, check=False)
    ledger, journal = read_ledger(args.study_dir, experiment)
    running = driver_running(args.study_dir)
    status = {"name": experiment.name, "budget": experiment.trials * experiment.repeats, **ledger.status(),
              "driver_running": running, "damaged_lines": journal.skipped}
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(f"study {status['name']} ({args.study_dir}): {status['n_trials']} of {status['budget']} trials: "
          f"{status['n_complete']} complete, {status['n_failed']} failed, {status['n_running']} running, "
          f"{status['n_retrying']} awaiting retry, {status['n_cancelled']} cancelled"
          + "".join(f", {status[f'n_{kind}']} {kind}" for kind in ("paused", "pruned") if status[f"n_{kind}"]))
    if status["paused_at"]:
        print("paused at rungs: " + ", ".join(f"{budget:g}: {n}" for budget, n in status["paused_at"]))
    if status["failures"]:
        print("failures: " + ", ".join(f"{kind} {n}" for kind, n in sorted(status["failures"].items())))
    if status["best"]:
        print(_best_line(experiment.metric, status["best"]))
    state = "a driver is running it" if running else (
        f"stopped: {status['stopped']['reason']}" if status["stopped"] else "no driver is running it")
    print(state)
    if journal.skipped:
        print(f"warning: {journal.path}: damaged line(s) {', '.join(map(str, journal.skipped[:10]))} are not counted; "
              f"`hpo-compss repair {args.study_dir}` moves them aside")
    if journal.tail is not None and not running:
        print(f"warning: {journal.path}: a torn last record ({journal.tail.length} bytes) is cut off at the next resume")
    return 0


def _report(args: argparse.Namespace) -> int:
    if args.html:
        from .dashboard.page import write_report_page
        from .folder import load_study

        folders = [args.study_dir, *args.also]
        for folder in folders:
            load_study(folder, check=False)
        page = write_report_page(folders, Path(args.study_dir) / "report" / "report.html")
        print(f"report: {page} ({page.stat().st_size / 1e6:.1f} MB, opens offline)")
        return 0
    from .analysis.report import report_study

    out = report_study(args.study_dir)
    print(f"report: {out / 'summary.md'} ({len(list(out.glob('*.png')))} figures, trials.csv)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .dashboard.server import serve
    from .folder import load_study

    for folder in args.study_dirs:
        load_study(folder, check=False)
    if not 0 <= args.port <= 65535:
        raise ConfigError(("--port",), f"expected a port from 0 (any free one) to 65535, got {args.port}")
    serve(args.study_dirs, port=args.port, socket_path=args.socket)
    return 0


def _repair(args: argparse.Namespace) -> int:
    from .folder import JOURNAL_FILE, SUMMARY_FILE, load_study
    from .journal import quarantine
    from .lock import StudyLock

    load_study(args.study_dir, check=False)
    path = Path(args.study_dir) / JOURNAL_FILE
    with StudyLock(Path(args.study_dir), print):
        moved = quarantine(path)
        (Path(args.study_dir) / SUMMARY_FILE).unlink(missing_ok=True)
    if not moved:
        print(f"{path}: no damaged line")
        return 0
    print(f"{path}: moved {len(moved)} damaged line(s) ({', '.join(map(str, moved[:10]))}) to "
          f"{path.with_name(path.stem + '.damaged.jsonl')}; what they recorded runs again at the next resume")
    return 0


def _trace(args: argparse.Namespace) -> int:
    from .analysis.paraver import Trace, TraceError
    from .analysis.plots import trace_timeline
    from .analysis.trace_analysis import analyse, match_trials

    try:
        summary = analyse(Trace(args.prv))
    except (TraceError, OSError) as error:
        raise ConfigError(("trace",), str(error)) from None
    if args.study:
        from .folder import JOURNAL_FILE, journal_of

        if not (args.study / JOURNAL_FILE).is_file():
            raise ConfigError(("--study",), f"{args.study} is not a study folder (no {JOURNAL_FILE})")
        match_trials(summary, list(journal_of(args.study).records(skip_damaged=True)))  # every attempt
    print(json.dumps(summary.to_json(), indent=2) if args.json else summary.to_text())
    if args.plot:
        trace_timeline(summary, args.plot)
        if not args.json:
            print(f"timeline: {args.plot}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .experiment import load_experiment

    experiment = load_experiment(args.experiment, objective=args.objective)
    space = experiment.space
    parts = f"{len(space.subspaces)} sub-space(s), complexity {space.complexity():.4g}" if space else "no space"
    scheduler = experiment.scheduler()
    placing = "" if scheduler.name == "fifo" else f"; scheduler {scheduler.describe()}"
    print(f"ok: {experiment.name}: {parts}; {experiment.searcher().describe()}, "
          f"{experiment.trials} configs x {experiment.repeats} repeats; objective {experiment.objective}{placing}")
    return 0


COMMANDS = {"run": _run, "resume": _resume, "status": _status, "validate": _validate, "report": _report,
            "serve": _serve, "repair": _repair, "trace": _trace}


def run_main() -> int:
    """``python main.py ARGS``: the same as ``hpo-compss run ARGS``."""
    return main(["run", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
