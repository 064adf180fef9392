#!/usr/bin/env bash
# Install the Debian packages of the single-node SLURM test cluster (run as root).
# Idempotent: does nothing when the binaries are already present. The tests start and
# stop the daemons themselves (tests/slurm_cluster.py); nothing is started here.
set -euo pipefail
need=0
for b in /usr/sbin/slurmctld /usr/sbin/slurmd /usr/sbin/munged /usr/bin/sbatch /usr/bin/squeue; do
  [ -x "$b" ] || need=1
done
if [ "$need" = 1 ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    slurmctld slurmd slurm-client munge
fi
# The munge key is created by the package's postinst; make sure it exists.
[ -s /etc/munge/munge.key ] || { echo "no /etc/munge/munge.key after install" >&2; exit 1; }
