"""The Dask backend: every attempt a Dask task, on a cluster it starts or on one it joins.

Our semantics, not Dask's defaults:

- each attempt is its own task key (``pure=False`` and a key per submission), so Dask never hands
  back an earlier attempt's result;
- retries are ours (``retries=0``): a failed trial is the driver's to run again or not;
- a worker that dies fails the task at once (the scheduler's ``allowed-failures`` is 0 on a
  cluster we start), so one out-of-memory trial cannot kill three workers in turn; the trial is
  recorded ``cancelled`` with that reason, and the driver runs it again elsewhere;
- each trial runs in a child process of the worker (``dask_tasks``, ``supervisor``), pinned to its
  share of the worker's cores and GPUs, so a timeout or a stop kills it for real;
- results are taken as they finish, and a future is released once its trial is journaled, so a
  worker's death never reruns a finished trial behind our back (the journal would not count a rerun
  twice anyway: a trial that ended for good never changes).

Reports and stops go through the study's inbox on the shared file system, as on COMPSs (``inbox``).
A compute class is a Dask resource set (``{"cores": cpus, "GPU": gpus}``); one that no worker can hold
is refused before any trial runs.

``dask.distributed`` is imported here only, and this module only when the Dask backend is chosen.
"""
from __future__ import annotations

import itertools
import math
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..clock import SYSTEM_CLOCK
from ..errors import ConfigError
from ..trial import CANCELLED, FAILED, ComputeClass, Outcome, Trial
from . import inbox
from .engine import Event, Finished
from .local import prefetch_depth, remember_duration
from .process import STOP_GRACE
from .resources import Assignment

#: how long ``wait`` blocks on the futures at a time, between looks at the inbox for reports
POLL_SECONDS = 0.2
#: a worker that dies under a task fails it at once (Dask's default, 3, lets one trial kill three workers)
ALLOWED_FAILURES = {"distributed.scheduler.allowed-failures": 0}
#: how long to try to reach a scheduler to join
CONNECT_SECONDS = 10
#: how often the workers are counted again (each class's capacity)
RECOUNT_SECONDS = 2.0
#: after telling the running trials to stop (``cancel``), how long to wait for them to return
CANCEL_GRACE = STOP_GRACE + 3.0
#: a trial told to stop whose task has not returned this long after is cancelled and recorded as told
STOP_CANCEL_SECONDS = 30.0 + STOP_GRACE


@dataclass
class DaskOptions:
    """Where the Dask cluster comes from: an address or a scheduler file to join, or one to start."""

    #: ``tcp://host:8786`` of a running scheduler
    address: str | None = None
    #: the file a scheduler (``dask scheduler --scheduler-file``, dask-jobqueue's runner) writes
    scheduler_file: str | None = None
    #: with neither: a ``LocalCluster`` of this many worker processes (default: one per core of the largest class)
    workers: int | None = None
    #: "local"; "slurm" for ``dask_jobqueue.SLURMCluster`` (workers submitted as SLURM jobs from a login
    #: node); "runner" inside an allocation, under ``srun`` (``dask_jobqueue``'s SLURMRunner: rank 0 the
    #: scheduler, rank 1 this driver, the other ranks workers)
    cluster: str = "local"
    #: SLURMCluster: how many worker jobs, their wall time, and extra ``sbatch`` lines
    jobs: int = 1
    #: SLURMCluster: cores of each worker job (default: the largest class's); a worker runs as many trials as fit
    job_cores: int | None = None
    walltime: str = "01:00:00"
    job_directives: tuple[str, ...] = ()
    #: the network interface workers and scheduler listen on ("lo" keeps them on loopback)
    interface: str | None = None
    #: the driver's task's runner (``join_runner``), when the cluster is "runner"
    runner: Any = None


@dataclass(eq=False)
class _Submitted(inbox.Followed):
    cls: ComputeClass = field(kw_only=True)
    future: Any = field(default=None, kw_only=True)


class DaskEngine:
    """Runs trials as Dask tasks; see the module docstring."""

    name = "dask"
    clock = SYSTEM_CLOCK

    def __init__(self, client: Any, classes: list[ComputeClass], objective: str, study_dir: Path,
                 timeout: float | None = None, fresh_process: bool = False, cluster: Any = None):
        from .dask_tasks import run_trial

        self.client, self.cluster = client, cluster
        self.classes = classes
        self.objective = objective
        self.study_dir = str(Path(study_dir).resolve())
        self.timeout = timeout
        self.fresh_process = fresh_process
        self._run_trial = run_trial
        self.trials: dict[inbox.Key, _Submitted] = {}
        self._tokens = (f"{uuid.uuid4().hex[:8]}{n}" for n in itertools.count())
        self._journaled: list[inbox.Key] = []
        self._counted = -math.inf
        #: each class's trials' moving average duration (s)
        self.durations: dict[str, float] = {}
        self.capacity = self._capacities(refuse=True)

    # -- the cluster ----------------------------------------------------------------------------------
    @classmethod
    def start(cls, options: DaskOptions, classes: list[ComputeClass], objective: str, study_dir: Path,
              timeout: float | None = None, fresh_process: bool = False) -> "DaskEngine":
        """Join the cluster ``options`` names, or start one sized for ``classes``."""
        import dask
        from distributed import Client

        dask.config.set(ALLOWED_FAILURES)  # for the clusters started here
        cluster = None
        if options.runner is not None:
            cluster = options.runner
            client = Client(cluster)
        elif options.address or options.scheduler_file:
            flag, where = ("--scheduler-address", options.address) if options.address else ("--scheduler-file",
                                                                                               options.scheduler_file)
            try:
                client = Client(options.address, scheduler_file=options.scheduler_file, timeout=f"{CONNECT_SECONDS}s")
            except (OSError, TimeoutError) as error:
                raise ConfigError((flag,), f"cannot reach the Dask scheduler of {where} in {CONNECT_SECONDS} s: {error}") from None
        else:
            cluster = _start_cluster(options, classes)
            client = Client(cluster)
            if options.cluster == "local":
                client.wait_for_workers(1, timeout=60)
        try:
            return cls(client, classes, objective, study_dir, timeout, fresh_process, cluster)
        except BaseException:
            client.close()
            if cluster is not None:
                cluster.close()
            raise

    def _capacities(self, refuse: bool = False) -> dict[str, int]:
        """Trials of each class the workers hold at once (at least one, while workers are still to come, as
        SLURM jobs do); with ``refuse`` (at the start), a class no worker holds is refused. Counted again
        every ``RECOUNT_SECONDS``: workers come and go, and a class whose workers left waits for others."""
        self._counted = time.monotonic()
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        #: do the workers declare our resources (a cluster we start does; one we join may not)?
        self.declared = self.cluster is not None or any("cores" in (w.get("resources") or {}) for w in workers)
        capacity = {}
        for cls in self.classes:
            fits = sum(_slots(cls, worker) for worker in workers)
            if refuse and workers and fits == 0 and (cls.cpus > 1 or cls.gpus):
                offered = "; ".join(sorted({_describe(worker) for worker in workers}))
                raise ConfigError(("compute_classes", cls.name),
                                  f"needs {cls.cpus} core(s) and {cls.gpus} GPU(s), which no Dask worker has "
                                  f"(the workers offer: {offered})")
            capacity[cls.name] = cls.max_tasks if cls.max_tasks is not None else max(1, fits)
        return capacity

    def describe(self) -> str:
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        hosts = {w.get("host", "?") for w in workers.values()}
        per_class = ", ".join(f"{name} {n}" for name, n in self.capacity.items())
        return (f"Dask scheduler {self.client.scheduler.address} with {len(workers)} worker(s) on {len(hosts)} host(s), "
                f"up to {per_class} trials at once")

    # -- the Engine calls ---------------------------------------------------------------------------
    @property
    def running(self) -> int:
        return len(self.trials)

    def free_classes(self) -> list[ComputeClass]:
        """The classes with a free slot, or (trials that are short) room in the queue the scheduler keeps
        for a busy one, so a slot does not idle for the round trip of the next submission."""
        if time.monotonic() - self._counted > RECOUNT_SECONDS:
            self.capacity = self._capacities()
        return [cls for cls in self.classes
                if sum(t.cls is cls for t in self.trials.values())
                < self.capacity[cls.name] * (1 + prefetch_depth(self.durations.get(cls.name), self.fresh_process))]

    def submit(self, trial: Trial, cls: ComputeClass) -> None:
        trial = replace(trial, token=next(self._tokens))
        key = inbox.key_of(trial)
        resources = {"cores": cls.cpus, **({"GPU": cls.gpus} if cls.gpus else {})} if self.declared else None
        future = self.client.submit(self._run_trial, self.objective, trial, self.study_dir, self.timeout,
                                    self.fresh_process, cls.cpus, cls.gpus, key=f"hpo-trial-{'-'.join(map(str, key))}",
                                    pure=False, retries=0, resources=resources)
        self.trials[key] = _Submitted(trial, cls=cls, future=future)

    def stop(self, trial: int, status: str) -> None:
        for entry in self.trials.values():
            if entry.trial.id == trial:
                entry.ask_to_stop(self.study_dir, status, STOP_CANCEL_SECONDS)

    def discard_checkpoint(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)  # (the study folder is on the file system the workers share)

    def wait(self, timeout: float | None) -> list[Event]:
        self._forget_journaled()
        limit = math.inf if timeout is None else time.monotonic() + timeout
        while self.trials:
            events: list[Event] = [report for entry in self.trials.values() for report in entry.new_reports(self.study_dir)]
            for key, entry in list(self.trials.items()):
                if entry.future.done():  # its last reports (written before it returned), then its end
                    events += [*entry.new_reports(self.study_dir), self._finish(key)]
            events += self._overdue()
            now = time.monotonic()
            if events or now >= limit:
                return events
            _wait_any([e.future for e in self.trials.values()], min(POLL_SECONDS, limit - now))
        return []

    def cancel(self, reason: str) -> list[Finished]:
        """Keep what finished; tell the rest to stop, and what has not returned in ``CANCEL_GRACE`` is cancelled."""
        finished = [self._finish(key) for key, entry in list(self.trials.items()) if entry.future.done()]
        for key in self.trials:
            inbox.request_stop(self.study_dir, key, CANCELLED)
        deadline = time.monotonic() + CANCEL_GRACE
        while self.trials and not all(e.future.done() for e in self.trials.values()) and time.monotonic() < deadline:
            _wait_any([e.future for e in self.trials.values() if not e.future.done()], deadline - time.monotonic())
        end = time.time()
        for key, entry in list(self.trials.items()):
            if entry.future.done():
                finished.append(self._finish(key))
                if finished[-1].outcome.status == CANCELLED:  # stopped as told: for the study's reason
                    finished[-1].outcome.reason = reason
                continue
            entry.future.cancel()
            for suffix in (".running", ".progress", ".stop"):
                inbox.discard(self.study_dir, key, suffix)
            finished.append(Finished(entry.trial, Outcome(CANCELLED, reason, end=end), Assignment(entry.cls, (), ())))
            del self.trials[key]
        return finished

    def close(self) -> None:
        self._forget_journaled()
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()  # (a SLURMRunner's close ends its scheduler's and workers' ranks too)

    def __enter__(self) -> "DaskEngine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- inside ---------------------------------------------------------------------------------------
    def _finish(self, key: inbox.Key) -> Finished:
        """The outcome of a task that is done: what it returned, or why it could not (its worker died)."""
        entry = self.trials.pop(key)
        try:
            outcome = entry.future.result()
        except Exception as error:  # noqa: BLE001 (whatever the task raised is the trial's reason)
            outcome = _lost(error)
            outcome.host = inbox.announcement(self.study_dir, key).get("host")  # where it was lost, if it started
        entry.future.release()  # journaled next: the cluster must not run it again
        if outcome.start is not None and outcome.end is not None:
            remember_duration(self.durations, entry.cls, outcome)
        self._journaled.append(key)
        return Finished(entry.trial, outcome, Assignment(entry.cls, tuple(outcome.cores or ()), tuple(outcome.gpus or ())))

    def _overdue(self) -> list[Finished]:
        now = time.monotonic()
        key = next((key for key, entry in self.trials.items() if entry.stop_by <= now), None)
        if key is None:
            return []
        entry = self.trials.pop(key)
        entry.future.cancel()
        self._journaled.append(key)
        return [Finished(entry.trial, entry.cancelled_outcome(STOP_CANCEL_SECONDS), Assignment(entry.cls, (), ()))]

    def _forget_journaled(self) -> None:
        for key in self._journaled:
            inbox.retire(self.study_dir, key)
        self._journaled.clear()


def _wait_any(futures: list, seconds: float) -> None:
    """Block until one of ``futures`` is done or ``seconds`` have passed."""
    from distributed import wait

    try:
        wait(futures, timeout=max(0.0, seconds), return_when="FIRST_COMPLETED")
    except TimeoutError:
        pass


def _lost(error: BaseException) -> Outcome:
    """A task that returned no outcome: its worker died under it (run again elsewhere), or Dask failed it."""
    now = time.time()
    kind = type(error).__name__
    if kind in ("KilledWorker", "CommClosedError", "CancelledError", "FutureCancelledError"):
        return Outcome(CANCELLED, f"lost: the Dask worker running it died or left ({kind}: {error})", now, now)
    return Outcome(FAILED, f"exception: the Dask task failed: {kind}: {error}", now, now)


def _slots(cls: ComputeClass, worker: dict) -> int:
    """How many trials of ``cls`` one worker holds at once."""
    resources = worker.get("resources") or {}
    if "cores" not in resources:  # no resources declared: a trial per thread
        return worker.get("nthreads", 1) if not cls.gpus else 0
    slots = int(resources["cores"] // cls.cpus)
    if cls.gpus:
        slots = min(slots, int(resources.get("GPU", 0) // cls.gpus))
    return slots


def _describe(worker: dict) -> str:
    resources = worker.get("resources") or {}
    return ", ".join(f"{k} {v:g}" for k, v in sorted(resources.items())) or f"{worker.get('nthreads', 1)} thread(s)"


def _start_cluster(options: DaskOptions, classes: list[ComputeClass]) -> Any:
    """A cluster whose workers each hold the largest class: a LocalCluster, or SLURM jobs (dask-jobqueue)."""
    cores = max([c.cpus for c in classes] + ([options.job_cores] if options.cluster == "slurm" and options.job_cores else []))
    gpus = max(c.gpus for c in classes)
    resources = {"cores": cores, **({"GPU": gpus} if gpus else {})}
    listen = {"interface": options.interface} if options.interface else {}
    if options.cluster == "slurm":
        from dask_jobqueue import SLURMCluster

        if shutil.which("sbatch") is None:  # (else its jobs would fail in the background, and the study wait)
            raise ConfigError(("--dask-cluster",), "slurm submits worker jobs with sbatch, which is not on PATH here: "
                                                   "run on a login node of the cluster, or use --dask-cluster local")

        memory = max((c.memory_gb or 0) for c in classes)
        cluster = SLURMCluster(
            cores=cores, processes=1, memory=f"{memory or 2 * cores:g}GB", walltime=options.walltime,
            job_directives_skip=[] if memory else ["--mem"],  # SLURM's default unless a class asks
            job_extra_directives=list(options.job_directives) + ([f"--gres=gpu:{gpus}"] if gpus else []),
            worker_extra_args=["--resources", " ".join(f"{k}={v}" for k, v in resources.items()),
                               "--lifetime", _lifetime(options.walltime), "--lifetime-stagger", "30s"],
            scheduler_options={"host": "127.0.0.1"} if options.interface == "lo" else {}, **listen)
        cluster.scale(jobs=options.jobs)
        return cluster
    from distributed import LocalCluster

    workers = options.workers or max(1, len(os.sched_getaffinity(0)) // cores)
    return LocalCluster(n_workers=workers, threads_per_worker=max(1, cores), processes=True, resources=resources,
                        dashboard_address=None, host="127.0.0.1")


def join_runner(classes: list[ComputeClass], interface: str | None = None) -> Any:
    """Under ``srun``: dask-jobqueue's SLURM runner. Task 0 becomes the scheduler and tasks 2 and on
    workers (each holding the cores its task holds, ``SLURM_CPUS_PER_TASK``); they serve here until the
    study ends, then their process exits. Only task 1, the driver, returns: the runner, as its cluster."""
    import dask
    from dask_jobqueue.slurm import SLURMRunner

    dask.config.set(ALLOWED_FAILURES)  # (every task runs this: the scheduler's among them)
    cores = max([c.cpus for c in classes] + [int(os.environ.get("SLURM_CPUS_PER_TASK") or 0)])
    gpus = max(c.gpus for c in classes)
    listen = {"interface": interface} if interface else {}
    runner = SLURMRunner(scheduler_options={"dashboard_address": None, **listen},
                         worker_options={"nthreads": cores, "resources": {"cores": cores, **({"GPU": gpus} if gpus else {})},
                                         **listen})
    try:
        runner.__enter__()
    except KeyboardInterrupt:  # how the runner ends a scheduler's or a worker's task once the study is over
        raise SystemExit(0) from None
    return runner


def _lifetime(walltime: str) -> str:
    """A worker's lifetime: five minutes below its job's wall time (at least a minute), so it leaves before SLURM kills it."""
    parts = [int(p) for p in walltime.replace("-", ":").split(":")]
    while len(parts) < 3:
        parts.insert(0, 0)
    seconds = sum(value * unit for value, unit in zip(reversed(parts), (1, 60, 3600, 86400)))
    return f"{max(60, seconds - 300)}s"
