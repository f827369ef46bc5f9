#!/usr/bin/env bash
# slurm-down.sh DIR: stop a cluster started by slurm-up.sh and remove DIR.
# Daemons are stopped by the PID files in DIR, never by name, so other
# clusters on the host are left alone.
set -uo pipefail
D=${1:?usage: slurm-down.sh DIR}
[ -f "$D/.slurm-up" ] || { echo "slurm-down: $D is not a slurm-up.sh dir" >&2; exit 1; }
# Cancel the cluster's jobs first: their slurmstepd and processes outlive
# slurmd, and only the cluster itself knows them.
if [ -f "$D/slurm.conf" ] && [ -s "$D/run/slurmctld.pid" ] && kill -0 "$(cat "$D/run/slurmctld.pid")" 2>/dev/null; then
  export SLURM_CONF="$D/slurm.conf"
  ids=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086 # one id per word
    timeout 10 scancel $ids 2>/dev/null || true
    for _ in $(seq 100); do
      [ -z "$(timeout 10 squeue -h -o %i 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
fi
pids=()
# slurmdbd and MariaDB only run when someone added accounting by hand.
for f in run/slurmd.pid run/slurmctld.pid run/slurmdbd.pid mysqlrun/mysqld.pid munge/munged.pid; do
  if [ -s "$D/$f" ]; then
    p=$(cat "$D/$f")
    kill "$p" 2>/dev/null && pids+=("$p")
  fi
done
for p in "${pids[@]}"; do
  for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
done
rm -rf "$D"
