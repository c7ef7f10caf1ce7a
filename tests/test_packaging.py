"""The distribution carries its licence: LICENSE is the Apache License 2.0, shipped in the sdist and named in its metadata."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import zipfile

from conftest import ROOT

#: SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt, the text setup.cfg's "Apache-2.0" refers to
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_license_is_the_apache_license_2_text():
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256


def build_sdist(tmp_path) -> str:
    """Build the sdist of a copy of the source (with setuptools, here); its path."""
    source = tmp_path / "source"
    if not source.exists():
        shutil.copytree(ROOT / "hpo_compss", source / "hpo_compss", ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
            if (ROOT / name).exists():
                shutil.copy(ROOT / name, source)
    script = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=source, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return str(tmp_path / done.stdout.split()[-1])


def test_the_wheel_ships_the_dashboards_page_and_its_chart_library_with_licence_and_version(tmp_path):
    build_sdist(tmp_path)  # (the copy of the source)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "wheel"),
                           str(tmp_path / "source")], capture_output=True, text=True)  # as pip installs it
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(next((tmp_path / "wheel").glob("*.whl"))) as wheel:
        names = set(wheel.namelist())
        static = "hpo_compss/dashboard/static/"
        assert {static + name for name in ("dashboard.html", "dashboard.js", "dashboard.css", "uplot/uPlot.iife.min.js",
                                           "uplot/uPlot.min.css", "uplot/LICENSE", "uplot/VERSION")} <= names
        assert wheel.read(static + "uplot/LICENSE").startswith(b"The MIT License")


def test_the_sdist_ships_the_license_and_its_metadata_names_it(tmp_path):
    with tarfile.open(build_sdist(tmp_path)) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        assert sdist.extractfile(f"{top}/LICENSE").read() == (ROOT / "LICENSE").read_bytes()
        metadata = sdist.extractfile(f"{top}/PKG-INFO").read().decode()
    assert "License-File: LICENSE\n" in metadata and "License: Apache-2.0\n" in metadata
