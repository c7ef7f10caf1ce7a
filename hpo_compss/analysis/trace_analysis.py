"""What a Paraver trace says about the tasks: counts and durations per task type, busy and idle time
per executor thread, load balance, makespan against its lower bound, and which trial each task was.

An executor thread is a thread that ran at least one task. Over the task span (first task start to
last task end), its idle time is the span minus its busy time. The load balance is the mean busy
time over the largest (1 is perfect, POP's definition). The makespan's lower bound is the larger of
the total task time shared over all executors and the longest task: no schedule on these executors
can be shorter, so their ratio says how much a better placement could still gain.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from ..results import attempts_that_ran
from .paraver import REQUESTED_CPUS, TASK_ID, TASK_TYPE, Trace

TASK_EVENTS = frozenset((TASK_TYPE, TASK_ID, REQUESTED_CPUS))


@dataclass(slots=True)
class TaskExecution:
    task_type: int
    name: str
    thread: tuple[int, int, int]
    start: float  # seconds since the trace began
    end: float = 0.0
    task_id: int | None = None
    cpus: int | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class TraceSummary:
    trace: Trace
    tasks: list[TaskExecution]
    record_counts: dict[str, int]
    #: trial record per task (same order as ``tasks``), when matched with a study
    trials: list[dict | None] = field(default_factory=list)

    @property
    def span(self) -> tuple[float, float]:
        if not self.tasks:
            return 0.0, 0.0
        return min(t.start for t in self.tasks), max(t.end for t in self.tasks)

    def per_type(self) -> dict[str, dict[str, float]]:
        groups: dict[str, list[float]] = {}
        for task in self.tasks:
            groups.setdefault(task.name, []).append(task.duration)
        return {name: {"count": len(d), "mean": statistics.fmean(d), "median": statistics.median(d), "max": max(d),
                       "total": sum(d)} for name, d in sorted(groups.items())}

    def per_thread(self) -> dict[str, dict[str, float]]:
        begin, end = self.span
        busy: dict[tuple, list[float]] = {}
        for task in self.tasks:
            busy.setdefault(task.thread, []).append(task.duration)
        return {f"{self.trace.thread_name(thread)} ({self.trace.node_name(thread)})":
                {"tasks": len(d), "busy": sum(d), "idle": max(0.0, (end - begin) - sum(d))}
                for thread, d in sorted(busy.items())}

    def overview(self) -> dict[str, float]:
        begin, end = self.span
        busy = [t["busy"] for t in self.per_thread().values()]
        total = sum(t.duration for t in self.tasks)
        bound = max(total / len(busy), max(t.duration for t in self.tasks)) if busy else 0.0
        return {"trace_seconds": self.trace.seconds(self.trace.header.duration), "makespan": end - begin,
                "executors": len(busy), "total_task_seconds": total, "lower_bound": bound,
                "efficiency": bound / (end - begin) if end > begin else 1.0,
                "load_balance": statistics.fmean(busy) / max(busy) if busy and max(busy) > 0 else 1.0}

    def to_json(self) -> dict:
        body = {"trace": str(self.trace.prv), "compss_numbering": self.trace.numbering,
                "records": self.record_counts, **self.overview(),
                "task_types": self.per_type(), "threads": self.per_thread(),
                "warnings": {"count": self.trace.warning_count, "shown": self.trace.warnings}}
        if self.trials:
            body["tasks"] = [{"task_id": t.task_id, "type": t.name, "start": t.start, "end": t.end,
                              "trial": None if r is None else r["trial"], "value": None if r is None else r.get("value"),
                              "status": None if r is None else r["status"]} for t, r in zip(self.tasks, self.trials)]
        return body

    def to_text(self) -> str:
        o = self.overview()
        counts = ", ".join(f"{n} {kind}" for kind, n in self.record_counts.items())
        numbering = f" (COMPSs {self.trace.numbering} event numbering)" if self.trace.numbering != "unknown" else ""
        lines = [f"trace {self.trace.prv.name}{numbering}: {self.trace.seconds(self.trace.header.duration):.3f} s, {counts}",
                 f"{len(self.tasks)} tasks on {o['executors']} executor threads; makespan {o['makespan']:.3f} s, "
                 f"lower bound {o['lower_bound']:.3f} s (efficiency {o['efficiency']:.0%}), "
                 f"load balance {o['load_balance']:.2f}", "",
                 f"{'task type':<28}{'count':>7}{'mean s':>11}{'median s':>11}{'max s':>11}"]
        for name, s in self.per_type().items():
            lines.append(f"{name[:27]:<28}{s['count']:>7}{s['mean']:>11.4f}{s['median']:>11.4f}{s['max']:>11.4f}")
        lines += ["", f"{'executor thread':<40}{'tasks':>7}{'busy s':>11}{'idle s':>11}"]
        for name, s in self.per_thread().items():
            lines.append(f"{name[:39]:<40}{s['tasks']:>7}{s['busy']:>11.3f}{s['idle']:>11.3f}")
        if self.trials:
            matched = sum(r is not None for r in self.trials)
            lines += ["", f"{matched} of {len(self.tasks)} tasks matched to trials",
                      f"{'task id':>8} {'type':<20}{'start s':>10}{'dur s':>9}  trial  value"]
            for task, record in zip(self.tasks, self.trials):
                trial = "-" if record is None else str(record["trial"])
                value = "" if record is None else (f"{record['value']:.6g}" if record.get("value") is not None
                                                   else record["status"])
                lines.append(f"{task.task_id or '-':>8} {task.name[:19]:<20}{task.start:>10.3f}{task.duration:>9.3f}"
                             f"  {trial:>5}  {value}")
        if self.trace.warning_count:
            lines += ["", f"{self.trace.warning_count} warning(s):"] + [f"  {w}" for w in self.trace.warnings]
            if self.trace.warning_count > len(self.trace.warnings):
                lines.append(f"  ... and {self.trace.warning_count - len(self.trace.warnings)} more")
        return "\n".join(lines)


def analyse(trace: Trace | str | Path) -> TraceSummary:
    """One streaming pass over the records: task executions from 8000000/8000002 events per thread."""
    if not isinstance(trace, Trace):
        trace = Trace(trace)
    open_tasks: dict[tuple, list[TaskExecution]] = {}
    tasks: list[TaskExecution] = []
    seconds = trace.header.unit
    for record in trace.records(TASK_EVENTS):
        for event_type, value in record.payload:
            if event_type not in TASK_EVENTS:
                continue
            stack = open_tasks.setdefault(record.thread, [])
            if event_type == TASK_TYPE:
                if value:
                    task = TaskExecution(value, trace.labels.task_name(value), record.thread, record.time * seconds)
                    stack.append(task)
                    tasks.append(task)
                elif stack:
                    stack.pop().end = record.time * seconds
            elif event_type == TASK_ID and value and stack and stack[-1].task_id is None:
                stack[-1].task_id = value
            elif event_type == REQUESTED_CPUS and stack and stack[-1].cpus is None:
                stack[-1].cpus = value
    unfinished = [task for stack in open_tasks.values() for task in stack]
    if unfinished:
        trace.warn(f"{len(unfinished)} task(s) had not ended when the trace ended: counted up to its end")
        for task in unfinished:
            task.end = trace.seconds(trace.header.duration)
    return TraceSummary(trace, tasks, dict(trace.record_counts))


def match_trials(summary: TraceSummary, trials: Iterable[dict]) -> None:
    """Pair each task with the trial that ran in it, by time window, host and order.

    Trace times start at 0 and journal times are wall clock, so first the clock offset is found:
    of the offsets that would align one of the first tasks with one of the first trials, the one
    under which most tasks start near a trial start. Then each task takes the nearest unclaimed
    trial on the same host that started and ended within a tolerance (0.5 s or a fifth of the
    task's duration: the trace's task also covers the runtime's work around the user's function).
    """
    finished = attempts_that_ran(trials)
    tasks = summary.tasks
    summary.trials = [None] * len(tasks)
    if not finished or not tasks:
        return
    starts = np.array([r["start"] for r in finished])
    task_starts = np.array([t.start for t in tasks])
    tolerance = np.maximum(0.5, 0.2 * np.array([t.duration for t in tasks]))
    offsets = {s - t for s in starts[:20] for t in np.sort(task_starts)[:20]}

    def score(offset: float) -> tuple[int, float]:
        gap = _nearest_gap(starts, task_starts + offset)
        close = gap <= tolerance
        return int(close.sum()), -float(np.median(gap[close])) if close.any() else 0.0

    offset = max(offsets, key=score)
    claimed: set[int] = set()
    for i in np.argsort(task_starts):
        task = tasks[i]
        host = summary.trace.row_node_name(task.thread)
        best, best_gap = None, None
        lo, hi = np.searchsorted(starts, [task.start + offset - tolerance[i], task.start + offset + tolerance[i]])
        for j in range(lo, min(hi + 1, len(finished))):
            record = finished[j]
            if j in claimed or not _same_host(host, record.get("host")):
                continue
            gap = abs(record["start"] - task.start - offset) + abs(record["end"] - task.end - offset)
            if gap <= 2 * tolerance[i] and (best_gap is None or gap < best_gap):
                best, best_gap = j, gap
        if best is not None:
            claimed.add(best)
            summary.trials[i] = finished[best]


def _nearest_gap(values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Distance from each query to the nearest of the sorted ``values``."""
    index = np.searchsorted(values, queries)
    left = values[np.clip(index - 1, 0, len(values) - 1)]
    right = values[np.clip(index, 0, len(values) - 1)]
    return np.minimum(np.abs(queries - left), np.abs(right - queries))


def _same_host(trace_host: str | None, journal_host: str | None) -> bool:
    """Unknown on either side matches; else compare short names (``s08r2b38`` = ``s08r2b38.bsc.mn``)."""
    if not trace_host or not journal_host:
        return True
    return trace_host.split(".")[0].lower() == journal_host.split(".")[0].lower()
