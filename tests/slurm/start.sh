#!/bin/sh
# Starts munged, slurmctld and slurmd for a one-node cluster with its files in DIR, and waits
# until the node takes jobs. Prints `SLURM_CONF=DIR/slurm.conf` on success; exits 1 (with the
# daemons' logs) when a daemon cannot start. tests/slurm.rs runs it; `stop.sh DIR` stops it.
set -u
DIR=$1
HERE=$(cd "$(dirname "$0")" && pwd)
for program in munged slurmctld slurmd sbatch scontrol; do
  command -v "$program" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
  command -v "$program" >/dev/null 2>&1 || { echo "no \`$program\` on PATH (apt-get install slurm-wlm munge)"; exit 1; }
done
mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge"
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(awk '/MemTotal/ { print int($2 / 1024 / 2) }' /proc/meminfo)
sed -e "s|@HOST@|$HOST|g" -e "s|@DIR@|$DIR|g" -e "s|@CPUS@|$CPUS|g" -e "s|@MEM@|$MEM|g" \
  "$HERE/slurm.conf.in" > "$DIR/slurm.conf"
export SLURM_CONF="$DIR/slurm.conf"

if ! munge -n >/dev/null 2>&1; then
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown -R munge:munge /run/munge /var/lib/munge /var/log/munge /etc/munge 2>/dev/null
  if id munge >/dev/null 2>&1; then
    su -s /bin/sh munge -c "munged" 2>"$DIR/munged.err" || munged --force 2>>"$DIR/munged.err"
  else
    munged --force 2>"$DIR/munged.err"
  fi
  sleep 1
  munge -n >/dev/null 2>&1 || { echo "munged did not start:"; cat "$DIR/munged.err"; exit 1; }
fi

slurmctld -f "$DIR/slurm.conf" || { echo "slurmctld did not start:"; tail -20 "$DIR/slurmctld.log"; exit 1; }
slurmd -f "$DIR/slurm.conf" || { echo "slurmd did not start:"; tail -20 "$DIR/slurmd.log"; exit 1; }
for _ in $(seq 1 60); do
  if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "SLURM_CONF=$DIR/slurm.conf"
    exit 0
  fi
  sleep 1
done
echo "the node never became idle:"
sinfo 2>&1; tail -20 "$DIR/slurmctld.log" "$DIR/slurmd.log"
exit 1
