#!/usr/bin/env bash
# run-local.sh - run a job file's pipeline on this machine with mpirun, stage
# after stage, without Slurm (same job file and per-stage configs as
# slurm/submit.sh).
#
#   jobs/run-local.sh JOBFILE [--from STAGE] [--to STAGE] [--force] [--dry-run]
#
# A run whose output file exists and passes `pp-inspect --validate` is
# skipped, so after a failure or Ctrl-C the same command carries on where
# it stopped (a stage stopped by a signal resumes from its saved state).
# --force runs the selected stages even when their outputs are valid.
# --from/--to pick a part of [common] stages (in a rounds job, [common]
# rounds = N, a step such as round2.rank; see docs/cluster.md).  Each stage runs with
# `mpirun -np RANKS` and OPENBLAS_NUM_THREADS = cpus-per-task; its output
# goes to the terminal and to WORKDIR/logs/pp-STAGE-local.out.
# Exit status: 0 done, 75 a stage was stopped by a signal (run the same
# command again to resume), else the failing stage's status.
set -u
. "$(cd "$(dirname "$0")/.." && pwd)/slurm/common.sh"

usage() {
    sed -n '5,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 1
}
jobfile="" from="" to="" force=0 dry=0
while [ $# -gt 0 ]; do
    case $1 in
    --from) from=${2:-}; shift 2 || usage ;;
    --to) to=${2:-}; shift 2 || usage ;;
    --from=*) from=${1#*=}; shift ;;
    --to=*) to=${1#*=}; shift ;;
    --force) force=1; shift ;;
    --dry-run) dry=1; shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) pp_say "unknown option $1"; usage ;;
    *) [ -z "$jobfile" ] || usage; jobfile=$1; shift ;;
    esac
done
[ -n "$jobfile" ] || usage
pp_job_load "$jobfile"
chain=$(pp_chain_part "$from" "$to") || exit 1
pp_check_required || pp_die "$jobfile: required files are missing (above)"
command -v mpirun >/dev/null 2>&1 || pp_die "mpirun not found (install Open MPI: make deps, or module load openmpi)"

# Every program must be there before the first stage starts.
inspect=$(pp_program inspect)
for step in $chain; do
    prog=$(pp_program "$(pp_step_stage "$step")")
    [ -x "$prog" ] || [ $dry = 1 ] || pp_die "$prog: not found or not executable (build with make, or set bin/program in [common])"
done
[ -x "$inspect" ] || [ $dry = 1 ] || pp_die "$inspect: not found (build with make)"

# The judge programs too: a missing one would otherwise fail only at rank,
# after the stages before it have run.
pre=$(mktemp -d "${TMPDIR:-/tmp}/pp-run-local.XXXXXX") || exit 2
bad=0
for step in $chain; do
    st=$(pp_step_stage "$step")
    for inst in $(pp_step_instances "$step"); do
        pp_stage_config "$step" "$inst" "$pre/cfg"
        pp_check_judge "$st" "$inst" "$pre/cfg" || bad=1
    done
done
rm -rf "$pre"
[ $bad = 0 ] || pp_die "$jobfile: pre-flight checks failed (above)"

# Open MPI on one machine, as root too, in containers without ptrace
# rights, and with more ranks than cores.
[ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
[ $dry = 1 ] || mkdir -p "$PP_WORKDIR/config" "$PP_WORKDIR/logs" || pp_die "cannot create $PP_WORKDIR"
cfgdir=$PP_WORKDIR/config
if [ $dry = 1 ]; then
    cfgdir=$(mktemp -d "${TMPDIR:-/tmp}/pp-run-local.XXXXXX") || exit 2
    trap 'rm -rf "$cfgdir"' EXIT
fi

# Ctrl-C or SIGTERM: the first asks the running stage to save and stop,
# the second terminates it.
interrupts=0
on_interrupt() {
    PP_TRAPPED=1
    interrupts=$((interrupts + 1))
    [ -n "$PP_STEP" ] || exit 130
    if [ $interrupts = 1 ]; then
        pp_say "interrupted: asking the stage to save its state and stop (interrupt again to kill it)"
        kill -USR1 "$PP_STEP" 2>/dev/null
    else
        kill -TERM "$PP_STEP" 2>/dev/null
    fi
}
trap on_interrupt INT TERM
setsid=""
command -v setsid >/dev/null 2>&1 && setsid=setsid

t_all=$SECONDS
for step in $chain; do
    st=$(pp_step_stage "$step")
    prog=$(pp_program "$st")
    ranks=$(pp_common "$st" ranks 1)
    cpt=$(pp_common "$st" cpus-per-task 1)
    log=$PP_WORKDIR/logs/pp-$step-local.out
    for inst in $(pp_step_instances "$step"); do
        run=$(pp_run_name "$step" "$inst")
        cfg=$cfgdir/$(basename "$(pp_config_name "$step" "$inst")")
        pp_stage_config "$step" "$inst" "$cfg"
        [ $dry = 1 ] || pp_make_out_dir "$cfg"
        out=$(pp_config_value "$cfg" out)
        # (a lone pp-inspect starts faster without Open MPI's runtime daemon)
        if [ $force = 0 ] && [ -n "$out" ] && [ -f "$out" ] && [ -x "$inspect" ] &&
            OMPI_MCA_ess_singleton_isolated=1 "$inspect" "$out" --validate >/dev/null 2>&1; then
            pp_say "$run: skipped, $out exists and is valid (--force reruns it)"
            continue
        fi
        cmd=(mpirun -np "$ranks" --bind-to none -x PP_EXIT_STATUS_FILE "$prog" --config "$cfg")
        if [ $dry = 1 ]; then
            echo "OPENBLAS_NUM_THREADS=$cpt ${cmd[*]}"
            grep -v '^#' "$cfg" | sed 's/^/    /'
            continue
        fi
        pp_say "$run: ${cmd[*]}   (log: $log)"
        t0=$SECONDS
        echo "prefpipe: $run: ${cmd[*]} ($(date '+%F %T'))" >>"$log"
        # mpirun runs in a session of its own, so Ctrl-C reaches only this
        # script, which asks the stage to save and stop (SIGUSR1, forwarded
        # by mpirun) instead of letting mpirun kill it.
        export PP_EXIT_STATUS_FILE=$PP_WORKDIR/logs/.pp-$run.status # the stage's own status (pp_step_status)
        rm -f "$PP_EXIT_STATUS_FILE"
        OPENBLAS_NUM_THREADS=$cpt OMP_NUM_THREADS=$cpt pp_wait_step $setsid "${cmd[@]}" > >(tee -i -a "$log") 2>&1
        pp_step_status $? "$PP_EXIT_STATUS_FILE"
        rc=$?
        echo "prefpipe: $run: exit $rc after $((SECONDS - t0)) s" >>"$log"
        case $rc in
        0) pp_say "$run: done in $((SECONDS - t0)) s" ;;
        "$PP_EXIT_STOPPED")
            pp_say "$run: stopped by a signal after saving its state; run the same command again to resume"
            exit "$PP_EXIT_STOPPED"
            ;;
        *)
            pp_say "error: $run: $(basename "$prog") failed with exit $rc (log: $log)"
            exit "$rc"
            ;;
        esac
    done
done
[ $dry = 1 ] || pp_say "pipeline done in $((SECONDS - t_all)) s; files in $PP_WORKDIR"
