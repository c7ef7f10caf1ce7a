"""Application entry: `python main.py EXPERIMENT.json [options]` runs a study (as `hpo-compss run`)."""
import sys

from hpo_compss.cli import run_main

if __name__ == "__main__":
    sys.exit(run_main())
