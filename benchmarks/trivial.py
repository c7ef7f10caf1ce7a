"""A trivial objective: the benchmark measures the engine, not the work."""


def square(config: dict) -> float:
    return config["x"] ** 2
