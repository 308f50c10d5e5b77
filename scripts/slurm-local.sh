#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine (Debian's slurmctld, slurmd and munge), with its configuration and
# state in a folder of its own: for trying the scale-out recipes (sbatch arrays, srun training) and for their tests.
#
#   bash scripts/slurm-local.sh start    # installs the packages if missing, writes the configuration, starts
#                                        # munged, slurmctld and slurmd; prints the SLURM_CONF to export
#   bash scripts/slurm-local.sh status   # which of its daemons run, and sinfo
#   bash scripts/slurm-local.sh stop     # ends the daemons it started (by their pid files), nothing else
# /etc/slurm/slurm.conf, where Slurm's commands look by default, is linked to its configuration while it runs (unless
# another cluster's configuration is there).
#
# Settings: KDSEQ_SLURM_DIR (default work/slurm-local), SLURMCTLD_PORT (6817), SLURMD_PORT (6818).
# Running start again while the cluster runs does nothing. The node is this machine: all its cores, and its memory
# less 1 GiB. No accounting database: jobs are tracked by squeue (MinJobAge keeps ended jobs visible 300 s).
# Tested with Slurm 22.05 (Debian 12). Start and stop need root (the daemons run as root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${KDSEQ_SLURM_DIR:=$ROOT/work/slurm-local}"
: "${SLURMCTLD_PORT:=6817}"
: "${SLURMD_PORT:=6818}"
DIR="$KDSEQ_SLURM_DIR"
CONF="$DIR/slurm.conf"
PACKAGES=(slurmctld slurmd slurm-client munge)

say() { echo "[slurm-local] $*"; }
die() { echo "[slurm-local] error: $*" >&2; exit 2; }
usage() { echo "usage: bash scripts/slurm-local.sh start|stop|status" >&2; exit 1; }

alive() {  # alive NAME: the daemon NAME of this cluster runs (its pid file names a live process of that program)
  local pid
  pid=$(cat "$DIR/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && grep -q "$1" "/proc/$pid/comm" 2>/dev/null
}

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do dpkg -s "$p" > /dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "the packages ${missing[*]} are missing and installing them needs root"
  say "installing ${missing[*]} (Debian's packages)"
  apt-get update -qq > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" > /dev/null || die "apt-get could not install ${missing[*]}"
}

port_free() {  # port_free PORT: nothing listens on it
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

clean() {  # clean DAEMON ARGS...: a daemon in a session of its own, with a plain environment and no stdin, so that
  # nothing of the shell that started it (a test runner's variables, ignored signals, its terminal) reaches the jobs
  setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SLURM_CONF="$CONF" "$@" < /dev/null
}

write_config() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(getconf _NPROCESSORS_ONLN)  # not nproc: it answers OMP_NUM_THREADS when that is set
  mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))
  mkdir -p "$DIR/ctld" "$DIR/d" "$DIR/munge" "$DIR/log"
  chmod 700 "$DIR/munge"
  cat > "$CONF.tmp" <<EOF
# written by scripts/slurm-local.sh: a one-node cluster, state in $DIR
ClusterName=kdseq-local
SlurmctldHost=$host
SlurmctldPort=$SLURMCTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CryptoType=crypto/munge
StateSaveLocation=$DIR/ctld
SlurmdSpoolDir=$DIR/d
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=300
KillWait=5
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP DefMemPerCPU=$(( mem / cpus ))
EOF
  mv "$CONF.tmp" "$CONF"
}

start() {
  if alive munged && alive slurmctld && alive slurmd; then
    say "already running; export SLURM_CONF=$CONF"
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "start needs root (the daemons run as root)"
  install_packages
  local port
  for port in "$SLURMCTLD_PORT" "$SLURMD_PORT"; do
    alive slurmctld || alive slurmd || port_free "$port" ||
      die "port $port is in use (another Slurm daemon?): stop it, or give SLURMCTLD_PORT/SLURMD_PORT"
  done
  mkdir -p "$DIR"
  write_config
  link_default_config
  alive munged || clean munged --force --socket="$DIR/munge/munge.socket" --pid-file="$DIR/munged.pid" \
    --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/seed" --key-file=/etc/munge/munge.key ||
    { stop_daemons; die "munged did not start (log: $DIR/log/munged.log)"; }
  alive slurmctld || clean slurmctld -f "$CONF" ||
    { stop_daemons; die "slurmctld did not start (log: $DIR/log/slurmctld.log)"; }
  alive slurmd || clean slurmd -f "$CONF" ||
    { stop_daemons; die "slurmd did not start (log: $DIR/log/slurmd.log)"; }
  local i
  for i in $(seq 1 60); do  # the node comes up once slurmd has registered with slurmctld
    if SLURM_CONF="$CONF" sinfo -h -o %t 2>/dev/null | grep -qx "idle\|mix\|alloc"; then
      say "running: one node, $(getconf _NPROCESSORS_ONLN) cores; export SLURM_CONF=$CONF"
      return 0
    fi
    sleep 0.5
  done
  stop_daemons
  die "the node did not come up in 30 s (logs: $DIR/log/); everything this script started was stopped"
}

# link_default_config: /etc/slurm/slurm.conf, where Slurm's commands look without SLURM_CONF, links to this cluster's
# (a job step that Snakemake's Slurm executor starts runs srun with the SLURM_* variables removed); a slurm.conf of
# another cluster there is left alone
link_default_config() {
  local default=/etc/slurm/slurm.conf
  if [ -L "$default" ] && [ "$(readlink "$default")" = "$CONF" ]; then return 0; fi
  if [ -e "$default" ] || [ -L "$default" ]; then
    say "$default is another cluster's: left alone (jobs that run srun need SLURM_CONF=$CONF)"
    return 0
  fi
  mkdir -p /etc/slurm && ln -s "$CONF" "$default"
}

unlink_default_config() {
  local default=/etc/slurm/slurm.conf
  if [ -L "$default" ] && [ "$(readlink "$default")" = "$CONF" ]; then rm -f "$default"; fi
}

stop_daemons() {
  local name pid
  for name in slurmd slurmctld munged; do
    if alive "$name"; then
      pid=$(cat "$DIR/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do [ -d "/proc/$pid" ] || break; sleep 0.25; done
      [ -d "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/$name.pid"
  done
}

status() {
  local name
  for name in munged slurmctld slurmd; do
    if alive "$name"; then say "$name running (pid $(cat "$DIR/$name.pid"))"; else say "$name not running"; fi
  done
  if alive slurmctld; then SLURM_CONF="$CONF" sinfo; fi
}

[ $# -eq 1 ] || usage
case "$1" in
  start) start ;;
  stop) stop_daemons; unlink_default_config; say "stopped" ;;
  status) status ;;
  *) usage ;;
esac
