#!/bin/bash
# Run a study from a login node on the Dask backend, its workers submitted as SLURM jobs by
# dask_jobqueue.SLURMCluster (pip install -e ".[dask]"). The driver stays here (run it under nohup,
# tmux or screen); each worker job holds --dask-job-cores cores (default: the largest compute class's)
# and leaves 5 minutes before its wall time, and the jobs end when the study ends.
#
#   jobs/dask-slurm.sh EXPERIMENT.json [JOBS] [hpo-compss run options]
#   jobs/dask-slurm.sh configs/svm_digits.json 4 --dask-job-cores 8 --dask-walltime 02:00:00 \
#       --dask-job-directive=--partition=debug --dask-job-directive=--account=myproject
#
# Running the same command again resumes the study. The study folder must be on a file system the
# nodes share (trials report and are stopped through files there).
set -euo pipefail
experiment=${1:?usage: jobs/dask-slurm.sh EXPERIMENT.json [JOBS] [hpo-compss run options]}
jobs=${2:-2}
shift $(( $# >= 2 ? 2 : 1 ))
exec hpo-compss run "$experiment" --backend dask --dask-cluster slurm --dask-jobs "$jobs" "$@"
