"""Paraver traces as COMPSs writes them: read (streaming) and write.

A trace is three text files: ``.prv`` (a header line, then one record per line), ``.pcf`` (labels of
states, event types and their values) and ``.row`` (names of CPUs, nodes and threads). Records:

- state ``1:cpu:appl:task:thread:begin:end:state``
- event ``2:cpu:appl:task:thread:time:type:value[:type:value...]``
- communication ``3:cpu:appl:task:thread:lsend:psend:cpu:appl:task:thread:lrecv:precv:size:tag``

COMPSs marks a task's execution on its executor thread with event type 8000000 (the task type, its
core element id + 1; 0 ends it), followed by 8000002 (the runtime's task id). Both the 2.x traces
(runtime events under 8000001) and the 3.x ones (8001001 API, 8001002 Runtime) use these two.

``records`` streams the ``.prv``: memory stays flat whatever the trace's size. Damage is reported,
not fatal: a line that cannot be parsed (cut short, a stray field) and a record of an unknown type
are skipped with a warning that gives the line number; a missing ``.pcf`` or ``.row`` only loses the
names (task types are then called ``type N``). Only an unreadable header is an error.
"""
from __future__ import annotations

import heapq
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Iterable, Iterator, NamedTuple

TASK_TYPE = 8000000
TASK_ID = 8000002
REQUESTED_CPUS = 8000008
REQUESTED_GPUS = 8000009
#: runtime event types by COMPSs generation: 2.x has one, 3.x splits it into API and Runtime
RUNTIME_EVENTS_2X = {8000001}
RUNTIME_EVENTS_3X = {8001001, 8001002}
STATE_NAMES = {0: "Idle", 1: "Running", 2: "Not created"}
#: more warnings than this about one trace are counted, not printed
WARNINGS_SHOWN = 10
_TIME_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
KINDS = {"1": "state", "2": "event", "3": "communication"}
#: colons in a whole state and communication record (an event has 7, 9, 11...)
_COLONS = {"1": 7, "3": 14}
_SPLIT_OUTSIDE_PARENTHESES = re.compile(r":(?![^()]*\))")


class TraceError(ValueError):
    """A trace that cannot be read at all (no .prv, or not a Paraver header)."""


@dataclass(frozen=True)
class Header:
    date: str
    duration: int
    #: seconds per time unit of the records (1e-9 for ``_ns``)
    unit: float
    cpus_per_node: tuple[int, ...]
    #: per application, per Paraver task: (threads, node)
    applications: tuple[tuple[tuple[int, int], ...], ...]

    @classmethod
    def parse(cls, line: str) -> "Header":
        if not line.startswith("#Paraver"):
            raise TraceError(f"not a Paraver trace: the first line should start with '#Paraver', got {line[:40]!r}")
        parts = _SPLIT_OUTSIDE_PARENTHESES.split(line.strip())
        try:
            date = parts[0][parts[0].index("(") + 1:parts[0].rindex(")")]
            duration, _, unit = parts[1].partition("_")
            nodes, _, cpu_list = parts[2].partition("(")
            cpus = tuple(int(n) for n in cpu_list.rstrip(")").split(","))
            applications = []
            for text in parts[4:4 + int(parts[3])]:
                tasks, _, body = text.partition("(")
                applications.append(tuple(tuple(int(v) for v in task.split(":")) for task in body.split(")")[0].split(",")))
                if len(applications[-1]) != int(tasks) or any(len(t) != 2 for t in applications[-1]):
                    raise ValueError(f"application {len(applications)} does not list {tasks} tasks as threads:node")
            if len(cpus) != int(nodes) or len(applications) != int(parts[3]):
                raise ValueError("the node or application counts do not match their lists")
            return cls(date, int(duration), _TIME_UNITS[unit or "us"], cpus, tuple(applications))
        except (ValueError, IndexError, KeyError) as error:
            raise TraceError(f"unreadable Paraver header {line.strip()[:120]!r}: {error}") from None


@dataclass
class Labels:
    """What the ``.pcf`` and ``.row`` say: event type names, value names per type, thread and node names."""

    event_types: dict[int, str] = field(default_factory=dict)
    values: dict[int, dict[int, str]] = field(default_factory=dict)
    rows: dict[str, list[str]] = field(default_factory=dict)

    def task_name(self, task_type: int) -> str:
        return self.values.get(TASK_TYPE, {}).get(task_type, f"type {task_type}")


class Record(NamedTuple):
    """One ``.prv`` line (a named tuple: millions of them are made while streaming)."""

    kind: int  # 1 state, 2 event, 3 communication
    thread: tuple[int, int, int]  # (application, task, thread), 1-based
    cpu: int
    time: int  # begin of a state, time of an event, logical send of a communication
    end: int  # end of a state, else == time
    #: (type, value) pairs of an event; (state,) of a state; empty for a communication
    payload: tuple = ()


class Trace:
    """A ``.prv`` with its ``.pcf`` and ``.row`` beside it; ``records()`` reads the ``.prv`` lazily."""

    def __init__(self, prv: str | Path):
        self.prv = Path(prv)
        if not self.prv.is_file():
            raise TraceError(f"{self.prv}: no such trace file")
        with open(self.prv, encoding="utf-8", errors="replace") as handle:
            self.header = Header.parse(handle.readline())
        self.warnings: list[str] = []
        self.warning_count = 0
        #: records read by the last pass of ``records``, by kind
        self.record_counts: dict[str, int] = {}
        self.labels = self._read_labels()

    @property
    def numbering(self) -> str:
        """Which COMPSs event numbering the ``.pcf`` declares: "3.x", "2.x" or "unknown"."""
        types = set(self.labels.event_types)
        return "3.x" if types & RUNTIME_EVENTS_3X else ("2.x" if types & RUNTIME_EVENTS_2X else "unknown")

    def warn(self, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < WARNINGS_SHOWN:
            self.warnings.append(message)

    def seconds(self, ticks: int) -> float:
        return ticks * self.header.unit

    def thread_name(self, thread: tuple[int, int, int]) -> str:
        """The ``.row`` name of a thread, else ``THREAD appl.task.thread``."""
        names = self.labels.rows.get("THREAD", [])
        index = self._thread_index(thread)
        return names[index] if index is not None and index < len(names) else "THREAD %d.%d.%d" % thread

    def node_name(self, thread: tuple[int, int, int]) -> str:
        """The ``.row`` name of the thread's node, else ``node N``."""
        return self.row_node_name(thread) or f"node {self._node(thread) or '?'}"

    def row_node_name(self, thread: tuple[int, int, int]) -> str | None:
        node, names = self._node(thread), self.labels.rows.get("NODE", [])
        return names[node - 1] if node is not None and node - 1 < len(names) else None

    def _node(self, thread: tuple[int, int, int]) -> int | None:
        application, task, _ = thread
        try:
            return self.header.applications[application - 1][task - 1][1]
        except IndexError:
            return None

    def _thread_index(self, thread: tuple[int, int, int]) -> int | None:
        application, task, number = thread
        index = 0
        for a, tasks in enumerate(self.header.applications, 1):
            for t, (threads, _) in enumerate(tasks, 1):
                if (a, t) == (application, task):
                    return index + number - 1 if number <= threads else None
                index += threads
        return None

    def records(self, event_types: Collection[int] | None = None) -> Iterator[Record]:
        """Every record in file order, counted in ``record_counts``; damaged lines are skipped with a warning.

        With ``event_types``, only the events that carry one of those types are parsed and yielded:
        every other line is only checked for its shape (record type, number of fields, no empty
        field) and counted, which makes a pass over a large trace several times faster.
        """
        markers = None if event_types is None else re.compile("|".join(f":{t}:" for t in event_types)).search
        self.record_counts = {kind: 0 for kind in KINDS.values()}
        with open(self.prv, encoding="utf-8", errors="replace") as handle:
            handle.readline()
            for number, line in enumerate(handle, 2):
                kind = line[:1]
                if kind in ("#", "c") or not line.strip():  # comments, communicator lines
                    continue
                if markers is not None and kind in KINDS and not (kind == "2" and markers(line)):
                    if _well_formed(line, kind):
                        self.record_counts[KINDS[kind]] += 1
                    else:
                        self._unreadable(number, line)
                    continue
                try:
                    record = _parse(line)
                except (ValueError, IndexError):
                    self._unreadable(number, line)
                    continue
                if record is None:
                    self.warn(f"{self.prv.name}:{number}: unknown record type {line.split(':', 1)[0]!r} skipped")
                    continue
                self.record_counts[KINDS[kind]] += 1
                yield record

    def _unreadable(self, number: int, line: str) -> None:
        self.warn(f"{self.prv.name}:{number}: unreadable record skipped: {line.strip()[:80]!r}")

    def _read_labels(self) -> Labels:
        labels = Labels()
        pcf, row = self.prv.with_suffix(".pcf"), self.prv.with_suffix(".row")
        if pcf.is_file():
            _read_pcf(pcf.read_text(encoding="utf-8", errors="replace"), labels)
        else:
            self.warn(f"{pcf.name} is missing: task types are shown by number")
        if row.is_file():
            labels.rows = _read_row(row.read_text(encoding="utf-8", errors="replace"))
        else:
            self.warn(f"{row.name} is missing: threads and nodes are shown by number")
        return labels


def _well_formed(line: str, kind: str) -> bool:
    """The shape of a record without parsing it: its number of fields, none of them empty."""
    text = line.rstrip("\n")
    colons = text.count(":")
    if "::" in text or text.endswith(":"):
        return False
    return colons == _COLONS[kind] if kind in _COLONS else colons >= 7 and colons % 2 == 1


def _parse(line: str) -> Record | None:
    fields = line.split(":")  # int() ignores the trailing newline
    kind = fields[0]
    if kind == "2":
        if len(fields) < 8 or len(fields) % 2:
            raise ValueError("an event needs type:value pairs")
        time = int(fields[5])
        if len(fields) == 8:  # one type:value pair, the common case
            pairs: tuple = ((int(fields[6]), int(fields[7])),)
        else:
            numbers = map(int, fields[6:])
            pairs = tuple(zip(numbers, numbers))
        return Record(2, (int(fields[2]), int(fields[3]), int(fields[4])), int(fields[1]), time, time, pairs)
    if kind == "1":
        if len(fields) != 8:
            raise ValueError("a state has 8 fields")
        return Record(1, (int(fields[2]), int(fields[3]), int(fields[4])), int(fields[1]), int(fields[5]),
                      int(fields[6]), (int(fields[7]),))
    if kind == "3":
        if len(fields) != 15:
            raise ValueError("a communication has 15 fields")
        return Record(3, (int(fields[2]), int(fields[3]), int(fields[4])), int(fields[1]), int(fields[5]),
                      int(fields[11]))
    return None


def _read_pcf(text: str, labels: Labels) -> None:
    """EVENT_TYPE blocks (``gradient type label`` lines) each followed by an optional VALUES table."""
    section, current = None, []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            section = None
            continue
        if line in ("EVENT_TYPE", "VALUES"):
            if line == "EVENT_TYPE":
                current = []
            section = line
            continue
        if line.isupper() and " " not in line:  # another block: DEFAULT_OPTIONS, GRADIENT_COLOR...
            section = None
            continue
        if section == "EVENT_TYPE":
            parts = line.split(None, 2)
            if len(parts) >= 2 and parts[1].isdigit():
                event_type = int(parts[1])
                labels.event_types[event_type] = parts[2] if len(parts) > 2 else str(event_type)
                current.append(event_type)
        elif section == "VALUES":
            parts = line.split(None, 1)
            if parts[0].lstrip("-").isdigit():
                value, name = int(parts[0]), parts[1].strip() if len(parts) > 1 else parts[0]
                for event_type in current:
                    labels.values.setdefault(event_type, {})[value] = name


def _read_row(text: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    level: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("LEVEL "):
            level = rows.setdefault(line.split()[1], [])
        elif line.strip() and level is not None:
            level.append(line.strip())
    return rows


# -- writing ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TaskRun:
    """One task execution to write: on which host and cores, when (seconds since the epoch)."""

    task_id: int
    task_type: int
    host: str
    cores: tuple[int, ...]
    start: float
    end: float
    gpus: int = 0


def write_trace(prv: str | Path, runs: Iterable[TaskRun], task_types: dict[int, str]) -> Path:
    """Write ``prv`` with its ``.pcf`` and ``.row``: one node per host, one thread per core.

    Each task is an 8000000 (type) and 8000002 (id) event pair on the thread of its first core, with
    its requested CPUs and GPUs (8000008, 8000009), and a Running state on every core it held.
    """
    runs = sorted(runs, key=lambda r: r.start)
    prv = Path(prv)
    prv.parent.mkdir(parents=True, exist_ok=True)
    hosts = sorted({r.host for r in runs}) or ["localhost"]
    used: dict[str, set[int]] = {h: set() for h in hosts}
    for r in runs:
        used[r.host].update(_held(r))
    cores = {h: sorted(used[h]) for h in hosts}
    # (host, core) -> "cpu:appl:node:thread", the record fields that say where: CPUs numbered across nodes
    where: dict[tuple[str, int], str] = {}
    for node, h in enumerate(hosts, 1):
        first_cpu = len(where)
        for thread, core in enumerate(cores[h], 1):
            where[h, core] = f"{first_cpu + thread}:1:{node}:{thread}"
    origin = runs[0].start if runs else time.time()
    ticks = lambda t: max(0, round((t - origin) * 1e9))  # noqa: E731
    duration = max((ticks(r.end) for r in runs), default=0)
    when = time.strftime("%d/%m/%Y at %H:%M", time.localtime(origin))
    layout = ",".join(f"{len(cores[h])}:{i}" for i, h in enumerate(hosts, 1))
    header = (f"#Paraver ({when}):{duration}_ns:{len(hosts)}({','.join(str(len(cores[h])) for h in hosts)}):1:"
              f"{len(hosts)}({layout}),0\n")
    # Paraver wants records sorted by time: runs come in order of start, and each run's end event waits
    # in a heap until the next start is later, so memory follows the tasks running at once, not all
    ends: list[tuple[int, int, str]] = []
    with open(prv, "w", encoding="utf-8") as handle:
        handle.write(header)
        for number, r in enumerate(runs):
            begin, end = ticks(r.start), ticks(r.end)
            while ends and ends[0][0] <= begin:  # at one instant, a task ends before the next one starts
                handle.write(heapq.heappop(ends)[2])
            first = where[r.host, _held(r)[0]]
            handle.writelines(f"1:{where[r.host, core]}:{begin}:{end}:1\n" for core in _held(r))
            handle.write(f"2:{first}:{begin}:{TASK_TYPE}:{r.task_type}:{REQUESTED_CPUS}:{len(r.cores)}"
                         f":{REQUESTED_GPUS}:{r.gpus}\n2:{first}:{begin}:{TASK_ID}:{r.task_id}\n")
            heapq.heappush(ends, (end, number, f"2:{first}:{end}:{TASK_TYPE}:0:{TASK_ID}:0\n"))
        while ends:
            handle.write(heapq.heappop(ends)[2])
    prv.with_suffix(".pcf").write_text(_pcf(task_types), encoding="utf-8")
    thread_names = [f"THREAD 1.{n}.{t}" for n, h in enumerate(hosts, 1) for t in range(1, len(cores[h]) + 1)]
    cpu_names = [f"{c}.{h}" for h in hosts for c in cores[h]]
    prv.with_suffix(".row").write_text(
        f"LEVEL CPU SIZE {len(cpu_names)}\n" + "\n".join(cpu_names) + "\n\n"
        f"LEVEL NODE SIZE {len(hosts)}\n" + "\n".join(hosts) + "\n\n"
        f"LEVEL THREAD SIZE {len(thread_names)}\n" + "\n".join(thread_names) + "\n", encoding="utf-8")
    return prv


def _held(run: TaskRun) -> tuple[int, ...]:
    """The cores a run held (core 0 when it did not say)."""
    return run.cores or (0,)


def _pcf(task_types: dict[int, str]) -> str:
    values = "\n".join(f"{value}      {name}" for value, name in sorted(task_types.items()))
    return ("DEFAULT_OPTIONS\n\nLEVEL               THREAD\nUNITS               NANOSEC\n\n"
            "STATES\n" + "\n".join(f"{k}    {v}" for k, v in STATE_NAMES.items()) + "\n\n"
            f"EVENT_TYPE\n0    {TASK_TYPE}    Task\nVALUES\n0      End\n{values}\n\n"
            f"EVENT_TYPE\n0    {TASK_ID}    Task IDs\n\n"
            f"EVENT_TYPE\n0    {REQUESTED_CPUS}    Number of requested CPUs\n\n"
            f"EVENT_TYPE\n0    {REQUESTED_GPUS}    Number of requested GPUs\n")
