"""Surrogate of SHADHO's four-kernel SVM trial on digits: fit seconds and test loss of any config.

    python benchmarks/svc_cost.py [data file]      # per-kernel summary, LOO errors, size-scaling exponents

Built from benchmarks/calibrate_svc.py's measurements so that a simulated study can charge each
trial a realistic cost (and return a realistic loss) without training anything. For a config of
configs/svm_digits.json's space, e.g. ``{"kernel": {"rbf": {"C": 3.2, "gamma": 0.01}}}``:

* the config is mapped to the unit cube of the sampling coordinates of its kernel (log2 C over
  [-5, 15], log10 gamma over [-4, 1], coef0 over [-2, 2], degree over {2..5}, each scaled to [0, 1];
  values outside the space are clamped to its edge);
* log10 fit seconds and loss are interpolated from that kernel's samples alone (kernels differ by
  orders of magnitude and share no structure worth pooling);
* for each kernel and each of the two targets, the interpolator is picked among a few candidates
  (k nearest neighbours with inverse-distance weights via cKDTree, scipy's RBFInterpolator with
  several kernels and smoothings) by the smallest leave-one-out mean absolute error; the mean, not
  the median, so that misses at the sharp loss cliffs (e.g. too large gamma) are not ignored;
* predictions are clipped to the range measured for that kernel (no interpolator may invent fit
  times or losses outside what was observed; losses stay in [0, 1]).

Timed-out samples count as taking ``cap_seconds`` (a lower bound of their true time) in the fit
time model and are left out of the loss model (their loss is unknown). Fit seconds are wall seconds
of ``SVC.fit`` on one core of the calibration machine; the rest of a trial (data loading, scoring)
is the data file's ``overhead_seconds``, exposed as ``SvcCost.overhead_seconds``.

``fit_seconds(config, n_train=...)`` extrapolates to another training-set size (e.g. MNIST's 60,000,
as in SHADHO's paper) by the per-kernel power law ``fit_seconds ~ n_train ** p`` measured by
calibrate_svc.py's scaling step (``SvcCost.exponents``); see that method for how far it can be trusted.

Everything is deterministic and built once by ``load``; a prediction costs tens of microseconds.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
from scipy.interpolate import RBFInterpolator
from scipy.spatial import cKDTree

DATA_FILE = Path(__file__).resolve().parent / "data" / "svc_digits.json"
KERNELS = ("linear", "rbf", "sigmoid", "poly")
MNIST_TRAIN = 60000  # MNIST's training images, the size the summary extrapolates fit times to
# Sampling coordinate of each parameter: (name, transform to the sampled scale, low, high).
COORDINATES: dict[str, tuple[tuple[str, Callable[[float], float], float, float], ...]] = {}
_C = ("C", math.log2, -5.0, 15.0)
_GAMMA = ("gamma", math.log10, -4.0, 1.0)
_COEF0 = ("coef0", float, -2.0, 2.0)
_DEGREE = ("degree", float, 2.0, 5.0)
COORDINATES.update(linear=(_C,), rbf=(_C, _GAMMA), sigmoid=(_C, _GAMMA, _COEF0), poly=(_C, _GAMMA, _COEF0, _DEGREE))

# Candidates, tried in this order (ties keep the first): ("knn", k, power) or ("rbf", kernel, smoothing, epsilon).
CANDIDATES: tuple[tuple, ...] = (
    *(("knn", k, p) for k in (1, 2, 3, 5, 8) for p in (1.0, 2.0)),
    *(("rbf", kernel, s, 1.0) for kernel in ("thin_plate_spline", "cubic", "linear") for s in (0.0, 1e-2, 1e-1)),
    *(("rbf", kernel, s, 3.0) for kernel in ("gaussian", "multiquadric") for s in (1e-3, 1e-1)),
)


def unit_point(kernel: str, params: Mapping[str, float]) -> np.ndarray:
    """The config's position in its kernel's unit cube of sampling coordinates (clamped to the cube)."""
    return np.array([min(1.0, max(0.0, (transform(float(params[name])) - low) / (high - low)))
                     for name, transform, low, high in COORDINATES[kernel]])


def split_config(config: Mapping) -> tuple[str, Mapping[str, float]]:
    """(kernel, params) of ``{"kernel": {name: params}}``, or of a flat ``{"kernel": name, **params}``."""
    branch = config["kernel"]
    if isinstance(branch, str):
        return branch, config
    (kernel, params), = branch.items()
    return kernel, params


class _Knn:
    """Inverse-distance weighted mean of the k nearest samples (an exact hit returns that sample)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, k: int, power: float) -> None:
        self.tree, self.y, self.k, self.power = cKDTree(x), y, min(k, len(y)), power

    def __call__(self, x: np.ndarray) -> np.ndarray:
        distance, index = self.tree.query(x, k=self.k)
        distance, index = distance.reshape(len(x), -1), index.reshape(len(x), -1)
        weight = 1.0 / np.maximum(distance, 1e-12) ** self.power
        return (weight * self.y[index]).sum(axis=1) / weight.sum(axis=1)


def _build(candidate: tuple, x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    if candidate[0] == "knn":
        return _Knn(x, y, candidate[1], candidate[2])
    _, kernel, smoothing, epsilon = candidate
    return RBFInterpolator(x, y, kernel=kernel, smoothing=smoothing, epsilon=epsilon)


def _loo_errors(candidate: tuple, x: np.ndarray, y: np.ndarray, low: float, high: float) -> np.ndarray:
    """Absolute leave-one-out errors of ``candidate`` on (x, y), predictions clipped to [low, high] as in use."""
    errors = np.empty(len(y))
    if candidate[0] == "knn":  # one tree: drop each point's own (first, zero-distance) neighbour
        k = min(candidate[1] + 1, len(y))
        distance, index = cKDTree(x).query(x, k=k)
        distance, index = distance.reshape(len(y), -1), index.reshape(len(y), -1)
        for i in range(len(y)):
            keep = index[i] != i
            d, j = distance[i][keep][:k - 1], index[i][keep][:k - 1]
            w = 1.0 / np.maximum(d, 1e-12) ** candidate[2]
            errors[i] = abs(np.clip((w * y[j]).sum() / w.sum(), low, high) - y[i])
        return errors
    mask = np.ones(len(y), dtype=bool)
    for i in range(len(y)):
        mask[i] = False
        try:
            prediction = float(_build(candidate, x[mask], y[mask])(x[i:i + 1])[0])
        except (np.linalg.LinAlgError, ValueError):  # e.g. a singular system without smoothing
            prediction = math.nan
        mask[i] = True
        errors[i] = abs(np.clip(prediction, low, high) - y[i]) if math.isfinite(prediction) else math.inf
    return errors


@dataclass
class Target:
    """One interpolated quantity of one kernel, with the candidate LOO chose and its LOO errors."""

    method: tuple
    predict: Callable[[np.ndarray], np.ndarray]
    low: float
    high: float
    loo_errors: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, low: float, high: float) -> "Target":
        """Pick the candidate with the smallest LOO mean absolute error and build it on all samples."""
        if len(y) < 3:  # too few to cross-validate: nearest sample
            return cls(("knn", 1, 1.0), _build(("knn", 1, 1.0), x, y), low, high, np.full(len(y), math.nan))
        best = min(((float(np.mean(errors)), order, candidate, errors) for order, candidate in enumerate(CANDIDATES)
                    for errors in [_loo_errors(candidate, x, y, low, high)]), key=lambda item: item[:2])
        return cls(best[2], _build(best[2], x, y), low, high, best[3])

    def __call__(self, point: np.ndarray) -> float:
        return float(np.clip(self.predict(point[None, :])[0], self.low, self.high))


@dataclass
class KernelModel:
    """Samples and the two interpolators of one kernel."""

    kernel: str
    fit_seconds: np.ndarray  # measured, timed-out samples as the cap
    timed_out: np.ndarray
    losses: np.ndarray  # measured, finished samples only
    log_time: Target
    loss: Target


class SvcCost:
    """Predicted fit seconds and test loss of SVM-on-digits configs, from one calibration file."""

    def __init__(self, record: Mapping) -> None:
        self.machine: str = record.get("machine", "")
        self.cap_seconds: float = float(record["cap_seconds"])
        self.overhead_seconds: float = float(record.get("overhead_seconds") or 0.0)
        scaling = record.get("scaling") or {}
        self.n_train: int | None = record.get("n_train")
        self.scaling_sizes: list[int] = list(scaling.get("sizes", []))
        # kernel -> (exponent p of fit_seconds ~ n_train ** p, its standard error); kernels without a fit are absent
        self.exponents: dict[str, tuple[float, float]] = {
            kernel: (float(fit["exponent"]), float(fit["stderr"]) if fit.get("stderr") is not None else math.nan)
            for kernel, fit in scaling.get("per_kernel", {}).items() if fit.get("exponent") is not None}
        self.kernels: dict[str, KernelModel] = {}
        for kernel in KERNELS:
            samples = [s for s in record["samples"] if s["kernel"] == kernel]
            if not samples:
                continue
            x = np.array([unit_point(kernel, s) for s in samples])
            timed_out = np.array([bool(s.get("timed_out")) or s["fit_seconds"] is None for s in samples])
            seconds = np.array([self.cap_seconds if t else float(s["fit_seconds"]) for s, t in zip(samples, timed_out)])
            log_seconds = np.log10(seconds)
            losses = np.array([float(s["loss"]) for s, t in zip(samples, timed_out) if not t])
            log_time = Target.fit(x, log_seconds, float(log_seconds.min()), float(log_seconds.max()))
            if len(losses):
                loss = Target.fit(x[~timed_out], losses, float(losses.min()), float(losses.max()))
            else:  # every fit timed out: nothing learnt, the worst loss
                loss = Target(("constant",), lambda p: np.ones(len(p)), 1.0, 1.0, np.array([]))
            self.kernels[kernel] = KernelModel(kernel, seconds, timed_out, losses, log_time, loss)

    def fit_seconds(self, config: Mapping, n_train: int | None = None) -> float:
        """Predicted wall seconds of ``SVC.fit`` for ``config`` on one core of the calibration machine.

        Without ``n_train``: on digits' training split (``self.n_train`` rows), interpolated from the samples.
        With ``n_train``: that time times ``(n_train / self.n_train) ** p``, p the kernel's exponent in
        ``self.exponents``. This is an extrapolation by a power law measured only on digits subsets of
        n_train/4 .. n_train rows (``self.scaling_sizes``, about 340 to 1350) with a single exponent per
        kernel pooled over configs; at 60,000 rows it reaches about 45 times beyond the largest measured
        size, i.e. 44.5 ** p (tens to hundreds of times) the digits time, so an error of 0.1 in p is
        about 46% in the prediction. The pooled p averages unlike configs: on digits the fast configs
        of each kernel grew about as n ** 1.1 and the slow ones about as n ** 1.8 to 2 (each config's
        own ``exponent`` in the data file), so the slow configs, which dominate a study's cost, are
        underestimated several-fold at 60,000 and the fast ones overestimated. It also ignores
        everything but the row count: MNIST's 784 features against digits' 64 (kernel evaluations
        cost roughly in proportion), a different number of support vectors, and libsvm's kernel
        cache (200 MB by default) no longer holding the kernel matrix, all of which make real
        large-data fits slower. Use it for the relative cost of configs and orders of magnitude, not
        for absolute seconds.
        """
        kernel, params = split_config(config)
        seconds = 10.0 ** self.kernels[kernel].log_time(unit_point(kernel, params))
        if n_train is None:
            return seconds
        return seconds * self.size_factor(kernel, n_train)

    def size_factor(self, kernel: str, n_train: int) -> float:
        """``(n_train / self.n_train) ** p_kernel``, the fit-time multiplier of ``fit_seconds(config, n_train)``."""
        if kernel not in self.exponents or not self.n_train:
            raise ValueError(f"no training-size scaling for kernel {kernel!r} in the data file "
                             "(run benchmarks/calibrate_svc.py --scaling-only)")
        return (float(n_train) / float(self.n_train)) ** self.exponents[kernel][0]

    def loss(self, config: Mapping) -> float:
        """Predicted test loss (1 - accuracy) of ``config``."""
        kernel, params = split_config(config)
        return self.kernels[kernel].loss(unit_point(kernel, params))

    def summary_rows(self) -> list[dict]:
        """Per kernel: sample counts, measured fit seconds and loss statistics, chosen methods and LOO errors."""
        rows = []
        for kernel, model in self.kernels.items():
            rows.append({
                "kernel": kernel, "samples": len(model.fit_seconds), "timed_out": int(model.timed_out.sum()),
                "fit_median": float(np.median(model.fit_seconds)), "fit_p90": float(np.percentile(model.fit_seconds, 90)),
                "loss_median": float(np.median(model.losses)) if len(model.losses) else math.nan,
                "loss_best": float(model.losses.min()) if len(model.losses) else math.nan,
                "loo_log10_time_median": float(np.median(model.log_time.loo_errors)),
                "loo_log10_time_mean": float(np.mean(model.log_time.loo_errors)),
                "loo_loss_median": float(np.median(model.loss.loo_errors)) if len(model.loss.loo_errors) else math.nan,
                "loo_loss_mean": float(np.mean(model.loss.loo_errors)) if len(model.loss.loo_errors) else math.nan,
                "time_method": _describe(model.log_time.method), "loss_method": _describe(model.loss.method)})
        return rows

    def summary(self) -> str:
        """The summary rows as a fixed-width table."""
        head = (f"{'kernel':8s}{'n':>4s}{'t/o':>4s}{'fit med s':>10s}{'fit p90 s':>10s}{'loss med':>9s}{'loss best':>10s}"
                f"{'LOO|dlog10t| med':>17s}{'(mean)':>8s}{'LOO|dloss| med':>15s}{'(mean)':>8s}  time model / loss model")
        lines = [f"{self.machine}; cap {self.cap_seconds:g} s; overhead {self.overhead_seconds:.3f} s/trial", head]
        for r in self.summary_rows():
            lines.append(f"{r['kernel']:8s}{r['samples']:4d}{r['timed_out']:4d}{r['fit_median']:10.3f}{r['fit_p90']:10.3f}"
                         f"{r['loss_median']:9.4f}{r['loss_best']:10.4f}{r['loo_log10_time_median']:17.3f}"
                         f"{r['loo_log10_time_mean']:8.3f}{r['loo_loss_median']:15.4f}{r['loo_loss_mean']:8.4f}"
                         f"  {r['time_method']} / {r['loss_method']}")
        if self.exponents:
            lines.append(f"fit seconds ~ n_train ** p, measured on n_train {self.scaling_sizes} (digits: {self.n_train});"
                         f" extrapolated to n_train = {MNIST_TRAIN}:")
            for kernel, model in self.kernels.items():
                if kernel in self.exponents:
                    p, se = self.exponents[kernel]
                    factor = self.size_factor(kernel, MNIST_TRAIN)
                    lines.append(f"{kernel:8s} p = {p:.3f} +- {se:.3f}   x{factor:8.0f}   median fit "
                                 f"{float(np.median(model.fit_seconds)) * factor:9.1f} s at {MNIST_TRAIN}")
        return "\n".join(lines)


def _describe(method: tuple) -> str:
    if method[0] == "knn":
        return f"knn k={method[1]} p={method[2]:g}"
    if method[0] == "rbf":
        eps = f" eps={method[3]:g}" if method[1] in ("gaussian", "multiquadric") else ""
        return f"rbf {method[1]} s={method[2]:g}{eps}"
    return method[0]


def load(path: str | Path = DATA_FILE) -> SvcCost:
    """The surrogate of the calibration file at ``path`` (benchmarks/calibrate_svc.py's output)."""
    return SvcCost(json.loads(Path(path).read_text()))


if __name__ == "__main__":
    print(load(sys.argv[1] if len(sys.argv) > 1 else DATA_FILE).summary())
