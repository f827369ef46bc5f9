#!/usr/bin/env bash
# slurm-up.sh: start a throwaway single-node Slurm cluster (munged, slurmctld,
# slurmd) in a fresh temp dir, print the dir, and return once the node is idle.
# Nothing under /etc or /run is touched; stop it with slurm-down.sh DIR.
# Run as root (slurmd must be able to start jobs as any user).
#
# Env:
#   SLURM_PORT_BASE  slurmctld port; slurmd uses +1 (default 16817). Give two
#                    clusters on one host different bases.
#   SLURM_CPUS       CPUs the node advertises (default 8, whatever the host has;
#                    SlurmdParameters=config_overrides lets slurmd accept it)
#   SLURM_MEM_MIB    node memory in MiB (default 16384, also an override)
#   SLURM_GPUS       fake GPUs on the node (default 4; 0 for none)
#   SLURM_GPU_TYPE   their GRES type (default a100)
#   SLURM_UP_DIR     use this (empty or missing) dir instead of a new temp dir
set -euo pipefail
PORT=${SLURM_PORT_BASE:-16817}
CPUS=${SLURM_CPUS:-8} MEM=${SLURM_MEM_MIB:-16384}
GPUS=${SLURM_GPUS:-4} GPUTYPE=${SLURM_GPU_TYPE:-a100}
if [ -n "${SLURM_UP_DIR:-}" ]; then D=$SLURM_UP_DIR; mkdir -p "$D"; else D=$(mktemp -d -t suanli-slurm.XXXXXX); fi
chmod 755 "$D"
touch "$D/.slurm-up" # slurm-down.sh only removes dirs with this mark
mkdir -p "$D"/{state,spool,log,run,jobs,munge,munge-key}
HOST=$(hostname -s); SOCK="$D/munge/munge.socket.2"

# fail shows the daemons' logs, stops what was started and removes the dir.
fail() {
  echo "slurm-up: $*" >&2
  for f in "$D"/log/*.log "$D"/munge/munged.log; do
    if [ -s "$f" ]; then echo "--- $f" >&2; tail -20 "$f" >&2; fi
  done
  "$(dirname "$0")/slurm-down.sh" "$D" >&2 || true
  exit 1
}
# Another cluster (or anything) on our ports would take our CLI calls.
for p in "$PORT" "$((PORT + 1))"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then fail "port $p is in use (set SLURM_PORT_BASE)"; fi
done

# munged refuses a socket dir without o+x and a key dir readable by others.
chown munge:munge "$D/munge" "$D/munge-key"; chmod 755 "$D/munge"; chmod 700 "$D/munge-key"
dd if=/dev/urandom of="$D/munge-key/munge.key" bs=1 count=1024 status=none
chown munge:munge "$D/munge-key/munge.key"; chmod 400 "$D/munge-key/munge.key"
runuser -u munge -- /usr/sbin/munged --key-file="$D/munge-key/munge.key" --socket="$SOCK" \
  --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" --seed-file="$D/munge/munged.seed" \
  || fail "munged did not start"

GRESTYPES="" NODEGRES=""
if [ "$GPUS" -gt 0 ]; then
  # Slurm 22.05 ignores count-only GPUs (Count= without File=), so each fake
  # GPU is a device file: a character device with /dev/null's numbers where
  # mknod is allowed, else a plain file (slurmd logs an error per file but
  # still counts them). Jobs then get CUDA_VISIBLE_DEVICES like on real GPUs.
  GRESTYPES="GresTypes=gpu" NODEGRES="Gres=gpu:$GPUTYPE:$GPUS"
  mkdir -p "$D/dev"
  for ((i = 0; i < GPUS; i++)); do
    mknod "$D/dev/gpu$i" c 1 3 2>/dev/null || touch "$D/dev/gpu$i"
  done
  echo "Name=gpu Type=$GPUTYPE File=$D/dev/gpu[0-$((GPUS - 1))]" > "$D/gres.conf"
else
  : > "$D/gres.conf"
fi

cat > "$D/slurm.conf" <<CONF
ClusterName=suanli
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.txt
SchedulerType=sched/backfill
# Schedule a batch job when it is submitted, not up to 3 s later (the
# default batch_sched_delay, meant for high submission rates).
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
$GRESTYPES
DefMemPerCPU=256
ReturnToService=2
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
MinJobAge=300
InactiveLimit=0
KillWait=2
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM $NODEGRES State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
echo "CgroupPlugin=autodetect" > "$D/cgroup.conf"
export SLURM_CONF="$D/slurm.conf"
/usr/sbin/slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start"
/usr/sbin/slurmd -f "$SLURM_CONF" || fail "slurmd did not start"
ok=0
for _ in $(seq 300); do
  if sinfo -h -o %T 2>/dev/null | grep -qx idle; then ok=1; break; fi
  for f in slurmctld slurmd; do
    if [ -s "$D/run/$f.pid" ] && ! kill -0 "$(cat "$D/run/$f.pid")" 2>/dev/null; then fail "$f exited"; fi
  done
  sleep 0.1
done
[ "$ok" = 1 ] || fail "node not idle after 30 s"
echo "$D"
