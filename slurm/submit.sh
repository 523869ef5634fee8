#!/usr/bin/env bash
# submit.sh - submit a prefpipe pipeline run to Slurm as a chain of jobs,
# one per stage, each waiting for the previous one (afterok).
#
#   slurm/submit.sh JOBFILE [--from STAGE] [--to STAGE] [--after JOBID]
#                           [--dry-run] [--no-check]
#
#   --from/--to  submit only this part of the chain ([common] stages; in a
#                rounds job a step such as round2.rank, or a stage alone:
#                --from rank is round1.rank, --to rank the last round's)
#   --after ID   the first job waits for job ID (afterok), e.g. a chain
#                submitted earlier
#   --dry-run    print the sbatch commands and per-stage configs; submit nothing
#   --no-check   do not ask each program (--help) whether it knows the keys
#
# A rounds job ([common] rounds = N) is one chain of every round's steps;
# their jobs are named pp-STAGE-rRR (pp-train-r02).
# Prints "STEP JOBID" per job on stdout, everything else on stderr.
# The job file is copied to WORKDIR/submitted/, and the jobs read that copy,
# so editing the job file later does not change a submitted chain.  Logs:
# WORKDIR/logs/pp-STAGE-JOBID.out.  See docs/cluster.md.
set -u
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

usage() {
    sed -n '4,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 1
}
jobfile="" from="" to="" after="" dry=0 check=1
while [ $# -gt 0 ]; do
    case $1 in
    --from) from=${2:-}; shift 2 || usage ;;
    --to) to=${2:-}; shift 2 || usage ;;
    --after) after=${2:-}; shift 2 || usage ;;
    --from=*) from=${1#*=}; shift ;;
    --to=*) to=${1#*=}; shift ;;
    --after=*) after=${1#*=}; shift ;;
    --dry-run) dry=1; shift ;;
    --no-check) check=0; shift ;;
    -h | --help) usage ;;
    -*) pp_say "unknown option $1"; usage ;;
    *) [ -z "$jobfile" ] || usage; jobfile=$1; shift ;;
    esac
done
[ -n "$jobfile" ] || usage
[ -z "$after" ] || [[ $after =~ ^[0-9]+$ ]] || pp_die "--after wants a job id, not '$after'"
case $jobfile in /*) ;; *) jobfile=$PWD/$jobfile ;; esac
pp_job_load "$jobfile"

chain=$(pp_chain_part "$from" "$to") || exit 1
[ $dry = 1 ] || command -v sbatch >/dev/null 2>&1 || pp_die "sbatch not found (no Slurm here? jobs/run-local.sh runs the chain without it)"

# The jobs read a copy of the job file (and write their configs from it).
if [ $dry = 1 ]; then
    snap=$jobfile
    cfgdir=$(mktemp -d "${TMPDIR:-/tmp}/pp-submit.XXXXXX") || exit 2
    trap 'rm -rf "$cfgdir"' EXIT
else
    mkdir -p "$PP_WORKDIR/logs" "$PP_WORKDIR/config" "$PP_WORKDIR/submitted" ||
        pp_die "cannot create $PP_WORKDIR/{logs,config,submitted}"
    snap=$PP_WORKDIR/submitted/$(date +%Y%m%d-%H%M%S)-$$-$(basename "$jobfile")
    cp "$jobfile" "$snap" || pp_die "cannot copy $jobfile to $snap"
    cfgdir=$PP_WORKDIR/config
fi

# Write every run's config now, and check each program knows its keys.
problems=0
pp_check_required || problems=1
if [ $check = 1 ]; then
    progs=()
    for step in $chain; do progs+=("$(pp_program "$(pp_step_stage "$step")")"); done
    pp_help_keys_prefetch "${progs[@]}"
fi
for step in $chain; do
    st=$(pp_step_stage "$step")
    prog=$(pp_program "$st")
    if [ ! -x "$prog" ]; then
        if [ $dry = 1 ]; then pp_say "warning: $prog not built yet"; else
            pp_say "error: $prog: not found or not executable (build with make, or set bin/program in [common])"
            problems=1
        fi
    fi
    for inst in $(pp_step_instances "$step"); do
        cfg=$cfgdir/$(basename "$(pp_config_name "$step" "$inst")")
        pp_stage_config "$step" "$inst" "$cfg"
        if [ $check = 1 ] && [ -x "$prog" ]; then
            pp_check_keys "$st" "$inst" "$prog" "$cfg" || problems=1
        fi
        pp_check_judge "$st" "$inst" "$cfg" || problems=1
    done
done
[ $problems = 0 ] || { [ $dry = 1 ] || rm -f "$snap"; pp_die "pre-flight checks failed (above): nothing submitted"; }

submitted=""
cancel_submitted() {
    # shellcheck disable=SC2086
    [ -z "$submitted" ] || scancel $submitted 2>/dev/null
}
prev=$after
for step in $chain; do
    st=$(pp_step_stage "$step")
    name=pp-$st
    r=$(pp_step_round "$step")
    [ -z "$r" ] || name=$(printf 'pp-%s-r%02d' "$st" "$r")
    args=(--parsable --job-name="$name" --output="$PP_WORKDIR/logs/%x-%j.out" --open-mode=append
        --chdir="$PWD" --export="ALL,PP_ROOT=$PP_ROOT"
        --ntasks="$(pp_common "$st" ranks 1)" --cpus-per-task="$(pp_common "$st" cpus-per-task 1)")
    for k in nodes time partition account qos mem; do
        v=$(pp_common "$st" $k)
        [ -z "$v" ] || args+=(--$k="$v")
    done
    if pp_in_list "$st" "$PP_RESUMABLE" && pp_bool "$(pp_common "$st" requeue true)"; then
        args+=(--signal="B:USR1@$(pp_common "$st" signal-lead 300)" --requeue)
    else
        args+=(--no-requeue)
    fi
    [ -z "$prev" ] || args+=(--dependency="afterok:$prev" --kill-on-invalid-dep=yes)
    extra=()
    read -r -a extra <<<"$(pp_common "$st" sbatch-args)"
    args+=("${extra[@]}" "$PP_ROOT/slurm/pp-$st.sbatch" "$snap")
    [ "$step" = "$st" ] || args+=("$step")
    if [ $dry = 1 ]; then
        printf 'sbatch'
        for a in "${args[@]}"; do
            if [[ $a =~ ^[A-Za-z0-9_./:=@%,+\<\>-]+$ ]]; then printf ' %s' "$a"; else printf ' %q' "$a"; fi
        done
        printf '\n'
        for inst in $(pp_step_instances "$step"); do
            echo "    # $(pp_config_name "$step" "$inst"):"
            grep -v '^#' "$cfgdir/$(basename "$(pp_config_name "$step" "$inst")")" | sed 's/^/    /'
        done
        prev="<$step>"
        continue
    fi
    if ! id=$(sbatch "${args[@]}"); then
        cancel_submitted
        pp_die "sbatch failed for step $step; cancelled the jobs submitted before it:${submitted:- none}"
    fi
    id=${id%%;*} # --parsable prints "id" or "id;cluster"
    submitted="$submitted $id"
    echo "$step $id"
    prev=$id
done
[ $dry = 1 ] && exit 0
pp_say "submitted:$submitted (job file copy: $snap)"
pp_say "watch: squeue -j $(echo $submitted | tr ' ' ,)   logs: $PP_WORKDIR/logs/"
