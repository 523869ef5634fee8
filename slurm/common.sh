# slurm/common.sh - the job-file logic shared by slurm/pp-*.sbatch,
# slurm/submit.sh and jobs/run-local.sh (bash; sourced, not run).
#
# A job file (jobs/*.conf, format in jobs/template.conf) describes one whole
# pipeline run: a [common] section (work directory, resources, launcher)
# and one section per stage whose `key = value` lines are that program's
# options.  [STAGE.NAME] sections make several runs of one stage (e.g.
# [prompts.train], [prompts.test]); each merges [STAGE] under its own keys.
# For each run this file writes a per-stage config (`key = value`, read by
# the program's --config) with the paths between stages filled in from the
# work directory where the job file leaves them out.
#
# Functions (all print "prefpipe: ..." messages on stderr):
#   pp_job_load FILE          parse + check a job file (exit 1 on errors)
#   pp_common STAGE KEY [DEF] a [common] value; STAGE.KEY beats KEY
#   pp_chain_part FROM TO     the stages of [common] stages from FROM to TO
#   pp_instances STAGE        the runs of a stage: NAMEs, or "-" for one run
#   pp_stage_config STAGE INST FILE   write the per-stage config
#   pp_config_value FILE KEY  a value from a written per-stage config
#   pp_program STAGE          the program's path
#   pp_slurm_stage STAGE JOBFILE [STEP]  the body of every pp-STAGE.sbatch
#
# Rounds ([common] rounds = N, see jobs/template.conf and docs/cluster.md):
# the chain is made of STEPs: a stage name for the stages run once (prompts,
# convert, sft before the rounds; report after them) and roundR.STAGE for
# the stages repeated every round (generate, rank, rm, train, eval, and
# prompts when prompts-per-round slices the train prompts).  Functions that
# take STAGE above take a STEP where a run is meant (pp_stage_config,
# pp_step_instances, pp_config_name, pp_run_name).

PP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# ${shared} in a job file: the shared data directory (models, prompt sets),
# $PP_SHARED when set, else ../shared beside the prefpipe directory.
PP_SHARED_DIR=${PP_SHARED:-$(dirname "$PP_ROOT")/shared}
PP_STAGES="prompts convert sft generate rank rm train eval report"
# Stages that save their state on SIGUSR1/SIGTERM and exit 75: they get
# Slurm's warning signal and requeue themselves.
PP_RESUMABLE="sft generate rank rm train eval" # pp-rm --kind linear is short and starts over; the learned kinds checkpoint
PP_DEFAULT_CHAIN="prompts sft generate rank train eval"
# [common] keys, and those that may also be given per stage as STAGE.KEY
PP_COMMON_KEYS="workdir stages bin ranks cpus-per-task nodes time partition account qos mem
signal-lead requeue max-restarts launcher launch-args sbatch-args modules require require-hint
rounds reference prompts-per-round"
PP_PER_STAGE_KEYS="bin ranks cpus-per-task nodes time partition account qos mem
signal-lead requeue max-restarts launcher launch-args sbatch-args modules program"
PP_EXIT_STOPPED=75 # a program stopped by a signal after saving its state
# Rounds: the stages repeated every round (in [common] stages order), and
# the keys of theirs that the round runner sets (the files that link one
# round to the next); a [STAGE.roundR] section may still set them.
PP_ROUND_STAGES="generate rank rm train eval"
PP_ROUND_KEYS_generate="model prompts out"
PP_ROUND_KEYS_rank="candidates out"
PP_ROUND_KEYS_rm="pairs model out"
PP_ROUND_KEYS_train="policy ref pairs out"
PP_ROUND_KEYS_eval="policy baseline out"
PP_ROUNDS=0 # rounds of the loaded job file; 0: not a rounds job

pp_say() { printf 'prefpipe: %s\n' "$*" >&2; }
pp_die() {
    printf 'prefpipe: error: %s\n' "$*" >&2
    exit 1
}
pp_in_list() { # pp_in_list WORD LIST
    local w
    for w in $2; do [ "$w" = "$1" ] && return 0; done
    return 1
}

# ------------------------------------------------------------- parsing
# Records of the loaded job file, in file order.
PP_JOB=""
PP_SEC=() PP_KEY=() PP_VAL=() PP_LINE=()

# The syntax mirrors the programs' own config reader (src/core/pp_options.c):
# '#' starts a comment at the start of a line or after whitespace (not in a
# value that starts with a double quote), keys may use '_' for '-'.
# Output: SECTION \037 KEY \037 RAW-VALUE \037 LINE per key line, and
# SECTION \037 [ \037 \037 LINE per section header.
pp_parse_awk='
function trim(s) { sub(/^[ \t\r]+/, "", s); sub(/[ \t\r]+$/, "", s); return s }
{
    line = trim($0)
    if (line == "" || substr(line, 1, 1) == "#") next
    if (line ~ /^\[/) {
        if (line !~ /^\[[A-Za-z0-9_.-]+\]$/) { printf "%s:%d: bad section header %s\n", FILENAME, NR, line > "/dev/stderr"; bad = 1; next }
        sec = substr(line, 2, length(line) - 2)
        printf "%s\037[\037\037%d\n", sec, NR; next
    }
    eq = index(line, "=")
    if (eq == 0) { printf "%s:%d: expected key = value, got: %s\n", FILENAME, NR, substr(line, 1, 60) > "/dev/stderr"; bad = 1; next }
    key = trim(substr(line, 1, eq - 1)); val = trim(substr(line, eq + 1))
    gsub(/_/, "-", key)
    if (key !~ /^[A-Za-z0-9.-]+$/) { printf "%s:%d: bad key \"%s\"\n", FILENAME, NR, key > "/dev/stderr"; bad = 1; next }
    if (substr(val, 1, 1) != "\"" && match(val, /[ \t]#/)) val = trim(substr(val, 1, RSTART))
    if (sec == "") { printf "%s:%d: key %s is outside a section (start with [common])\n", FILENAME, NR, key > "/dev/stderr"; bad = 1; next }
    printf "%s\037%s\037%s\037%d\n", sec, key, val, NR
}
END { exit bad }'

pp_unquote() { # a value as the programs see it: surrounding "" removed
    local v=$1
    if [ ${#v} -ge 2 ] && [ "${v:0:1}" = '"' ] && [ "${v: -1}" = '"' ]; then v=${v:1:${#v}-2}; fi
    printf '%s' "$v"
}

pp_job_load() {
    local file=$1 recs sec key val line i j stage errs=0 s
    [ -f "$file" ] && [ -r "$file" ] || pp_die "$file: no such job file"
    recs=$(LC_ALL=C awk "$pp_parse_awk" "$file") || pp_die "$file: syntax errors (above)"
    PP_JOB=$file PP_SEC=() PP_KEY=() PP_VAL=() PP_LINE=() PP_WORKDIR=""
    if [ -n "$recs" ]; then
        while IFS=$'\037' read -r sec key val line; do
            if [ "$key" = "[" ]; then
                stage=${sec%%.*}
                if [ "$sec" != common ] && { ! pp_in_list "$stage" "$PP_STAGES" || [[ $sec == *.*.* || $sec == *. ]]; }; then
                    echo "$file:$line: unknown section [$sec] (sections: [common], [STAGE], [STAGE.NAME] with STAGE one of: $PP_STAGES)" >&2
                    errs=1
                fi
                continue
            fi
            PP_SEC+=("$sec") PP_KEY+=("$key") PP_VAL+=("$val") PP_LINE+=("$line")
        done <<<"$recs"
    fi
    for ((i = 0; i < ${#PP_SEC[@]}; i++)); do
        sec=${PP_SEC[i]} key=${PP_KEY[i]}
        stage=${sec%%.*}
        if [ "$sec" = common ]; then
            if [[ $key == *.* ]]; then
                if ! pp_in_list "${key%%.*}" "$PP_STAGES" || ! pp_in_list "${key#*.}" "$PP_PER_STAGE_KEYS"; then
                    echo "$file:${PP_LINE[i]}: unknown [common] key '$key' (per stage: STAGE.KEY with KEY one of: ${PP_PER_STAGE_KEYS//$'\n'/ })" >&2
                    errs=1
                fi
            elif ! pp_in_list "$key" "$PP_COMMON_KEYS"; then
                echo "$file:${PP_LINE[i]}: unknown [common] key '$key' (known: ${PP_COMMON_KEYS//$'\n'/ }; per stage also program)" >&2
                errs=1
            fi
        fi
        for ((j = 0; j < i; j++)); do
            if [ "${PP_SEC[j]}" = "$sec" ] && [ "${PP_KEY[j]}" = "$key" ]; then
                echo "$file:${PP_LINE[i]}: '$key' given twice in [$sec] (first on line ${PP_LINE[j]})" >&2
                errs=1
            fi
        done
    done
    [ $errs = 0 ] || pp_die "$file: invalid job file (above; see jobs/template.conf)"

    PP_WORKDIR=$(pp_get common workdir) || pp_die "$file: [common] needs 'workdir = DIR'"
    [ -n "$PP_WORKDIR" ] || pp_die "$file: [common] workdir is empty"
    case $PP_WORKDIR in /*) ;; *) PP_WORKDIR=$PWD/$PP_WORKDIR ;; esac
    case $PP_WORKDIR in *'#'* | *'"'* | *$'\n'*) pp_die "$file: workdir must not contain '#' or '\"': $PP_WORKDIR" ;; esac
    PP_WORKDIR=${PP_WORKDIR%/}
    PP_CHAIN=$(pp_get common stages) || PP_CHAIN=$PP_DEFAULT_CHAIN
    [ -n "$PP_CHAIN" ] || pp_die "$file: [common] stages is empty"
    local seen=""
    for s in $PP_CHAIN; do
        pp_in_list "$s" "$PP_STAGES" || pp_die "$file: [common] stages: unknown stage '$s' (known: $PP_STAGES)"
        pp_in_list "$s" "$seen" && pp_die "$file: [common] stages: '$s' listed twice"
        seen="$seen $s"
    done
    for s in $PP_CHAIN; do pp_check_common "$s"; done
    pp_rounds_load
}

# ------------------------------------------------------------- rounds
# pp_rounds_load: check the rounds keys and sections of the loaded job file
# and, in a rounds job, replace PP_CHAIN by its steps:
#   the stages before the rounds (prompts convert sft, as listed),
#   round1.STAGE ... for the round stages, round 2 the same, ...,
#   report (when listed) once at the end: it writes W/rounds.h5.
PP_ROUND_REFERENCE=base PP_ROUND_PROMPTS=all PP_BASE_MODEL=""
pp_rounds_load() {
    local i sec st name r s n errs=0 setup="" per="" after="" k
    PP_ROUNDS=0
    if n=$(pp_get common rounds); then
        [[ $n =~ ^[1-9][0-9]{0,2}$ ]] || pp_die "$PP_JOB: [common] rounds must be a positive integer (at most 999), not '$n'"
        PP_ROUNDS=$((10#$n))
    fi
    local told="" # sections already reported (at the line of their first key)
    for ((i = 0; i < ${#PP_SEC[@]}; i++)); do
        sec=${PP_SEC[i]} st=${PP_SEC[i]%%.*} name=${PP_SEC[i]#*.}
        [ "$sec" != common ] || continue
        pp_in_list "$sec" "$told" && continue
        if [ $PP_ROUNDS = 0 ]; then
            if [[ $sec == *.* && $name =~ ^round[0-9]+$ ]]; then
                echo "$PP_JOB:${PP_LINE[i]}: [$sec] is a per-round section, but [common] has no 'rounds = N'" >&2
                errs=1 told="$told $sec"
            fi
            continue
        fi
        if ! pp_in_list "$st" "$PP_ROUND_STAGES"; then
            if [[ $sec == *.* && $name =~ ^round[0-9]+$ ]]; then
                echo "$PP_JOB:${PP_LINE[i]}: [$sec]: $st runs once, not per round (per-round sections: $PP_ROUND_STAGES)" >&2
                errs=1 told="$told $sec"
            fi
            continue
        fi
        if [[ $sec == *.* ]]; then
            if [[ ! $name =~ ^round0*([1-9][0-9]*)$ ]] || [ "${BASH_REMATCH[1]}" -gt $PP_ROUNDS ]; then
                echo "$PP_JOB:${PP_LINE[i]}: [$sec]: in a rounds job a $st section is [$st] or [$st.roundR] with R in 1..$PP_ROUNDS" >&2
                errs=1 told="$told $sec"
            fi
            continue
        fi
        k=PP_ROUND_KEYS_$st
        if pp_in_list "${PP_KEY[i]}" "${!k}" && ! [[ "$st.${PP_KEY[i]}" == generate.model || "$st.${PP_KEY[i]}" == train.policy ]]; then
            echo "$PP_JOB:${PP_LINE[i]}: [$st] ${PP_KEY[i]}: in a rounds job the round runner sets it (W/round-RR/...); set it in a [$st.roundR] section to override one round" >&2
            errs=1
        fi
    done
    [ $errs = 0 ] || pp_die "$PP_JOB: invalid job file (above; see docs/cluster.md, rounds)"
    if [ $PP_ROUNDS = 0 ]; then
        for k in reference prompts-per-round; do
            pp_get common $k >/dev/null && pp_die "$PP_JOB: [common] $k needs 'rounds = N'"
        done
        return 0
    fi
    PP_ROUND_REFERENCE=$(pp_get common reference) || PP_ROUND_REFERENCE=base
    pp_in_list "$PP_ROUND_REFERENCE" "base previous" || pp_die "$PP_JOB: [common] reference must be base or previous, not '$PP_ROUND_REFERENCE'"
    PP_ROUND_PROMPTS=$(pp_get common prompts-per-round) || PP_ROUND_PROMPTS=all
    [ "$PP_ROUND_PROMPTS" = all ] || [[ $PP_ROUND_PROMPTS =~ ^[1-9][0-9]*$ ]] ||
        pp_die "$PP_JOB: [common] prompts-per-round must be a positive integer or all, not '$PP_ROUND_PROMPTS'"
    # the base model: round 1's generator and starting policy
    local gm tp
    gm=$(pp_get generate model) || gm=""
    tp=$(pp_get train policy) || tp=""
    [ -z "$gm" ] || [ -z "$tp" ] || [ "$gm" = "$tp" ] ||
        pp_die "$PP_JOB: in a rounds job [generate] model and [train] policy both name the base model; they differ ($gm, $tp)"
    PP_BASE_MODEL=${gm:-${tp:-$PP_WORKDIR/base.h5}}
    for s in generate rank train; do
        pp_in_list "$s" "$PP_CHAIN" || pp_die "$PP_JOB: a rounds job needs the stages generate, rank and train in [common] stages"
    done
    for s in $PP_CHAIN; do
        if pp_in_list "$s" "$PP_ROUND_STAGES"; then per="$per $s"
        elif [ "$s" = report ]; then after=report
        else setup="$setup $s"; fi
    done
    [ "$PP_ROUND_PROMPTS" = all ] || per="prompts$per"
    PP_CHAIN=$setup
    for ((r = 1; r <= PP_ROUNDS; r++)); do
        for s in $per; do PP_CHAIN="$PP_CHAIN round$r.$s"; done
    done
    PP_CHAIN=$(echo $PP_CHAIN $after)
}

pp_step_stage() { # pp_step_stage STEP: the stage of a step (round2.train -> train)
    case $1 in round[0-9]*.*) echo "${1#*.}" ;; *) echo "$1" ;; esac
}
pp_step_round() { # pp_step_round STEP: its round number, or nothing
    local r
    case $1 in round[0-9]*.*) r=${1%%.*}; echo "${r#round}" ;; esac
}
pp_round_dir() { printf '%s/round-%02d' "$PP_WORKDIR" "$1"; }

# pp_step_instances STEP: the runs of a step: a round's eval is one run
# against the base model ("base") and, from round 2, one against the
# previous round's policy ("previous"); the other round steps are one run.
pp_step_instances() {
    local r
    r=$(pp_step_round "$1")
    if [ -z "$r" ]; then pp_instances "$1"
    elif [ "$(pp_step_stage "$1")" = eval ]; then
        if [ "$r" -gt 1 ]; then echo base previous; else echo base; fi
    else echo -; fi
}

# pp_round_keys STEP INST: "key value" lines the round runner sets for a
# round step (the files of round R in W/round-RR, the models linking the
# rounds), and for the report after the rounds.
pp_round_keys() {
    local r st inst=$2 R P="" ref train
    st=$(pp_step_stage "$1")
    r=$(pp_step_round "$1")
    if [ -z "$r" ]; then
        [ "$st" = report ] && [ $PP_ROUNDS -gt 0 ] && echo "rounds $PP_WORKDIR"
        return 0
    fi
    R=$(pp_round_dir "$r")
    [ "$r" -gt 1 ] && P=$(pp_round_dir $((r - 1)))/policy.h5
    train=$(pp_get prompts.train out) || train=$PP_WORKDIR/prompts_train.h5
    case $st in
    prompts) printf '%s
' "prompts $train" "range $(((r - 1) * PP_ROUND_PROMPTS)):$PP_ROUND_PROMPTS" "out $R/prompts.h5" ;;
    generate)
        [ "$PP_ROUND_PROMPTS" = all ] || train=$R/prompts.h5
        printf '%s
' "model ${P:-$PP_BASE_MODEL}" "prompts $train" "out $R/candidates.h5"
        ;;
    rank) printf '%s
' "candidates $R/candidates.h5" "out $R/pairs.h5" ;;
    rm) printf '%s
' "pairs $R/pairs.h5" "model $PP_BASE_MODEL" "out $R/rm.h5" ;;
    train)
        ref=$PP_BASE_MODEL
        [ "$PP_ROUND_REFERENCE" = previous ] && ref=${P:-$PP_BASE_MODEL}
        printf '%s
' "policy ${P:-$PP_BASE_MODEL}" "ref $ref" "pairs $R/pairs.h5" "out $R/policy.h5"
        ;;
    eval)
        [ "$inst" = previous ] && ref=$P || ref=$PP_BASE_MODEL
        printf '%s
' "policy $R/policy.h5" "baseline $ref" "out $R/eval_$inst.h5"
        ;;
    esac
}

# pp_expand VALUE: ${root}, ${shared} and (once known) ${workdir} replaced;
# nothing else is expanded.
pp_expand() {
    local v=$1
    v=${v//'${root}'/$PP_ROOT}
    v=${v//'${shared}'/$PP_SHARED_DIR}
    [ -n "${PP_WORKDIR:-}" ] && v=${v//'${workdir}'/$PP_WORKDIR}
    printf '%s' "$v"
}

# pp_get SECTION KEY: the unquoted, expanded value; status 1 when the key
# is absent.
pp_get() {
    local i
    for ((i = ${#PP_SEC[@]} - 1; i >= 0; i--)); do
        if [ "${PP_SEC[i]}" = "$1" ] && [ "${PP_KEY[i]}" = "$2" ]; then
            pp_expand "$(pp_unquote "${PP_VAL[i]}")"
            return 0
        fi
    done
    return 1
}

# pp_check_required: every file of [common] require exists and is
# readable; else one line per missing file, then require-hint (where to get
# them).  Status 1 when one is missing.
pp_check_required() {
    local files f missing=0
    read -r -a files <<<"$(pp_get common require)"
    for f in "${files[@]}"; do
        [ -f "$f" ] && [ -r "$f" ] && continue
        pp_say "error: $PP_JOB: [common] require: $f: no such file"
        missing=1
    done
    [ $missing = 0 ] && return 0
    local hint
    hint=$(pp_get common require-hint) && [ -n "$hint" ] && pp_say "$hint"
    return 1
}

pp_common() { # pp_common STAGE KEY [DEFAULT]
    pp_get common "$1.$2" || pp_get common "$2" || printf '%s' "${3:-}"
}

pp_check_common() { # values the scripts themselves use, per stage
    local st=$1 k v
    for k in ranks cpus-per-task nodes signal-lead max-restarts; do
        v=$(pp_common "$st" "$k")
        [ -z "$v" ] || [[ $v =~ ^[1-9][0-9]*$ ]] ||
            pp_die "$PP_JOB: [common] $k for $st must be a positive integer, not '$v'"
    done
    v=$(pp_common "$st" launcher srun)
    pp_in_list "$v" "srun mpirun" || pp_die "$PP_JOB: [common] launcher must be srun or mpirun, not '$v'"
    v=$(pp_common "$st" requeue true)
    pp_in_list "$v" "true false yes no 1 0" || pp_die "$PP_JOB: [common] requeue must be true or false, not '$v'"
}

pp_bool() { pp_in_list "$1" "true yes 1"; }

# pp_chain_part FROM TO: the stages of the chain from FROM to TO (either
# may be empty: from the start, to the end).
pp_chain_part() {
    local st on=0 part="" a b
    # in a rounds job a round stage alone names its first round: rank = round1.rank
    a=$1 b=$2
    if [ $PP_ROUNDS -gt 0 ]; then
        [ -z "$a" ] || pp_in_list "$a" "$PP_CHAIN" || a=round1.$a
        [ -z "$b" ] || pp_in_list "$b" "$PP_CHAIN" || b=round$PP_ROUNDS.$b
    fi
    set -- "$a" "$b"
    [ -z "$1" ] || pp_in_list "$1" "$PP_CHAIN" || pp_die "--from $1: not in [common] stages ($PP_CHAIN)"
    [ -z "$2" ] || pp_in_list "$2" "$PP_CHAIN" || pp_die "--to $2: not in [common] stages ($PP_CHAIN)"
    [ -n "$1" ] || on=1
    for st in $PP_CHAIN; do
        [ "$st" = "$1" ] && on=1
        [ $on = 1 ] && part="$part $st"
        [ "$st" = "$2" ] && break
    done
    [ -n "$part" ] || pp_die "--from $1 comes after --to $2 in the chain ($PP_CHAIN)"
    echo $part
}

# The runs of a stage: the NAMEs of its [STAGE.NAME] sections in file order,
# or "-" (one run from [STAGE] alone).
pp_instances() {
    local i names="" n
    for ((i = 0; i < ${#PP_SEC[@]}; i++)); do
        case ${PP_SEC[i]} in
        "$1".*)
            n=${PP_SEC[i]#*.}
            pp_in_list "$n" "$names" || names="$names $n"
            ;;
        esac
    done
    [ -n "$names" ] && echo $names || echo -
}

# pp_derived STAGE INST: "key value" lines, the files a stage reads and
# writes when the job file does not name them (the table in
# jobs/template.conf).  A run [STAGE.NAME] adds _NAME to its main output;
# prompts and eval runs use NAME to pick their prompts.
pp_derived() {
    local st=$1 inst=$2 W=$PP_WORKDIR sfx="" evalp="" n
    [ "$inst" = - ] || sfx=_$inst
    case $st in
    prompts)
        [ "$inst" = - ] && sfx=_train
        echo "out $W/prompts$sfx.h5"
        # [prompts.test] of the built-in suite means split = test
        if pp_in_list "$inst" "train test ood" && pp_stage_has prompts "$inst" suite; then echo "split $inst"; fi
        ;;
    convert) pp_stage_has "$st" "$inst" to-llama2c || echo "out $W/base$sfx.h5" ;;
    sft) printf '%s\n' "data $W/prompts_train.h5" "out $W/base$sfx.h5" ;;
    generate) printf '%s\n' "model $W/base.h5" "prompts $W/prompts${sfx:-_train}.h5" "out $W/candidates$sfx.h5" ;;
    rank) printf '%s\n' "candidates $W/candidates$sfx.h5" "out $W/pairs$sfx.h5" ;;
    rm) printf '%s\n' "pairs $W/pairs.h5" "model $W/base.h5" "out $W/rm$sfx.h5" ;;
    train) printf '%s\n' "policy $W/base.h5" "pairs $W/pairs.h5" "out $W/policy$sfx.h5" ;;
    eval)
        # one eval reports the test and ood prompt sets side by side
        if [ "$inst" = - ]; then
            for n in $(pp_instances prompts); do
                pp_in_list "$n" "test ood" && evalp="${evalp:+$evalp,}$W/prompts_$n.h5"
            done
        fi
        printf '%s\n' "policy $W/policy.h5" "baseline $W/base.h5" "prompts ${evalp:-$W/prompts${sfx:-_test}.h5}" "out $W/eval$sfx.h5"
        ;;
    report)
        # a rounds job: pp-report --rounds W (rounds.h5 and its plots)
        [ $PP_ROUNDS -gt 0 ] || printf '%s\n' "model $W/policy.h5" "eval $W/eval.h5"
        echo "out-dir $W"
        ;;
    esac
}

pp_stage_has() { # pp_stage_has STAGE INST KEY: set (even empty) in [STAGE] or [STAGE.INST]
    local i
    for ((i = 0; i < ${#PP_SEC[@]}; i++)); do
        if [ "${PP_KEY[i]}" = "$3" ] && { [ "${PP_SEC[i]}" = "$1" ] || [ "${PP_SEC[i]}" = "$1.$2" ]; }; then return 0; fi
    done
    return 1
}

# pp_stage_config STEP INST FILE: write the program's config: [STAGE],
# then [STAGE.INST] over it, then the derived paths for keys still unset.
# A key with an empty value is left out (the program's default applies).
# A round step (roundR.STAGE): [STAGE], then the keys the round runner sets
# (pp_round_keys), then [STAGE.roundR] over both, then the derived paths;
# a round's prompts slice (roundR.prompts) takes the runner's keys only.
pp_stage_config() {
    local step=$1 inst=$2 out=$3 i k v sec st r sections
    local -A val=() fixed=()
    local order=() fixed_keys=()
    st=$(pp_step_stage "$step")
    r=$(pp_step_round "$step")
    sections=("$st" "$st.$inst")
    if [ -n "$r" ]; then
        sections=("$st" "$st.round$r")
        [ "$st" = prompts ] && sections=()
    fi
    while read -r k v; do
        [ -n "$k" ] && fixed_keys+=("$k") && fixed[$k]=$v
    done < <(pp_round_keys "$step" "$inst")
    for sec in "${sections[@]}" fixed; do
        # the runner's keys come before [STAGE.roundR] (or last when there is none)
        if [ "$sec" = "$st.round$r" ] || [ "$sec" = fixed ]; then
            for k in "${fixed_keys[@]}"; do
                [ -n "${val[$k]+x}" ] || order+=("$k")
                val[$k]=${fixed[$k]}
            done
            fixed_keys=()
            [ "$sec" = fixed ] && continue
        fi
        for ((i = 0; i < ${#PP_SEC[@]}; i++)); do
            # [STAGE.round02] is [STAGE.round2]
            [ "${PP_SEC[i]}" = "$sec" ] || { [ -n "$r" ] && [ "$sec" = "$st.round$r" ] && [[ ${PP_SEC[i]} =~ ^$st\.round0*$r$ ]]; } || continue
            k=${PP_KEY[i]}
            [ -n "${val[$k]+x}" ] || order+=("$k")
            val[$k]=${PP_VAL[i]}
        done
    done
    if [ -z "$r" ]; then
        pp_derived "$st" "$inst"
    elif [ "$st" != prompts ]; then
        pp_derived "$st" -
    fi >"$out.derived" || pp_die "cannot write $out.derived"
    while read -r k v; do
        [ -n "$k" ] || continue
        [ -n "${val[$k]+x}" ] && continue
        order+=("$k")
        val[$k]=$v
    done <"$out.derived"
    rm -f "$out.derived"
    {
        echo "# written by prefpipe slurm/common.sh from $PP_JOB"
        if [ -n "$r" ]; then echo "# step $step$([ "$inst" = - ] || echo " ($inst)"), sections [$st] + [$st.round$r]; edit the job file, not this file"
        else echo "# section [$st]$([ "$inst" = - ] || echo " + [$st.$inst]"); edit the job file, not this file"; fi
        for k in "${order[@]}"; do
            v=${val[$k]}
            [ -n "$v" ] || continue
            printf '%s = %s\n' "$k" "$(pp_expand "$v")"
        done
    } >"$out.tmp" && mv -f "$out.tmp" "$out" || pp_die "cannot write $out"
}

pp_make_out_dir() { # pp_make_out_dir CONFIG: the directory of its out file (W/round-RR)
    local out
    out=$(pp_config_value "$1" out)
    [ -z "$out" ] || mkdir -p "$(dirname "$out")" || pp_die "cannot create the directory of $out"
}

pp_config_value() { # pp_config_value FILE KEY: from a config written above
    local v
    v=$(awk -v k="$2" 'index($0, k " = ") == 1 { v = substr($0, length(k) + 4) } END { printf "%s", v }' "$1")
    pp_unquote "$v"
}

pp_config_name() { # pp_config_name STAGE INST: the config's file name
    if [ "$2" = - ]; then echo "$PP_WORKDIR/config/$1.conf"; else echo "$PP_WORKDIR/config/$1.$2.conf"; fi
}

pp_run_name() { if [ "$2" = - ]; then echo "$1"; else echo "$1.$2"; fi; }

# The program a stage runs: STAGE.program, else BIN/pp-STAGE with BIN from
# `bin`, else the project's bin/, else pp-STAGE on PATH.
pp_program() {
    local st=$1 p bin
    p=$(pp_common "$st" program)
    if [ -n "$p" ]; then echo "$p"; return; fi
    bin=$(pp_common "$st" bin)
    if [ -n "$bin" ]; then echo "$bin/pp-$st"; return; fi
    if [ -x "$PP_ROOT/bin/pp-$st" ]; then echo "$PP_ROOT/bin/pp-$st"; return; fi
    command -v "pp-$st" 2>/dev/null || echo "$PP_ROOT/bin/pp-$st"
}

# pp_check_keys PROGRAM CONFIG: every key of CONFIG is an option the program
# lists in --help, so a typo fails at submission, not hours later in a job.
# On failure PP_WHY says which keys.
declare -A PP_HELP_KEYS=()
pp_help_keys_prefetch() { # PROGRAM...: ask them all at once (each is an MPI start)
    local d p i=0
    d=$(mktemp -d "${TMPDIR:-/tmp}/pp-help.XXXXXX") || return 0
    for p in "$@"; do
        [ -x "$p" ] && "$p" --help >"$d/$i" 2>/dev/null &
        i=$((i + 1))
    done
    wait
    i=0
    for p in "$@"; do
        [ -s "$d/$i" ] && PP_HELP_KEYS[$p]=$(sed -n 's/^  --\([A-Za-z0-9-]*\).*/\1/p' "$d/$i" | grep -vx 'config\|help')
        i=$((i + 1))
    done
    rm -rf "$d"
}
# pp_check_keys STAGE INST PROGRAM CONFIG: one line per unknown key, naming
# the job file's FILE:LINE.
pp_check_keys() {
    local st=$1 inst=$2 prog=$3 cfg=$4 known bad=0 k
    if [ -z "${PP_HELP_KEYS[$prog]+x}" ]; then
        PP_HELP_KEYS[$prog]=$("$prog" --help 2>/dev/null | sed -n 's/^  --\([A-Za-z0-9-]*\).*/\1/p' | grep -vx 'config\|help')
    fi
    known=${PP_HELP_KEYS[$prog]}
    if [ -z "$known" ]; then
        pp_say "error: $(pp_run_name "$st" "$inst"): $prog --help lists no options"
        return 1
    fi
    while read -r k _; do
        case $k in '' | '#'*) continue ;; esac
        printf '%s\n' "$known" | grep -qxF -- "$k" && continue  # -F: a key is a name, not a pattern
        echo "$(pp_key_where "$st" "$inst" "$k"): unknown key '$k': $(basename "$prog") has no option --$k (see $prog --help)" >&2
        bad=1
    done <"$cfg"
    return $bad
}

# pp_key_where STAGE INST KEY: "FILE:LINE [SECTION]" of the line that sets
# KEY for this run ([STAGE.INST] beats [STAGE]), or "FILE [STAGE]".
pp_key_where() {
    local i sec found="" where="$PP_JOB [$1]"
    for sec in "$1" "$1.$2"; do
        for ((i = 0; i < ${#PP_SEC[@]}; i++)); do
            [ "${PP_SEC[i]}" = "$sec" ] && [ "${PP_KEY[i]}" = "$3" ] && found="$PP_JOB:${PP_LINE[i]}: [$sec]"
        done
    done
    printf '%s' "${found:-$where}"
}

# pp_first_word CMDLINE: the program of a judge command line, split as
# src/judge/judge_cmd.c splits it (blanks; 'single', "double" quotes with \" and
# \\; backslash outside quotes), with no shell evaluation at all.
pp_first_word() {
    local s=$1 w="" q="" c i=0 n=${#1}
    while [ $i -lt $n ] && [[ ${s:i:1} == [$' \t\n'] ]]; do i=$((i + 1)); done
    for (( ; i < n; i++)); do
        c=${s:i:1}
        if [ "$q" = "'" ]; then
            if [ "$c" = "'" ]; then q=""; else w+=$c; fi
        elif [ "$q" = '"' ]; then
            if [ "$c" = '"' ]; then q=""
            elif [ "$c" = '\' ] && [[ ${s:i+1:1} == [\"\\] ]]; then
                i=$((i + 1))
                w+=${s:i:1}
            else w+=$c; fi
        else
            case $c in
            ' ' | $'\t' | $'\n') break ;;
            "'" | '"') q=$c ;;
            '\') i=$((i + 1)); w+=${s:i:1} ;;
            *) w+=$c ;;
            esac
        fi
    done
    printf '%s' "$w"
}

# pp_check_judge STAGE INST CONFIG: with --judge cmd, the judge program can
# be run: an executable file (a name with '/'), or one found on PATH.  One
# line naming FILE:LINE when not.
pp_check_judge() {
    local st=$1 inst=$2 cfg=$3 judge cmd prog
    pp_in_list "$st" "rank eval" || return 0
    judge=$(pp_config_value "$cfg" judge)
    cmd=$(pp_config_value "$cfg" judge-cmd)
    [ "$judge" = cmd ] || [ -n "$cmd" ] || return 0
    if [ -z "$cmd" ]; then
        echo "$(pp_key_where "$st" "$inst" judge): judge = cmd needs judge-cmd = \"PROGRAM ARGS\"" >&2
        return 1
    fi
    prog=$(pp_first_word "$cmd")
    if [[ $prog == */* ]]; then
        [ -f "$prog" ] && [ -x "$prog" ] && return 0
        echo "$(pp_key_where "$st" "$inst" judge-cmd): judge program '$prog' is not an executable file" >&2
    else
        [ -n "$prog" ] && type -P -- "$prog" >/dev/null 2>&1 && return 0
        echo "$(pp_key_where "$st" "$inst" judge-cmd): judge program '$prog' is not on PATH" >&2
    fi
    return 1
}

pp_load_modules() {
    local mods list=()
    mods=$(pp_common "$1" modules)
    [ -n "$mods" ] || return 0
    type module >/dev/null 2>&1 || pp_die "modules = $mods, but this shell has no 'module' command"
    # split on blanks only: a job file's value is never glob-expanded
    read -r -a list <<<"$mods"
    module load "${list[@]}" || pp_die "module load $mods failed"
}

# ---------------------------------------------------------- in a Slurm job
PP_TRAPPED=0
PP_USR1=0   # Slurm's warning signal (or scancel --signal=USR1 --batch) came
PP_TERM=0   # SIGTERM came: the job is being cancelled or killed, never requeue
PP_STEP=""  # pid of the running srun/mpirun
PP_RESEND="" # pid of the loop that repeats SIGUSR1 to it

pp_on_usr1() {
    PP_USR1=1 PP_TRAPPED=1
    pp_say "got SIGUSR1 (time limit near, or preemption): asking the stage to save and stop"
    [ -n "$PP_STEP" ] || return 0
    kill -USR1 "$PP_STEP" 2>/dev/null
    # srun drops a signal that comes before its tasks exist: say it again
    # every 10 s until the step ends.
    if [ -z "$PP_RESEND" ]; then
        (while sleep 10; do kill -USR1 "$PP_STEP" 2>/dev/null || exit 0; done) &
        PP_RESEND=$!
    fi
}
PP_STEP_TERM=TERM # the signal that asks the step to stop: USR1 for mpirun
pp_on_term() {
    PP_TRAPPED=1 PP_TERM=1
    pp_say "got SIGTERM (scancel, time limit or preemption): passing it on; this job will not requeue itself"
    [ -n "$PP_STEP" ] && kill -"$PP_STEP_TERM" "$PP_STEP" 2>/dev/null
}

# Run "$@" in the background and wait for it, so the traps above can run
# meanwhile (bash runs a trap only between commands; a trapped signal makes
# `wait` return early, so wait again until the step has really ended).
pp_wait_step() {
    local rc=127 r
    "$@" &
    PP_STEP=$!
    while :; do
        PP_TRAPPED=0
        wait "$PP_STEP"
        r=$?
        [ $r = 127 ] && break # reaped by the previous wait: rc holds its status
        rc=$r
        [ $PP_TRAPPED = 1 ] && [ $r -gt 128 ] || break
    done
    PP_STEP=""
    if [ -n "$PP_RESEND" ]; then
        kill "$PP_RESEND" 2>/dev/null
        wait "$PP_RESEND" 2>/dev/null
        PP_RESEND=""
    fi
    return $rc
}

# pp_step_status RC FILE: the exit status of a stage run.  mpirun exits 1
# when SIGTERM or SIGINT reached it (Ctrl-C, scancel), whatever its ranks
# returned, so the stage's rank 0 also writes its own status to FILE
# (PP_EXIT_STATUS_FILE); 75 there (stopped after saving its state) wins
# over a failing launcher.
pp_step_status() {
    local rc=$1 own=""
    [ -f "$2" ] && own=$(head -c 8 "$2")
    rm -f "$2"
    if [ "$rc" != 0 ] && [ "$own" = "$PP_EXIT_STOPPED" ] && [ "$rc" != "$PP_EXIT_STOPPED" ]; then
        pp_say "the launcher exited $rc, the stage itself $own (stopped after saving its state): taking $own"
        rc=$own
    fi
    return "$rc"
}

pp_requeue_or_fail() { # STAGE [STEP]: the stage saved its state and stopped: requeue the job
    local restarts=${SLURM_RESTART_COUNT:-0} max from=${2:-$1}
    max=$(pp_common "$1" max-restarts 20)
    if ! pp_bool "$(pp_common "$1" requeue true)"; then
        pp_say "requeue = false: not requeueing; resume with slurm/submit.sh $PP_JOB --from $from"
        exit $PP_EXIT_STOPPED
    fi
    if [ "$restarts" -ge "$max" ]; then
        pp_say "job was already requeued $restarts times (max-restarts = $max): giving up; resume with slurm/submit.sh $PP_JOB --from $from"
        exit $PP_EXIT_STOPPED
    fi
    pp_say "requeueing job $SLURM_JOB_ID (restart $((restarts + 1)); Slurm holds a requeued job ~2 min before it may start again)"
    if scontrol requeue "$SLURM_JOB_ID"; then
        exit 0
    fi
    pp_say "scontrol requeue $SLURM_JOB_ID failed (was the job submitted with --requeue?); resume with slurm/submit.sh $PP_JOB --from $from"
    exit $PP_EXIT_STOPPED
}

# The body of slurm/pp-STAGE.sbatch.
pp_slurm_stage() {
    local st=$1 jobfile=${2:-} step=${3:-$1} prog inst cfg run ranks cpt launcher t0 rc done_mark
    [ -n "$jobfile" ] || pp_die "usage: sbatch slurm/pp-$st.sbatch JOBFILE (or slurm/submit.sh JOBFILE)"
    [ -n "${SLURM_JOB_ID:-}" ] || pp_die "pp-$st.sbatch runs inside a Slurm job; submit it (slurm/submit.sh) or use jobs/run-local.sh"
    trap pp_on_usr1 USR1
    trap pp_on_term TERM
    pp_job_load "$jobfile"
    pp_load_modules "$st"
    prog=$(pp_program "$st")
    [ -x "$prog" ] || pp_die "$prog: not found or not executable (build with make, or set bin/program in [common])"
    ranks=${SLURM_NTASKS:-1}
    cpt=${SLURM_CPUS_PER_TASK:-1}
    [ "$ranks" = "$(pp_common "$st" ranks "$ranks")" ] ||
        pp_say "warning: the allocation has $ranks task(s) but the job file asks for $(pp_common "$st" ranks); using $ranks"
    # One BLAS thread per allocated CPU: ranks x threads <= cores.
    export OPENBLAS_NUM_THREADS=$cpt OMP_NUM_THREADS=$cpt
    launcher=$(pp_common "$st" launcher srun)
    local largs=()
    read -r -a largs <<<"$(pp_common "$st" launch-args)"
    mkdir -p "$PP_WORKDIR/config" "$PP_WORKDIR/.slurm" || pp_die "cannot create $PP_WORKDIR/config"
    # a rounds job runs its round stages as steps: roundR.STAGE
    if [ "$step" != "$st" ] || { [ $PP_ROUNDS -gt 0 ] && pp_in_list "$st" "$PP_ROUND_STAGES"; }; then
        [ "$(pp_step_stage "$step")" = "$st" ] && pp_in_list "$step" "$PP_CHAIN" ||
            pp_die "pp-$st.sbatch: '$step' is not a $st step of $jobfile (give one of its steps: $PP_CHAIN)"
    fi
    pp_say "step $step: job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}) on ${SLURM_JOB_NODELIST:-?}, $ranks rank(s) x $cpt cpu(s), $launcher, $(date '+%F %T')"
    pp_say "job file $jobfile, work directory $PP_WORKDIR"

    for inst in $(pp_step_instances "$step"); do
        run=$(pp_run_name "$step" "$inst")
        done_mark=$PP_WORKDIR/.slurm/$SLURM_JOB_ID.$run.done
        if [ -e "$done_mark" ]; then
            pp_say "$run: done before this restart, skipped"
            continue
        fi
        [ $PP_TERM = 0 ] || exit $PP_EXIT_STOPPED
        [ $PP_USR1 = 0 ] || pp_requeue_or_fail "$st" "$step"
        cfg=$(pp_config_name "$step" "$inst")
        pp_stage_config "$step" "$inst" "$cfg"
        pp_make_out_dir "$cfg"
        local cmd
        # mpirun answers SIGTERM by killing the ranks (SIGTERM, SIGKILL 1 s
        # later) and exiting 1; SIGUSR1 it only forwards, and then reports
        # the ranks' status.  The stages stop the same way on either.
        PP_STEP_TERM=TERM
        [ "$launcher" = srun ] || PP_STEP_TERM=USR1
        if [ "$launcher" = srun ]; then
            # srun does not inherit --cpus-per-task from sbatch (Slurm >= 22.05)
            cmd=(srun --mpi=pmix --ntasks="$ranks" --cpus-per-task="$cpt" "${largs[@]}" "$prog" --config "$cfg")
        else
            [ "$(id -u)" = 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
            local bind=()
            [ "$cpt" -gt 1 ] && bind=(--bind-to none)
            cmd=(mpirun -np "$ranks" -x PP_EXIT_STATUS_FILE "${bind[@]}" "${largs[@]}" "$prog" --config "$cfg")
        fi
        export PP_EXIT_STATUS_FILE=$PP_WORKDIR/.slurm/$SLURM_JOB_ID.$run.status
        rm -f "$PP_EXIT_STATUS_FILE"
        pp_say "$run: ${cmd[*]}"
        t0=$SECONDS
        pp_wait_step "${cmd[@]}"
        pp_step_status $? "$PP_EXIT_STATUS_FILE"
        rc=$?
        pp_say "$run: $(basename "$prog") exited $rc after $((SECONDS - t0)) s"
        # 75: stopped after saving.  Above 128: killed by the signal itself
        # (it came before the program set its handler), so it resumes from
        # its last saved state.  Either way, after Slurm's warning: requeue.
        if [ $rc = 0 ]; then
            touch "$done_mark"
        elif [ $PP_USR1 = 1 ] && [ $PP_TERM = 0 ] && { [ $rc = $PP_EXIT_STOPPED ] || [ $rc -gt 128 ]; }; then
            if [ $rc = $PP_EXIT_STOPPED ]; then pp_say "$run saved its state and stopped"
            else pp_say "$run was killed by the signal before it could catch it; it resumes from its last saved state"; fi
            pp_requeue_or_fail "$st" "$step"
        elif [ $rc = $PP_EXIT_STOPPED ]; then
            pp_say "$run stopped after saving its state, on a signal other than Slurm's warning: not requeued; resume with slurm/submit.sh $jobfile --from $step"
            exit $PP_EXIT_STOPPED
        else
            exit "$rc"
        fi
    done
    rm -f "$PP_WORKDIR/.slurm/$SLURM_JOB_ID".*.done
    pp_say "step $step done"
}
