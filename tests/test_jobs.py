"""jobs/enqueue.sh: the enqueue_compss command it builds (--dry-run), checked option by option."""
from __future__ import annotations

import os
import shlex
import subprocess

from conftest import ROOT

#: options enqueue_compss accepts (compss/runtime/scripts/queues/commons and user/runcompss, COMPSs 3.3)
ENQUEUE_OPTIONS = {"sc_cfg", "job_name", "num_nodes", "exec_time", "qos", "cpus_per_node", "gpus_per_node",
                   "worker_in_master_cpus", "worker_in_master_memory", "lang", "pythonpath", "tracing",
                   "generate_trace", "log_dir", "queue", "reservation", "constraints", "node_memory", "project_name"}


def enqueue(*args: str, cwd=ROOT, **env: str) -> subprocess.CompletedProcess:
    """Run the script with ``env`` as its only HPO_COMPSS_* settings."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HPO_COMPSS_")} | env
    return subprocess.run(["bash", str(ROOT / "jobs" / "enqueue.sh"), *args], cwd=cwd, capture_output=True, text=True,
                          env=environ)


def options(command: list[str]) -> dict[str, str]:
    return dict(word[2:].split("=", 1) for word in command if word.startswith("--") and "=" in word)


def test_dry_run_prints_a_complete_enqueue_compss_command():
    done = enqueue("configs/svm_digits.json", "--num_nodes=2", "--gpus_per_node=4", "--dry-run",
                   HPO_COMPSS_SC_CFG="mn.cfg")
    assert done.returncode == 0, done.stderr
    command = shlex.split(done.stdout)
    assert command[0] == "enqueue_compss"
    app = command.index(str(ROOT / "main.py"))
    given = options(command[:app])
    assert set(given) <= ENQUEUE_OPTIONS
    assert given["num_nodes"] == "2" and given["gpus_per_node"] == "4" and given["sc_cfg"] == "mn.cfg"
    assert (given["lang"], given["tracing"], given["generate_trace"]) == ("python", "true", "true")
    assert given["pythonpath"].split(":")[0] == str(ROOT)
    study = ROOT / "runs" / "svm-digits"
    assert given["log_dir"] == f"{study}/compss" and given["job_name"] == "hpo-svm-digits"
    assert "worker_in_master_cpus" not in given
    assert command[app + 1:] == [str(ROOT / "configs" / "svm_digits.json"), "--study-dir", str(study)]


def test_one_node_jobs_run_workers_in_the_master_and_options_override_defaults(tmp_path):
    done = enqueue("configs/svm_digits.json", "--num_nodes=1", "--cpus_per_node=48", "--exec_time=15",
                   "--sc_cfg=mn.cfg", "--dry-run", "--", "--study-dir", str(tmp_path / "s"))
    assert done.returncode == 0, done.stderr
    given = options(shlex.split(done.stdout))
    assert (given["worker_in_master_cpus"], given["worker_in_master_memory"]) == ("48", "8000")
    assert (given["exec_time"], given["sc_cfg"], given["log_dir"]) == ("15", "mn.cfg", f"{tmp_path / 's'}/compss")


def test_a_bad_experiment_is_refused_before_anything_is_queued():
    done = enqueue("tests/bad_experiments/bad_mode.json", "--sc_cfg=mn.cfg", "--dry-run")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0 and 'mode: expected "min" or "max"' in done.stderr


def test_the_site_configuration_is_required_as_no_stock_one_fits_a_slurm_site():
    done = enqueue("configs/svm_digits.json", "--num_nodes=1", "--dry-run")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().count("\n") == 0
    assert "--sc_cfg" in done.stderr and "HPO_COMPSS_SC_CFG" in done.stderr
    given = options(shlex.split(enqueue("configs/svm_digits.json", "--sc_cfg=nord3.cfg", "--dry-run",
                                        HPO_COMPSS_SC_CFG="mn.cfg").stdout))
    assert given["sc_cfg"] == "nord3.cfg"
