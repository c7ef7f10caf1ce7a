"""Paraver traces (real COMPSs ones and our own), trial matching, reports and parameter importance."""
from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, objective, trial_records, write_experiment

from hpo_compss.analysis import plots
from hpo_compss.analysis.plots import JITTER
from hpo_compss.analysis.importance import correlation_ratio, groups_of
from hpo_compss.analysis.paraver import TaskRun, Trace, TraceError, write_trace
from hpo_compss.analysis.columns import flatten
from hpo_compss.analysis.report import report_study, write_report
from hpo_compss.analysis.trace_analysis import analyse, match_trials
from hpo_compss.experiment import parse_experiment

#: two real COMPSs 2.x traces, byte for byte, with their provenance and task counts in SOURCES.md
TRACES = Path(__file__).resolve().parent / "data" / "traces"
CHOLESKY = TRACES / "pycompss-autoparallel" / "cholesky_userparallel.prv"
NGSA = TRACES / "apps" / "workflow.py_compss_trace_1513857727.prv"


# -- real COMPSs traces: the counts of their SOURCES.md ----------------------------------------------------
@pytest.mark.parametrize("prv, records, types, ids", [
    (CHOLESKY, {"state": 59, "event": 1754, "communication": 20},
     {"create_block": 10, "potrf": 4, "solve_triangular": 6, "gemm": 10}, 30),
    (NGSA, {"state": 96, "event": 1987, "communication": 0},
     {"mapping": 8, "merge_step_1": 8, "merge_step_2": 8, "rm_dup": 8, "analyze": 8}, 40),
])
def test_real_compss_traces_give_the_task_counts_of_their_sources(prv, records, types, ids):
    summary = analyse(Trace(prv))
    assert summary.record_counts == records
    assert {name: s["count"] for name, s in summary.per_type().items()} == types
    assert len({t.task_id for t in summary.tasks}) == ids
    assert all(t.end > t.start for t in summary.tasks)
    assert summary.trace.warning_count == 0
    overview = summary.overview()
    assert overview["lower_bound"] <= overview["makespan"]
    assert 0 < overview["load_balance"] <= 1
    for thread in summary.per_thread().values():
        assert thread["busy"] + thread["idle"] == pytest.approx(overview["makespan"])


def test_the_3x_event_numbering_reads_the_same(tmp_path):
    prv = _copy(CHOLESKY, tmp_path)
    assert Trace(prv).numbering == "2.x"
    prv.write_text(prv.read_text().replace(":8000001:", ":8001002:"))
    pcf = prv.with_suffix(".pcf")
    pcf.write_text(pcf.read_text().replace("8000001    Runtime", "8001002    Runtime")
                   + "\nEVENT_TYPE\n0    8001001    API\nVALUES\n0      End\n")
    summary = analyse(Trace(prv))
    assert summary.trace.numbering == "3.x"
    assert {name: s["count"] for name, s in summary.per_type().items()} == {
        "create_block": 10, "potrf": 4, "solve_triangular": 6, "gemm": 10}


def test_trace_command_prints_the_analysis_and_draws_the_timeline(tmp_path):
    result = cli("trace", str(NGSA), "--plot", str(tmp_path / "timeline.png"))
    assert result.returncode == 0, result.stderr
    assert "40 tasks on 8 executor threads" in result.stdout and "mapping" in result.stdout
    assert (tmp_path / "timeline.png").stat().st_size > 10_000
    data = json.loads(cli("trace", str(CHOLESKY), "--json").stdout)
    assert data["task_types"]["gemm"]["count"] == 10 and data["executors"] == 4


# -- damaged traces: warnings with line numbers, or one clear error ------------------------------------------
def _copy(prv: Path, folder: Path) -> Path:
    for suffix in (".prv", ".pcf", ".row"):
        shutil.copy(prv.with_suffix(suffix), folder / ("t" + suffix))
    return folder / "t.prv"


def test_a_cut_line_and_an_unknown_record_are_skipped_with_warnings(tmp_path):
    prv = _copy(CHOLESKY, tmp_path)
    lines = prv.read_text().splitlines()
    lines.insert(5, "7:1:1:1:1:0:0")
    lines[-1] = lines[-1][:7]
    prv.write_text("\n".join(lines))
    trace = Trace(prv)
    summary = analyse(trace)
    assert trace.warning_count == 2
    assert any("unknown record type '7'" in w and "t.prv:6" in w for w in trace.warnings)
    assert any("unreadable record" in w for w in trace.warnings)
    assert sum(summary.record_counts.values()) == 59 + 1754 + 20 - 1


def test_a_missing_pcf_names_task_types_by_number(tmp_path):
    prv = _copy(CHOLESKY, tmp_path)
    prv.with_suffix(".pcf").unlink()
    summary = analyse(Trace(prv))
    assert {name: s["count"] for name, s in summary.per_type().items()} == {"type 1": 10, "type 2": 4, "type 3": 6,
                                                                             "type 4": 10}
    assert any(".pcf is missing" in w for w in summary.trace.warnings)


def test_not_a_trace_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.prv"
    bad.write_text("hello\n")
    with pytest.raises(TraceError, match="not a Paraver trace"):
        Trace(bad)
    bad.write_text("#Paraver (01/01/2020 at 10:00):12_ns:x(8):1\n")
    with pytest.raises(TraceError, match="unreadable Paraver header"):
        Trace(bad)
    for args in (["trace", str(bad)], ["trace", str(tmp_path / "none.prv")]):
        result = cli(*args)
        assert result.returncode == 2
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


# -- our own traces --------------------------------------------------------------------------------------
def test_a_written_trace_reads_back_with_its_tasks_and_times(tmp_path):
    rng = random.Random(3)
    runs, free = [], {}  # (host, core) -> when it is free again; one task at a time per core
    for number in range(1, 41):
        where = (rng.choice(["a", "b"]), rng.randrange(4))
        start = free.get(where, 1_700_000_000.0) + rng.choice([0.0, rng.uniform(0, 2)])  # some start as one ends
        free[where] = start + rng.uniform(0.1, 5)
        runs.append(TaskRun(number, 1 + number % 2, where[0], (where[1],), start, free[where], gpus=number % 3))
    trace = Trace(write_trace(tmp_path / "own.prv", runs, {1: "trial (cpu)", 2: "trial (gpu)"}))
    summary = analyse(trace)
    assert trace.warning_count == 0
    assert len(trace.labels.rows["THREAD"]) == sum(trace.header.applications[0][i][0] for i in range(2))
    origin = min(r.start for r in runs)
    by_id = {t.task_id: t for t in summary.tasks}
    assert sorted(by_id) == list(range(1, 41))
    for run in runs:
        task = by_id[run.task_id]
        assert task.name == ("trial (cpu)" if run.task_type == 1 else "trial (gpu)")
        assert task.start == pytest.approx(run.start - origin, abs=1e-6)
        assert task.end == pytest.approx(run.end - origin, abs=1e-6)
        assert trace.row_node_name(task.thread) == run.host and task.cpus == 1


def test_a_local_study_writes_its_trace_and_trace_matches_every_trial(tmp_path):
    experiment = write_experiment(tmp_path, {
        "name": "traced", "objective": objective("faulty"), "space": {"u": {"uniform": [0, 1]}},
        "algorithm": {"name": "random"}, "budget": {"trials": 12}, "retries": 1, "timeout": 1, "seed": 5})
    study = tmp_path / "study"
    assert cli("run", str(experiment), "--study-dir", str(study), "--cpus", "2").returncode in (0, 1)
    prv = study / "trace" / "hpo_compss.prv"
    summary = analyse(Trace(prv))
    attempts = [r for r in trial_records(study) if r["status"] != "running"]
    assert len(summary.tasks) == len(attempts)
    match_trials(summary, trial_records(study))
    assert all(record is not None for record in summary.trials)
    for task, record in zip(summary.tasks, summary.trials):
        assert task.duration == pytest.approx(record["end"] - record["start"], abs=1e-6)
    assert len({(r["trial"], r["attempt"]) for r in summary.trials}) == len(attempts)
    result = cli("trace", str(prv), "--study", str(study))
    assert result.returncode == 0 and f"{len(attempts)} of {len(attempts)} tasks matched to trials" in result.stdout


# -- reports -----------------------------------------------------------------------------------------------
CLOCK = 1_700_000_000.0


def _record(trial: int, config: dict, value: float | None = None, reason: str | None = None, start: float | None = None,
            seconds: float = 0.5, **fields) -> dict:
    """A trial's final record: complete with ``value``, or failed for ``reason``."""
    start = CLOCK + trial if start is None else start
    record = {"trial": trial, "config_id": trial, "repeat": 0, "attempt": 1, "config": config, "subspace": "",
              "host": "node1", "cores": [trial % 2], "gpus": [], "class": "cpu", "start": start, "end": start + seconds}
    record.update({"status": "failed", "reason": reason, "retry": False} if reason else
                  {"status": "complete", "value": value})
    return {**record, **fields}


def _study(folder: Path, data: dict, records: list[dict]) -> Path:
    """A study folder holding this experiment (``data`` over a random search of quadratic) and journal."""
    experiment = parse_experiment({"name": "s", "objective": objective("quadratic"), "algorithm": {"name": "random"},
                                   **data})
    folder.mkdir(parents=True)
    (folder / "experiment.json").write_text(json.dumps(experiment.to_json()))
    (folder / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


@pytest.fixture
def drawn(monkeypatch) -> dict:
    """The figures a report draws, by file name (not rendered, to keep the tests fast)."""
    figures = {}

    def keep(fig, path):
        figures[Path(path).name] = fig
        plots.plt.close(fig)
        return path
    monkeypatch.setattr(plots, "_save", keep)
    return figures


def _table(summary: str, title: str) -> list[dict[str, str]]:
    """The rows of the markdown table under ``## title``, as dicts by column name."""
    section = summary.split(f"## {title}\n", 1)[1].split("\n## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    names = [cell.strip() for cell in lines[0].strip("|").split("|")]
    return [dict(zip(names, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]


def _synthetic_study(folder: Path, trials: int, seed: int = 0) -> tuple[Path, list[dict]]:
    """A study folder whose loss depends on branch and x (log domain) only; y is noise; some trials fail."""
    data = {"name": "synthetic", "objective": objective("quadratic"), "seed": seed,
            "space": {"model": {"exclusive": True,
                                "a": {"x": {"loguniform": [1e-4, 1e2]}, "y": {"uniform": [0, 1]}},
                                "b": {"x": {"loguniform": [1e-4, 1e2]}, "k": [1, 2, 3]}}},
            "algorithm": {"name": "random"}, "budget": {"trials": trials}}
    experiment = parse_experiment(data)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "experiment.json").write_text(json.dumps(experiment.to_json()))
    rng = np.random.default_rng(seed)
    records, clock = [{"study": "started", "time": CLOCK}], CLOCK
    for trial in range(trials):
        branch = "ab"[trial % 2]
        x = float(10 ** rng.uniform(-4, 2))
        config = {"model": {branch: {"x": x, **({"y": float(rng.random())} if branch == "a" else {"k": 1 + trial % 3})}}}
        start = clock + trial * 0.5
        record = {"trial": trial, "config_id": trial, "repeat": 0, "attempt": 1, "config": config,
                  "subspace": f"model={branch}", "host": "node1", "cores": [trial % 8], "gpus": [], "class": "cpu",
                  "start": start, "end": start + 3.5 + rng.random()}
        if trial % 50 == 7:
            record.update(status="failed", reason="timeout: over 4 s", retry=False)
        else:
            loss = (np.log10(x) + 1) ** 2 + (3 if branch == "b" else 0) + 0.1 * rng.random()
            record.update(status="complete", value=float(loss), extras={"accuracy": float(1 / (1 + loss))})
        records.append(record)
    with open(folder / "journal.jsonl", "w") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    return folder, records


def test_report_writes_summary_csv_and_every_figure(tmp_path):
    folder, records = _synthetic_study(tmp_path / "s", 400)
    result = cli("report", str(folder))
    assert result.returncode == 0, result.stderr
    report = folder / "report"
    for name in ("evolution.png", "importance.png", "pair.png", "parallel.png", "timeline.png", "failures.png"):
        assert (report / name).stat().st_size > 10_000, name
    rows = list(csv.DictReader(open(report / "trials.csv")))
    assert len(rows) == 400
    assert {"model.a.x", "model.a.y", "model.b.k", "extras.accuracy", "host", "cores", "status"} <= set(rows[0])
    assert rows[7]["status"] == "failed" and rows[7]["reason"].startswith("timeout")
    summary = (report / "summary.md").read_text()
    best = min((r for r in records if r.get("status") == "complete"), key=lambda r: r["value"])
    assert f"(trial {best['trial']})" in summary
    assert _table(summary, "Failures") == [{"reason": "timeout: over 4 s", "trials": "8"}]


def test_report_of_few_or_no_trials_has_the_figures_the_data_supports(tmp_path):
    folder, _ = _synthetic_study(tmp_path / "s", 8)
    assert (report_study(folder) / "pair.png").exists()
    journal = folder / "journal.jsonl"
    journal.write_text(journal.read_text().splitlines()[0] + "\n")  # only the study's start
    report = report_study(folder)
    assert list(report.glob("*.png")) == []
    assert "0 trials" in (report / "summary.md").read_text()


def test_importance_finds_the_parameters_that_matter():
    rng = np.random.default_rng(1)
    x, y, noise = rng.uniform(0, 1, 600), rng.uniform(0, 1, 600), rng.uniform(0, 1, 600)
    loss = (x - 0.3) ** 2 + 0.01 * y
    assert correlation_ratio(groups_of(list(x), True), loss) > 0.8
    assert correlation_ratio(groups_of(list(noise), True), loss) < 0.03
    assert correlation_ratio(groups_of(list("abc" * 200), False), loss) < 0.03


def test_report_at_ten_thousand_trials(tmp_path):
    folder, _ = _synthetic_study(tmp_path / "big", 10_000)
    report = write_report(folder, parse_experiment(json.loads((folder / "experiment.json").read_text())),
                          [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines()])
    assert sum(1 for _ in open(report / "trials.csv")) == 10_001
    scores = {row["parameter"]: float(row["importance"])
              for row in _table((report / "summary.md").read_text(), "Parameter importance")}
    assert set(sorted(scores, key=scores.get)[-3:]) == {"branch", "model.a.x", "model.b.x"}
    assert scores["model.a.y"] < 0.02 and scores["model.b.k"] < 0.02


def test_flatten_names_nested_and_repeated_parameters():
    assert flatten({"model": {"C": 1}, "layers": [8, 16], "k": "rbf"}) == {"model.C": 1, "layers[0]": 8,
                                                                           "layers[1]": 16, "k": "rbf"}


def _star(fig) -> tuple[float, float]:
    """Where the pair figure's first panel puts the best trial's star."""
    star = [line for line in fig.axes[0].lines if line.get_marker() == "*"]
    assert len(star) == 1
    return tuple(np.ravel(star[0].get_xydata())[:2])


def test_the_best_trial_is_the_ledgers_best_config_on_ties_and_repeats(tmp_path, drawn):
    space = {"x": {"uniform": [0, 1]}, "y": {"uniform": [0, 1]}}
    rows = [(0, 0.1, 0.6), (0, 0.9, 0.7), (1, 0.3, 0.2), (1, 0.3, 0.4), (3, 0.25, 0.1), (3, 0.35, 0.9),
            (2, 0.3, 0.8), (2, 0.3, 0.3)]  # (config id, value, x): config 1's mean 0.3 ties config 3's and 2's
    records = [{"study": "started", "time": CLOCK}] + [
        _record(trial, {"x": x, "y": trial / 10}, value, config_id=config, repeat=trial % 2)
        for trial, (config, value, x) in enumerate(rows)]
    summary = (report_study(_study(tmp_path / "s", {"space": space, "repeats": 2}, records)) / "summary.md").read_text()
    assert "best loss **0.3** (trial 2, config 1, mean of 2 repeats)" in summary
    assert _star(drawn["pair.png"]) == pytest.approx((0.2, 0.2))


def test_wall_time_and_throughput_leave_out_the_gaps_between_jobs(tmp_path, drawn):
    """Three jobs of 50, 30 and 18 s: stopped, killed (no stop record: it ends at its last trial), stopped."""
    records = []
    for begin, trials, seconds, stop in [(0, range(0, 10), 5, 50), (1000, range(10, 16), 5, None),
                                         (2000, range(16, 22), 3, 18)]:
        records.append({"study": "started", "time": CLOCK + begin})
        records += [_record(t, {"x": t / 22}, (t / 22 - 0.3) ** 2, start=CLOCK + begin + seconds * (t - trials[0]),
                            seconds=seconds) for t in trials]
        if stop is not None:
            records.append({"study": "stopped", "time": CLOCK + begin + stop})
    summary = (report_study(_study(tmp_path / "s", {"space": {"x": {"uniform": [0, 1]}}}, records))
               / "summary.md").read_text()
    assert "wall time 98.0 s in 3 jobs" in summary
    assert f"{22 / 98 * 60:.2f} complete" in summary
    over_time = drawn["evolution.png"].axes[1]
    assert over_time.get_xlim()[1] < 120
    resumed = [c for c in over_time.collections if c.get_label() == "resumed"]
    assert [segment[0][0] for segment in resumed[0].get_segments()] == pytest.approx([50, 80])



def test_the_best_trials_table_names_each_trials_branch(tmp_path, drawn):
    folder, _ = _synthetic_study(tmp_path / "s", 60)
    rows = _table((report_study(folder) / "summary.md").read_text(), "Best 10 trials")
    assert len(rows) == 10 and {row["branch"] for row in rows} == {"model=a"}
    assert "model.b.k" not in rows[0]  # no trial shown has it
    one = tmp_path / "one"
    records = [{"study": "started", "time": CLOCK}] + [_record(t, {"x": t / 10}, t / 10) for t in range(10)]
    rows = _table((report_study(_study(one, {"space": {"x": {"uniform": [0, 1]}}}, records)) / "summary.md")
                  .read_text(), "Best 10 trials")
    assert list(rows[0]) == ["trial", "loss", "x"]


def test_failures_are_told_apart_by_what_went_wrong_and_a_study_without_any_has_no_empty_panel(tmp_path, drawn):
    reasons = ["invalid result: loss is nan", "invalid result: loss is nan", "invalid result: loss is not a number: 'x'",
               "invalid result: the returned dict has no 'loss' key (keys: accuracy)", "exception: ValueError: a",
               "exception: ValueError: b", "timeout: killed after 2 s"]
    records = [{"study": "started", "time": CLOCK}] + [
        _record(t, {"x": t / 20}, (t / 20 - 0.3) ** 2, reason=reasons[t] if t < len(reasons) else None)
        for t in range(20)]
    summary = (report_study(_study(tmp_path / "s", {"space": {"x": {"uniform": [0, 1]}}}, records))
               / "summary.md").read_text()
    counts = {"invalid result: loss is nan": 2, "exception: ValueError": 2, "invalid result: loss is not a number": 1,
              "invalid result: the returned dict has no 'loss' key": 1, "timeout: killed after 2 s": 1}
    assert {row["reason"]: int(row["trials"]) for row in _table(summary, "Failures")} == counts
    assert {label.get_text() for label in drawn["failures.png"].axes[0].get_yticklabels()} == set(counts)
    clean = [{"study": "started", "time": CLOCK}] + [_record(t, {"x": t / 20}, t / 20) for t in range(5)]
    report_study(_study(tmp_path / "clean", {"space": {"x": {"uniform": [0, 1]}}}, clean))
    assert [ax.get_title() for ax in drawn["failures.png"].axes] == ["throughput per compute class"]


def test_importance_counts_failures_shows_trial_counts_and_names_what_it_left_out(tmp_path, drawn):
    """sgd decides every failure; x decides the rest; the branch model=b has two trials only."""
    rng = np.random.default_rng(2)
    records = [{"study": "started", "time": CLOCK}]
    for t in range(40):
        branch, x = ("b" if t in (5, 17) else "a"), float(rng.uniform(0, 1))
        config = {"optimizer": "sgd" if t % 3 == 0 else "adam", "model": {branch: {"x" if branch == "a" else "z": x}}}
        records.append(_record(t, config, (x - 0.3) ** 2, reason="invalid result: loss is nan" if t % 3 == 0 else None,
                               subspace=f"model={branch}"))
    space = {"optimizer": ["adam", "sgd"],
             "model": {"exclusive": True, "a": {"x": {"uniform": [0, 1]}}, "b": {"z": {"uniform": [0, 1]}}}}
    summary = (report_study(_study(tmp_path / "s", {"space": space}, records)) / "summary.md").read_text()
    rows = {row["parameter"]: row for row in _table(summary, "Parameter importance")}
    assert float(rows["optimizer"]["importance"]) > 0.5 and rows["optimizer"]["trials"] == "40"
    assert rows["model.a.x"]["trials"] == "38" and "model.b.z" not in rows
    assert "failed trials count as tied for the worst result" in summary
    assert "left out, fewer than 3 trials: branch model=b (2 trials): model.b.z" in summary
    labels = [label.get_text() for label in drawn["importance.png"].axes[0].get_yticklabels()]
    assert labels[0] == "optimizer (n=40)" and "model.a.x (n=38)" in labels


def _colour_bars(fig) -> list:
    return [ax._colorbar for ax in fig.axes if getattr(ax, "_colorbar", None) is not None]


@pytest.mark.parametrize("shift", [0.0, -1.0])  # positive over two decades (log), or not all positive (ranks)
def test_colours_resolve_the_good_end_and_the_colour_bar_reads_in_the_metric(tmp_path, drawn, shift):
    rng = np.random.default_rng(4)
    losses = shift + rng.permutation(np.geomspace(0.009, 0.9, 40))
    records = [{"study": "started", "time": CLOCK}] + [
        _record(t, {"x": float(rng.uniform(0, 1)), "y": float(rng.uniform(0, 1))}, float(v)) for t, v in enumerate(losses)]
    report_study(_study(tmp_path / "s", {"space": {"x": {"uniform": [0, 1]}, "y": {"uniform": [0, 1]}}}, records))
    for name in ("pair.png", "parallel.png"):
        bars = _colour_bars(drawn[name])
        assert bars, name
        for bar in bars:
            assert np.diff(bar.norm(shift + np.array([0.009, 0.02, 0.05]))).min() > 0.1, name
            assert bar.ax.get_ylim() == pytest.approx((losses.min(), losses.max()), rel=0.01), name


def _categorical_study(folder: Path, optimizers: list[str], failing: str | None = None) -> Path:
    """Loss by optimizer and lr (a log domain); every trial of ``failing`` fails."""
    rng = np.random.default_rng(5)
    records = [{"study": "started", "time": CLOCK}]
    for t in range(60):
        optimizer, lr = optimizers[t % len(optimizers)], float(10 ** rng.uniform(-5, 0))
        loss = (np.log10(lr) + 2) ** 2 / 30 + optimizers.index(optimizer) + 0.01
        records.append(_record(t, {"optimizer": optimizer, "lr": lr}, loss,
                               reason="exception: ValueError" if optimizer == failing else None))
    return _study(folder, {"space": {"optimizer": optimizers, "lr": {"loguniform": [1e-5, 1]}}}, records)


@pytest.mark.parametrize("optimizers, failing", [(["adam", "lbfgs", "sgd"], None), (["adam", "sgd"], "sgd")])
def test_the_pair_plot_draws_categories_as_strips_and_per_cell_bests_with_the_star_on_top(tmp_path, drawn, optimizers,
                                                                                        failing):
    from matplotlib.contour import ContourSet
    report_study(_categorical_study(tmp_path / "s", optimizers, failing))
    fig = drawn["pair.png"]
    shown = [o for o in optimizers if o != failing]
    trials, cells = [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is None]
    assert not [c for ax in fig.axes for c in ax.collections if isinstance(c, ContourSet)]
    for ax in (trials, cells):
        assert ax.get_xlim() == pytest.approx((-0.5, len(shown) - 0.5))
        assert [label.get_text() for label in ax.get_xticklabels()] == shown
        assert ax.get_legend() is None
    star = [line for line in trials.lines if line.get_marker() == "*"]
    assert star and star[0].get_zorder() > max(a.get_zorder() for a in trials.collections)
    frame = [patch for patch in cells.patches if patch.get_edgecolor()[:3] == (1, 0, 0)]  # the best trial's cell
    assert frame and frame[0].get_zorder() > max(a.get_zorder() for a in cells.collections + cells.texts)
    assert frame[0].get_x() + frame[0].get_width() / 2 == pytest.approx(star[0].get_xdata()[0], abs=JITTER)
    x = trials.collections[0].get_offsets()[:, 0]
    assert np.abs(x - np.round(x)).max() <= JITTER < 2 * np.abs(x - np.round(x)).max()  # spread in a band
    texts = {text.get_text() for text in cells.texts}
    for optimizer in shown:  # each category's best is the best of one of its cells
        best = min(json.loads(line)["value"] for line in (tmp_path / "s" / "journal.jsonl").read_text().splitlines()
                   if '"value"' in line and json.loads(line)["config"]["optimizer"] == optimizer)
        assert f"{best:.3g}" in texts


def test_parallel_coordinates_show_only_what_is_drawn_and_the_best_lines_on_top(tmp_path, drawn):
    from matplotlib.collections import LineCollection
    folder, records = _synthetic_study(tmp_path / "s", 400)  # the best is in branch a: b's lines cannot be drawn
    report_study(folder)
    ax = drawn["parallel.png"].axes[0]
    assert "model=b" not in {text.get_text() for text in ax.texts}
    lines = sorted((c for c in ax.collections if isinstance(c, LineCollection)), key=lambda c: c.get_zorder())
    coloured = [c for c in lines if c.get_array() is not None]
    rest, top = coloured
    assert len(rest.get_segments()) + len(top.get_segments()) == 200  # branch a: no trial failed
    assert len(top.get_segments()) >= 10 and top.get_array().max() <= rest.get_array().min()
    assert rest.get_alpha() <= 0.3 and top.get_alpha() >= 0.8
    assert lines[-1].get_array() is None and len(lines[-1].get_segments()) == 1  # the best trial, in red, above all


def _bars(ax) -> list[tuple[float, float, object]]:
    """(start, width, collection) of every bar drawn."""
    return [(path.vertices[:, 0].min(), np.ptp(path.vertices[:, 0]), c) for c in ax.collections for path in c.get_paths()]


def test_the_timeline_draws_each_attempt_apart_and_trials_too_short_to_scale_visibly(tmp_path, drawn):
    retried = _record(0, {"x": 0.5}, reason="timeout: killed after 2 s", start=CLOCK, seconds=2.0, retry=True)
    records = [{"study": "started", "time": CLOCK}, retried,
               _record(0, {"x": 0.5}, reason="timeout: killed after 2 s", start=CLOCK + 2.0, seconds=2.7, attempt=2),
               _record(1, {"x": 0.3}, 0.0, start=CLOCK + 5, seconds=1)]
    report_study(_study(tmp_path / "s", {"space": {"x": {"uniform": [0, 1]}}, "timeout": 2, "retries": 1}, records))
    bars = _bars(drawn["timeline.png"].axes[0])
    assert sorted(round(width, 3) for _, width, _ in bars) == [1.0, 2.0, 2.7]
    for _, _, collection in bars:  # an edge between back-to-back attempts
        assert collection.get_linewidth()[0] > 0 and tuple(collection.get_edgecolor()[0]) != tuple(
            collection.get_facecolor()[0])
    quick = [{"study": "started", "time": CLOCK}] + [_record(t, {"x": t / 100}, t / 100, start=CLOCK + t * 0.05,
                                                             seconds=2e-5) for t in range(100)]
    report_study(_study(tmp_path / "quick", {"space": {"x": {"uniform": [0, 1]}}}, quick))
    ax = drawn["timeline.png"].axes[0]
    span = 99 * 0.05
    assert min(width for _, width, _ in _bars(ax)) >= span / 1000
    assert "too short to draw to scale" in ax.get_title()


@pytest.mark.parametrize("domain, label", [({"uniform": [0, 1]}, "x"), ({"loginteger": [1, 100000]}, "log10 x"),
                                           ({"lognormal": [0, 3]}, "log10 x")])
def test_numbers_are_on_log_axes_where_the_domain_is_log_scaled_whatever_their_span(tmp_path, drawn, domain, label):
    records = [{"study": "started", "time": CLOCK}] + [
        _record(t, {"x": 10 ** (t % 5), "y": t / 20}, t / 20) for t in range(20)]  # x spans four decades
    report_study(_study(tmp_path / "s", {"space": {"x": domain, "y": {"uniform": [0, 1]}}}, records))
    labels = {drawn["pair.png"].axes[0].get_xlabel(), drawn["pair.png"].axes[0].get_ylabel()}
    assert labels == {label, "y"}
