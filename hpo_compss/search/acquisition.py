"""Log expected improvement, computed stably far into the tails (after Ament et al., 2023).

Plain EI underflows to exactly 0 over most of a well-explored space, which leaves a gradient
optimiser nothing to follow; its logarithm stays finite and smooth. For minimisation,
EI = sigma * h(z) with z = (best - mean) / sigma and h(z) = phi(z) + z Phi(z).
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import erfcx, log_ndtr, ndtr

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
LOG_SQRT_HALF_PI = 0.5 * math.log(math.pi / 2)


def _log1mexp(a: np.ndarray) -> np.ndarray:
    """log(1 - e^a) for a < 0, accurate near 0 and far below it."""
    return np.where(a > -math.log(2), np.log(-np.expm1(np.minimum(a, -1e-300))), np.log1p(-np.exp(a)))


def log_h(z: np.ndarray) -> np.ndarray:
    """log(phi(z) + z Phi(z)); for z < -1 through erfcx, where the direct sum cancels."""
    z = np.asarray(z, dtype=float)
    direct = np.log(np.maximum(np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi) + z * ndtr(z), 1e-300))
    tail_z = np.minimum(z, -1.0)
    tail = (-0.5 * tail_z**2 - LOG_SQRT_2PI
            + _log1mexp(np.log(erfcx(-tail_z / math.sqrt(2)) * np.abs(tail_z)) + LOG_SQRT_HALF_PI))
    return np.where(z > -1.0, direct, tail)


def log_expected_improvement(mean: np.ndarray, variance: np.ndarray, best: float) -> np.ndarray:
    """log EI below ``best`` of a Gaussian posterior (minimisation)."""
    sigma = np.sqrt(variance)
    return log_h((best - mean) / sigma) + np.log(sigma)


def log_expected_improvement_gradient(mean: float, variance: float, best: float) -> tuple[float, float, float]:
    """log EI at one point, and its derivatives in the posterior mean and variance."""
    sigma = math.sqrt(variance)
    z = (best - mean) / sigma
    log_value = float(log_h(np.array(z)))
    ratio = math.exp(float(log_ndtr(z)) - log_value)  # Phi(z) / h(z), the derivative of log h
    d_mean = -ratio / sigma
    d_sigma = 1.0 / sigma - ratio * z / sigma
    return log_value + math.log(sigma), d_mean, d_sigma / (2 * sigma)
