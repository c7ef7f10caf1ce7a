"""Trivial objectives: the benchmarks measure the engine and the driver, not the work."""
import math
import time


def square(config: dict) -> float:
    return config["x"] ** 2


def uneven_square(config: dict) -> float:
    """Takes 0.05 to 0.45 s (a function of x), so trials run at once end at different times."""
    time.sleep(0.05 + 0.4 * abs(math.sin(1e3 * config["x"])))
    return config["x"] ** 2
