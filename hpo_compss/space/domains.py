"""Domains: where one parameter's values come from.

Each domain owns the two views searchers need (a point of the unit interval decoded through the
domain's quantile function, which also makes random draws from uniform ones; a finite grid) and
SHADHO's complexity, so no searcher ever looks at raw bounds. ``keyword`` and
``args`` are the JSON form, kept so that a domain written in JSON reads back the same.
"""
from __future__ import annotations

import copy
import math
import sys
from abc import ABC, abstractmethod
from statistics import NormalDist
from typing import Any, Sequence

import numpy as np

#: the standard normal distribution (the standard library's, so that reading a space needs no scipy)
_STANDARD = NormalDist()
#: Width of the central 99.9 % of a standard normal, used by SHADHO's complexity for normal domains.
NORMAL_999_WIDTH = _STANDARD.inv_cdf(0.9995) - _STANDARD.inv_cdf(0.0005)
MAX_REPEAT = 10_000
#: the values of log domains lie within 1/LOG_LIMIT and LOG_LIMIT, so they stay finite, normal doubles,
#: and span a factor of MIN_LOG_RATIO at least, so a draw's quantile can be recovered from its value
LOG_LIMIT = 1e300
MIN_LOG_RATIO = 1.001
#: integer domains stay within ±2**53, where every integer is a double and no range length overflows
MAX_INTEGER = 2**53
#: loginteger's highest bound: beyond it, neighbouring integers lie so close on a log scale that a double's
#: rounding of their positions can swap them
MAX_LOG_INTEGER = 2**40
#: normal draws reach at most this many sigmas from mu (from_unit clips the quantile to [1e-12, 1 - 1e-12])
NORMAL_REACH = 8.0


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"expected a finite number for {what}, got {value!r}")
    return value


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"expected an integer for {what}, got {value!r}")
    return value


def _bounded_integer(value: Any, what: str) -> int:
    number = _integer(value, what)
    if abs(number) > MAX_INTEGER:
        raise ValueError(f"expected integers within ±2**53, got {what}={value!r}")
    return number


def _ordered(low: Any, high: Any, strict: bool = True) -> tuple[float, float]:
    low, high = _number(low, "low"), _number(high, "high")
    if low > high or (strict and low == high):
        raise ValueError(f"expected low < high, got low={low!r} high={high!r}")
    if not math.isfinite(high - low):
        raise ValueError(f"expected high - low to be a finite number, got low={low!r} high={high!r}")
    return low, high


def _in_unit(u: float, value: Any, domain: "Domain") -> float:
    if not -1e-9 <= u <= 1 + 1e-9:
        raise ValueError(f"{value!r} is not a value of {domain!r}")
    return min(max(u, 0.0), 1.0)


def canonical(value: Any) -> Any:
    """A hashable form of a JSON value: equal for equal values (1 and 1.0), but True stays apart from 1
    at any depth, so a choice of [1, true] or of [[1], [true]] has two values."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, list):
        return ("list", tuple(canonical(item) for item in value))
    if isinstance(value, dict):
        return ("object", frozenset((key, canonical(item)) for key, item in value.items()))
    return value


class Domain(ABC):
    """A source of values for one parameter."""

    keyword: str
    #: how many unit-cube coordinates a value takes (0 for constants)
    dims: int = 1
    #: whether it has finitely many values (a grid can enumerate it whole)
    finite: bool = False

    #: how model searchers treat it: "continuous", "ordinal" (ordered finite values) or "categorical"
    kind: str = "continuous"
    #: whether its values spread over orders of magnitude, so that plots show them on a log axis
    log_scale: bool = False

    @abstractmethod
    def from_unit(self, u: float) -> Any:
        """The value at quantile ``u`` in [0, 1) of the sampling distribution (Sobol, model searchers)."""

    @abstractmethod
    def to_unit(self, value: Any) -> float:
        """The inverse of ``from_unit``: the quantile of ``value`` (the centre of its cell when discrete).

        Raises ValueError when ``value`` is not a value of this domain.
        """

    @abstractmethod
    def grid(self, points: int) -> Sequence:
        """Finite values for grid search: every value of a small discrete domain, else ``points`` spread."""

    def grid_size(self, points: int) -> int:
        """``len(self.grid(points))``, computed without building a grid that may be astronomically large."""
        return len(self.grid(points))

    @abstractmethod
    def complexity(self) -> float:
        """SHADHO's complexity: 2 + central 99.9 % width (continuous), 2 - 1/n (discrete), 1 (constant)."""

    @property
    @abstractmethod
    def args(self) -> Any:
        """The JSON value that follows ``keyword``."""

    def decode(self, coords: Sequence[float]) -> Any:
        """The value for this domain's ``dims`` unit coordinates."""
        return self.from_unit(coords[0])

    def to_json(self) -> dict:
        return {self.keyword: self.args}

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_json() == other.to_json()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(repr(self.to_json()))

    def __repr__(self) -> str:
        return f"{self.keyword}({self.args!r})"


class Uniform(Domain):
    """Continuous uniform on [low, high]."""

    keyword = "uniform"

    def __init__(self, low: float, high: float):
        self.low, self.high = _ordered(low, high)

    @property
    def args(self) -> list:
        return [self.low, self.high]

    def from_unit(self, u: float) -> float:
        return float(self.low + u * (self.high - self.low))

    def to_unit(self, value: Any) -> float:
        return _in_unit((_number(value, "a value") - self.low) / (self.high - self.low), value, self)

    def grid(self, points: int) -> list:
        return [float(x) for x in np.linspace(self.low, self.high, points)]

    def complexity(self) -> float:
        return 2.0 + 0.999 * (self.high - self.low)


class LogUniform(Domain):
    """base**x with x uniform on [low, high]: the bounds are exponents (SHADHO's convention).

    ``loguniform`` is the value-bounded form: its bounds are values, sampled in natural-log space.
    """

    KEYWORDS = {"ln_uniform": math.e, "log2_uniform": 2.0, "log10_uniform": 10.0}
    log_scale = True

    def __init__(self, low: float, high: float, keyword: str = "log10_uniform"):
        self.keyword = keyword
        if keyword == "loguniform":
            low, high = _ordered(low, high)
            if low <= 0:
                raise ValueError(f"expected 0 < low < high for a value-bounded loguniform, got low={low!r} "
                                 "(bounds that are exponents go with log10_uniform, log2_uniform or ln_uniform)")
            if not 1 / LOG_LIMIT <= low < high <= LOG_LIMIT:
                raise ValueError(f"expected values within {1 / LOG_LIMIT:g} and {LOG_LIMIT:g}, got [{low!r}, {high!r}]")
            self.values = (low, high)
            self.base, self.low, self.high = math.e, math.log(low), math.log(high)
        else:
            self.base = self.KEYWORDS[keyword]
            self.low, self.high = _ordered(low, high)
            reach = math.log10(LOG_LIMIT) / math.log10(self.base)
            if not -reach <= self.low < self.high <= reach:
                raise ValueError(f"expected exponents whose values lie within {1 / LOG_LIMIT:g} and {LOG_LIMIT:g}, "
                                 f"from {-reach:.6g} to {reach:.6g}, got [{low!r}, {high!r}]")
            self.values = (self.base**self.low, self.base**self.high)
        if self.values[1] < MIN_LOG_RATIO * self.values[0]:  # narrower, rounding makes draws fall outside it
            raise ValueError(f"expected values that differ by a factor of at least {MIN_LOG_RATIO:g}, "
                             f"got {self.values[0]!r} and {self.values[1]!r}")

    @property
    def args(self) -> list:
        return list(self.values) if self.keyword == "loguniform" else [self.low, self.high]

    def from_unit(self, u: float) -> float:
        return float(self.base ** (self.low + u * (self.high - self.low)))

    def to_unit(self, value: Any) -> float:
        if _number(value, "a value") <= 0:
            raise ValueError(f"{value!r} is not a value of {self!r}")
        return _in_unit((math.log(value, self.base) - self.low) / (self.high - self.low), value, self)

    def grid(self, points: int) -> list:
        return [float(self.base**x) for x in np.linspace(self.low, self.high, points)]

    def complexity(self) -> float:
        return 2.0 + 0.999 * (self.high - self.low)


class Normal(Domain):
    """Normal(mu, sigma); ``lognormal`` is exp of it (mu and sigma of the underlying normal)."""

    def __init__(self, mu: float, sigma: float, keyword: str = "normal"):
        self.keyword = keyword
        self.log_scale = keyword == "lognormal"
        self.mu = _number(mu, "mu")
        self.sigma = _number(sigma, "sigma")
        if self.sigma <= 0:
            raise ValueError(f"expected sigma > 0, got {sigma!r}")
        # every draw must be a finite double (for lognormal: exp of it within the log domains' limits)
        limit = math.log(LOG_LIMIT) if keyword == "lognormal" else sys.float_info.max
        if not abs(self.mu) + NORMAL_REACH * self.sigma <= limit:
            raise ValueError(f"expected mu ± 8 sigma within ±{limit:.6g}, got mu={mu!r} sigma={sigma!r}")

    @property
    def args(self) -> list:
        return [self.mu, self.sigma]

    def _value(self, x: float) -> float:
        return float(math.exp(x) if self.keyword == "lognormal" else x)

    def from_unit(self, u: float) -> float:
        u = min(max(u, 1e-12), 1 - 1e-12)
        return self._value(self.mu + self.sigma * _STANDARD.inv_cdf(u))

    def to_unit(self, value: Any) -> float:
        x = _number(value, "a value")
        if self.keyword == "lognormal":
            if x <= 0:
                raise ValueError(f"{value!r} is not a value of {self!r}")
            x = math.log(x)
        return min(max(_STANDARD.cdf((x - self.mu) / self.sigma), 1e-12), 1 - 1e-12)

    def grid(self, points: int) -> list:
        return [self.from_unit((i + 0.5) / points) for i in range(points)]

    def complexity(self) -> float:
        return 2.0 + NORMAL_999_WIDTH * self.sigma


class Discrete(Domain):
    """A finite list of values: every value is one draw in ``size``."""

    values: Sequence[Any]
    finite = True
    kind = "ordinal"

    @property
    def size(self) -> int:
        return len(self.values)

    def from_unit(self, u: float) -> Any:
        return self._at(min(int(u * self.size), self.size - 1))

    def to_unit(self, value: Any) -> float:
        return float(self.centres(self.index(value)))

    def cells(self, u: np.ndarray) -> np.ndarray:
        """The index of the value whose cell holds each of an array of unit points (the models' features)."""
        return np.minimum((u * self.size).astype(int), self.size - 1)

    def centres(self, index: np.ndarray) -> np.ndarray:
        """The unit point that stands for the value at each index, inside its cell (``to_unit``)."""
        return (index + 0.5) / self.size

    def edges(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where the cell of the value at each index begins and ends on the unit interval."""
        return index / self.size, (index + 1) / self.size

    def index(self, value: Any) -> int:
        """The position of ``value`` among the domain's values; ValueError when it is not one."""
        key = canonical(value)
        for position in range(self.size):
            if canonical(self._at(position)) == key:
                return position
        raise ValueError(f"{value!r} is not a value of {self!r}")

    def grid(self, points: int) -> list:
        if self.size <= points:
            return [self._at(i) for i in range(self.size)]
        picks = np.unique(np.round(np.linspace(0, self.size - 1, points)).astype(int))
        return [self._at(int(i)) for i in picks]

    def complexity(self) -> float:
        return 2.0 - 1.0 / self.size

    def _at(self, index: int) -> Any:
        return self.values[index]


class IntRange(Discrete):
    """Integers ``range(low, high, step)``: ``randint`` excludes ``high`` (Python, SHADHO), the others include it."""

    def __init__(self, low: int, high: int, step: int = 1, keyword: str = "randint"):
        self.keyword = keyword
        low, high, step = _bounded_integer(low, "low"), _bounded_integer(high, "high"), _bounded_integer(step, "step")
        if step <= 0:
            raise ValueError(f"expected a positive step, got {step!r}")
        stop = high if keyword == "randint" else high + 1
        if stop <= low:
            raise ValueError(f"expected low {'<' if keyword == 'randint' else '<='} high, got low={low} high={high}")
        self.low, self.high, self.step = low, high, step
        self.values = range(low, stop, step)

    @property
    def args(self) -> list:
        return [self.low, self.high] if self.step == 1 else [self.low, self.high, self.step]

    def index(self, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value not in self.values:
            raise ValueError(f"{value!r} is not a value of {self!r}")
        return self.values.index(value)


class Linspace(Discrete):
    """``linspace(low, high, n)``: n evenly spaced values from low to high inclusive (grid points)."""

    keyword = "linspace"

    def __init__(self, low: float, high: float, n: int):
        self.low, self.high = _ordered(low, high)
        self.n = _integer(n, "n")
        if not 2 <= self.n <= 10_000_000:
            raise ValueError(f"expected 2 <= n <= 10000000, got n={n}")
        self.values = range(self.n)

    @property
    def args(self) -> list:
        return [self.low, self.high, self.n]

    def _at(self, index: int) -> float:
        return float(self.low + (self.high - self.low) * index / (self.n - 1))

    def index(self, value: Any) -> int:
        position = round((_number(value, "a value") - self.low) / (self.high - self.low) * (self.n - 1))
        if not 0 <= position < self.n or not math.isclose(self._at(position), value, rel_tol=1e-9, abs_tol=1e-12):
            raise ValueError(f"{value!r} is not a value of {self!r}")
        return position


class Log2Int(Discrete):
    """``log2_randint(low, high)``: the powers ``2**i`` for ``i in range(low, high)``."""

    keyword = "log2_randint"
    log_scale = True

    def __init__(self, low: int, high: int):
        self.low, self.high = _integer(low, "low"), _integer(high, "high")
        if self.high <= self.low:
            raise ValueError(f"expected low < high, got low={low} high={high}")
        if self.low < -1074 or self.high > 1024:
            raise ValueError(f"expected exponents from -1074 to 1023 (2**i must be a double), got low={low} high={high}")
        self.values = range(self.low, self.high)

    @property
    def args(self) -> list:
        return [self.low, self.high]

    def _at(self, index: int) -> int | float:
        exponent = self.values[index]
        return 2**exponent if exponent >= 0 else 2.0**exponent

    def index(self, value: Any) -> int:
        if _number(value, "a value") <= 0:
            raise ValueError(f"{value!r} is not a value of {self!r}")
        exponent = round(math.log2(value))
        if exponent not in self.values or self._at(exponent - self.low) != value:
            raise ValueError(f"{value!r} is not a value of {self!r}")
        return exponent - self.low


class LogInteger(IntRange):
    """``loginteger(low, high)``: the integers from low to high inclusive, drawn log-uniformly, as Optuna's
    ``suggest_int(log=True)``: each integer k owns [k - 0.5, k + 0.5) of [low - 0.5, high + 0.5] on a log
    scale, so a draw is exp(x) rounded, x uniform on [log(low - 0.5), log(high + 0.5)], and the unit point
    that stands for k (what the models see) is log k on that scale."""

    log_scale = True

    def __init__(self, low: int, high: int):
        super().__init__(low, high, 1, "loginteger")
        if self.low < 1:
            raise ValueError(f"expected 1 <= low (a log scale holds no 0), got low={low}")
        if self.high > MAX_LOG_INTEGER:
            raise ValueError(f"expected high <= 2**40 (beyond, neighbouring integers are too close on a log scale "
                             f"for a double to keep apart), got high={high}")
        self.start = math.log(self.low - 0.5)
        self.width = math.log(self.high + 0.5) - self.start

    def from_unit(self, u: float) -> int:
        return self._at(int(self.cells(u)))

    def cells(self, u: np.ndarray) -> np.ndarray:
        values = np.floor(np.exp(self.start + u * self.width) + 0.5)
        return np.clip(values, self.low, self.high).astype(np.int64) - self.low

    def centres(self, index: np.ndarray) -> np.ndarray:
        return (np.log(self.low + index) - self.start) / self.width

    def edges(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value = self.low + np.asarray(index)
        return (np.log(value - 0.5) - self.start) / self.width, (np.log(value + 0.5) - self.start) / self.width

    def grid(self, points: int) -> list:
        """``points`` integers spread evenly on a log scale from low to high, each above the last."""
        if self.size <= points:
            return list(self.values)
        values: list[int] = []
        for x in np.linspace(math.log(self.low), math.log(self.high), points):
            values.append(max(round(math.exp(x)), values[-1] + 1 if values else self.low))
        return values


class Choice(Discrete):
    """One of the listed values (a bare JSON list is a choice too: the grid values of the PyCOMPSs form)."""

    keyword = "choice"
    kind = "categorical"

    def __init__(self, values: Sequence[Any]):
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError("expected a non-empty list of values")
        self.values = list(values)

    @property
    def args(self) -> list:
        return self.values

    def grid(self, points: int) -> list:
        return [self._at(i) for i in range(self.size)]

    def _at(self, index: int) -> Any:
        return copy.deepcopy(self.values[index])


class Constant(Domain):
    """A fixed value; it takes no unit coordinate."""

    keyword = "constant"
    dims = 0
    finite = True

    def __init__(self, value: Any):
        self.value = value

    @property
    def args(self) -> Any:
        return self.value

    def from_unit(self, u: float) -> Any:
        return copy.deepcopy(self.value)

    def to_unit(self, value: Any) -> float:
        if canonical(value) != canonical(self.value):
            raise ValueError(f"{value!r} is not the constant {self.value!r}")
        return 0.5

    def decode(self, coords: Sequence[float]) -> Any:
        return copy.deepcopy(self.value)

    def grid(self, points: int) -> list:
        return [copy.deepcopy(self.value)]

    def complexity(self) -> float:
        return 1.0


class Repeat(Domain):
    """``n`` independent draws of one domain, as a list."""

    keyword = "repeat"

    def __init__(self, domain: Domain, n: int):
        if not isinstance(domain, Domain) or isinstance(domain, Repeat):
            raise ValueError("expected a single domain to repeat")
        n = _integer(n, "n")
        if not 1 <= n <= MAX_REPEAT:
            raise ValueError(f"expected 1 <= n <= {MAX_REPEAT}, got n={n}")
        self.domain, self.n = domain, n
        self.dims = n * domain.dims
        self.finite = domain.finite

    @property
    def args(self) -> Any:
        return self.domain.to_json()

    def to_json(self) -> dict:
        return {"repeat": self.domain.to_json(), "n": self.n}

    def from_unit(self, u: float) -> list:
        return [self.domain.from_unit(u) for _ in range(self.n)]

    def to_unit(self, value: Any) -> float:
        raise TypeError("a repeat takes one unit coordinate per draw; encode its draws one by one")

    def decode(self, coords: Sequence[float]) -> list:
        step = self.domain.dims
        return [self.domain.decode(coords[i * step:(i + 1) * step]) for i in range(self.n)]

    def grid(self, points: int) -> "RepeatGrid":
        return RepeatGrid(self.domain.grid(points), self.n)

    def grid_size(self, points: int) -> int:
        return len(self.domain.grid(points)) ** self.n

    def complexity(self) -> float:
        try:
            return self.domain.complexity() ** self.n
        except OverflowError:
            return math.inf


class RepeatGrid:
    """The grid of a repeat, every list of n axis values in order (the last draw varies fastest), each
    computed from its index: a grid of 10**12 lists costs nothing until one is asked for."""

    def __init__(self, axis: list, n: int):
        self.axis, self.n = axis, n

    def __len__(self) -> int:
        return len(self.axis) ** self.n

    def __getitem__(self, index: int) -> list:
        values = []
        for _ in range(self.n):
            index, position = divmod(index, len(self.axis))
            values.append(self.axis[position])
        return values[::-1]
