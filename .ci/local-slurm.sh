#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for tests/test_slurm.py: the workflow's
# SLURM profile is exercised against slurmctld and slurmd, not a mock.
#
#   .ci/local-slurm.sh start    install slurm-wlm and munge if missing, write
#                               /etc/slurm/slurm.conf, start munged, slurmctld and slurmd,
#                               wait until the node is idle and print the partition name
#                               (the only line on stdout; progress goes to stderr).
#                               Idempotent: with the daemons up and the configuration
#                               unchanged it only prints the partition.
#   .ci/local-slurm.sh status   print the partition name if this cluster is up, else exit 1
#   .ci/local-slurm.sh stop     cancel leftover jobs and stop the daemons this script started
#
# start and stop need root and a Debian-based system (tested on Debian 12, SLURM 22.05).
# Exit status: 0 success, 1 error, 2 usage, 3 slurm-wlm/munge missing and not installable.
#
# Environment:
#   LOCAL_SLURM_DIR      state, spool, pid and log files               [/var/lib/local-slurm]
#   LOCAL_SLURM_FORCE=1  replace an /etc/slurm/slurm.conf this script did not write
#                        (the original is kept as /etc/slurm/slurm.conf.orig)
#
# Notes on the configuration:
# - It must be /etc/slurm/slurm.conf, the path compiled into Debian's SLURM: the job step of
#   snakemake's SLURM executor clears SLURM_CONF before it calls srun.
# - There is no accounting database, so `sacct` does not work. Snakemake must poll job states
#   with squeue (--slurm-status-command squeue). squeue sees a finished job for MinJobAge
#   seconds, which must stay >= 3 x --slurm-init-seconds-before-status-checks; an hour also
#   lets a test on a slow machine find every job of its run. Finished jobs are also appended
#   to log/jobcomp.txt in LOCAL_SLURM_DIR.
# - Processes are tracked with /proc (proctrack/linuxproc, task/none): no cgroups or systemd
#   needed, so it runs in containers. Memory requests are scheduled, not enforced.
set -euo pipefail

DIR=${LOCAL_SLURM_DIR:-/var/lib/local-slurm}
CONF=/etc/slurm/slurm.conf
NODE=localhost
PARTITION=main
MARK="# Written by .ci/local-slurm.sh (a single-node test cluster); edit that script instead."
export PATH=$PATH:/usr/sbin:/sbin

log() { printf 'local-slurm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit "${2:-1}"; }
usage() { sed -n '5,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# alive NAME PIDFILE: the pid in PIDFILE is a live process called NAME (never kill by name)
alive() {
  local pid
  pid=$(cat "$2" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] &&
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}

# stop_daemon NAME PIDFILE: SIGTERM, wait up to 20 s, then SIGKILL
stop_daemon() {
  alive "$1" "$2" || { rm -f "$2"; return 0; }
  local pid
  pid=$(cat "$2")
  log "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 200); do alive "$1" "$2" || break; sleep 0.1; done
  if alive "$1" "$2"; then log "$1 ignored SIGTERM, sending SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$2"
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.2 s until it succeeds
wait_for() {
  local tries=$(($1 * 5))
  shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  return 1
}

munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }
ours() { [[ -f $CONF ]] && head -1 "$CONF" | grep -qxF "$MARK"; }
node_state() { sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1; }
node_ready() { [[ $(node_state) =~ ^(idle|mixed|allocated|completing)$ ]]; }
show_logs() { tail -n 20 "$DIR"/log/*.log "$DIR"/log/*.stderr 2>/dev/null >&2 || true; }

status() {
  ours && scontrol ping >/dev/null 2>&1 && node_ready && [[ -n $(sinfo -h -p "$PARTITION" -o %a 2>/dev/null) ]]
}

install_packages() {
  local missing=0 bin
  for bin in slurmctld slurmd sbatch squeue munged munge; do command -v "$bin" >/dev/null || missing=1; done
  [[ $missing == 0 ]] && return 0
  command -v apt-get >/dev/null || die "slurm-wlm and munge are not installed and apt-get is not available" 3
  log "installing slurm-wlm and munge (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 || die "apt-get update failed" 3
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >&2 || die "apt-get install slurm-wlm munge failed" 3
}

start_munge() {
  if munge_works; then return 0; fi
  local key=/etc/munge/munge.key
  mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
  if [[ ! -s $key ]]; then
    log "creating $key"
    if command -v mungekey >/dev/null; then mungekey --create --keyfile="$key"
    else dd if=/dev/urandom of="$key" bs=1024 count=1 2>/dev/null; fi
  fi
  chown munge:munge /etc/munge "$key" /run/munge /var/lib/munge /var/log/munge
  chmod 0700 /etc/munge
  chmod 0400 "$key"
  chmod 0755 /run/munge
  log "starting munged"
  runuser -u munge -- munged </dev/null 9>&- >>"$DIR/log/munged.stderr" 2>&1 ||
    { show_logs; die "munged did not start"; }
  wait_for 10 munge_works || { show_logs; die "munge does not work"; }
  # remembered so that `stop` ends only a munged this script started
  cp /run/munge/munged.pid "$DIR/munged.pid"
}

write_conf() {
  local mem conf
  # RealMemory must not exceed what slurmd detects, or the node is drained: keep 10 % spare
  mem=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 9 / 10 / 1024))
  conf="$MARK
ClusterName=local
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
MinJobAge=3600
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
NodeName=$NODE CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP"
  if [[ -f $CONF ]] && [[ $(cat "$CONF") == "$conf" ]]; then return 1; fi
  if [[ -f $CONF ]] && ! ours; then
    [[ ${LOCAL_SLURM_FORCE:-0} == 1 ]] ||
      die "$CONF exists and was not written by this script; set LOCAL_SLURM_FORCE=1 to replace it"
    [[ -e $CONF.orig ]] || cp -p "$CONF" "$CONF.orig"
    log "kept the previous configuration as $CONF.orig"
  fi
  mkdir -p /etc/slurm
  printf '%s\n' "$conf" >"$CONF"
  chmod 0644 "$CONF"
  log "wrote $CONF"
  return 0
}

start() {
  [[ $(id -u) == 0 ]] || die "start needs root"
  install_packages
  mkdir -p "$DIR"/{state,spool,log}
  # one start at a time (a CI script and a test may both call it); the daemons started
  # below must not inherit this descriptor, or they would hold the lock for ever
  exec 9>"$DIR/lock"
  flock 9
  start_munge
  if write_conf && { alive slurmctld "$DIR/slurmctld.pid" || alive slurmd "$DIR/slurmd.pid"; }; then
    log "configuration changed: restarting slurmctld and slurmd"
    stop_daemon slurmd "$DIR/slurmd.pid"
    stop_daemon slurmctld "$DIR/slurmctld.pid"
  fi
  if ! alive slurmctld "$DIR/slurmctld.pid"; then
    log "starting slurmctld"
    slurmctld </dev/null 9>&- >>"$DIR/log/slurmctld.stderr" 2>&1 || { show_logs; die "slurmctld did not start"; }
  fi
  wait_for 30 scontrol ping || { show_logs; die "slurmctld does not answer"; }
  if ! alive slurmd "$DIR/slurmd.pid"; then
    log "starting slurmd"
    slurmd -N "$NODE" </dev/null 9>&- >>"$DIR/log/slurmd.stderr" 2>&1 || { show_logs; die "slurmd did not start"; }
  fi
  for i in $(seq 150); do
    node_ready && break
    # a node left down or drained by an earlier run is returned to service
    if [[ $(node_state) =~ ^(down|drain) ]] && ((i % 10 == 0)); then
      scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true
    fi
    sleep 0.2
  done
  node_ready || { show_logs; die "node $NODE is '$(node_state)', not idle (logs in $DIR/log)"; }
  log "up: node $NODE ($(nproc) CPUs), partition $PARTITION, configuration $CONF, logs in $DIR/log"
  echo "$PARTITION"
}

stop() {
  [[ $(id -u) == 0 ]] || die "stop needs root"
  if ours && alive slurmctld "$DIR/slurmctld.pid" && scontrol ping >/dev/null 2>&1; then
    local jobs
    jobs=$(squeue -h -t PD,R,CG,S -o %i 2>/dev/null | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
      log "cancelling jobs $jobs"
      # shellcheck disable=SC2086
      scancel $jobs 2>/dev/null || true
      # shellcheck disable=SC2016
      wait_for 20 bash -c '[[ -z $(squeue -h -t PD,R,CG -o %i) ]]' || true
    fi
  fi
  stop_daemon slurmd "$DIR/slurmd.pid"
  stop_daemon slurmctld "$DIR/slurmctld.pid"
  stop_daemon munged "$DIR/munged.pid"
  log "stopped"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status && echo "$PARTITION" || exit 1 ;;
  *) usage ;;
esac
