#!/usr/bin/env bash
# Stop the single-node SLURM started by start_local_slurm.sh (slurmd, slurmctld; munged with --munge).
# Jobs still running are cancelled first so their processes do not outlive the daemons.
set -uo pipefail

RUN_DIR=/run/slurm
say() { echo "stop_local_slurm: $*"; }
[ "$(id -u)" = 0 ] || { echo "stop_local_slurm: error: must run as root" >&2; exit 1; }

if timeout 5 scontrol ping 2>/dev/null | grep -q 'is UP'; then
    ids=$(squeue -h -o '%A' 2>/dev/null | tr '\n' ' ')
    if [ -n "${ids// /}" ]; then
        say "cancelling jobs: $ids"
        # shellcheck disable=SC2086
        scancel $ids 2>/dev/null || true
        sleep 2
    fi
fi

stop_pid() {  # $1: name, $2: pid file
    local pid
    if [ ! -s "$2" ]; then say "$1 not running (no $2)"; return 0; fi
    pid=$(cat "$2")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -0 "$pid" 2>/dev/null && { say "$1 ($pid) ignores SIGTERM, sending SIGKILL"; kill -9 "$pid"; }
        say "stopped $1 ($pid)"
    else
        say "$1 not running (stale pid file)"
    fi
    rm -f "$2"
}
stop_pid slurmd "$RUN_DIR/slurmd.pid"
stop_pid slurmctld "$RUN_DIR/slurmctld.pid"
if [ "${1:-}" = --munge ]; then
    stop_pid munged /run/munge/munged.pid
fi
