"""``hpo-compss report DIR``: a study's journal as ``DIR/report/``: summary.md, trials.csv and figures.

trials.csv has one row per trial (its last attempt): config columns flattened (``model.C``,
``layers[0]``), status, value, extras, times, host, cores and GPUs. The figures are those of
``plots``; parameter importance is ``importance``'s adjusted correlation ratio.
"""
from __future__ import annotations

import csv
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..experiment import Experiment
from ..results import Ledger, attempts_that_ran
from . import plots
from .columns import flatten, log_scaled
from .fidelity import Fidelity
from .importance import MIN_TRIALS, Importance, importance

REPORT_DIR = "report"
FIGURES = ("evolution.png", "importance.png", "pair.png", "parallel.png", "timeline.png", "failures.png", "curves.png")
#: log axes for a numeric column without a known domain that spans this many decades
LOG_SPAN = 1000.0
PLOT_LIMIT = 1e250


@dataclass
class Column:
    name: str
    values: list  # one per trial; None where the trial's branch lacks it
    numeric: bool
    log: bool


@dataclass
class Jobs:
    """When a driver ran: from each "started" record to its "stopped" one, or to the last trial end of
    a job whose driver was killed. The gaps between jobs are not the study's running time."""
    spans: list[list[float]] = field(default_factory=list)
    running: bool = False

    def add(self, record: dict) -> None:
        if record.get("study") == "started":
            self.spans.append([record["time"], record["time"]])
            self.running = True
        elif record.get("study") == "stopped" and self.spans:
            self.spans[-1][1] = max(self.spans[-1][1], record["time"])
            self.running = False
        elif self.running and record.get("end") is not None:
            self.spans[-1][1] = max(self.spans[-1][1], record["end"])

    @property
    def seconds(self) -> float:
        return sum(end - start for start, end in self.spans)

    @property
    def resumes(self) -> list[float]:
        """Running time at which each job after the first began."""
        return list(np.cumsum([end - start for start, end in self.spans])[:-1])

    def elapsed(self, times: np.ndarray) -> np.ndarray:
        """Running time at these clock times: the jobs before each one's, and its part of its own."""
        starts = np.array([start for start, _ in self.spans])
        lengths = np.array([end - start for start, end in self.spans])
        job = np.clip(np.searchsorted(starts, times, side="right") - 1, 0, None)
        return np.concatenate([[0.0], np.cumsum(lengths)])[job] + np.clip(times - starts[job], 0, lengths[job])


def write_report(directory: Path, experiment: Experiment, records: Iterable[dict]) -> Path:
    """Write ``directory/report`` and return its path."""
    out = Path(directory) / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:  # a figure the data no longer supports must not stay from an earlier report
        (out / name).unlink(missing_ok=True)
    attempts, last, jobs, fidelity = [], {}, Jobs(), Fidelity()
    ledger = Ledger(experiment.mode, experiment.repeats)  # counts as `status` sees them
    assigned = None  # the last mapping of sub-spaces onto classes (scheduler shadho)
    for record in records:
        if record.get("study") == "assigned":
            assigned = record
        jobs.add(record)
        fidelity.add(record, experiment.mode)
        if "trial" in record and record["trial"] not in ledger.closed:  # a duplicate counts once
            last[record["trial"]] = record
            if record["status"] != "running":
                attempts.append(record)
        ledger.add(record)
    trials = [last[k] for k in sorted(last)]
    reasons = dict(Counter(failure_group(t.get("reason", "unknown")) for t in trials if _failed(t)).most_common())
    flat = [flatten(t["config"]) for t in trials]
    names = list(dict.fromkeys(name for row in flat for name in row))
    log_names = log_scaled(experiment)
    columns = [_column(name, [row.get(name) for row in flat], log_names) for name in names]
    if len({t.get("subspace", "") for t in trials}) > 1:  # which exclusive branch is a parameter of its own
        columns.insert(0, Column("branch", [t.get("subspace", "") for t in trials], numeric=False, log=False))
    extras = list(dict.fromkeys(key for t in trials for key in (t.get("extras") or {})))
    _write_csv(out / "trials.csv", trials, flat, names, extras)
    ended = [i for i, t in enumerate(trials) if _complete(t) or _failed(t)]
    sign = 1 if experiment.mode == "min" else -1
    losses = np.array([sign * trials[i]["value"] if _complete(trials[i]) else np.inf for i in ended], dtype=float)
    scores = importance({c.name: ([c.values[i] for i in ended], c.numeric) for c in columns}, losses)
    left_out = _left_out(scores, columns, trials)
    timed = attempts_that_ran(attempts)
    if timed and not jobs.spans:  # a journal without the driver's records
        jobs.spans = [[timed[0]["start"], max(t["end"] for t in timed)]]
    throughput = _throughput(trials, jobs.seconds)
    best = ledger.best_json()  # the rule of `run` and `status`: the best finished config, the lowest id on a tie
    figures = _figures(out, experiment, trials, timed, jobs, columns, scores, left_out, reasons, throughput, best)
    if fidelity.any:
        resource = experiment.scheduling.get("resource", "step")
        plots.learning_curves(out / "curves.png", experiment.metric, resource,
                              [(np.array([s for s, _ in c]), _plottable(np.array([v for _, v in c], dtype=float)),
                                fidelity.status.get(trial, "running")) for trial, c in sorted(fidelity.curves.items())],
                              experiment.mode, [r.budget for r in fidelity.table()])
        figures["curves.png"] = (f"learning curves: each trial's reports over its {resource}s; coloured if it ran to "
                                 "the full budget, grey if paused at a rung or pruned")
    summary = _summary(experiment, trials, attempts, jobs, columns, scores, left_out, reasons, throughput, figures, best)
    (out / "summary.md").write_text(summary + _rungs(experiment, fidelity) + _classes(attempts, assigned), encoding="utf-8")
    return out


def _complete(trial: dict) -> bool:
    return trial["status"] == "complete" and trial.get("value") is not None


def _failed(trial: dict) -> bool:
    """Failed for good: no retry is due."""
    return trial["status"] == "failed" and not trial.get("retry")


def failure_group(reason: str) -> str:
    """What went wrong, without each case's details: the reason's kind and first field, bracketed notes
    left out (``exception: ValueError``, ``invalid result: loss is nan``, ``crashed: killed by SIGKILL``)."""
    return ": ".join(reason.split(": ")[:2]).split(" (")[0]


def report_study(directory: str | Path) -> Path:
    """Write the report of the study in ``directory`` (``hpo-compss report``); returns the report folder."""
    from ..folder import journal_of, load_study

    experiment = load_study(directory, check=False)
    return write_report(directory, experiment, journal_of(directory).records(skip_damaged=True))


# -- columns and table ----------------------------------------------------------------------------------
def _column(name: str, values: list, log_names: set[str] | None) -> Column:
    present = [v for v in values if v is not None]
    numeric = bool(present) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    log = log_names is not None and name in log_names
    if numeric and log_names is None and min(present) > 0:  # no space known (explicit configs)
        log = max(present) / min(present) >= LOG_SPAN
    return Column(name, values, numeric, log)


def _write_csv(path: Path, trials: list[dict], flat: list[dict], names: list[str], extras: list[str]) -> None:
    fields = (["trial", "config_id", "repeat", "attempt", "subspace", "status", "value", "reason"] + names
              + [f"extras.{k}" for k in extras] + ["start", "end", "seconds", "host", "class", "cores", "gpus"])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(fields)
        for trial, row in zip(trials, flat):
            start, end = trial.get("start"), trial.get("end")
            writer.writerow(
                [trial.get(k, "") for k in ("trial", "config_id", "repeat", "attempt", "subspace", "status")]
                + [_cell(trial.get("value")), trial.get("reason", "")] + [_cell(row.get(n)) for n in names]
                + [_cell((trial.get("extras") or {}).get(k)) for k in extras]
                + [_iso(start), _iso(end), "" if start is None or end is None else f"{end - start:.3f}",
                   trial.get("host", ""), trial.get("class", ""), " ".join(map(str, trial.get("cores") or [])),
                   " ".join(map(str, trial.get("gpus") or []))])


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, (dict, list)) else value


def _iso(stamp: float | None) -> str:
    return "" if stamp is None else time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(stamp)) + f".{int(stamp % 1 * 1000):03d}"


# -- figures ---------------------------------------------------------------------------------------------
def _figures(out: Path, experiment: Experiment, trials: list[dict], timed: list[dict], jobs: Jobs,
             columns: list[Column], scores: dict[str, Importance], left_out: str, reasons: dict[str, int],
             throughput: dict[str, dict[str, float]], best_config: dict | None) -> dict[str, str]:
    metric, mode = experiment.metric, experiment.mode
    done = [i for i, t in enumerate(trials) if _complete(t)]
    failed = [i for i, t in enumerate(trials) if _failed(t)]
    origin = timed[0]["start"] if timed else 0.0
    values = _plottable(np.array([trials[i]["value"] for i in done], dtype=float))
    figures: dict[str, str] = {}
    if (done or failed) and jobs.spans:
        ended = [jobs.elapsed(np.array([trials[i].get("end", origin) for i in some], dtype=float))
                 for some in (done, failed)]
        plots.evolution(out / "evolution.png", metric, np.array([trials[i]["trial"] for i in done]), ended[0],
                        values, np.array([trials[i]["trial"] for i in failed]), ended[1], mode, jobs.resumes)
        figures["evolution.png"] = (f"{metric} per trial and the best so far, over trial index and over the time "
                                    "the study ran")
    varying = [c for c in columns if len({repr(v) for v in c.values if v is not None}) > 1]
    scored = {name: s for name, s in scores.items() if s.score is not None}
    if scored:
        plots.importance(out / "importance.png", metric, {f"{name} (n={s.n})": s.score for name, s in scored.items()},
                         left_out and f"left out, fewer than {MIN_TRIALS} trials: {left_out}")
        figures["importance.png"] = "parameter importance (adjusted correlation ratio of ranks, failures as the worst)"
    ranked = sorted(varying, key=lambda c: -(scores[c.name].score or 0.0))
    best = _best_trial(trials, best_config)
    # with exclusive branches, the parameters of the best trial's branch first: a pair or a line
    # across parameters that no trial has together shows nothing
    own = [c for c in ranked if c.name != "branch" and c.values[best] is not None] if best is not None else []
    pair = _pair_to_plot(own, done) or _pair_to_plot(ranked, done)
    if pair and len(done) >= 3:
        figures.update(_pair(out, metric, mode, pair, done, values, best))
    if varying and len(done) >= 2:
        candidates = [c for c in ranked if c.name == "branch" or best is None or c.values[best] is not None]
        figures.update(_parallel(out, metric, mode, candidates, done, values, best))
    if timed:
        figures.update(_timeline(out, timed, origin))
    if reasons or throughput:
        plots.failures_and_throughput(out / "failures.png", reasons, throughput)
        figures["failures.png"] = "failures by reason, and " * bool(reasons) + "trials per minute per compute class"
    return figures


def _left_out(scores: dict[str, Importance], columns: list[Column], trials: list[dict]) -> str:
    """The parameters too few trials have to be scored, by the branch those trials are of."""
    groups: dict[str, list[str]] = {}
    for column in columns:
        score = scores.get(column.name)
        if score is not None and score.score is None and score.n:
            branch = " or ".join(sorted({trials[i].get("subspace", "") for i, v in enumerate(column.values)
                                         if v is not None}))
            count = f"{score.n} trial" + "s" * (score.n > 1)
            groups.setdefault(f"branch {branch} ({count})" if branch else f"({count})", []).append(column.name)
    return "; ".join(f"{where}: {', '.join(names)}" for where, names in groups.items())


def _pair_to_plot(ranked: list[Column], done: list[int]) -> list[Column] | None:
    """The first column and the next one that varies in the trials that have both (None if none does)."""
    if not ranked:
        return None
    first = ranked[0]
    for other in ranked[1:]:
        both = [repr(other.values[i]) for i in done if first.values[i] is not None and other.values[i] is not None]
        if len(both) >= 3 and len(set(both)) > 1:
            return [first, other]
    return None


def _plottable(values: np.ndarray) -> np.ndarray:
    """Values a figure can span: results near the float limits (a "failed" penalty) are drawn at +-1e250,
    where differences and margins of the axes do not overflow."""
    return np.clip(values, -PLOT_LIMIT, PLOT_LIMIT)


def _best_trial(trials: list[dict], best: dict | None) -> int | None:
    """Index of the best config's first complete trial (None before a config has finished)."""
    return next((i for i, t in enumerate(trials) if best is not None and t["config_id"] == best["config_id"]
                 and _complete(t)), None)


def _axis(column: Column, indices: list[int]) -> tuple[np.ndarray, list | None]:
    """Plot coordinates of a column for these trials, and the category labels of a non-numeric one."""
    raw = [column.values[i] for i in indices]
    if column.numeric:
        return _plottable(np.array([np.nan if v is None else v for v in raw], dtype=float)), None
    labels = {repr(v): str(v) for v in raw if v is not None}
    keys = sorted(labels)
    return (np.array([np.nan if v is None else keys.index(repr(v)) for v in raw], dtype=float),
            [labels[k] for k in keys])


def _pair(out: Path, metric: str, mode: str, pair: list[Column], done: list[int], values: np.ndarray,
          best: int | None) -> dict[str, str]:
    keep = np.array([pair[0].values[i] is not None and pair[1].values[i] is not None for i in done], dtype=bool)
    drawn = [i for i, k in zip(done, keep) if k]
    if len(drawn) < 3:
        return {}
    (x, xcats), (y, ycats) = _axis(pair[0], drawn), _axis(pair[1], drawn)
    plots.pair(out / "pair.png", metric, (pair[0].name, pair[1].name), x, y, values[keep], (pair[0].log, pair[1].log),
               drawn.index(best) if best in drawn else None, (xcats, ycats), mode)
    return {"pair.png": f"{pair[0].name} and {pair[1].name} (the most important ones of the best trial's branch), "
                        f"coloured by {metric}"}


def _parallel(out: Path, metric: str, mode: str, candidates: list[Column], done: list[int], values: np.ndarray,
              best: int | None) -> dict[str, str]:
    """Up to 12 axes, and the trials that have two of them at least: a line needs two ends. An axis on
    which those trials do not differ is left out (with its value in the title), so no axis lists
    what no line goes through."""
    def drawable(columns: list[Column]) -> list[int]:
        return [k for k, i in enumerate(done) if sum(c.values[i] is not None for c in columns) >= 2]

    first = [done[k] for k in drawable(candidates)]
    columns = [c for c in candidates if len({repr(c.values[i]) for i in first if c.values[i] is not None}) > 1][:12]
    kept = drawable(columns)
    if not kept or len(columns) < 2:
        return {}
    drawn = [done[k] for k in kept]
    shared = [f"{c.name} {c.values[drawn[0]]}" for c in candidates if c.values[drawn[0]] is not None
              and len({repr(c.values[i]) for i in drawn}) == 1]  # the branch of the drawn trials, say
    scope = (f"{len(drawn)} trials" if len(drawn) == len(done) else
             f"{len(drawn)} of {len(done)} trials: " + ", ".join(shared))
    scaled, ticks = [], []
    for column in columns:
        x, categories = _axis(column, drawn)
        if column.log:
            x = np.log10(x)
        finite = x[np.isfinite(x)]
        low, high = (finite.min(), finite.max()) if len(finite) else (0.0, 1.0)
        span = (high - low) or 1.0
        scaled.append((x - low) / span)  # NaN where the trial's branch lacks the parameter
        if categories:
            ticks.append(([(i - low) / span for i in range(len(categories))], categories))
        else:
            label = (lambda t: f"{10 ** t:.3g}") if column.log else (lambda t: f"{t:.3g}")
            ticks.append(([0.0, 1.0], [label(low), label(high)]))
    plots.parallel_coordinates(out / "parallel.png", metric, [c.name for c in columns], np.array(scaled).T,
                               values[kept], ticks, mode, drawn.index(best) if best in drawn else None, scope)
    return {"parallel.png": f"every parameter per trial (parallel coordinates), coloured by {metric}"}


def _timeline(out: Path, timed: list[dict], origin: float) -> dict[str, str]:
    rows = sorted({(t.get("host", "?"), c) for t in timed for c in (t.get("cores") or [-1])})
    index = {row: i for i, row in enumerate(rows)}
    placed = len({t.get("class") for t in timed}) > 1 and any(t.get("subspace") for t in timed)

    def category(t: dict) -> str:  # with several classes and sub-spaces: which sub-space ran on which class
        return f"{t.get('class', 'trial')}: {t['subspace']}" if placed and t.get("subspace") else t.get("class", "trial")

    bars = [(index[(t.get("host", "?"), c)], t["start"] - origin, t["end"] - origin, category(t),
             t["status"] == "failed") for t in timed for c in (t.get("cores") or [-1])]
    labels = [f"{host} core {core}" if core >= 0 else host for host, core in rows]
    plots.timeline(out / "timeline.png", f"trials on {len(rows)} cores: one bar per attempt", labels, bars)
    return {"timeline.png": "worker timeline: one row per host and core, one bar per attempt, coloured by class"
                            + (" and sub-space" if placed else "") + ", failures hatched red"}


def _throughput(trials: list[dict], seconds: float) -> dict[str, dict[str, float]]:
    """Trials per minute that a driver ran, per compute class."""
    if not seconds:
        return {}
    minutes = max(1e-9, seconds / 60.0)
    classes: dict[str, dict[str, float]] = {}
    for trial in trials:
        entry = classes.setdefault(trial.get("class", "trial"), {"complete_per_minute": 0.0, "failed_per_minute": 0.0})
        if trial["status"] in ("complete", "failed"):
            entry[f"{trial['status']}_per_minute"] += 1 / minutes
    return classes


# -- summary ---------------------------------------------------------------------------------------------
def _summary(experiment: Experiment, trials: list[dict], attempts: list[dict], jobs: Jobs,
             columns: list[Column], scores: dict[str, Importance], left_out: str, reasons: dict[str, int],
             throughput: dict[str, dict[str, float]], figures: dict[str, str], best: dict | None) -> str:
    done = [i for i, t in enumerate(trials) if _complete(t)]
    failed = [t for t in trials if _failed(t)]
    sign = 1 if experiment.mode == "min" else -1
    ordered = sorted(done, key=lambda i: (sign * trials[i]["value"], trials[i]["config_id"]))[:10]
    lines = [f"# Study {experiment.name}", "",
             f"- objective: `{experiment.objective}`, {experiment.metric} ({experiment.mode}imised), "
             f"algorithm `{experiment.algorithm['name']}`",
             f"- {len(trials)} trials: {len(done)} complete, {len(failed)} failed; {len(attempts)} attempts; "
             f"wall time {jobs.seconds:.1f} s" + (f" in {len(jobs.spans)} jobs (the gaps between them left out)"
                                                  if len(jobs.spans) > 1 else "")]
    if best is not None:
        repeats = f", config {best['config_id']}, mean of {best['n']} repeats" if "n" in best else ""
        lines.append(f"- best {experiment.metric} **{best['value']:.6g}** (trial {best['trial']}{repeats}): "
                     f"`{json.dumps(best['config'])}`")
    for name, rate in throughput.items():
        lines.append(f"- class {name}: {rate['complete_per_minute']:.2f} complete and "
                     f"{rate['failed_per_minute']:.2f} failed trials per minute")
    if reasons:
        lines += ["", "## Failures", "", "| reason | trials |", "|---|---|"]
        lines += [f"| {reason} | {count} |" for reason, count in reasons.items()]
    scored = sorted(((name, s) for name, s in scores.items() if s.score is not None), key=lambda kv: -kv[1].score)
    if scored:
        lines += ["", "## Parameter importance", "",
                  "Share of the variance of the results' ranks that each parameter explains alone "
                  "(adjusted correlation ratio; 0 = no visible main effect); failed trials count as tied for "
                  "the worst result. `trials`: the trials that have the parameter.", "",
                  "| parameter | importance | trials |", "|---|---|---|"]
        lines += [f"| {name} | {s.score:.3f} | {s.n} |" for name, s in scored]
        if left_out:
            lines += ["", f"Parameters left out, fewer than {MIN_TRIALS} trials: {left_out}."]
    if ordered:
        shown = [c for c in columns if any(c.values[i] is not None for i in ordered)]  # the branches shown
        lines += ["", f"## Best {len(ordered)} trials", "",
                  "| trial | " + experiment.metric + " | " + " | ".join(c.name for c in shown) + " |",
                  "|---" * (len(shown) + 2) + "|"]
        lines += [f"| {trials[i]['trial']} | {trials[i]['value']:.6g} | "
                  + " | ".join(_short(c.values[i]) for c in shown) + " |" for i in ordered]
    lines += ["", "## Figures", ""] + [f"- [{name}]({name}): {text}" for name, text in figures.items()]
    lines += ["", "Every trial is in [trials.csv](trials.csv)."]
    return "\n".join(lines) + "\n"


def _rungs(experiment: Experiment, fidelity: Fidelity) -> str:
    """The rung table of a study whose trials ran at several budgets, or whose scheduler pruned some."""
    table = fidelity.table()
    if len(table) < 2 and not fidelity.pruned_at:
        return ""
    resource = experiment.scheduling.get("resource", "step")
    lines = ["", "## Rungs", "", f"Runs that ended at each budget ({resource}): paused there to be promoted, or "
             f"complete; the best {experiment.metric} reached there.", "",
             f"| budget | paused | complete | best {experiment.metric} |", "|---|---|---|---|"]
    lines += [f"| {r.budget:g} | {r.paused} | {r.complete} | {r.best:.6g} |" for r in table]
    if fidelity.pruned_at:
        steps = sorted(fidelity.pruned_at.values())
        lines += ["", f"{len(steps)} trials pruned, at {resource} {steps[0]:g} to {steps[-1]:g} "
                      f"(median {steps[len(steps) // 2]:g})."]
    return "\n".join(lines) + "\n"


def _classes(attempts: list[dict], assigned: dict | None) -> str:
    """Where the attempts of a study with several compute classes ran, the last assignment, and the moves."""
    if len({a.get("class") for a in attempts}) < 2:
        return ""
    cells: dict[tuple[str, str], list[dict]] = {}
    for attempt in attempts:
        cells.setdefault((attempt.get("class", "?"), attempt.get("subspace", "")), []).append(attempt)
    lines = ["", "## Compute classes", "", "Attempts per class and sub-space; seconds: the median of the complete ones.", "",
             "| class | sub-space | attempts | complete | failed | seconds |", "|---|---|---|---|---|---|"]
    for (cls, subspace), ran in sorted(cells.items()):
        seconds = [a["end"] - a["start"] for a in ran if a["status"] == "complete" and a.get("start") is not None]
        median = f"{float(np.median(seconds)):.3g}" if seconds else ""
        lines.append(f"| {cls} | {subspace or '-'} | {len(ran)} | {len(seconds)} | "
                     f"{sum(a['status'] == 'failed' for a in ran)} | {median} |")
    if assigned is not None:
        lines += ["", f"Sub-spaces by class after {assigned['results']} results (class speeds as measured): "
                  + "; ".join(f"{cls} ({assigned['speeds'][cls]:.3g}): {', '.join(subs) or '-'}"
                              for cls, subs in assigned["classes"].items()) + "."]
    moved = Counter(a["moved"] for a in attempts if a.get("moved"))
    if moved:
        lines += ["", "Attempts that moved after a failure:", ""] + [f"- {why} ({n})" for why, n in moved.most_common(10)]
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
