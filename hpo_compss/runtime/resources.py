"""What this node offers (cores, GPUs, memory) and which of it each running trial holds.

The machine is read from, in order: command-line flags; a SLURM allocation's environment; the
process's own CPU affinity (which a batch system may already have narrowed) and visible GPUs.
``ResourcePool`` hands out whole cores and GPUs so that no two trials ever share one.
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..errors import ConfigError
from ..trial import ComputeClass


@dataclass(frozen=True)
class Machine:
    cores: tuple[int, ...]
    gpus: tuple[str, ...]
    memory_gb: float
    #: where the numbers came from, for the start-up line
    source: str

    def describe(self) -> str:
        return f"{len(self.cores)} cores, {len(self.gpus)} GPUs, {self.memory_gb:.0f} GB ({self.source})"


@dataclass(frozen=True)
class Assignment:
    """The cores and GPUs one trial holds while it runs."""

    cls: ComputeClass
    cores: tuple[int, ...]
    gpus: tuple[str, ...]


def node_name(environ: Mapping[str, str] = os.environ) -> str:
    """This node as its batch system names it (``SLURMD_NODENAME`` in a SLURM job), else its host name:
    the names a cluster's users read, and apart even where several slurmd share one machine."""
    return environ.get("SLURMD_NODENAME") or socket.gethostname()


def detect_machine(cpus: int | None = None, gpus: str | None = None,
                   environ: Mapping[str, str] = os.environ) -> Machine:
    """This node's resources; ``cpus``/``gpus`` (a count or a list of ids) narrow or name them."""
    available = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    sources = []
    slurm_cpus = environ.get("SLURM_CPUS_ON_NODE", "")
    if slurm_cpus.isdigit() and int(slurm_cpus) < len(available):
        available = available[:int(slurm_cpus)]
    if "SLURM_JOB_ID" in environ:
        sources.append(f"SLURM job {environ['SLURM_JOB_ID']}")
    if cpus is not None:
        if not 1 <= cpus <= len(available):
            raise ConfigError(("--cpus",), f"expected 1 to {len(available)} (the cores this process may use), got {cpus}")
        available = available[:cpus]
        sources.append("--cpus")
    gpu_ids, gpu_source = _gpus(gpus, environ)
    if gpu_source:
        sources.append(gpu_source)
    memory = _memory_gb(environ)
    return Machine(tuple(available), gpu_ids, memory, ", ".join(sources) or "this machine")


#: a GPU as CUDA_VISIBLE_DEVICES names it: an index, a GPU UUID, or a MIG instance
GPU_ID = re.compile(r"[0-9]+|GPU-[0-9a-fA-F-]+|MIG-[\w/-]+", re.ASCII)


#: more GPUs than any node has: a count beyond it is a typo
MAX_GPUS = 1024


def _gpus(flag: str | None, environ: Mapping[str, str]) -> tuple[tuple[str, ...], str]:
    if flag is not None:
        return _gpu_flag(str(flag).strip()), "--gpus"
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = tuple(i.strip() for i in visible.split(",") if GPU_ID.fullmatch(i.strip()))
        return ids, "CUDA_VISIBLE_DEVICES"
    slurm_gpus = environ.get("SLURM_GPUS_ON_NODE", "")
    if slurm_gpus.isdigit():
        return tuple(str(i) for i in range(min(int(slurm_gpus), MAX_GPUS))), "SLURM_GPUS_ON_NODE"
    return _nvidia_smi_gpus(), ""


def _gpu_flag(flag: str) -> tuple[str, ...]:
    """``--gpus``: a count, or distinct ids CUDA would take, so that a typo never becomes a GPU of its own."""
    if re.fullmatch("[0-9]+", flag):
        if int(flag) > MAX_GPUS:
            raise ConfigError(("--gpus",), f"expected at most {MAX_GPUS} GPUs on one node, got {flag}")
        return tuple(str(i) for i in range(int(flag)))
    ids = [part.strip() for part in flag.split(",")]
    twice = [i for n, i in enumerate(ids) if i in ids[:n]]
    if not all(GPU_ID.fullmatch(i) for i in ids) or twice:
        raise ConfigError(("--gpus",), f"expected a count or ids like 0,2, got {flag!r}"
                          + (f" ({twice[0]} twice)" if twice else ""))
    return tuple(ids)


def _nvidia_smi_gpus() -> tuple[str, ...]:
    if shutil.which("nvidia-smi") is None:
        return ()
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(str(i) for i, line in enumerate(line for line in listing.splitlines() if line.startswith("GPU ")))


def _memory_gb(environ: Mapping[str, str]) -> float:
    per_node = environ.get("SLURM_MEM_PER_NODE", "")
    if per_node.isdigit():
        return int(per_node) / 1024
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return float("inf")


def usable_classes(classes: Sequence[ComputeClass], machine: Machine) -> tuple[list[ComputeClass], list[str]]:
    """The classes that fit this machine, and a warning for each that does not; none fitting is an error."""
    usable, warnings = [], []
    for cls in classes:
        problem = _misfit(cls, machine)
        if problem:
            warnings.append(f"compute class '{cls.name}' is not used here: {problem}")
        else:
            usable.append(cls)
    if not usable:
        first = classes[0]
        raise ConfigError(("compute_classes", first.name), f"no class fits this machine ({machine.describe()}): {_misfit(first, machine)}")
    return usable, warnings


def _misfit(cls: ComputeClass, machine: Machine) -> str:
    if cls.cpus > len(machine.cores):
        return f"it needs {cls.cpus} cores and there are {len(machine.cores)} (use --cpus or a larger allocation)"
    if cls.gpus > len(machine.gpus):
        return f"it needs {cls.gpus} GPUs and there are {len(machine.gpus)} (use --gpus N or a GPU allocation)"
    if cls.memory_gb is not None and cls.memory_gb > machine.memory_gb:
        return f"it needs {cls.memory_gb:g} GB and there are {machine.memory_gb:.1f} GB"
    return ""


class ResourcePool:
    """Free cores, GPUs and memory of the machine, and how many trials of each class run."""

    def __init__(self, machine: Machine):
        self.machine = machine
        self.free_cores = set(machine.cores)
        self.free_gpus = set(machine.gpus)
        self.free_memory = machine.memory_gb
        self.running: dict[str, int] = {}

    def fits(self, cls: ComputeClass) -> bool:
        return (len(self.free_cores) >= cls.cpus and len(self.free_gpus) >= cls.gpus
                and (cls.memory_gb or 0) <= self.free_memory
                and (cls.max_tasks is None or self.running.get(cls.name, 0) < cls.max_tasks))

    def acquire(self, cls: ComputeClass, preferred: Assignment | None = None,
                avoid: frozenset = frozenset()) -> Assignment:
        """Take resources for one trial: ``preferred``'s when all free, else the lowest free ids not in ``avoid``."""
        if preferred is not None and set(preferred.cores) <= self.free_cores and set(preferred.gpus) <= self.free_gpus:
            cores, gpus = preferred.cores, preferred.gpus
        else:
            cores = tuple(sorted(sorted(self.free_cores, key=lambda c: (c in avoid, c))[:cls.cpus]))
            gpus = tuple(sorted(self.free_gpus, key=lambda g: (g in avoid, _gpu_order(g)))[:cls.gpus])
        self.free_cores.difference_update(cores)
        self.free_gpus.difference_update(gpus)
        self.free_memory -= cls.memory_gb or 0
        self.running[cls.name] = self.running.get(cls.name, 0) + 1
        return Assignment(cls, cores, gpus)

    def release(self, assignment: Assignment) -> None:
        self.free_cores.update(assignment.cores)
        self.free_gpus.update(assignment.gpus)
        self.free_memory += assignment.cls.memory_gb or 0
        self.running[assignment.cls.name] -= 1


def _gpu_order(gpu: str) -> tuple[int, str]:
    return (int(gpu), "") if gpu.isdigit() else (1 << 30, gpu)
