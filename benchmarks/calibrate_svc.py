"""Calibration data for a simulated cost model of SHADHO's four-kernel SVM search on digits.

    python benchmarks/calibrate_svc.py [--per-kernel 60] [--seed 0] [--cap 60] [--out benchmarks/data/svc_digits.json]
    python benchmarks/calibrate_svc.py --scaling-only     # redo only the training-size scaling step, in place

What it measures: for each kernel (linear, rbf, sigmoid, poly) it draws ``--per-kernel`` configs of
configs/svm_digits.json's space from a scrambled Sobol design over the sampling coordinates
(log2 C in [-5, 15], log10 gamma in [-4, 1], coef0 in [-2, 2], degree in {2..5}), so each kernel's
range is covered evenly. Each config is fitted once exactly as hpo_compss.examples.svm_digits.train
does (SVC on digits.data / 16, stratified 75/25 split with random_state=0) and it records the wall
seconds of ``fit`` alone (time.perf_counter around it) and the test loss (1 - accuracy).

How: fits run one at a time in a single child worker process (one core, BLAS/OpenMP limited to one
thread) that keeps the data loaded. A fit that does not answer within ``--cap`` seconds has its
worker killed and replaced, and is recorded with fit_seconds and loss null and timed_out true.

Also recorded once: ``overhead_seconds``, the part of a trial that is not the fit, i.e. loading and
splitting the data plus scoring the test split, as the median over a few configs, each in a fresh
worker (the import of scikit-learn itself is reported separately in ``overhead_detail``).

Scaling with the training-set size (key ``scaling``, run by default and alone with ``--scaling-only``,
which rewrites only that key of the existing file): per kernel, ``--scaling-configs`` of its finished
samples spread over their fit times (the samples nearest to evenly spaced quantiles of fit_seconds)
are refitted on stratified subsets of the same training split with ``--scaling-fractions`` of its
``n_train`` rows (default 1/4, 1/2, 1), ``--scaling-repeats`` times each (sizes interleaved within a
repeat so that drift of the machine's speed hits all sizes alike), keeping the median fit seconds.
Per kernel, the exponent p of ``fit_seconds ~ n_train ** p`` is the least-squares slope of ln seconds
on ln n with one intercept per config (pooled slope), with its usual standard error
(sqrt(RSS / (N - configs - 1) / Sxx) with the within-config Sxx); configs whose fastest median fit is
below ``--scaling-min-seconds`` (fixed overhead rather than the solver) are kept in the file but left
out of the slope.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import qmc

HERE = Path(__file__).resolve().parent
KERNELS = ("linear", "rbf", "sigmoid", "poly")
DIMENSIONS = {"linear": ("C",), "rbf": ("C", "gamma"), "sigmoid": ("C", "gamma", "coef0"),
              "poly": ("C", "gamma", "coef0", "degree")}
LOG2_C = (-5.0, 15.0)
LOG10_GAMMA = (-4.0, 1.0)
COEF0 = (-2.0, 2.0)
DEGREES = (2, 3, 4, 5)


def _data():
    """The trial's exact split (same call as hpo_compss.examples.svm_digits._data, uncached here)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    return train_test_split(digits.data / 16.0, digits.target, test_size=0.25, random_state=0, stratify=digits.target)


def _subset(x_train, y_train, size: int | None):
    """The first ``size`` rows of a fixed stratified shuffle of the training split (all of it when ``size`` is
    None or not smaller); deterministic, so every config and repeat sees the same subset of a size."""
    if size is None or size >= len(y_train):
        return x_train, y_train
    from sklearn.model_selection import train_test_split

    x, _, y, _ = train_test_split(x_train, y_train, train_size=size, random_state=0, stratify=y_train)
    return x, y


def _worker(conn) -> None:
    """Child loop: receive (kernel, params[, size]), answer (fit seconds, loss, predict seconds).

    With a ``size`` the fit is on that stratified subset of the training split and nothing is scored
    (loss and predict seconds None)."""
    start = time.perf_counter()
    from sklearn.svm import SVC
    imported = time.perf_counter()
    x_train, x_test, y_train, y_test = _data()
    loaded = time.perf_counter()
    conn.send(("ready", imported - start, loaded - imported))
    subsets = {}
    while True:
        message = conn.recv()
        if message is None:
            return
        kernel, params, *size = message
        if size:
            if size[0] not in subsets:
                subsets[size[0]] = _subset(x_train, y_train, size[0])
            x_fit, y_fit = subsets[size[0]]
        else:
            x_fit, y_fit = x_train, y_train
        model = SVC(kernel=kernel, **params)
        begin = time.perf_counter()
        model.fit(x_fit, y_fit)
        fitted = time.perf_counter()
        if size:
            conn.send((fitted - begin, None, None))
            continue
        accuracy = float(model.score(x_test, y_test))
        conn.send((fitted - begin, 1.0 - accuracy, time.perf_counter() - fitted))


class Worker:
    """One persistent child process running fits; replaced when a fit exceeds the cap (the only way to stop libsvm)."""

    def __init__(self, context) -> None:
        self.context = context
        self.process = None
        self.conn = None
        self.import_seconds = self.load_seconds = float("nan")

    def start(self) -> None:
        parent, child = self.context.Pipe()
        self.process = self.context.Process(target=_worker, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.conn = parent
        _, self.import_seconds, self.load_seconds = self.conn.recv()

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.conn.send(None)
        self.process.join()
        self.conn.close()
        self.process = self.conn = None

    def fit(self, kernel: str, params: dict, cap: float, size: int | None = None):
        """(fit seconds, loss, predict seconds), or None when the fit did not finish within ``cap``; with ``size``,
        the fit is on that stratified subset of the training split and loss and predict seconds are None."""
        if self.process is None:
            self.start()
        self.conn.send((kernel, params) if size is None else (kernel, params, size))
        if self.conn.poll(cap):
            return self.conn.recv()
        self.stop(kill=True)
        return None


def design(kernel: str, n: int, seed: int) -> list[dict]:
    """``n`` configs of ``kernel`` from a scrambled Sobol design in its sampling coordinates."""
    names = DIMENSIONS[kernel]
    sampler = qmc.Sobol(d=len(names), scramble=True, seed=np.random.default_rng([seed, KERNELS.index(kernel)]))
    points = sampler.random_base2(int(np.ceil(np.log2(max(n, 2)))))[:n]
    configs = []
    for u in points:
        params: dict = {"C": float(2.0 ** (LOG2_C[0] + u[0] * (LOG2_C[1] - LOG2_C[0])))}
        if "gamma" in names:
            params["gamma"] = float(10.0 ** (LOG10_GAMMA[0] + u[1] * (LOG10_GAMMA[1] - LOG10_GAMMA[0])))
        if "coef0" in names:
            params["coef0"] = float(COEF0[0] + u[2] * (COEF0[1] - COEF0[0]))
        if "degree" in names:
            params["degree"] = int(DEGREES[min(int(u[3] * len(DEGREES)), len(DEGREES) - 1)])
        configs.append(params)
    return configs


def machine() -> str:
    """Short description: CPU model, core count, python, scikit-learn and numpy versions."""
    import sklearn

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cpus; python {platform.python_version()}, scikit-learn {sklearn.__version__}, "
            f"numpy {np.__version__}; {platform.system()} {platform.machine()}")


def overhead(context, configs: list[tuple[str, dict]], cap: float) -> tuple[float, dict]:
    """Median over ``configs`` of load + split + predict seconds, each in a fresh worker (a trial's first run)."""
    totals, imports, loads, predicts = [], [], [], []
    for kernel, params in configs:
        worker = Worker(context)
        worker.start()
        answer = worker.fit(kernel, params, cap)
        worker.stop(kill=answer is None)
        if answer is None:
            continue
        imports.append(worker.import_seconds)
        loads.append(worker.load_seconds)
        predicts.append(answer[2])
        totals.append(worker.load_seconds + answer[2])
    detail = {"configs": len(totals), "load_seconds": statistics.median(loads), "predict_seconds": statistics.median(predicts),
              "sklearn_import_seconds": statistics.median(imports)}
    return statistics.median(totals), detail


def scaling_picks(samples: list[dict], kernel: str, count: int) -> list[dict]:
    """Params of up to ``count`` finished samples of ``kernel`` nearest to evenly spaced quantiles of their fit
    seconds (fastest and slowest included), in increasing fit time."""
    done = sorted((s for s in samples if s["kernel"] == kernel and s.get("fit_seconds") is not None),
                  key=lambda s: s["fit_seconds"])
    if not done:
        return []
    ranks = sorted({int(round(q * (len(done) - 1))) for q in np.linspace(0.0, 1.0, min(count, len(done)))})
    return [{name: done[r][name] for name in DIMENSIONS[kernel]} for r in ranks]


def pooled_exponent(sizes: list[int], configs: list[dict], min_seconds: float) -> dict:
    """Least-squares slope of ln seconds on ln size with one intercept per config, and its standard error.

    Configs with a missing (timed-out) size or whose fastest median is below ``min_seconds`` are left out."""
    log_n = np.log(np.asarray(sizes, dtype=float))
    used = [np.log(np.asarray(c["seconds"], dtype=float)) for c in configs
            if None not in c["seconds"] and min(c["seconds"]) >= min_seconds]
    result = {"exponent": None, "stderr": None, "configs_used": len(used), "excluded": len(configs) - len(used)}
    if not used:
        return result
    dx = log_n - log_n.mean()
    sxx = len(used) * float(dx @ dx)
    slope = sum(float(dx @ (y - y.mean())) for y in used) / sxx
    residuals = np.concatenate([(y - y.mean()) - slope * dx for y in used])
    dof = len(residuals) - len(used) - 1
    result["exponent"] = slope
    result["stderr"] = float(np.sqrt(residuals @ residuals / dof / sxx)) if dof > 0 else None
    result["residual_sd"] = float(np.sqrt(residuals @ residuals / dof)) if dof > 0 else None
    return result


def scaling(context, samples: list[dict], n_train: int, args) -> dict:
    """The ``scaling`` record: per kernel, median fit seconds of picked configs on subsets, and the exponent."""
    sizes = sorted({max(2, int(round(f * n_train))) for f in args.scaling_fractions})
    started = time.perf_counter()
    worker = Worker(context)
    per_kernel = {}
    for kernel in KERNELS:
        configs = []
        for params in scaling_picks(samples, kernel, args.scaling_configs):
            times: dict[int, list[float]] = {size: [] for size in sizes}
            timed_out = set()
            for _ in range(args.scaling_repeats):
                for size in sizes:
                    if size in timed_out:
                        continue
                    answer = worker.fit(kernel, params, args.cap, size)
                    if answer is None:
                        timed_out.add(size)
                    else:
                        times[size].append(answer[0])
            seconds = [None if size in timed_out else statistics.median(times[size]) for size in sizes]
            own = (float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])
                   if None not in seconds and len(sizes) > 1 else None)
            configs.append({"params": params, "seconds": seconds, "exponent": own})  # own: this config's slope alone
            shown = "  ".join("TIMEOUT" if t is None else f"{t:8.4f}" for t in seconds)
            print(f"scaling {kernel:7s} {params} {shown}", flush=True)
        fit = pooled_exponent(sizes, configs, args.scaling_min_seconds)
        per_kernel[kernel] = {**fit, "configs": configs}
        print(f"scaling {kernel:7s} exponent {fit['exponent']} +- {fit['stderr']} "
              f"({fit['configs_used']} configs, {fit['excluded']} excluded)", flush=True)
    worker.stop()
    return {"sizes": sizes, "repeats": args.scaling_repeats, "min_seconds": args.scaling_min_seconds,
            "subsets": "stratified train_test_split(train_size=size, random_state=0) of the training split",
            "fit": "ln seconds = a_config + p ln n_train, least squares, pooled slope p",
            "wall_seconds": time.perf_counter() - started, "per_kernel": per_kernel}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-kernel", type=int, default=60, help="configs drawn per kernel")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Sobol scrambling")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds after which a fit is abandoned")
    parser.add_argument("--overhead-configs", type=int, default=5, help="configs timed for the per-trial overhead")
    parser.add_argument("--out", type=Path, default=HERE / "data" / "svc_digits.json")
    parser.add_argument("--scaling-only", action="store_true",
                        help="only (re)measure the training-size scaling of the samples already in --out, in place")
    parser.add_argument("--no-scaling", action="store_true", help="skip the training-size scaling step")
    parser.add_argument("--scaling-configs", type=int, default=10, help="configs per kernel for the scaling step")
    parser.add_argument("--scaling-fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0],
                        help="training-set fractions fitted in the scaling step")
    parser.add_argument("--scaling-repeats", type=int, default=3, help="fits per config and size (median kept)")
    parser.add_argument("--scaling-min-seconds", type=float, default=0.005,
                        help="configs whose fastest median fit is below this are left out of the exponent")
    args = parser.parse_args(argv)

    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"  # inherited by the spawned workers: one core per fit
    context = mp.get_context("spawn")
    started = time.perf_counter()
    n_train = len(_data()[2])

    if args.scaling_only:
        record = json.loads(args.out.read_text())
        record["n_train"] = n_train
        record["scaling"] = scaling(context, record["samples"], n_train, args)
        args.out.write_text(json.dumps(record, indent=1) + "\n")
        print(f"updated scaling in {args.out} in {record['scaling']['wall_seconds']:.0f} s", flush=True)
        return 0

    plan = [(kernel, params) for kernel in KERNELS for params in design(kernel, args.per_kernel, args.seed)]
    # A few cheap, typical configs (C=1, default-like gamma) for the overhead: predict time, not the fit, is wanted.
    typical = [(kernel, {"C": 1.0, **({"gamma": 0.01} if kernel != "linear" else {})}) for kernel in KERNELS]
    overhead_seconds, overhead_detail = overhead(context, (typical * 2)[:args.overhead_configs], args.cap)
    print(f"overhead {overhead_seconds:.4f} s {overhead_detail}", flush=True)

    worker = Worker(context)
    samples = []
    for index, (kernel, params) in enumerate(plan, 1):
        answer = worker.fit(kernel, params, args.cap)
        sample = {"kernel": kernel, "C": params["C"], "gamma": params.get("gamma"), "coef0": params.get("coef0"),
                  "degree": params.get("degree"), "fit_seconds": None if answer is None else answer[0],
                  "loss": None if answer is None else answer[1], "timed_out": answer is None}
        samples.append(sample)
        shown = "TIMEOUT" if answer is None else f"{answer[0]:8.3f} s  loss {answer[1]:.4f}"
        print(f"[{index}/{len(plan)}] {kernel:7s} {params} {shown}", flush=True)
    worker.stop()

    record = {"machine": machine(), "cap_seconds": args.cap, "overhead_seconds": overhead_seconds,
              "overhead_detail": overhead_detail, "per_kernel": args.per_kernel, "seed": args.seed,
              "design": "scrambled Sobol over log2 C [-5,15], log10 gamma [-4,1], coef0 [-2,2], degree {2..5}",
              "wall_seconds": time.perf_counter() - started, "n_train": n_train, "samples": samples}
    if not args.no_scaling:
        record["scaling"] = scaling(context, samples, n_train, args)
        record["wall_seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {len(samples)} samples to {args.out} in {record['wall_seconds']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
