"""The README's examples: its experiment file is a valid study of its own, and command 1's sample output has the
lines a run of command 1 prints."""
from __future__ import annotations

import json
import re

from hpo_compss.experiment import load_experiment, parse_experiment

from conftest import ROOT, cli, write_experiment

README = (ROOT / "README.md").read_text()


def block(after: str, language: str = "") -> str:
    """The first fenced block of ``language`` after the heading or text ``after``."""
    start = README.index(after)
    return re.search(rf"^```{language}\n(.*?)^```$", README[start:], re.S | re.M).group(1)


def shape(line: str) -> str:
    """A printed line with its figures, configs, study path and machine left out: what must not differ between runs."""
    line = re.sub(r"\{.*\}", "{config}", line)
    line = re.sub(r" GB \(.*\), classes ", " GB (machine), classes ", line)
    line = re.sub(r"\S*(runs/svm-digits)", r"\1", line)
    return re.sub(r"\d+(\.\d+)?(e-?\d+)?", "N", line)


def test_the_experiment_file_example_is_valid_and_does_not_reuse_command_1s_study():
    example = parse_experiment(json.loads(block("## The experiment file", "json")))
    assert example.name != load_experiment(ROOT / "configs" / "svm_digits.json", check=False).name


def test_command_1s_sample_output_has_the_lines_command_1_prints(tmp_path):
    sample = [line for line in block("The first command prints").splitlines() if line != "..."]
    data = json.loads((ROOT / "configs" / "svm_digits.json").read_text())
    data["budget"]["trials"] = 4
    done = cli("run", str(write_experiment(tmp_path, data, "svm_digits.json")), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.splitlines()
    assert shape(sample[0]) == shape(printed[0]) and shape(sample[-1]) == shape(printed[-1])
    assert {shape(line) for line in sample} == {shape(line) for line in printed}


def test_the_objective_sections_example_is_the_example_modules_code():
    source = (ROOT / "hpo_compss" / "examples" / "optimizers.py").read_text()
    snippet = block("(`hpo_compss/examples/optimizers.py`)", "python")
    assert all(line in source.splitlines() for line in snippet.splitlines() if line != "    ...")


def test_every_example_file_is_in_the_examples_table_and_valid():
    table = README[README.index("## Examples"):]
    for path in sorted((ROOT / "configs").glob("*.json")):
        assert f"| `{path.name}` |" in table
        load_experiment(path)


def test_the_sbatch_example_asks_for_the_gpus_and_cores_its_experiment_uses():
    line = next(line for line in block("**Without COMPSs.**", "bash").splitlines() if "sbatch" in line)
    gpus, cpus = (int(re.search(rf"--{option}=(\d+)", line).group(1)) for option in ("gpus", "cpus-per-task"))
    experiment = load_experiment(ROOT / re.search(r"configs/\S+\.json", line).group(0), check=False)
    (cls,) = experiment.compute_classes
    assert cls.gpus and gpus % cls.gpus == 0 and gpus // cls.gpus * cls.cpus == cpus
