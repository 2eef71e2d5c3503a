#!/bin/sh
# Stops the daemons tests/slurm/start.sh started in DIR (munged is left running: other
# users of munge on the machine may need it).
DIR=$1
for daemon in slurmd slurmctld; do
  if [ -f "$DIR/$daemon.pid" ]; then
    kill "$(cat "$DIR/$daemon.pid")" 2>/dev/null
  fi
done
exit 0
