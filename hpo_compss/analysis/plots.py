"""The figures (matplotlib, PNG). Each takes plain data, draws one figure and saves it.

They stay readable at 10,000 trials: points shrink and fade as their number grows, dense scatters
become hexagonal bins that show each bin's best value, parallel coordinates draw the best lines
last and strongest over the faded rest, and timeline bars too short to see are drawn at a minimum
width. Colours resolve the good end of the results (``colour_scale``).
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.cm import ScalarMappable  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.colors import FuncNorm, LogNorm, Normalize  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

#: above this many points a scatter becomes hexagonal bins
HEXBIN_FROM = 2000
#: the narrowest timeline bar, as a share of the time span
MIN_BAR = 0.001
#: parallel coordinates draw the best tenth of the lines on top, at most this many
TOP_LINES = 100
#: a category's points are spread this far either side of its tick
JITTER = 0.3
FAILED_COLOUR = "#d62728"
#: a minimised positive metric that spans this factor is coloured on a log scale
LOG_COLOURS = 10.0


def _point_style(n: int) -> dict:
    return {"s": max(2.0, min(30.0, 3000.0 / max(n, 1))), "alpha": max(0.15, min(0.9, 60.0 / math.sqrt(max(n, 1))))}


def colour_scale(values: np.ndarray, mode: str) -> tuple[Normalize, str]:
    """A norm and colour map that tell the good results apart: log for a minimised positive metric over a
    decade or more, else the ranks of the values (each distinct value one step), so that a few bad
    results do not squeeze the good ones into one colour. The best end is the dark one, which stands
    out on white; the colour bar still reads in the metric's units."""
    cmap = "viridis" if mode == "min" else "viridis_r"
    low, high = float(np.min(values)), float(np.max(values))
    if mode == "min" and low > 0 and high >= LOG_COLOURS * low:
        return LogNorm(low, high), cmap
    steps = np.unique(values)
    if len(steps) < 3:
        return Normalize(low, high), cmap
    share = np.linspace(0.0, 1.0, len(steps))
    return FuncNorm((lambda v: np.interp(v, steps, share), lambda s: np.interp(s, share, steps)), low, high), cmap


def _colour_bar(fig: plt.Figure, ax: plt.Axes, norm: Normalize, cmap: str, metric: str) -> None:
    """A colour bar in the metric's units, opaque whatever the alpha of what it colours."""
    scale = {FuncNorm: " (colours by rank)", LogNorm: " (log scale)"}.get(type(norm), "")
    bar = fig.colorbar(ScalarMappable(norm, cmap), ax=ax, label=metric + scale)
    if isinstance(norm, FuncNorm):  # ticks at even steps of rank, where the colours change evenly
        ticks = norm.inverse(np.linspace(0.0, 1.0, 6))
        bar.set_ticks(ticks, labels=[f"{t:.3g}".replace("-", "\N{MINUS SIGN}") for t in ticks])


def _save(fig: plt.Figure, path: Path) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def timeline(path: Path, title: str, rows: Sequence[str], bars: Sequence[tuple[int, float, float, str, bool]],
             xlabel: str = "time since start (s)") -> Path:
    """One row per executor (host and core, or trace thread); bars coloured by category, failures hatched red.

    A bar wide enough has a white edge, so back-to-back attempts stay apart; a bar narrower than
    ``MIN_BAR`` of the time span is drawn that wide, with no edge to hide it, and the title says how
    many were, so trials too short to draw to scale do not read as nothing having run.
    """
    categories = sorted({b[3] for b in bars})
    palette = [plt.get_cmap("tab10")(i) for i in range(10) if i != 3]  # red (3) marks failures
    colours = {c: palette[i % len(palette)] for i, c in enumerate(categories)}
    height = min(12.0, max(2.5, 0.3 * len(rows) + 1.5))
    fig, ax = plt.subplots(figsize=(11, height))
    span = max((b[2] for b in bars), default=0.0) - min((b[1] for b in bars), default=0.0)
    least = span * MIN_BAR
    by_row: dict[tuple[int, str, bool], list[tuple[float, float]]] = {}
    for row, start, end, category, failed in bars:
        by_row.setdefault((row, category, failed), []).append((start, max(end - start, least)))
    for (row, category, failed), spans in sorted(by_row.items(), key=lambda item: item[0][2]):  # failures on top
        ax.broken_barh(spans, (row - 0.4, 0.8), facecolors=FAILED_COLOUR if failed else colours[category],
                       hatch="//" if failed else None, hatchcolor="black", edgecolor="white",
                       linewidth=[0.5 if width > 5 * least else 0.0 for _, width in spans])
    short = sum(b[2] - b[1] < least for b in bars)
    if short:
        title += (f"\n{short} of {len(bars)} bars too short to draw to scale (under {least:.2g} s): "
                  f"drawn {least:.2g} s wide")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8 if len(rows) < 40 else 5)
    if len(rows) > 80:
        ax.set_yticks(range(0, len(rows), max(1, len(rows) // 40)))
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("executor")
    ax.set_title(title)
    handles = [Patch(color=colours[c], label=c) for c in categories]
    if any(b[4] for b in bars):
        handles.append(Patch(facecolor=FAILED_COLOUR, hatch="//", label="failed"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _save(fig, path)


def trace_timeline(summary, path: Path) -> Path:
    """The timeline of a Paraver trace's tasks, one row per executor thread."""
    threads = sorted({t.thread for t in summary.tasks})
    rows = [f"{summary.trace.thread_name(t)} ({summary.trace.node_name(t)})" for t in threads]
    bars = [(threads.index(t.thread), t.start, t.end, t.name, False) for t in summary.tasks]
    return timeline(Path(path), f"{summary.trace.prv.name}: {len(bars)} tasks on {len(rows)} threads", rows, bars,
                    "time since the trace began (s)")


def evolution(path: Path, metric: str, index: np.ndarray, ended: np.ndarray, values: np.ndarray,
              failed_index: np.ndarray, failed_ended: np.ndarray, mode: str, resumes: Sequence[float] = ()) -> Path:
    """Each trial's value and the best so far, over trial index and over the time the study ran (PHS's
    result evolution). ``ended`` leaves out the gaps between jobs; a dotted line marks each resume."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    order = np.argsort(ended)
    pick = np.minimum.accumulate if mode == "min" else np.maximum.accumulate
    log = len(values) > 1 and values.min() > 0 and values.max() / values.min() > 30
    span = float(max(ended.max(initial=0), failed_ended.max(initial=0)))
    unit, per = ("s", 1.0) if span < 120 else (("min", 60.0) if span < 7200 else ("h", 3600.0))
    for ax, x, fx, label in ((axes[0], index, failed_index, "trial index"),
                             (axes[1], ended / per, failed_ended / per, f"time the study ran ({unit})")):
        ax.scatter(x, values, color="#1f77b4", label="trial value", **_point_style(len(values)))
        by_x = np.argsort(x) if ax is axes[0] else order
        if len(values):
            ax.step(x[by_x], pick(values[by_x]), where="post", color="black", linewidth=1.5, label=f"best so far ({mode})")
        if len(fx):
            ax.plot(fx, np.zeros(len(fx)), "|", color=FAILED_COLOUR, markersize=10, transform=ax.get_xaxis_transform(),
                    label=f"failed ({len(fx)})")
        if ax is axes[1] and len(resumes):
            ax.vlines(np.asarray(resumes) / per, 0, 1, transform=ax.get_xaxis_transform(), colors="grey",
                      linestyles=":", label="resumed")
        ax.set_xlabel(label)
        ax.set_ylabel(metric + (" (log scale)" if log else ""))
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title(f"{metric} per trial, best so far")
    axes[1].set_title(f"{metric} over the time the study ran"
                      + (f" ({len(resumes) + 1} jobs, the gaps left out)" if len(resumes) else ""))
    return _save(fig, path)


def pair(path: Path, metric: str, names: tuple[str, str], x: np.ndarray, y: np.ndarray, values: np.ndarray,
         logs: tuple[bool, bool], best: int | None, categories: tuple[list | None, list | None], mode: str) -> Path:
    """Two parameters: the trials (hexagonal bins of the best value when dense), and the metric between
    them: interpolated (linear on a triangulation) between two numbers, else the best value per cell,
    as categories have no order to interpolate along. A category's points are spread in a band
    around its tick; the best trial's star is drawn above everything, with no legend to hide it.
    ``x`` and ``y`` are numbers, or category indices where ``categories`` names them.
    """
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    tx, ty = (np.log10(x) if logs[0] else x), (np.log10(y) if logs[1] else y)
    norm, cmap = colour_scale(values, mode)
    rng = np.random.default_rng(0)  # equal categories spread a little, so their points do not hide each other
    jx, jy = (t + (rng.uniform(-JITTER, JITTER, len(t)) if cats else 0) for t, cats in zip((tx, ty), categories))
    ax = axes[0]
    if len(values) > HEXBIN_FROM:
        ax.hexbin(jx, jy, C=values, reduce_C_function=np.min if mode == "min" else np.max, gridsize=40, cmap=cmap,
                  norm=norm)
    else:
        order = np.argsort(-values if mode == "min" else values)  # best drawn last, on top
        ax.scatter(jx[order], jy[order], c=values[order], cmap=cmap, norm=norm, **_point_style(len(values)))
    ax.set_title(f"{names[0]} and {names[1]}\ntrials" + (" (bins show the best value)" if len(values) > HEXBIN_FROM
                                                         else "") + "; red star: the best")
    _colour_bar(fig, ax, norm, cmap, metric)
    ax = axes[1]
    if any(categories):
        _best_cells(ax, tx, ty, values, best, categories, norm, cmap, mode)
        ax.set_title(f"best {metric} per cell (categories are not interpolated)\nred frame: the best trial's cell")
        _colour_bar(fig, ax, norm, cmap, metric)
    else:
        if len(np.unique(np.c_[tx, ty], axis=0)) >= 4 and np.ptp(tx) > 0 and np.ptp(ty) > 0:
            try:
                ax.tricontourf(tx, ty, values, levels=np.unique(norm.inverse(np.linspace(0.0, 1.0, 15))), cmap=cmap,
                               norm=norm)
                _colour_bar(fig, ax, norm, cmap, metric)
            except (ValueError, RuntimeError):  # points on a line: no triangulation
                ax.text(0.5, 0.5, "points are collinear: no contour", ha="center", transform=ax.transAxes)
        else:
            ax.text(0.5, 0.5, "too few distinct points for a contour", ha="center", transform=ax.transAxes)
        if len(values) <= HEXBIN_FROM:  # where the trials are; denser, the dots would hide the contour
            ax.plot(tx, ty, ".", color="white", markersize=1.5, alpha=0.5)
        ax.use_sticky_edges = False  # room for a star on the edge
        ax.margins(0.03)
        ax.set_title(f"{metric}, interpolated\n(linear on a triangulation)")
    for ax, (sx, sy) in zip(axes, ((jx, jy), (tx, ty))):
        if best is not None and (ax is axes[0] or not any(categories)):
            ax.plot(sx[best], sy[best], marker="*", color="red", markersize=16, markeredgecolor="black",
                    linestyle="none", zorder=10, clip_on=False)
        for axis, name, is_log, cats, limits in ((ax.xaxis, names[0], logs[0], categories[0], ax.set_xlim),
                                                 (ax.yaxis, names[1], logs[1], categories[1], ax.set_ylim)):
            axis.set_label_text(f"log10 {name}" if is_log else name)
            if cats:
                axis.set_ticks(range(len(cats)), labels=[str(c) for c in cats])
                limits(-0.5, len(cats) - 0.5)
    return _save(fig, path)


def _best_cells(ax: plt.Axes, tx: np.ndarray, ty: np.ndarray, values: np.ndarray, best: int | None,
                categories: tuple[list | None, list | None], norm: Normalize, cmap: str, mode: str) -> None:
    """The best value in each cell of a grid: a category, or a bin of a number, per axis; each value
    written, the best trial's cell framed red."""
    (ix, xedges), (iy, yedges) = _cells(tx, categories[0]), _cells(ty, categories[1])
    grid = np.full((len(yedges) - 1, len(xedges) - 1), np.inf if mode == "min" else -np.inf)
    (np.minimum if mode == "min" else np.maximum).at(grid, (iy, ix), values)
    grid[np.isinf(grid)] = np.nan
    ax.pcolormesh(xedges, yedges, np.ma.masked_invalid(grid), cmap=cmap, norm=norm)
    if grid.size <= 80:
        for (row, col), value in np.ndenumerate(grid):
            if not np.isnan(value):
                ax.text((xedges[col] + xedges[col + 1]) / 2, (yedges[row] + yedges[row + 1]) / 2, f"{value:.3g}",
                        ha="center", va="center", fontsize=8, color="white" if norm(value) < 0.5 else "black")
    if best is not None:  # framed, not starred: a star would hide the cell's value
        ax.add_patch(Rectangle((xedges[ix[best]], yedges[iy[best]]), np.diff(xedges)[ix[best]],
                               np.diff(yedges)[iy[best]], fill=False, edgecolor="red", linewidth=2.5, zorder=10,
                               clip_on=False))


def _cells(t: np.ndarray, categories: list | None) -> tuple[np.ndarray, np.ndarray]:
    """Each point's cell along one axis, and the cells' edges: one cell per category, per distinct value
    of a number that has few, else eight quantile bins."""
    if categories:
        return t.astype(int), np.arange(len(categories) + 1) - 0.5
    distinct = np.unique(t)
    if len(distinct) <= 10:
        gaps = np.diff(distinct) if len(distinct) > 1 else np.ones(1)
        edges = np.concatenate([[distinct[0] - gaps[0] / 2], distinct[:-1] + np.diff(distinct) / 2,
                                [distinct[-1] + gaps[-1] / 2]])
    else:
        edges = np.unique(np.quantile(t, np.linspace(0.0, 1.0, 9)))
    return np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2), edges


def parallel_coordinates(path: Path, metric: str, names: list[str], columns: np.ndarray, values: np.ndarray,
                         ticks: list[tuple[list[float], list[str]]], mode: str, best: int | None, scope: str) -> Path:
    """One line per trial across every parameter (scaled to [0, 1] per axis), coloured by value. The best
    tenth of the lines (at most ``TOP_LINES``) are drawn last and strong, the rest faded under them, so
    that however many trials there are the good region stays visible; the best trial is red, above all.

    A NaN (a parameter of another branch) is skipped: the line goes straight on to the next axis it has.
    """
    n, k = columns.shape
    fig, ax = plt.subplots(figsize=(min(15, max(8, 1.3 * k + 3)), 5.5))
    order = np.argsort(-values if mode == "min" else values, kind="stable")  # worst first
    segments = [np.c_[np.arange(k), columns[i]][np.isfinite(columns[i])] for i in order]
    norm, cmap = colour_scale(values, mode)
    top = min(math.ceil(n / 10), TOP_LINES)
    for part, alpha, width, zorder in ((slice(None, n - top), max(0.05, min(0.3, 8.0 / math.sqrt(n))), 0.6, 2),
                                       (slice(n - top, None), 0.9, 1.1, 3)):
        lines = LineCollection(segments[part], cmap=cmap, norm=norm, linewidths=width, alpha=alpha, zorder=zorder)
        lines.set_array(values[order][part])
        ax.add_collection(lines)
    if best is not None:
        line = np.c_[np.arange(k), columns[best]][np.isfinite(columns[best])]
        ax.add_collection(LineCollection([line], colors="red", linewidths=2.2, zorder=4))
    for j, (positions, labels) in enumerate(ticks):
        ax.axvline(j, color="grey", linewidth=0.8)
        for position, label in zip(positions, labels):
            ax.text(j + 0.03, position, label, fontsize=7, va="center", zorder=5)
    ax.set_xlim(-0.2, k - 0.6)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xticks(range(k))
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    ax.set_xlabel("parameter (most important first)")
    ax.set_yticks([])
    ax.set_ylabel("position in the parameter's range (log where the domain is)")
    ax.set_title(f"parameters per trial ({scope}), coloured by {metric}\n"
                 f"the best {top} on top, the others faded" + ("; the best trial in red" if best is not None else ""))
    _colour_bar(fig, ax, norm, cmap, metric)
    return _save(fig, path)


def failures_and_throughput(path: Path, reasons: dict[str, int], classes: dict[str, dict[str, float]]) -> Path:
    """Failed trials by reason (when some failed), and trials per minute per compute class (complete and failed)."""
    if reasons:
        fig, (ax, right) = plt.subplots(1, 2, figsize=(13, max(3.5, 0.4 * len(reasons) + 1.5)),
                                        gridspec_kw={"width_ratios": (3, 2)})
        items = sorted(reasons.items(), key=lambda kv: -kv[1])
        ax.barh([k for k, _ in items], [v for _, v in items], height=0.5, color=FAILED_COLOUR)
        ax.set_ylim(len(items) - 0.25, -0.75)  # top to bottom
        ax.set_xlabel("trials that failed for good (count)")
        ax.set_ylabel("reason")
        ax.set_title("failures by reason")
        ax = right
    else:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    names = list(classes)
    complete = [classes[c]["complete_per_minute"] for c in names]
    failed = [classes[c]["failed_per_minute"] for c in names]
    ax.bar(names, complete, width=0.5, color="#2ca02c", label="complete")
    ax.bar(names, failed, width=0.5, bottom=complete, color=FAILED_COLOUR, label="failed")
    ax.set_xlim(-0.75, len(names) - 0.25)
    ax.set_ylabel("trials per minute")
    ax.set_xlabel("compute class")
    ax.set_title("throughput per compute class")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _save(fig, path)


def importance(path: Path, metric: str, scores: dict[str, float], note: str = "") -> Path:
    """Horizontal bars, most important parameter on top; ``note`` says what was left out."""
    items = sorted(scores.items(), key=lambda kv: -kv[1])
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(items) + 1.2)))
    bars = ax.barh([k for k, _ in items], [v for _, v in items], color="#1f77b4")
    ax.bar_label(bars, fmt="%.2f", padding=3, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max([v for _, v in items] + [0.05]) * 1.15)
    ax.set_xlabel(f"share of the variance of {metric} ranks explained (adjusted correlation ratio)"
                  + (f"\n\n{textwrap.fill(note, 80)}" if note else ""))
    ax.set_ylabel("parameter (trials that have it)")
    ax.set_title("parameter importance (main effects; failed trials count as the worst)")
    return _save(fig, path)


def learning_curves(path: Path, metric: str, resource: str, curves: Sequence[tuple[np.ndarray, np.ndarray, str]],
                    mode: str, rungs: Sequence[float] = ()) -> Path:
    """Each trial's reported values over its steps: trials that ran to the full budget coloured by their
    final value (the best drawn last), paused ones thin and grey, pruned ones lighter still, each with
    a dot where it stopped (a trial paused at the first rung may have one point only). Lines thin and
    fade as their number grows; dotted lines mark the rungs; a metric over many decades gets a log axis."""
    fig, ax = plt.subplots(figsize=(9, 5))
    finals = np.array([v[-1] for _, v, state in curves if state == "complete"], dtype=float)
    everything = np.concatenate([v for _, v, _ in curves]) if curves else np.array([1.0])
    log = everything.min() > 0 and everything.max() / everything.min() > 30
    fade = max(0.1, min(0.8, 20.0 / math.sqrt(max(len(curves), 1))))
    width = max(0.4, min(1.5, 60.0 / max(len(curves), 1)))
    for state, colour, alpha, label in (("pruned", "#c8c8c8", fade * 0.7, "pruned"),
                                        ("paused", "#8c8c8c", fade, "paused at a rung")):
        segments = [np.column_stack([s, v]) for s, v, st in curves if st == state and len(s)]
        if segments:
            ax.add_collection(LineCollection(segments, colors=colour, alpha=alpha, linewidths=width))
            ends = np.array([segment[-1] for segment in segments])
            ax.scatter(ends[:, 0], ends[:, 1], color=colour, alpha=min(1.0, alpha * 1.5), label=f"{label} ({len(segments)})",
                       **{"s": _point_style(len(segments))["s"]})
    complete = sorted(((s, v) for s, v, st in curves if st == "complete" and len(s)),
                      key=lambda sv: sv[1][-1] if mode == "min" else -sv[1][-1], reverse=True)
    if complete:
        norm, cmap = colour_scale(finals, mode)
        colours = plt.get_cmap(cmap)(norm(np.array([v[-1] for _, v in complete])))
        ax.add_collection(LineCollection([np.column_stack(sv) for sv in complete], colors=colours,
                                         linewidths=width * 1.5, label=f"ran to the full budget ({len(complete)})"))
        _colour_bar(fig, ax, norm, cmap, f"final {metric}")
    ax.autoscale()
    if len(rungs) > 1:
        ax.vlines(rungs, 0, 1, transform=ax.get_xaxis_transform(), colors="grey", linestyles=":", linewidth=1,
                  label="rungs")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(resource)
    ax.set_ylabel(metric + (" (log scale)" if log else ""))
    ax.set_title(f"learning curves: the {metric} each trial reported, by {resource}")
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=8)
    return _save(fig, path)

