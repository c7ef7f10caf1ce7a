"""What the binding (3.3) and the Java runtime accept, checked the way they check it, but loudly.

Sources: ``pycompss/runtime/task/definitions/arguments.py`` (task keywords), ``runtime/task/master.py``
(``inspect_constraints``: which keys may name a parameter), ``runtime/binding.py`` (the constraint
string sent to Java) and ``MethodResourceDescription(String)`` in the Java runtime (how that string is
parsed: top-level keys lose their underscores, keys inside ``processors`` do not; unknown keys and
unparsable numbers are errors).
"""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..api.parameter import _Param

TASK_KEYWORDS = {
    "returns", "cache_returns", "priority", "defaults", "time_out", "is_replicated", "is_distributed",
    "computing_nodes", "processes_per_node", "is_reduce", "chunk_size", "on_failure", "tracing_hook", "numba",
    "numba_flags", "numba_signature", "numba_declaration", "varargs_type", "target_direction",
}
ON_FAILURE = {"RETRY", "CANCEL_SUCCESSORS", "FAIL", "IGNORE"}
#: the only spellings ``inspect_constraints`` resolves from the task's parameters
DYNAMIC_KEYS = {"computing_units", "computingUnits", "memory_size", "memorySize", "storage_size", "storageSize"}
#: ``addConstraints`` in the Java runtime: the lower-cased key, and how its value is parsed
JAVA_KEYS: dict[str, Any] = {
    "processorname": str, "computingunits": int, "processorspeed": float, "processorarchitecture": str,
    "processortype": str, "processorinternalmemorysize": float, "processorpropertyname": str,
    "processorpropertyvalue": str, "memorysize": float, "memorytype": str, "storagesize": float,
    "storagetype": str, "storagebw": int, "operatingsystemtype": str, "operatingsystemdistribution": str,
    "operatingsystemversion": str, "appsoftware": str, "hostqueues": str, "wallclocklimit": int,
}
PROCESSOR_TYPES = {"CPU", "GPU", "FPGA", "OTHER"}


class Rejected(Exception):
    """The binding or the runtime would refuse this (or, for @task keywords, silently misread it)."""


def check_task_keywords(function: Callable, kwargs: Mapping[str, Any]) -> None:
    parameters = inspect.signature(function).parameters
    for key, value in kwargs.items():
        if key in TASK_KEYWORDS:
            continue
        if key in parameters and isinstance(value, _Param):
            continue
        raise Rejected(f"@task keyword {key!r} is neither a task option nor a parameter of "
                       f"{function.__qualname__}: the binding would silently take it as a parameter spec")
    time_out = kwargs.get("time_out", 0)
    if isinstance(time_out, bool) or not isinstance(time_out, int) or time_out < 0:
        raise Rejected(f"@task time_out must be a non-negative int (the worker calls signal.alarm with it), got {time_out!r}")
    if "on_failure" in kwargs and kwargs["on_failure"] not in ON_FAILURE:
        raise Rejected(f"@task on_failure must be one of {sorted(ON_FAILURE)}, got {kwargs['on_failure']!r}")
    if "varargs_type" in kwargs and not isinstance(kwargs["varargs_type"], _Param):
        raise Rejected("Unexpected varargs_type type. Must be a direction.")


def check_on_failure(kwargs: Mapping[str, Any]) -> None:
    if "management" not in kwargs:
        raise Rejected("@on_failure needs management=")
    if kwargs["management"] not in ON_FAILURE:
        raise Rejected(f"ERROR: Unsupported on failure action: {kwargs['management']}")


def resolve_dynamic(constraints: Mapping[str, Any], function: Callable, args: tuple, kwargs: Mapping[str, Any]) -> dict:
    """The binding's ``inspect_constraints``: values naming a parameter become that argument."""
    names = [p.name for p in inspect.signature(function).parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    resolved = {}
    for key, value in constraints.items():
        static = (isinstance(value, int) or not isinstance(value, str) or value.isdigit()
                  or value.startswith("$") or key not in DYNAMIC_KEYS)
        if static:
            resolved[key] = value
        elif value in kwargs:
            resolved[key] = kwargs[value]
        elif value in names and names.index(value) < len(args):
            resolved[key] = args[names.index(value)]
        else:
            resolved[key] = value  # left as a string: the runtime will fail to parse it
    return resolved


def describe(constraints: Mapping[str, Any]) -> str:
    """The binding's constraint string (``register_ce``)."""
    parts = []
    for key, value in constraints.items():
        if isinstance(value, list):
            text = str(value).replace("'", "")
        elif isinstance(value, (int, str)):
            text = str(value)
        else:
            raise Rejected(f"Implementation constraints items must be str, int or list ({key}={value!r})")
        parts.append(f"{key}:{text};")
    return "".join(parts)


@dataclass
class Needs:
    cpus: int
    gpus: int
    memory_gb: float | None


@dataclass
class _Processor:
    type: str = "CPU"
    units: int | None = None
    modified: bool = False


def parse(description: str, environ: Mapping[str, str] = os.environ) -> Needs:
    """``MethodResourceDescription(String description)``: what a task needs, or Rejected as Java errs."""
    top = _Processor()
    processors: list[_Processor] = []
    memory: list[float | None] = [None]
    for part in description.split(";"):
        if not part:
            continue
        separator = part.find(":")
        if separator < 0:
            raise Rejected(f"ERROR: Unrecognised constraint {part}")
        key, value = part[:separator].strip().replace("_", ""), part[separator + 1:].strip()
        if key == "processors":
            processors.extend(_processor_list(value, environ, memory))
        else:
            _add(key, value, top, environ, memory)
    if top.type == "CPU":
        if top.modified or not any(p.type == "CPU" for p in processors):
            processors.append(_Processor("CPU", top.units or 1, True))
    else:
        processors.append(_Processor(top.type, top.units or 1, True))
        if not any(p.type == "CPU" for p in processors):
            processors.append(_Processor("CPU", 1, True))
    return Needs(sum(p.units or 1 for p in processors if p.type == "CPU"),
                 sum(p.units or 1 for p in processors if p.type == "GPU"), memory[0])


def _processor_list(text: str, environ: Mapping[str, str], memory: list) -> list[_Processor]:
    if not (text.startswith("[") and text.endswith("]")):
        raise Rejected(f"ERROR: Unrecognised processors list definition ({text})")
    found = []
    start, end = text.find("{"), text.find("}")
    while start > 0:
        if not end > start:
            raise Rejected("ERROR: Unrecognised processor definition (processors)")
        processor = _Processor()
        for item in text[start + 1:end].split(","):
            key, _, value = item.partition(":")
            _add(key.strip(), value.strip(), processor, environ, memory)  # no underscore removal in here
        found.append(processor)
        start = text.find("{", end)
        end = text.find("}", start)
    return found


def _add(key: str, value: str, processor: _Processor, environ: Mapping[str, str], memory: list) -> None:
    if value.startswith("$"):
        value = environ.get(value[1:], "")
    name = key.lower()
    if name not in JAVA_KEYS:
        if value:
            raise Rejected(f"ERROR: Unrecognised constraint {key}")
        return
    if not value:
        return
    kind = JAVA_KEYS[name]
    try:
        parsed = kind(value)
    except ValueError:
        raise Rejected(f"{key}: {value!r} is not a {kind.__name__} (java.lang.NumberFormatException)") from None
    if name == "computingunits":
        processor.units, processor.modified = parsed, True
    elif name == "processortype":
        if value.upper() not in PROCESSOR_TYPES:
            raise Rejected(f"No enum constant ProcessorType.{value.upper()}")
        processor.type, processor.modified = value.upper(), True
    elif name == "memorysize":
        memory[0] = parsed
    elif name.startswith("processor"):
        processor.modified = True
