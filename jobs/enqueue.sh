#!/bin/bash
# Submit a study to a cluster as a PyCOMPSs application, through enqueue_compss, with sensible defaults.
#
#   jobs/enqueue.sh EXPERIMENT.json [enqueue_compss options] [--dry-run] [-- hpo-compss run options]
#
#   jobs/enqueue.sh configs/svm_digits.json --sc_cfg=mn.cfg --num_nodes=2 --gpus_per_node=4 --dry-run
#
# --sc_cfg (or $HPO_COMPSS_SC_CFG) is required: a file of $COMPSS_HOME/Runtime/scripts/queues/supercomputers/
# or a path. COMPSs' own default.cfg is LSF's and needs 2 nodes at least, and each SLURM file it ships
# (mn.cfg, nord3.cfg, ...) holds one site's network, disks and CPUs per node.
# Any --option=value given here replaces the default of the same name. Defaults (each can also be set
# in the environment): --num_nodes=2, --exec_time=60 (minutes), --qos=$HPO_COMPSS_QOS,
# --cpus_per_node=$HPO_COMPSS_CPUS_PER_NODE, --gpus_per_node=$HPO_COMPSS_GPUS_PER_NODE, --lang=python,
# --pythonpath=<this checkout>:<current folder>, --tracing=true --generate_trace=true (a merged Paraver
# trace), --log_dir=<study folder>/compss.
# A 1-node job must run its workers in the master node: --worker_in_master_cpus (default: the node's
# CPUs, else 1) and --worker_in_master_memory (MB, default $HPO_COMPSS_WORKER_MEMORY_MB or 8000).
# The study folder is runs/<experiment name> unless --study-dir is given after "--"; submitting the
# same command again resumes the study. --dry-run prints the command instead of submitting it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
experiment=${1:?usage: jobs/enqueue.sh EXPERIMENT.json [enqueue_compss options] [--dry-run] [-- hpo-compss run options]}
shift

declare -A option=(
    [num_nodes]=2
    [exec_time]=60
    [lang]=python
    [pythonpath]=$here$([ "$PWD" = "$here" ] || echo ":$PWD")
    [tracing]=true
    [generate_trace]=true
)
[ -n "${HPO_COMPSS_SC_CFG:-}" ] && option[sc_cfg]=$HPO_COMPSS_SC_CFG
[ -n "${HPO_COMPSS_QOS:-}" ] && option[qos]=$HPO_COMPSS_QOS
[ -n "${HPO_COMPSS_CPUS_PER_NODE:-}" ] && option[cpus_per_node]=$HPO_COMPSS_CPUS_PER_NODE
[ -n "${HPO_COMPSS_GPUS_PER_NODE:-}" ] && option[gpus_per_node]=$HPO_COMPSS_GPUS_PER_NODE
order=(sc_cfg job_name num_nodes exec_time qos cpus_per_node gpus_per_node worker_in_master_cpus
       worker_in_master_memory lang pythonpath tracing generate_trace log_dir)

dry_run=0
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) dry_run=1 ;;
        --) shift; break ;;
        --*=*) name=${1%%=*}; name=${name#--}; option[$name]=${1#*=}
               [[ " ${order[*]} " == *" $name "* ]] || order+=("$name") ;;
        *) echo "jobs/enqueue.sh: expected --option=value, --dry-run or --, got '$1'" >&2; exit 2 ;;
    esac
    shift
done
app_args=("$@")
[ -n "${option[sc_cfg]:-}" ] || { echo "jobs/enqueue.sh: give --sc_cfg=<your site>.cfg or set HPO_COMPSS_SC_CFG (COMPSs' default.cfg is for LSF and 2 nodes at least; the site files are in \$COMPSS_HOME/Runtime/scripts/queues/supercomputers/)" >&2; exit 2; }

# the experiment is checked here, before anything is queued; its name gives the study folder
python3 -m hpo_compss.cli validate "$experiment" >/dev/null || exit 2
experiment=$(cd "$(dirname "$experiment")" && pwd)/$(basename "$experiment")
study=""
for ((i = 0; i < ${#app_args[@]}; i++)); do
    [ "${app_args[i]}" = "--study-dir" ] && study=${app_args[i + 1]:-}
done
if [ -z "$study" ]; then
    name=$(python3 -c 'import sys; from hpo_compss.experiment import load_experiment; print(load_experiment(sys.argv[1], check=False).name)' "$experiment") || exit 2
    app_args+=(--study-dir "$PWD/runs/$name")
    study=$PWD/runs/$name
fi
case $study in /*) ;; *) study=$PWD/$study ;; esac
option[job_name]=${option[job_name]:-hpo-$(basename "$study")}
option[log_dir]=${option[log_dir]:-$study/compss}

if [ "${option[num_nodes]}" = 1 ]; then
    option[worker_in_master_cpus]=${option[worker_in_master_cpus]:-${option[cpus_per_node]:-1}}
    option[worker_in_master_memory]=${option[worker_in_master_memory]:-${HPO_COMPSS_WORKER_MEMORY_MB:-8000}}
fi

command=(enqueue_compss)
for name in "${order[@]}"; do
    [ -n "${option[$name]+set}" ] && command+=("--$name=${option[$name]}")
done
command+=("$here/main.py" "$experiment" "${app_args[@]}")

if [ "$dry_run" = 1 ]; then
    printf '%q ' "${command[@]}"
    echo
    exit 0
fi
command -v enqueue_compss >/dev/null || { echo "jobs/enqueue.sh: enqueue_compss is not on PATH (load the COMPSs module first)" >&2; exit 2; }
mkdir -p "$study"
exec "${command[@]}"
