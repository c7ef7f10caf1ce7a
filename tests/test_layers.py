"""No module imports one of a higher layer (``scripts/import_graph.py`` prints the graph)."""
from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_no_import_goes_up_a_layer():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "import_graph.py")], capture_output=True, text=True)
    assert done.returncode == 0 and "no import goes up or sideways" in done.stdout, done.stdout


def test_an_engine_loads_neither_the_experiment_parser_nor_any_searcher():
    code = ("import sys, hpo_compss.runtime.engine, hpo_compss.runtime.local, hpo_compss.runtime.resources; "
            "print(sorted(m for m in sys.modules if m.startswith(('scipy', 'hpo_compss.search', 'hpo_compss.experiment'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
