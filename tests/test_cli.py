"""The command line's own manners: version, help, errors that name the right file, pipes, folders left behind."""
from __future__ import annotations

import os
import subprocess
import sys

import hpo_compss

from conftest import ROOT, cli, objective, write_experiment


def test_version():
    done = cli("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"hpo-compss {hpo_compss.__version__}"


def test_every_folder_argument_says_what_it_is():
    for command in ("resume", "status", "report", "repair"):
        text = cli(command, "--help").stdout
        assert "study_dir" in text and "study folder" in text, command


def test_a_file_that_is_not_a_trace_is_named_in_the_error(tmp_path):
    bad = tmp_path / "myobj.py"
    bad.write_text("print('hello')\n")
    done = cli("trace", str(bad))
    assert done.returncode == 2 and done.stderr.startswith(f"error: {bad}: ")


def test_output_into_a_closed_pipe_ends_quietly(tmp_path):
    """As `trace --json | head -1` once the reader has gone: every write meets a closed pipe."""
    trace = ROOT / "tests" / "data" / "traces" / "apps" / "workflow.py_compss_trace_1513857727.prv"
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = subprocess.run([sys.executable, "-m", "hpo_compss.cli", "trace", str(trace), "--json"], cwd=ROOT,
                              stdout=writer, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(writer)
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_a_run_refused_before_it_starts_leaves_no_folder(tmp_path):
    experiment = write_experiment(tmp_path, {"name": "big", "objective": objective("quadratic"),
                                             "space": {"x": {"uniform": [0, 1]}},
                                             "compute_classes": {"huge": {"cpus": 4096}}})
    study = tmp_path / "study"
    done = cli("run", str(experiment), "--study-dir", str(study))
    assert done.returncode == 2 and "no class fits this machine" in done.stderr
    assert not study.exists()
