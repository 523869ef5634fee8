#!/usr/bin/env bash
# slurm-local.sh - a one-node Slurm cluster on this machine (munged +
# slurmctld + slurmd on 127.0.0.1) for prefpipe's own tests and for trying
# the slurm/ scripts without a cluster.  No systemd, nothing written to /etc:
# config, munge key and socket, spool, state, pid files and logs all live in
# one directory.  Runs as root (slurmd must; jobs run as their submitter).
#
#   tools/slurm-local.sh start    start what is not running, wait for an idle
#                                 node; idempotent
#   tools/slurm-local.sh stop     cancel every job, then stop the daemons
#                                 (only ours: checked by pid file + command line)
#   tools/slurm-local.sh status   daemons, node, queue; exit 0 only when usable
#   tools/slurm-local.sh env      print "export SLURM_CONF=..." for eval
#   tools/slurm-local.sh clean    stop, then delete the state directory
#
# Environment:
#   PP_SLURM_DIR          state directory (default /tmp/prefpipe-slurm); every
#                         directory above it must be o+x (munged insists)
#   PP_SLURM_CTLD_PORT    slurmctld port (default 7817, not Slurm's 6817, so a
#   PP_SLURM_SLURMD_PORT  slurmd port   (default 7818)   site Slurm is never hit)
#   PP_SLURM_CPUS         advertise this many CPUs instead of the real count
#   PP_SLURM_TIMEOUT      seconds to wait for each daemon (default 30)
#
# Exit status: 0 ok, 1 error (message and log tails on stderr), 3 a port is
# already in use (choose others), or for status: not running.
set -u

DIR=${PP_SLURM_DIR:-/tmp/prefpipe-slurm}
CTLD_PORT=${PP_SLURM_CTLD_PORT:-7817}
SLURMD_PORT=${PP_SLURM_SLURMD_PORT:-7818}
TIMEOUT=${PP_SLURM_TIMEOUT:-30}
ADDR=127.0.0.1

say() { printf 'slurm-local: %s\n' "$*"; }
die() { printf 'slurm-local: error: %s\n' "$*" >&2; exit "${2:-1}"; }

case $DIR in /*) ;; *) DIR=$PWD/$DIR ;; esac
DIR=${DIR%/}
[ -n "$DIR" ] || die "PP_SLURM_DIR must not be /"
case $DIR in *[[:space:]]* | *[\'\"\\\$]*) die "PP_SLURM_DIR must not contain spaces, quotes, \\ or \$: $DIR" ;; esac
for p in "$CTLD_PORT" "$SLURMD_PORT"; do
    case $p in '' | *[!0-9]*) die "port '$p' is not a number" ;; esac
    [ "$p" -ge 1024 ] && [ "$p" -le 65535 ] || die "port $p is outside 1024..65535"
done
[ "$CTLD_PORT" != "$SLURMD_PORT" ] || die "slurmctld and slurmd need different ports"

CONF=$DIR/etc/slurm.conf
SOCK=$DIR/munge/munge.socket
KEY=$DIR/munge/munge.key
MUNGED_PID=$DIR/run/munged.pid
CTLD_PID=$DIR/run/slurmctld.pid
SLURMD_PID=$DIR/run/slurmd.pid
LOG=$DIR/log
MARK=$DIR/.prefpipe-slurm-local
export SLURM_CONF=$CONF
# slurmctld and slurmd name the node by the short host name.
NODE=$(uname -n)
NODE=${NODE%%.*}

# A pid is ours when the process is alive (not a zombie: this sandbox's
# init reaps late), runs the named daemon, and names our directory on its
# command line.  A stale pid file can never make us signal someone else.
alive() {
    local st
    st=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
our_pid() { # our_pid PIDFILE DAEMON
    local pid cmd
    [ -s "$1" ] || return 1
    pid=$(tr -cd '0-9' <"$1")
    [ -n "$pid" ] && alive "$pid" || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    case $cmd in "$2 "* | */"$2 "*) ;; *) return 1 ;; esac
    case $cmd in *"$DIR/"*) echo "$pid" ;; *) return 1 ;; esac
}

wait_until() { # wait_until SECONDS COMMAND...: poll every 0.2 s
    local end=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
}

port_busy() {
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Htan "sport = :$1" 2>/dev/null | grep -v TIME-WAIT)" ]
    else
        (exec 3<>"/dev/tcp/$ADDR/$1") 2>/dev/null
    fi
}

munge_ok() { munge -n -S "$SOCK" | unmunge -S "$SOCK"; }
ctld_up() { scontrol ping | grep -q 'is UP'; }
node_state() { sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n 1; }
node_usable() { case $(node_state) in idle | mixed | allocated | completing) return 0 ;; esac; return 1; }

log_tails() {
    local f
    for f in "$LOG"/munged.log "$LOG"/slurmctld.log "$LOG"/slurmd.log; do
        [ -s "$f" ] || continue
        printf -- '--- %s (last lines)\n' "$f" >&2
        tail -n 12 "$f" >&2
    done
}

stop_daemon() { # stop_daemon NAME PIDFILE: TERM, then KILL after 10 s
    local pid end
    pid=$(our_pid "$2" "$1") || { rm -f "$2"; return 0; }
    kill -TERM "$pid" 2>/dev/null
    end=$(($(date +%s) + 10))
    while alive "$pid"; do
        if [ "$(date +%s)" -ge "$end" ]; then
            say "$1 (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null
            break
        fi
        sleep 0.1
    done
    rm -f "$2"
    say "stopped $1 (pid $pid)"
}

# munged refuses its socket, key and seed unless every directory above them
# is searchable by all and none is group/other-writable without the sticky
# bit; say so before munged does, in fewer words.
check_ancestors() {
    local d mode
    d=$(dirname "$DIR")
    while :; do
        if [ -d "$d" ]; then
            mode=$(stat -c %a "$d")
            (((8#$mode & 8#001) != 0)) ||
                die "munged needs every directory above $DIR to be o+x; $d is $mode (chmod o+x it or choose another PP_SLURM_DIR)"
            (((8#$mode & 8#022) == 0 || (8#$mode & 8#1000) != 0)) ||
                die "munged refuses $d: group/other-writable without the sticky bit ($mode); choose another PP_SLURM_DIR"
        fi
        [ "$d" = / ] && break
        d=$(dirname "$d")
    done
}

write_conf() {
    local hw mem
    mem=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
    if [ -n "${PP_SLURM_CPUS:-}" ]; then
        hw="CPUs=$PP_SLURM_CPUS RealMemory=$mem"
    else
        # exactly what slurmd detects, or the node is drained for a mismatch
        hw=$(slurmd -C 2>/dev/null | head -n 1 | tr ' ' '\n' |
            grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore|RealMemory)=' | tr '\n' ' ')
        [ -n "$hw" ] || hw="CPUs=$(nproc) RealMemory=$mem"
    fi
    # Job ids start from the port so that two local clusters running at once
    # (parallel test runs) never share a job id, hence never a PMIx temp dir.
    cat >"$CONF" <<EOF
# Written by prefpipe tools/slurm-local.sh; everything lives under $DIR.
ClusterName=pplocal
SlurmctldHost=$NODE($ADDR)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
FirstJobId=$((CTLD_PORT * 1000 + 1))
# no cgroups in containers: track processes by parent, bind nothing
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# like many sites: no default MPI plugin, so scripts must say --mpi=pmix
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOG/jobcomp.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=600
KillWait=10
Waittime=0
${PP_SLURM_CPUS:+SlurmdParameters=config_overrides}
NodeName=$NODE NodeAddr=$ADDR NodeHostname=$NODE $hw State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

STARTED=""
fail_start() {
    printf 'slurm-local: error: %s\n' "$1" >&2
    log_tails
    local d
    for d in $STARTED; do
        case $d in
        slurmd) stop_daemon slurmd "$SLURMD_PID" ;;
        slurmctld) stop_daemon slurmctld "$CTLD_PID" ;;
        munged) stop_daemon munged "$MUNGED_PID" ;;
        esac
    done >&2
    exit "${2:-1}"
}

cmd_start() {
    local c t0=$SECONDS have_ctld=0 have_slurmd=0
    [ "$(id -u)" = 0 ] || die "start must run as root (slurmd starts jobs as their owners)"
    for c in munged munge unmunge slurmctld slurmd scontrol sinfo squeue; do
        command -v "$c" >/dev/null 2>&1 || die "'$c' not found; install Slurm and munge first (make deps)"
    done
    check_ancestors
    if [ -d "$DIR" ] && [ ! -e "$MARK" ] && [ -n "$(ls -A "$DIR")" ]; then
        die "$DIR is not empty and was not made by slurm-local.sh; choose another PP_SLURM_DIR"
    fi
    mkdir -p "$DIR"/etc "$DIR"/munge "$DIR"/run "$DIR"/spool "$DIR"/state "$LOG" || die "cannot create $DIR"
    touch "$MARK"
    chmod 755 "$DIR" "$DIR"/munge "$LOG"

    our_pid "$CTLD_PID" slurmctld >/dev/null && have_ctld=1
    our_pid "$SLURMD_PID" slurmd >/dev/null && have_slurmd=1
    # Ports first, before anything is started: a clear message, exit 3.
    [ $have_ctld = 1 ] || ! port_busy "$CTLD_PORT" ||
        die "port $CTLD_PORT (slurmctld) is already in use; set PP_SLURM_CTLD_PORT to a free port" 3
    [ $have_slurmd = 1 ] || ! port_busy "$SLURMD_PORT" ||
        die "port $SLURMD_PORT (slurmd) is already in use; set PP_SLURM_SLURMD_PORT to a free port" 3

    if our_pid "$MUNGED_PID" munged >/dev/null; then
        say "munged already running"
    else
        if [ ! -s "$KEY" ]; then
            if command -v mungekey >/dev/null 2>&1; then
                mungekey --create --keyfile="$KEY" >/dev/null 2>&1 || die "mungekey failed for $KEY"
            else
                head -c 1024 /dev/urandom >"$KEY" || die "cannot write $KEY"
            fi
        fi
        chmod 600 "$KEY"
        rm -f "$SOCK" "$SOCK.lock"
        munged --socket="$SOCK" --key-file="$KEY" --pid-file="$MUNGED_PID" \
            --log-file="$LOG/munged.log" --seed-file="$DIR/munge/munged.seed" </dev/null >/dev/null 2>&1 ||
            fail_start "munged did not start (see $LOG/munged.log)"
        STARTED="munged $STARTED"
        wait_until "$TIMEOUT" munge_ok || fail_start "munged does not answer on $SOCK"
    fi

    # The config changes only while no Slurm daemon of ours reads it.
    if [ $have_ctld = 0 ] && [ $have_slurmd = 0 ]; then
        write_conf
    elif [ ! -s "$CONF" ]; then
        fail_start "a Slurm daemon of ours runs but $CONF is gone; run '$0 stop' first"
    elif ! grep -qx "SlurmctldPort=$CTLD_PORT" "$CONF" || ! grep -qx "SlurmdPort=$SLURMD_PORT" "$CONF"; then
        fail_start "the cluster in $DIR already runs on other ports ($(grep -E '^Slurm(ctld|d)Port=' "$CONF" | tr '\n' ' ')); stop it first"
    fi

    if [ $have_ctld = 1 ]; then
        say "slurmctld already running"
    else
        # -c: forget jobs of an earlier run; -i: ignore errors in the old state
        slurmctld -c -i -f "$CONF" </dev/null >/dev/null 2>&1 || fail_start "slurmctld did not start"
        STARTED="slurmctld $STARTED"
        wait_until "$TIMEOUT" ctld_up || fail_start "slurmctld is not answering on port $CTLD_PORT"
    fi
    if [ $have_slurmd = 1 ]; then
        say "slurmd already running"
    else
        slurmd -f "$CONF" -N "$NODE" </dev/null >/dev/null 2>&1 || fail_start "slurmd did not start"
        STARTED="slurmd $STARTED"
        wait_until "$TIMEOUT" our_pid "$SLURMD_PID" slurmd || fail_start "slurmd did not stay up"
    fi
    wait_until "$TIMEOUT" node_usable || fail_start "node $NODE is '$(node_state)', not idle"
    say "up in $((SECONDS - t0)) s: node $NODE $(node_state), ports $CTLD_PORT/$SLURMD_PORT, state in $DIR"
    say "clients need: export SLURM_CONF=$CONF   (or: eval \"\$($0 env)\")"
}

cmd_stop() {
    local ids end
    if our_pid "$CTLD_PID" slurmctld >/dev/null && [ -s "$CONF" ]; then
        ids=$(squeue -h -o %A 2>/dev/null | tr '\n' ' ')
        if [ -n "${ids// /}" ]; then
            say "cancelling jobs $ids"
            # shellcheck disable=SC2086
            scancel $ids 2>/dev/null
            # a job's slurmstepd outlives slurmd: wait until the jobs are gone
            end=$(($(date +%s) + 20))
            while [ -n "$(squeue -h -o %A 2>/dev/null)" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done
        fi
    fi
    stop_daemon slurmd "$SLURMD_PID"
    stop_daemon slurmctld "$CTLD_PID"
    stop_daemon munged "$MUNGED_PID"
    rm -f "$SOCK" "$SOCK.lock"
}

cmd_status() {
    local rc=0 name pf pid
    for name in munged slurmctld slurmd; do
        case $name in munged) pf=$MUNGED_PID ;; slurmctld) pf=$CTLD_PID ;; slurmd) pf=$SLURMD_PID ;; esac
        if pid=$(our_pid "$pf" "$name"); then
            printf '%-10s running (pid %s)\n' "$name" "$pid"
        else
            printf '%-10s not running\n' "$name"
            rc=3
        fi
    done
    if [ $rc = 0 ]; then
        sinfo -N -o '%N %P %T %c %m' || rc=3
        squeue || rc=3
        node_usable || rc=3
    fi
    echo "SLURM_CONF=$CONF"
    return $rc
}

cmd_clean() {
    cmd_stop
    [ -d "$DIR" ] || return 0
    [ -e "$MARK" ] || die "$DIR has no $(basename "$MARK") marker; not deleting it"
    rm -rf "$DIR" && say "removed $DIR"
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) printf 'export SLURM_CONF=%s\n' "$CONF" ;;
clean) cmd_clean ;;
*)
    echo "usage: $0 start|stop|status|env|clean   (see the comment at the top)" >&2
    exit 1
    ;;
esac
