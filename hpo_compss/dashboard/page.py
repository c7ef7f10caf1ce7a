"""The dashboard's one page: served live, or written with the studies' data inlined as a one-file report.

Scripts, styles and the chart library (uPlot, MIT, ``static/uplot`` with its licence and version;
``scripts/refresh_uplot.sh`` refreshes it from the npm registry) are inlined either way, so the page
needs no network and no second request: live, it asks the server only for data.
"""
from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Sequence

from .view import StudyView

#: a one-file report holds every trial's records up to this many trials, else those of the best and the failed
DETAILED_TRIALS = 5000


def _static(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def render_page(live: bool, data: object = None) -> str:
    """The page; with ``live`` it asks the server for data, else it shows ``data`` (``report_data``)."""
    parts = {"UPLOT_CSS": _static("uplot/uPlot.min.css"), "DASHBOARD_CSS": _static("dashboard.css"),
             "UPLOT_JS": _static("uplot/uPlot.iife.min.js"), "DASHBOARD_JS": _static("dashboard.js"),
             "LIVE": "1" if live else "",
             "DATA": "" if live else json.dumps(data, separators=(",", ":")).replace("</", "<\\/")}
    return re.sub(r"/\*@(\w+)@\*/", lambda match: parts[match.group(1)], _static("dashboard.html"))


def report_data(view: StudyView) -> dict:
    """Everything the page shows of one study, for a one-file report."""
    state = json.loads(view.state())
    rows = state["rows"]
    if len(rows) > DETAILED_TRIALS:
        sign = 1 if view.experiment.mode == "min" else -1
        done = sorted((r for r in rows if r[3] == "complete" and r[4] is not None), key=lambda r: sign * r[4])
        failed = [r for r in rows if r[3] == "failed"]
        rows = (done[:DETAILED_TRIALS // 2] + failed)[:DETAILED_TRIALS]
    return {"study": view.describe(), "state": state, "curves": view.learning_curves(),
            "importance": view.parameter_importance(),
            "details": {str(k): v for k, v in view.details(r[0] for r in rows).items()}}


def write_report_page(directories: Sequence[str | Path], out: Path) -> Path:
    """Write the one-file HTML report of these study folders to ``out``."""
    data = [report_data(StudyView(directory)) for directory in directories]
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_text(render_page(live=False, data=data), encoding="utf-8")
    temporary.replace(out)
    return out
