#!/bin/bash
# Run a study inside one SLURM allocation on the Dask backend, through dask-jobqueue's SLURM runner:
# srun starts every task; task 0 becomes the Dask scheduler, task 1 the driver (this study), and
# the others workers, each holding --cpus-per-task cores. When the study ends, all of them do.
#
#   sbatch --nodes=2 --ntasks=6 --cpus-per-task=4 [--time=02:00:00] jobs/sbatch-dask.sh EXPERIMENT.json [hpo-compss run options]
#
# Submitting the same command again resumes the study. The study folder must be on a file system the
# nodes share. HPO_COMPSS_VENV names a virtual environment to activate first (pip install -e ".[dask]").
#SBATCH --job-name=hpo-compss-dask
#SBATCH --ntasks=3
#SBATCH --cpus-per-task=1
#SBATCH --output=hpo-compss-%j.out
set -euo pipefail
experiment=${1:?usage: sbatch jobs/sbatch-dask.sh EXPERIMENT.json [hpo-compss run options]}
shift
if [ -n "${HPO_COMPSS_VENV:-}" ]; then . "$HPO_COMPSS_VENV/bin/activate"; fi
srun hpo-compss run "$experiment" --backend dask --dask-cluster runner "$@"
