"""The distribution carries its licence: LICENSE is the Apache License 2.0, shipped in the sdist and named in its metadata."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile

from conftest import ROOT

#: SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt, the text setup.cfg's "Apache-2.0" refers to
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def test_license_is_the_apache_license_2_text():
    assert hashlib.sha256((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256


def test_the_sdist_ships_the_license_and_its_metadata_names_it(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT / "hpo_compss", source / "hpo_compss", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, source)
    build = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", build, str(tmp_path)], cwd=source, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with tarfile.open(tmp_path / done.stdout.split()[-1]) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        assert sdist.extractfile(f"{top}/LICENSE").read() == (ROOT / "LICENSE").read_bytes()
        metadata = sdist.extractfile(f"{top}/PKG-INFO").read().decode()
    assert "License-File: LICENSE\n" in metadata and "License: Apache-2.0\n" in metadata
