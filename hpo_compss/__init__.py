"""hpo_compss: hyperparameter optimisation on the PyCOMPSs runtime or this machine.

The package imports lazily: a trial worker that only needs the runner pays for nothing else.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_experiment": "hpo_compss.experiment",
    "parse_experiment": "hpo_compss.experiment",
    "Experiment": "hpo_compss.experiment",
    "run_study": "hpo_compss.study",
    "current_trial": "hpo_compss.runtime.runner",
    "TrialContext": "hpo_compss.runtime.runner",
    "TrialStopped": "hpo_compss.runtime.runner",
    "trial_resources": "hpo_compss.runtime.runner",
    "TrialResources": "hpo_compss.runtime.runner",
    "ConfigError": "hpo_compss.errors",
    "report_study": "hpo_compss.analysis.report",
    "analyse_trace": "hpo_compss.analysis.trace_analysis",
    "trace_study": "hpo_compss.analysis.study_trace",
}
__all__ = sorted(_EXPORTS)


#: public names that differ from their module's own
_ALIASES = {"analyse_trace": "analyse"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), _ALIASES.get(name, name))
    raise AttributeError(f"module 'hpo_compss' has no attribute {name!r}")
