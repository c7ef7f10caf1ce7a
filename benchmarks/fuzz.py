"""Run the fuzz properties of tests/test_fuzz.py on many more generated inputs than the test run does.

    python benchmarks/fuzz.py --cases 10000

Every input must give an Experiment (which then normalises and proposes configs cleanly) or one
ConfigError; anything else stops the run with Hypothesis's minimal failing example. Prints how many
inputs were valid and invalid per property, and the time taken.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_fuzz import PROPERTIES, fuzz  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="inputs in all, shared as in the test run")
    cases = parser.parse_args().cases
    weights = {name: examples for name, (_, _, examples) in PROPERTIES.items()}
    shares = {name: cases * weight // sum(weights.values()) for name, weight in weights.items()}
    shares["experiments"] += cases - sum(shares.values())
    total = Counter()
    start = time.perf_counter()
    for name, share in shares.items():
        tally: Counter = Counter()
        began = time.perf_counter()
        fuzz(name, share, tally)()
        print(f"{name:24} {sum(tally.values()):6} cases: {tally['valid']:6} valid, {tally['invalid']:6} invalid "
              f"in {time.perf_counter() - began:6.1f} s", flush=True)
        total += tally
    print(f"{'all':24} {sum(total.values()):6} cases: {total['valid']:6} valid, {total['invalid']:6} invalid "
          f"in {time.perf_counter() - start:6.1f} s")


if __name__ == "__main__":
    main()
