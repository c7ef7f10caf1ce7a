"""A Gaussian process over model features: Matérn 5/2 with one length scale per feature (ARD).

Targets are standardised and Yeo-Johnson transformed (``scipy.stats.yeojohnson``), so a few huge
losses (Rosenbrock, a diverged network) do not flatten the model; the transform keeps the order, so
the best point stays the best. Hyperparameters are the maximum a posteriori, fitted with L-BFGS-B on
the exact gradient, under priors shaped like those of Optuna's GPSampler: a length scale l in the
unit cube costs 0.1 ((l/m)^2 + (m/l)^2), so scales far below or above m = 0.7 need strong evidence
(Optuna has m = 1; of 0.5, 0.7, 1 and 1.4, 0.7 did best on our benchmark problems, Hartmann-6 most);
the signal variance is Gamma(2, 1) and the noise variance Gamma(1.1, rate 30), with a floor of 1e-6. The steep cost of tiny
length scales matters: without it a model of a rugged function (Ackley) explains every wiggle with a
length scale near 0, which makes the kernel white noise and the search blind. The previous fit is a
warm start for the next one.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.linalg import cho_solve, cholesky, lapack, solve_triangular
from scipy.optimize import minimize
from scipy.special import ndtri
from scipy.stats import rankdata, skew, yeojohnson

SQRT5 = math.sqrt(5.0)
LOG_SCALE_BOUNDS = (math.log(1e-3), math.log(1e3))
LOG_SIGNAL_BOUNDS = (math.log(0.05), math.log(20.0))
LOG_NOISE_BOUNDS = (math.log(1e-6), math.log(1.0))
#: cost SCALE_PENALTY * ((l / SCALE_MODE)^2 + (SCALE_MODE / l)^2) of a length scale l
SCALE_PENALTY = 0.1
SCALE_MODE = 0.7
#: Gamma priors (shape, rate) of the signal and noise variances
SIGNAL_PRIOR = (2.0, 1.0)
NOISE_PRIOR = (1.1, 30.0)
#: targets more right-skewed than this (a long tail of bad results) are Yeo-Johnson transformed
SKEW_TO_WARP = 1.0
#: a first fit on more results than this starts on a subset of this size
COLD_SUBSET = 150
#: results this many median absolute deviations from the median are brought in logarithmically
FAR = 1e3
#: with such results, the least interquartile range of the others' targets before ranks are used instead
MIN_SPREAD = 0.2


def transform_targets(y: np.ndarray) -> np.ndarray:
    """Standardise; when bad results have a heavy tail, Yeo-Johnson first. The order is kept.

    A long tail of huge losses (Rosenbrock, a diverged network) would flatten the model: the power
    transform pulls it in, after a robust standardisation (median, interquartile range), so one
    huge loss cannot squeeze all the others together first. Without such a tail the transform would
    only blur the differences among the best results, which are the ones that matter.

    Results more than ``FAR`` typical deviations away (a penalty of 1e100 or ``sys.float_info.max``)
    are brought in logarithmically first, and if the bulk of the results still ends up squeezed
    together, their ranks are used instead (as normal scores): an extreme value never blinds the model.
    """
    y = np.asarray(y, dtype=float)
    if len(y) == 0 or np.all(y == y[0]):
        return np.zeros(len(y))
    if len(y) < 3:
        return np.sign(y - y[::-1])  # two results: one better, one worse
    z, extreme = _robust_deviations(y)
    if skew(z) > SKEW_TO_WARP:
        with np.errstate(all="ignore"):
            warped = yeojohnson(z)[0]
        if np.all(np.isfinite(warped)) and np.ptp(warped) > 0:
            z = warped
    z = (z - z.mean()) / z.std()
    if extreme.any() and np.subtract(*np.percentile(z[~extreme], [75, 25])) < MIN_SPREAD:
        z = ndtri((rankdata(y) - 0.5) / len(y))
        z = (z - z.mean()) / z.std()
    return z


def _robust_deviations(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(y - median) / (IQR / 1.349), and which results were extreme (brought in logarithmically first).

    Computed on halves, so that no difference of two floats overflows. Extreme means more than ``FAR``
    median absolute deviations away: unlike the quartiles, the median deviation is not fooled until
    half of the results are extreme.
    """
    deviations = y * 0.5 - np.median(y * 0.5)
    size = np.abs(deviations)
    typical = np.median(size) or np.median(size[size > 0])
    extreme = size > FAR * typical
    with np.errstate(all="ignore"):
        far = np.log(FAR * typical)
        deviations[extreme] = np.sign(deviations[extreme]) * np.exp(far) * (1 + np.log(size[extreme]) - far)
    quartiles = np.percentile(deviations, [25, 75])
    scale = (quartiles[1] - quartiles[0]) / 1.349 or typical
    return deviations / scale, extreme


class GaussianProcess:
    """Fit on (X, y) with ``fit``; ``predict`` gives mean and variance (and their gradients in x)."""

    def __init__(self, dims: int, bowl: np.ndarray | None = None):
        self.dims = dims
        #: per feature, the weight of the prior mean's bowl (see ``prior_mean``); 0 for none
        self.bowl = np.zeros(dims) if bowl is None else np.asarray(bowl, dtype=float)
        self.theta = self.prior_mode()
        self.fitted = False
        self.X = np.zeros((0, dims))
        self.y = np.zeros(0)

    def prior_mean(self, X: np.ndarray) -> np.ndarray:
        """The prior mean: a bowl, sum_d bowl_d ((x_d - 1/2)^2 - 1/12), zero on average over the unit cube.

        Far from the data the posterior reverts to it, so the edges and corners of the cube, where the
        data is sparsest, look worse than the middle unless results near them say otherwise.
        """
        return ((np.asarray(X, dtype=float) - 0.5) ** 2 - 1.0 / 12.0) @ self.bowl

    def prior_mode(self) -> np.ndarray:
        """Log length scales, signal and noise variances at the priors' modes (in log space)."""
        return np.r_[np.full(self.dims, math.log(SCALE_MODE)), math.log(SIGNAL_PRIOR[0] / SIGNAL_PRIOR[1]),
                     math.log(NOISE_PRIOR[0] / NOISE_PRIOR[1])]

    # -- fitting ----------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, max_iterations: int = 50) -> "GaussianProcess":
        """Fit the hyperparameters to (X, y) (y already transformed) from the last fit and the prior's mode.

        With plenty of data the last fit alone is the start: the optimum moves little between fits. A
        first fit on many results (after a resume) starts on an evenly spread subset of them.
        """
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        if not self.fitted and len(y) > COLD_SUBSET:
            keep = np.linspace(0, len(y) - 1, COLD_SUBSET).astype(int)
            self.fit(X[keep], y[keep], max_iterations)
        self.X, self.y = X, y
        if not len(self.y):
            self._factorise()
            return self
        bounds = [LOG_SCALE_BOUNDS] * self.dims + [LOG_SIGNAL_BOUNDS, LOG_NOISE_BOUNDS]
        best = None
        starts = [self.theta]
        if self.fitted and len(self.y) <= 3 * self.dims:  # few results: the prior's mode may be the better start
            starts.append(self.prior_mode())
        self.fitted = True
        for start in starts:
            try:
                result = minimize(self._objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                                  options={"maxiter": max_iterations, "maxfun": 2 * max_iterations})
            except np.linalg.LinAlgError:
                continue
            if best is None or result.fun < best.fun:
                best = result
        self.theta = best.x if best is not None else self.prior_mode()
        self._factorise()
        return self

    def condition(self, X: np.ndarray, y: np.ndarray) -> "GaussianProcess":
        """The same hyperparameters on other data (fantasies of pending points), without refitting."""
        other = GaussianProcess(self.dims, self.bowl)
        other.theta, other.fitted = self.theta, self.fitted
        other.X, other.y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        other._factorise()
        return other

    def _objective(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log posterior of the hyperparameters and its gradient."""
        scales, signal, noise = np.exp(theta[:self.dims]), math.exp(theta[-2]), math.exp(theta[-1])
        n = len(self.y)
        r = self._distances(self.X, self.X, scales)
        decay = np.exp(-SQRT5 * r)
        K = signal * (1 + SQRT5 * r + 5.0 / 3.0 * r**2) * decay
        K[np.diag_indices(n)] += noise
        L = cholesky(K, lower=True, check_finite=False)
        residual = self.y - self.prior_mean(self.X)
        alpha = cho_solve((L, True), residual, check_finite=False)
        value = 0.5 * residual @ alpha + np.log(np.diag(L)).sum() + 0.5 * n * math.log(2 * math.pi)
        inverse, info = lapack.dpotri(L, lower=1)
        if info:
            raise np.linalg.LinAlgError("the kernel matrix is singular")
        inverse = np.tril(inverse) + np.tril(inverse, -1).T
        W = np.outer(alpha, alpha) - inverse
        # dK / d log(scale_d) = signal * 5/3 * (1 + sqrt5 r) e^(-sqrt5 r) * diff_d^2 / scale_d^2
        M = W * (signal * 5.0 / 3.0 * (1 + SQRT5 * r) * decay)
        X = self.X
        weighted = (X**2).T @ M.sum(axis=1) - np.einsum("id,id->d", X, M @ X)
        grad_scales = -weighted / scales**2
        grad_signal = -0.5 * np.sum(W * (K - noise * np.eye(n)))
        grad_noise = -0.5 * noise * np.trace(W)
        grad = np.r_[grad_scales, grad_signal, grad_noise]
        return self._add_priors(theta, value, grad)

    def _add_priors(self, theta: np.ndarray, value: float, grad: np.ndarray) -> tuple[float, np.ndarray]:
        """Add the negative log priors of the log hyperparameters (Gamma densities with their Jacobian)."""
        squared = np.exp(2 * theta[:self.dims]) / SCALE_MODE**2  # (l / mode)^2
        value += SCALE_PENALTY * float(np.sum(squared + 1 / squared))
        scale_grad = SCALE_PENALTY * 2 * (squared - 1 / squared)
        gamma_grads = []
        for log_variance, (shape, rate) in zip(theta[-2:], (SIGNAL_PRIOR, NOISE_PRIOR)):
            value += rate * math.exp(log_variance) - shape * log_variance
            gamma_grads.append(rate * math.exp(log_variance) - shape)
        return value, grad + np.r_[scale_grad, gamma_grads]

    def _factorise(self) -> None:
        scales, signal, noise = np.exp(self.theta[:self.dims]), math.exp(self.theta[-2]), math.exp(self.theta[-1])
        self.scales, self.signal, self.noise = scales, signal, noise
        K = self._kernel(self.X, self.X) + noise * np.eye(len(self.y))
        jitter = 0.0
        while True:
            try:
                self.L = cholesky(K + jitter * np.eye(len(K)), lower=True, check_finite=False)
                break
            except np.linalg.LinAlgError:
                jitter = max(1e-8, 10 * jitter)
        self.alpha = cho_solve((self.L, True), self.y - self.prior_mean(self.X), check_finite=False)

    # -- prediction -------------------------------------------------------------------------------
    @staticmethod
    def _distances(A: np.ndarray, B: np.ndarray, scales: np.ndarray) -> np.ndarray:
        a, b = A / scales, B / scales
        return np.sqrt(np.maximum((a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T, 0.0))

    def _kernel(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        r = self._distances(A, B, self.scales)
        return self.signal * (1 + SQRT5 * r + 5.0 / 3.0 * r**2) * np.exp(-SQRT5 * r)

    def predict(self, Xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance (of the latent function) at the rows of ``Xs``."""
        if not len(self.X):
            return self.prior_mean(Xs), np.full(len(Xs), self.signal)
        Ks = self._kernel(Xs, self.X)
        mean = Ks @ self.alpha + self.prior_mean(Xs)
        v = solve_triangular(self.L, Ks.T, lower=True, check_finite=False)
        variance = np.maximum(self.signal - (v**2).sum(axis=0), 1e-12)
        return mean, variance

    def predict_with_gradient(self, x: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray]:
        """Mean, variance and their gradients at one point ``x``."""
        prior, d_prior = float(self.prior_mean(x)), 2.0 * self.bowl * (x - 0.5)
        if not len(self.X):
            return prior, self.signal, d_prior, np.zeros(self.dims)
        diff = x[None, :] - self.X  # (n, D)
        r = np.sqrt(np.maximum(((diff / self.scales) ** 2).sum(axis=1), 0.0))
        decay = np.exp(-SQRT5 * r)
        k = self.signal * (1 + SQRT5 * r + 5.0 / 3.0 * r**2) * decay
        dk = -(self.signal * 5.0 / 3.0 * (1 + SQRT5 * r) * decay)[:, None] * diff / self.scales**2  # (n, D)
        mean = float(k @ self.alpha) + prior
        w = cho_solve((self.L, True), k, check_finite=False)
        variance = max(self.signal - float(k @ w), 1e-12)
        return mean, variance, dk.T @ self.alpha + d_prior, -2.0 * dk.T @ w
