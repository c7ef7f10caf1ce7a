"""The stand-in runtime: virtual nodes, a first-fit FIFO scheduler, one process per task, futures, groups.

Nodes come from ``PYCOMPSS_STANDIN_NODES`` (count), ``PYCOMPSS_STANDIN_CPUS`` and ``PYCOMPSS_STANDIN_GPUS``
(per node) and ``PYCOMPSS_STANDIN_MEMORY`` (GB per node). A task runs once it fits a node; its cores
and GPUs are that node's lowest free ids. FILE_IN / DIRECTORY_IN / COLLECTION_FILE_IN arguments are
copied once per node into a sandbox, as the runtime transfers data to workers without a shared disk.
A DIRECTORY_INOUT argument is a fresh copy of its latest version for each task, and what the task
leaves there becomes the next version: the master's folder is brought up to date only by
``compss_wait_on_directory`` or when the runtime stops (as it retrieves written files), and
``compss_delete_file`` forgets every version.
"""
from __future__ import annotations

import itertools
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..api.parameter import STAGED
from .rules import Needs, Rejected

RUNTIME: "Runtime | None" = None
_log_lock = threading.Lock()


def log(event: str, **fields: Any) -> None:
    """Append one JSON line to $PYCOMPSS_STANDIN_LOG (when set)."""
    path = os.environ.get("PYCOMPSS_STANDIN_LOG")
    if not path:
        return
    from ..util.context import CONTEXT

    with _log_lock, open(path, "a") as handle:
        handle.write(json.dumps({"event": event, "role": CONTEXT.role, "time": time.time(), **fields}, default=repr) + "\n")


class Future:
    def __init__(self, task_id: int):
        self.task_id = task_id
        self.done = threading.Event()
        self.value: Any = None
        #: why the task failed, when its on_failure does not give a default
        self.error: str | None = None


@dataclass
class _Node:
    name: str
    cores: set
    gpus: set
    memory: float


@dataclass(eq=False)
class Task:
    id: int
    module: str
    function: str
    args: list
    kwargs: dict
    directions: dict  # parameter position or name -> staged kind ("file", "directory", "files")
    needs: Needs
    time_out: int
    on_failure: str
    default: Any
    future: Future
    groups: list = field(default_factory=list)
    process: subprocess.Popen | None = None
    cancelled: bool = False


class Runtime:
    def __init__(self, pythonpath: list[str]):
        count = int(os.environ.get("PYCOMPSS_STANDIN_NODES", "1"))
        cpus = int(os.environ.get("PYCOMPSS_STANDIN_CPUS", str(os.cpu_count() or 1)))
        gpus = int(os.environ.get("PYCOMPSS_STANDIN_GPUS", "0"))
        memory = float(os.environ.get("PYCOMPSS_STANDIN_MEMORY", "64"))
        self.nodes = [_Node(f"node{i + 1}", set(range(cpus)), set(range(gpus)), memory) for i in range(count)]
        self.capacity = (cpus, gpus, memory)
        self.pythonpath = pythonpath
        self.sandbox = tempfile.mkdtemp(prefix="pycompss-standin-")
        self.staged: dict[tuple[str, str], str] = {}
        #: the latest version of each DIRECTORY_INOUT folder (master path -> where it is)
        self.versions: dict[str, str] = {}
        self.lock = threading.Condition()
        self.queue: list[Task] = []
        self.running: set[Task] = set()
        self.open_groups: list[str] = []
        self.groups: dict[str, list[Task]] = {}
        self.ids = itertools.count(1)
        self.threads: list[threading.Thread] = []

    # -- the application's calls ----------------------------------------------------------------
    def submit(self, module: str, function: str, args: list, kwargs: dict, directions: dict, needs: Needs,
               time_out: int, on_failure: str, default: Any) -> Future:
        cpus, gpus, memory = self.capacity
        for where, kind in directions.items():
            value = args[where] if isinstance(where, int) else kwargs[where]
            if kind in ("directory", "written") and not (isinstance(value, str) and os.path.isdir(value)):
                raise Rejected(f"{function}: a DIRECTORY parameter must name an existing folder, got {value!r}")
        if needs.cpus > cpus or needs.gpus > gpus or (needs.memory_gb or 0) > memory:
            raise Rejected(f"no resource can run {function} (needs {needs}, nodes have {cpus} cpus, {gpus} gpus, {memory} GB)")
        with self.lock:
            task = Task(next(self.ids), module, function, args, kwargs, directions, needs, time_out, on_failure,
                        default, Future(0), list(self.open_groups))
            task.future.task_id = task.id
            for group in task.groups:
                self.groups.setdefault(group, []).append(task)
            self.queue.append(task)
            self._dispatch()
        return task.future

    def wait_on(self, future: Future) -> Any:
        future.done.wait()
        if future.error is not None:
            raise RuntimeError(future.error)
        return future.value

    def cancel_group(self, name: str) -> None:
        with self.lock:
            for task in self.groups.get(name, []):
                if task.future.done.is_set():
                    continue
                task.cancelled = True
                if task in self.queue:
                    self.queue.remove(task)
                    log("cancelled", task=task.id, state="queued")
                    task.future.done.set()
                elif task.process is not None:
                    log("cancelled", task=task.id, state="running")
                    task.process.send_signal(signal.SIGUSR2)

    def get_directory(self, path: str) -> None:
        """Bring the latest version of a written folder to the master's path."""
        with self.lock:
            version = self.versions.get(os.path.abspath(path))
        if version is not None:
            shutil.rmtree(path, ignore_errors=True)
            shutil.copytree(version, path)
        log("retrieve", path=path, version=version)

    def delete_file(self, path: str) -> None:
        """Forget every version of a file or folder, the master's copy included."""
        with self.lock:
            version = self.versions.pop(os.path.abspath(path), None)
        for copy in (version, path):
            if copy is not None and os.path.isdir(copy):
                shutil.rmtree(copy, ignore_errors=True)
            elif copy is not None and os.path.exists(copy):
                os.unlink(copy)
        log("delete", path=path)

    def barrier(self, group: str | None = None) -> None:
        tasks = self.groups.get(group, []) if group else None
        while True:
            with self.lock:
                pending = [t for t in (tasks if tasks is not None else [*self.queue, *self.running])
                           if not t.future.done.is_set()]
            if not pending:
                return
            pending[0].future.done.wait()

    def stop(self) -> None:
        self.barrier()
        for thread in self.threads:
            thread.join()
        for path in list(self.versions):  # the runtime retrieves the files its tasks wrote
            self.get_directory(path)
        shutil.rmtree(self.sandbox, ignore_errors=True)

    # -- scheduling and execution ---------------------------------------------------------------
    def _dispatch(self) -> None:
        for task in list(self.queue):
            node = next((n for n in self.nodes if len(n.cores) >= task.needs.cpus and len(n.gpus) >= task.needs.gpus
                         and n.memory >= (task.needs.memory_gb or 0)), None)
            if node is None:
                continue
            cores = sorted(node.cores)[:task.needs.cpus]
            gpus = sorted(node.gpus)[:task.needs.gpus]
            node.cores.difference_update(cores)
            node.gpus.difference_update(gpus)
            node.memory -= task.needs.memory_gb or 0
            self.queue.remove(task)
            self.running.add(task)
            thread = threading.Thread(target=self._run, args=(task, node, cores, gpus), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _run(self, task: Task, node: _Node, cores: list, gpus: list) -> None:
        written: dict[str, str] = {}
        args = [self._stage(node, kind, value, written) if (kind := task.directions.get(i)) else value
                for i, value in enumerate(task.args)]
        kwargs = {k: self._stage(node, task.directions[k], v, written) if k in task.directions else v
                  for k, v in task.kwargs.items()}
        real = sorted(os.sched_getaffinity(0))
        env = {
            "COMPSS_BINDED_CPUS": ",".join(map(str, cores)), "COMPSS_NUM_THREADS": str(len(cores)),
            "OMP_NUM_THREADS": str(len(cores)), "COMPSS_BINDED_GPUS": ",".join(map(str, gpus)),
            "CUDA_VISIBLE_DEVICES": ",".join(map(str, gpus)), "COMPSS_STANDIN_NODE": node.name,
        }
        folder = tempfile.mkdtemp(dir=self.sandbox, prefix=f"job{task.id}-")
        payload, result = os.path.join(folder, "payload"), os.path.join(folder, "result")
        with open(payload, "wb") as handle:
            pickle.dump({"module": task.module, "function": task.function, "args": args, "kwargs": kwargs,
                         "env": env, "affinity": sorted({real[c % len(real)] for c in cores}),
                         "time_out": task.time_out, "path": self.pythonpath}, handle)
        log("start", task=task.id, function=task.function, node=node.name, cores=cores, gpus=gpus)
        with self.lock:
            start = not task.cancelled
            if start:
                task.process = subprocess.Popen([sys.executable, "-m", "pycompss.standin.executor", payload, result],
                                                env={**os.environ, "PYTHONPATH": os.pathsep.join(self.pythonpath)})
        status = task.process.wait() if start else -1
        try:
            with open(result, "rb") as handle:
                outcome = pickle.load(handle)
        except (OSError, EOFError, pickle.UnpicklingError):
            outcome = {"error": f"the executor died (status {status})"}
        log("end", task=task.id, status=status, error=outcome.get("error"))
        with self.lock:
            for path, version in written.items():  # a cancelled or failed task leaves no new version
                if "ok" in outcome:
                    self.versions[path] = version
            node.cores.update(cores)
            node.gpus.update(gpus)
            node.memory += task.needs.memory_gb or 0
            self.running.discard(task)
            if "ok" in outcome:
                task.future.value = outcome["ok"]
            elif task.on_failure == "IGNORE" or task.cancelled:
                task.future.value = task.default
            else:
                task.future.error = f"task {task.id} failed ({task.on_failure}): {outcome['error']}"
            task.future.done.set()
            self._dispatch()

    def _stage(self, node: _Node, kind: str, value: Any, written: dict[str, str]) -> Any:
        if kind == "files":
            return [self._stage(node, "file", v, written) for v in value] if value is not None else None
        if kind == "written":
            source = os.path.abspath(value)
            with self.lock:
                latest = self.versions.get(source, source)
            target = tempfile.mkdtemp(dir=self.sandbox, prefix=f"{node.name}-v-")
            shutil.copytree(latest, target, dirs_exist_ok=True)
            written[source] = target
            log("stage", node=node.name, kind=kind, source=value, version=latest, target=target)
            return target
        key = (node.name, os.path.abspath(value))
        if key not in self.staged:
            target = os.path.join(self.sandbox, node.name, f"d{len(self.staged)}-{os.path.basename(value)}")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            (shutil.copytree if kind == "directory" else shutil.copy2)(value, target)
            self.staged[key] = target
            log("stage", node=node.name, kind=kind, source=value, target=target)
        return self.staged[key]


def directions_of(parameters: list[str], varargs: str | None, task_kwargs: dict, args: tuple) -> dict:
    """Which arguments the runtime stages: by position, from the @task keywords and varargs_type."""
    directions: dict = {}
    for index in range(len(args)):
        name = parameters[index] if index < len(parameters) else varargs
        spec = task_kwargs.get(name) if index < len(parameters) else task_kwargs.get("varargs_type")
        kind = STAGED.get(getattr(spec, "key", ""))
        if kind:
            directions[index] = kind
    for name, spec in task_kwargs.items():
        kind = STAGED.get(getattr(spec, "key", ""))
        if kind and name in parameters and parameters.index(name) >= len(args):
            directions[name] = kind
    return directions
