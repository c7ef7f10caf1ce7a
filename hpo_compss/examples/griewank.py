"""PHS's quick start: the Griewank function in two dimensions (minimum 0 at the origin)."""
from __future__ import annotations

import math


def griewank(config: dict) -> float:
    x, y = config["x"], config["y"]
    return 1 + (x * x + y * y) / 4000 - math.cos(x) * math.cos(y / math.sqrt(2))
