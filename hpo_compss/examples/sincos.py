"""SHADHO's first example: sin(x) * cos(y), minimised (x continuous, y one of 1,000 grid points)."""
from __future__ import annotations

import math


def sin_cos(config: dict) -> dict:
    x, y = config["x"], config["y"]
    return {"loss": math.sin(x) * math.cos(y), "x": x, "y": y}
