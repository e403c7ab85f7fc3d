#!/usr/bin/env bash
# Starts a real single-node Slurm (munge + slurmctld + slurmd, no systemd, no cgroups) for the
# executor tests (test/cli/slurm.test.ts), following ../shared/docs/slurm-on-debian.md.
# usage: bash .ci/slurm-up.sh ROOT   → writes ROOT/etc/slurm.conf; export SLURM_CONF=ROOT/etc/slurm.conf
# Needs root and the packages slurmctld slurmd slurm-client munge. Exit 0 once the node is idle.
set -euo pipefail
ROOT=${1:?usage: slurm-up.sh ROOT}
mkdir -p "$ROOT"/{etc,state,spool/slurmd,log,run}
# munge: the package's postinst made the key; systemd would make /run/munge
[ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
install -d -o munge -g munge -m 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then runuser -u munge -- /usr/sbin/munged; fi
host=$(hostname -s)
hw=$(slurmd -C | head -1 | sed -E 's/^NodeName=[^ ]+ //; s/ UpTime=.*//')
cat > "$ROOT/etc/slurm.conf" <<CONF
ClusterName=ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
StateSaveLocation=$ROOT/state
SlurmdSpoolDir=$ROOT/spool/slurmd
SlurmctldPidFile=$ROOT/run/slurmctld.pid
SlurmdPidFile=$ROOT/run/slurmd.pid
SlurmctldLogFile=$ROOT/log/slurmctld.log
SlurmdLogFile=$ROOT/log/slurmd.log
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$ROOT/log/jobcomp.txt
NodeName=$host NodeAddr=127.0.0.1 $hw State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$ROOT/etc/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 120); do
  [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && { echo "slurm up: SLURM_CONF=$SLURM_CONF"; exit 0; }
  sleep 0.25
done
echo "slurm did not come up; logs in $ROOT/log" >&2
exit 1
