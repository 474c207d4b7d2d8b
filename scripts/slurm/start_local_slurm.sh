#!/usr/bin/env bash
# Bring up a single-node SLURM cluster on this host (development and tests/test_slurm.py).
#
#   sudo bash scripts/slurm/start_local_slurm.sh      # idempotent: does nothing when SLURM answers
#   bash scripts/slurm/stop_local_slurm.sh             # stops the daemons started here
#
# Uses the Debian packages slurm-wlm and munge (installed with apt-get when missing). The config is
# cgroup-free (proctrack/linuxproc, task/none) so it also works inside containers, has no accounting,
# treats CPUs as the consumable resource and allows requeue (preemption tests).
# Environment: SLURM_CONF_DIR (default /etc/slurm), LOCAL_SLURM_PARTITION (default "debug"),
# LOCAL_SLURM_FORCE=1 rewrites slurm.conf and restarts the daemons even when SLURM answers.
set -euo pipefail

CONF_DIR=${SLURM_CONF_DIR:-/etc/slurm}
PARTITION=${LOCAL_SLURM_PARTITION:-debug}
STATE_DIR=/var/spool/slurmctld
SPOOL_DIR=/var/spool/slurmd
LOG_DIR=/var/log/slurm
RUN_DIR=/run/slurm
export SLURM_CONF="$CONF_DIR/slurm.conf"

die() { echo "start_local_slurm: error: $*" >&2; exit 1; }
say() { echo "start_local_slurm: $*"; }

[ "$(id -u)" = 0 ] || die "must run as root (daemons, /etc/slurm, /etc/munge); try: sudo bash $0"

node_idle() {  # true when sinfo answers and lists the node idle (or mixed/allocated: it is up)
    local state
    state=$(timeout 10 sinfo -h -N -o '%T' 2>/dev/null | head -n1) || return 1
    case "$state" in idle|mixed|allocated|completing) return 0 ;; *) return 1 ;; esac
}

if [ "${LOCAL_SLURM_FORCE:-0}" != 1 ] && command -v sinfo >/dev/null && node_idle; then
    say "SLURM already answers: $(sinfo -h -N -o '%N %T %c CPUs' | head -n1); nothing to do"
    exit 0
fi

# --- packages ---------------------------------------------------------------------------------
missing=()
for bin in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/bin/sbatch /usr/sbin/munged; do
    [ -x "$bin" ] || missing+=("$bin")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing slurm-wlm and munge (missing: ${missing[*]})"
    command -v apt-get >/dev/null || die "apt-get not found; install slurm-wlm and munge by hand"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || die "apt-get update failed (no network?)"
    apt-get install -y -q slurm-wlm munge || die "apt-get install slurm-wlm munge failed"
fi

# --- munge ------------------------------------------------------------------------------------
id munge >/dev/null 2>&1 || die "user 'munge' does not exist (broken munge package?)"
mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    say "creating /etc/munge/munge.key"
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
chmod 0700 /etc/munge /var/lib/munge /var/log/munge
chmod 0755 /run/munge
chmod 0400 /etc/munge/munge.key
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "starting munged"
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
    for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
    munge -n | unmunge >/dev/null 2>&1 || die "munge credentials do not verify (see /var/log/munge/munged.log)"
fi

# --- slurm.conf -------------------------------------------------------------------------------
HOST=$(hostname -s)
getent hosts "$HOST" >/dev/null || die "host name '$HOST' does not resolve; add '127.0.0.1 $HOST' to /etc/hosts"
# The node line comes from slurmd itself (real CPUs, sockets, cores, threads, memory).
NODE_HW=$(/usr/sbin/slurmd -C | head -n1) || die "slurmd -C failed"
case "$NODE_HW" in NodeName=*) ;; *) die "unexpected 'slurmd -C' output: $NODE_HW" ;; esac
NODE_HW=${NODE_HW#NodeName=* }                           # drop "NodeName=<host>"
MEM=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$NODE_HW")
# Leave a little memory headroom so slurmd does not drain the node for "low RealMemory".
NODE_HW=$(sed "s/RealMemory=[0-9]*/RealMemory=$((MEM * 95 / 100))/" <<<"$NODE_HW")

mkdir -p "$CONF_DIR" "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR" "$RUN_DIR"
cat >"$CONF_DIR/slurm.conf.new" <<EOF
# Single-node SLURM for development and tests; written by scripts/slurm/start_local_slurm.sh.
ClusterName=localcluster
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
# No cgroups: works in containers and VMs without a writable cgroup hierarchy.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
# Requeue on preemption; KillWait gives jobs time to checkpoint after SIGTERM.
JobRequeue=1
KillWait=60
MinJobAge=30
SlurmctldTimeout=30
SlurmdTimeout=60
InactiveLimit=0
Waittime=0
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$HOST NodeAddr=127.0.0.1 $NODE_HW State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
mv "$CONF_DIR/slurm.conf.new" "$CONF_DIR/slurm.conf"
chmod 0644 "$CONF_DIR/slurm.conf"
say "wrote $CONF_DIR/slurm.conf (node: $HOST $NODE_HW)"

# --- daemons ----------------------------------------------------------------------------------
stop_pid() {  # stop the daemon whose pid file is $1 (only that process)
    local pid
    [ -s "$1" ] || return 0
    pid=$(cat "$1")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    rm -f "$1"
}
# A stale daemon from an earlier run would keep the old config: restart both.
stop_pid "$RUN_DIR/slurmd.pid"
stop_pid "$RUN_DIR/slurmctld.pid"

say "starting slurmctld"
/usr/sbin/slurmctld -f "$SLURM_CONF" \
    || die "slurmctld did not start; last log lines:$(echo; tail -n 15 "$LOG_DIR/slurmctld.log" 2>/dev/null)"
for _ in $(seq 30); do timeout 5 scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.5; done
timeout 5 scontrol ping 2>/dev/null | grep -q 'is UP' \
    || die "slurmctld does not answer; last log lines:$(echo; tail -n 15 "$LOG_DIR/slurmctld.log" 2>/dev/null)"

say "starting slurmd"
/usr/sbin/slurmd -f "$SLURM_CONF" \
    || die "slurmd did not start; last log lines:$(echo; tail -n 15 "$LOG_DIR/slurmd.log" 2>/dev/null)"

for _ in $(seq 60); do node_idle && break; sleep 0.5; done
if ! node_idle; then
    # A node left DOWN/DRAINED by an earlier run comes back with RESUME.
    scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true
    for _ in $(seq 20); do node_idle && break; sleep 0.5; done
fi
node_idle || die "node $HOST is not idle: $(sinfo -h -N -o '%N %T %E' 2>&1 | head -n1); slurmd log:$(echo; tail -n 15 "$LOG_DIR/slurmd.log" 2>/dev/null)"
say "ready: $(sinfo -h -N -o 'node %N %T, %c CPUs, partition %P' | head -n1)"
