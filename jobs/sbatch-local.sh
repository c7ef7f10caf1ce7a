#!/bin/bash
# Run a study on one node of a SLURM allocation with the embedded local engine (no COMPSs needed).
# The pool is sized from the allocation: SLURM_CPUS_ON_NODE, the job's CPU affinity, and its GPUs.
#
#   sbatch --cpus-per-task=8 [--gpus=2] [--time=02:00:00] jobs/sbatch-local.sh EXPERIMENT.json [hpo-compss run options]
#   HPO_COMPSS_VENV=$PWD/.venv sbatch --gpus=2 --cpus-per-task=8 jobs/sbatch-local.sh configs/torch_gpu.json
#
# Submitting the same command again resumes the study (the folder already holds the experiment).
# At the time limit SLURM sends SIGTERM: running trials are recorded as cancelled and rerun on resume.
# HPO_COMPSS_VENV names a virtual environment to activate first, for a job that does not inherit the
# submitting shell's environment (sbatch --export=NONE, SBATCH_EXPORT=NONE: then give
# --export=HPO_COMPSS_VENV=$PWD/.venv).
#SBATCH --job-name=hpo-compss
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --output=hpo-compss-%j.out
set -euo pipefail
experiment=${1:?usage: sbatch jobs/sbatch-local.sh EXPERIMENT.json [hpo-compss run options]}
shift
cd "${SLURM_SUBMIT_DIR:-$PWD}"
if [ -n "${HPO_COMPSS_VENV:-}" ]; then
    # shellcheck disable=SC1091
    . "$HPO_COMPSS_VENV/bin/activate"
fi
exec python -m hpo_compss.cli run "$experiment" "$@"
