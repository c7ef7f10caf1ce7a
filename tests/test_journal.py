"""The journal is the truth under every fault: gaps, damage, torn tails, full disks, readers while it is written,
results at the float limits, and one driver per study on any file system."""
from __future__ import annotations

import io
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hpo_compss.experiment import parse_experiment
from hpo_compss.journal import Journal
from hpo_compss.runtime.resources import detect_machine
from hpo_compss.study import run_study

from conftest import ROOT, cli, ended, objective, trial_records, write_experiment
from objectives import HUGE_EXTRAS

#: random search over a space where about a third of the configs cannot be built (log of a negative number)
GAPPY = {"name": "gappy", "objective": objective("sleepy"), "algorithm": "random", "budget": {"trials": 24}, "seed": 3,
         "space": {"x": {"uniform": [-0.5, 1]}, "y": {"dependent": "log(x)"}}}


def run(data: dict, study: Path, cpus: int = 1):
    return run_study(parse_experiment(data), study, detect_machine(cpus), out=io.StringIO())


@pytest.fixture(scope="module")
def gappy_reference(tmp_path_factory) -> dict:
    study = tmp_path_factory.mktemp("gappy") / "study"
    run(GAPPY, study)
    return ended(study)


def test_a_journal_with_a_gap_resumes_every_config_once(tmp_path, gappy_reference):
    """Configs the journal never heard of (lost with a crash) are asked again; none is skipped, none repeated."""
    study = tmp_path / "study"
    run(GAPPY, study)
    lines = (study / "journal.jsonl").read_text().splitlines(keepends=True)
    assert any('"invalid config: ' in line for line in lines)
    cut = next(i for i, line in enumerate(lines) if '"config_id":12,' in line)
    kept = [line for line in lines[:cut] if '"config_id":3,' not in line and '"config_id":5,' not in line]
    (study / "journal.jsonl").write_text("".join(kept))
    (study / "summary.json").unlink()
    resumed = cli("resume", str(study), timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "no record of config(s) 3, 5" in resumed.stdout
    assert ended(study) == gappy_reference


def test_a_damaged_line_in_the_middle_is_refused_then_repaired_on_request(tmp_path, gappy_reference):
    study = tmp_path / "study"
    run(GAPPY, study)
    lines = (study / "journal.jsonl").read_text().splitlines(keepends=True)
    damaged = next(i for i, line in enumerate(lines) if '"status":"complete"' in line)
    lines[damaged] = lines[damaged][:40] + "\x00\x00garbage\n"
    (study / "journal.jsonl").write_text("".join(lines[:-1]))  # without the last "stopped" record: not finished
    refused = cli("resume", str(study))
    assert refused.returncode == 2
    assert f"journal.jsonl:{damaged + 1}: damaged record" in refused.stderr and "hpo-compss repair" in refused.stderr
    status = cli("status", str(study))
    assert status.returncode == 0 and f"damaged line(s) {damaged + 1} are not counted" in status.stdout
    repaired = cli("repair", str(study))
    assert repaired.returncode == 0 and "moved 1 damaged line(s)" in repaired.stdout
    assert json.loads((study / "journal.damaged.jsonl").read_text())["line"] == damaged + 1
    resumed = cli("resume", str(study))
    assert resumed.returncode == 0, resumed.stderr
    assert ended(study) == gappy_reference  # what the damaged line recorded ran again


def test_a_torn_last_line_is_cut_and_said_also_when_the_study_had_finished(tmp_path):
    study = tmp_path / "study"
    run({**GAPPY, "budget": {"trials": 4}}, study)
    with open(study / "journal.jsonl", "a") as handle:
        handle.write('{"trial": 9, "conf')
    status = cli("status", str(study))
    assert status.returncode == 0 and "torn last record" in status.stdout
    again = cli("run", str(write_experiment(tmp_path, {**GAPPY, "budget": {"trials": 4}})), "--study-dir", str(study))
    assert again.returncode == 0, again.stderr
    assert "cut off a torn last record (18 bytes" in again.stdout and "already finished" in again.stdout
    assert (study / "journal.jsonl").read_text().endswith("}\n")
    Journal(study / "journal.jsonl").read()  # nothing damaged


def test_a_full_disk_is_a_clear_error_and_corrupts_nothing(tmp_path):
    experiment = write_experiment(tmp_path, {**GAPPY, "budget": {"trials": 400}, "space": {"x": {"uniform": [0, 1]}}})
    study = tmp_path / "study"
    limit = 20_000  # bytes any file the driver writes may grow to: the journal fills it, as a full disk would

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run([sys.executable, "-m", "hpo_compss.cli", "run", str(experiment), "--study-dir", str(study)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, preexec_fn=small_disk)
    assert done.returncode == 1, done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ") and "cannot write" in line and "hpo-compss resume" in line
    assert "Traceback" not in done.stderr
    records = Journal(study / "journal.jsonl").read()  # every line whole
    assert (study / "journal.jsonl").read_bytes().endswith(b"\n")
    assert records and not trial_records(study, "failed")
    resumed = cli("resume", str(study))
    assert resumed.returncode == 0, resumed.stderr
    assert len(ended(study)) == 400


def test_status_and_report_never_fail_while_a_study_writes(tmp_path):
    experiment = write_experiment(tmp_path, {**GAPPY, "budget": {"trials": 2000},
                                             "space": {"x": {"uniform": [0, 1]}, "sleep": 0.01}})
    study = tmp_path / "study"
    driver = subprocess.Popen([sys.executable, str(ROOT / "main.py"), str(experiment), "--study-dir", str(study),
                               "--cpus", "2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        seen: list[str] = []
        while not (study / "journal.jsonl").exists():
            time.sleep(0.01)
        while driver.poll() is None:
            command = ("report", str(study)) if seen.count("status") == 2 and "report" not in seen else (
                "status", str(study), "--json")
            result = cli(*command)
            assert result.returncode == 0, result.stderr
            seen.append(command[0])
        assert driver.returncode == 0, driver.stderr.read()
        assert seen.count("status") >= 2 and "report" in seen
    finally:
        driver.kill()
        driver.wait()


def test_status_reads_the_summary_and_agrees_with_a_full_replay(tmp_path):
    study = tmp_path / "study"
    run({**GAPPY, "repeats": 2, "retries": 1}, study)
    fast = json.loads(cli("status", str(study), "--json").stdout)
    (study / "summary.json").unlink()
    slow = json.loads(cli("status", str(study), "--json").stdout)
    assert fast == slow


def test_a_saved_ledger_and_the_newer_records_give_the_full_replays_state(tmp_path):
    from hpo_compss.results import Ledger

    study = tmp_path / "study"
    run({**GAPPY, "repeats": 2, "retries": 1, "objective": objective("faulty"),
         "space": {"u": {"uniform": [0, 1]}, "v": {"dependent": "log(u - 0.1)"}}, "timeout": 1}, study)
    records = Journal(study / "journal.jsonl").read()
    full = Ledger("min", 2)
    for record in records:
        full.add(record)
    for cut in range(0, len(records), 7):
        partial = Ledger("min", 2)
        for record in records[:cut]:
            partial.add(record)
        restored = Ledger.from_json(json.loads(json.dumps(partial.to_json())))
        for record in records[cut:]:
            restored.add(record)
        assert restored.status() == full.status(), cut


def test_results_at_the_float_limits_never_break_the_studys_commands(tmp_path):
    data = {"name": "limits", "objective": objective("penalty"), "space": {"x": {"uniform": [0, 1]}},
            "algorithm": "random", "budget": {"trials": 12}, "repeats": 2, "seed": 2}
    experiment = write_experiment(tmp_path, data)
    study = tmp_path / "study"
    done = cli("run", str(experiment), "--study-dir", str(study))
    assert done.returncode == 0, done.stderr
    values = [r["value"] for r in trial_records(study, "complete")]
    assert len(values) == 24 and values.count(sys.float_info.max) >= 4
    for command in (("status", str(study)), ("status", str(study), "--json"), ("report", str(study)),
                    ("resume", str(study))):
        result = cli(*command)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (command, result.stderr)
    status = json.loads(cli("status", str(study), "--json").stdout)
    assert status["best"]["value"] < 0.5


def test_large_extras_stay_in_the_trials_folder(tmp_path):
    data = {"name": "extras", "objective": objective("misbehave"), "space": None,
            "algorithm": {"name": "explicit", "configs": [{"fault": "huge_extras"}]}}
    study = tmp_path / "study"
    run(data, study)
    (record,) = trial_records(study, "complete")
    assert record["extras"]["small"] == 7 and record["extras"]["text"].startswith(f"<{HUGE_EXTRAS + 2} bytes")
    assert len(json.loads((study / record["extras_file"]).read_text())["text"]) == HUGE_EXTRAS
    assert (study / "journal.jsonl").stat().st_size < 100_000


def test_an_infinite_dependent_value_fails_its_trial_and_the_study_goes_on(tmp_path):
    data = {"name": "inf", "objective": objective("sleepy"), "algorithm": "random", "budget": {"trials": 10}, "seed": 1,
            "space": {"x": {"uniform": [0, 1]}, "big": {"dependent": "1e300 * 1e10 if x > 0.5 else 1.0"}}}
    study = tmp_path / "study"
    done = cli("run", str(write_experiment(tmp_path, data)), "--study-dir", str(study))
    assert done.returncode == 0, done.stderr
    assert cli("resume", str(study)).returncode == 0
    failed = trial_records(study, "failed")
    assert failed and all(r["reason"].startswith("invalid config: space.big") for r in failed)
    assert len(ended(study)) == 10


# -- one driver per study ---------------------------------------------------------------------------------
def write_lock(study: Path, host: str, pid: int, age: float) -> None:
    study.mkdir(parents=True, exist_ok=True)
    path = study / ".lock"
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    path.write_text(json.dumps({"host": host, "pid": pid, "start": "1", "boot": boot, "token": "t", "since": 0}))
    os.utime(path, (time.time() - age, time.time() - age))


def test_a_lock_held_on_another_node_refuses_a_second_driver_naming_it(tmp_path):
    study = tmp_path / "study"
    run({**GAPPY, "budget": {"trials": 2}}, study)
    write_lock(study, "node-17", 4242, age=5)
    refused = cli("resume", str(study))
    assert refused.returncode == 2
    assert "another driver is running the study" in refused.stderr and "host node-17, pid 4242" in refused.stderr
    assert json.loads(cli("status", str(study), "--json").stdout)["driver_running"] is True


def test_a_stale_lock_is_broken_and_said(tmp_path):
    study = tmp_path / "study"
    run({**GAPPY, "budget": {"trials": 2}}, study)
    write_lock(study, "node-17", 4242, age=3600)
    assert json.loads(cli("status", str(study), "--json").stdout)["driver_running"] is False
    resumed = cli("resume", str(study))
    assert resumed.returncode == 0, resumed.stderr
    assert "warning: the study's lock (host node-17, pid 4242" in resumed.stdout and "its lock was removed" in resumed.stdout
    write_lock(study, socket.gethostname(), 2**22 + 17, age=1)  # this host, a process that does not exist
    resumed = cli("resume", str(study))
    assert resumed.returncode == 0 and "is gone; its lock was removed" in resumed.stdout
    assert not (study / ".lock").exists()


def test_the_lock_needs_no_flock(tmp_path):
    """Lustre without -o flock refuses flock(2) with ENOSYS: neither the driver nor status may need it."""
    study = tmp_path / "study"
    run({**GAPPY, "budget": {"trials": 2}}, study)
    without_flock = """
import fcntl, sys
def refuse(*args, **kwargs):
    raise OSError(38, "Function not implemented")
fcntl.flock = fcntl.lockf = refuse
from hpo_compss.cli import main
sys.exit(main(sys.argv[1:]))
"""
    for command in (["resume", str(study)], ["status", str(study)]):
        done = subprocess.run([sys.executable, "-c", without_flock, *command], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr


def test_status_only_reads_the_study(tmp_path):
    """Status takes no lock and writes nothing, so it can never make a starting driver fail."""
    study = tmp_path / "study"
    run({**GAPPY, "budget": {"trials": 2}}, study)
    before = {path: path.stat().st_mtime_ns for path in study.rglob("*")}
    read_only = f"""
import builtins, fcntl, os, sys
study = {str(study)!r}
def refuse(*args, **kwargs):
    raise PermissionError("status must only read the study")
fcntl.flock = fcntl.lockf = os.link = os.rename = os.replace = os.unlink = os.remove = os.utime = refuse
plain_open = builtins.open
def open_to_read(file, mode="r", *args, **kwargs):
    if str(file).startswith(study) and set(mode) & set("wax+"):
        refuse()
    return plain_open(file, mode, *args, **kwargs)
builtins.open = open_to_read
from hpo_compss.cli import main
sys.exit(main(sys.argv[1:]))
"""
    for command in (["status", str(study)], ["status", str(study), "--json"]):
        done = subprocess.run([sys.executable, "-c", read_only, *command], cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
    assert {path: path.stat().st_mtime_ns for path in study.rglob("*")} == before
