from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OBJECTIVES = Path(__file__).resolve().parent / "objectives.py"


def slurm_problem() -> str | None:
    """Why no SLURM job can be submitted here, or None (.ci/run starts a local SLURM)."""
    if shutil.which("sbatch") is None:
        return "no sbatch on PATH (start a cluster with ../shared/slurm/start-local-slurm.sh)"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        return f"slurmctld is not reachable: {(ping.stdout + ping.stderr).strip()}"
    return None


def objective(name: str) -> str:
    return f"{OBJECTIVES}:{name}"


def write_experiment(folder: Path, data: dict, name: str = "experiment.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(data))
    return path


def cli(*args: str, cwd: Path = ROOT, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run the real command line, as a user would."""
    return subprocess.run([sys.executable, "-m", "hpo_compss.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def journal(study: Path) -> list[dict]:
    return [json.loads(line) for line in (study / "journal.jsonl").read_text().splitlines() if line.strip()]


def trial_records(study: Path, status: str | None = None) -> list[dict]:
    return [r for r in journal(study) if "trial" in r and (status is None or r["status"] == status)]


def ended(study: Path) -> dict[int, tuple[str, dict]]:
    """Each trial's final status and config, asserting that no trial ended twice."""
    final: dict[int, tuple[str, dict]] = {}
    for record in trial_records(study):
        if record["status"] in ("complete", "failed") and not record.get("retry"):
            assert record["trial"] not in final, f"trial {record['trial']} ended twice"
            final[record["trial"]] = (record["status"], record["config"])
    return final


def processes_of(study: Path) -> list[int]:
    """Live processes started for this study (workers and anything they spawned), by their environment marker."""
    marker = f"HPO_COMPSS_STUDY={study.resolve()}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if marker in Path(f"/proc/{entry}/environ").read_bytes().split(b"\0"):
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry))
        except OSError:
            continue
    return found


def wait_for_no_processes(study: Path, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_of(study)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    return tmp_path / "study"
