"""A throw-away single-node SLURM cluster for the workflow tests.

The cluster is the one described in ``slurm-test-cluster.md``: Debian's Slurm and
munge, one node ``localhost`` at 127.0.0.1, no accounting database, no cgroups and no
systemd. Its spool, state and logs live in one scratch directory and its ports are
chosen free at start. The config must be the standard ``/etc/slurm/slurm.conf``:
snakemake-executor-plugin-slurm-jobstep removes ``SLURM_CONF`` from the environment
of the ``srun`` it runs inside each job, so a config elsewhere is not found there. A
config already present is moved aside and put back by :meth:`SlurmCluster.stop`.
Daemons this module starts are stopped by the PIDs in their own pid files, never by
name; a ``munged`` that was already running is left alone.

Use :func:`ensure_installed` (installs the Debian packages as root if a binary is
missing), then :class:`SlurmCluster` as a context manager.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from conftest import HANG_GUARD_S

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
BINARIES = ("/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "sbatch", "squeue",
            "sinfo", "scancel")
SETUP_SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "slurm-setup.sh"
MUNGE_PID_FILE = Path("/run/munge/munged.pid")
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
SLURM_CONF = Path("/etc/slurm/slurm.conf")
PARTITION = "debug"


class SlurmError(RuntimeError):
    """The test cluster could not be installed, started or stopped."""


def missing_binaries() -> list[str]:
    """Binaries of the Slurm/munge packages that are not on this machine."""
    return [b for b in BINARIES if shutil.which(b) is None and not Path(b).exists()]


def ensure_installed() -> None:
    """Install the Debian packages with ``.ci/slurm-setup.sh`` if any binary is missing.

    Raises
    ------
    SlurmError
        If the packages are missing and cannot be installed (not root, no apt-get).
    """
    missing = missing_binaries()
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SlurmError(f"Slurm binaries missing ({', '.join(missing)}); install as root with "
                         f"'bash {SETUP_SCRIPT}' (Debian packages: {' '.join(PACKAGES)})")
    result = subprocess.run(["bash", str(SETUP_SCRIPT)], capture_output=True, text=True)
    if result.returncode != 0 or missing_binaries():
        raise SlurmError(f"{SETUP_SCRIPT} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")


REQUIRE_ENV = "BALANCED_STDP_REQUIRE_SLURM"
"""Set to 1 (CI does) to make an unavailable test cluster a failure instead of a skip."""


def unavailable_reason() -> str:
    """Why this machine cannot run the test cluster ('' if it can).

    The tests never install system packages on a user's machine: without the Slurm
    binaries, or without root (the daemons and /etc/slurm/slurm.conf need it), the
    SLURM test is skipped with this reason. With ``BALANCED_STDP_REQUIRE_SLURM=1`` (CI),
    missing binaries are installed with ``.ci/slurm-setup.sh`` as root instead.
    """
    if os.geteuid() != 0:
        return ("the single-node SLURM test cluster needs root (daemons, "
                f"{SLURM_CONF}); run the tests as root or set {REQUIRE_ENV}=1 to fail instead")
    missing = missing_binaries()
    if missing and os.environ.get(REQUIRE_ENV) != "1":
        return (f"Slurm binaries missing ({', '.join(missing)}); install them as root with "
                f"'bash {SETUP_SCRIPT}' to run the SLURM test")
    return ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _total_memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise SlurmError("cannot read MemTotal from /proc/meminfo")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class SlurmCluster:
    """One slurmctld + one slurmd (node ``localhost``) with their state in ``state_dir``.

    Parameters
    ----------
    state_dir : path
        Scratch directory for slurm.conf, spool, state, pid and log files.
    cpus : int, optional
        CPUs of the node (default: all of this machine's).
    memory_mb : int, optional
        RealMemory of the node (default: 90 % of this machine's memory; slurmd drains a
        node that reports less memory than configured).

    """

    def __init__(self, state_dir: str | os.PathLike, cpus: int | None = None,
                 memory_mb: int | None = None):
        self.state_dir = Path(state_dir).resolve()
        self.cpus = cpus or os.cpu_count() or 1
        self.memory_mb = memory_mb or int(0.9 * _total_memory_mb())
        self.conf_path = SLURM_CONF
        self._conf_backup = self.state_dir / "slurm.conf.orig"
        self._wrote_conf = False
        self._created_conf_dir = False
        self._started_munge = False
        self._pid_files = {
            "slurmctld": self.state_dir / "slurmctld.pid",
            "slurmd": self.state_dir / "slurmd.pid",
        }

    # ----------------------------------------------------------------- config
    def write_config(self) -> None:
        """Write slurm.conf (the measured minimal single-node set-up) and the state dirs."""
        for sub in ("ctld", "d", "log"):
            (self.state_dir / sub).mkdir(parents=True, exist_ok=True)
        ctld_port, d_port = _free_port(), _free_port()
        while d_port == ctld_port:
            d_port = _free_port()
        s = self.state_dir
        if not self.conf_path.parent.exists():
            self.conf_path.parent.mkdir(parents=True)
            self._created_conf_dir = True
        if self.conf_path.exists() and not self._wrote_conf:
            shutil.copy2(self.conf_path, self._conf_backup)
        self._wrote_conf = True
        self.conf_path.write_text("\n".join([
            "ClusterName=testcluster",
            "SlurmctldHost=localhost",
            f"SlurmctldPort={ctld_port}",
            f"SlurmdPort={d_port}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CryptoType=crypto/munge",
            "MpiDefault=none",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            # Memory requests enforced as on a real cluster: the job's processes are
            # sampled every second and a step over its --mem is killed (OUT_OF_MEMORY).
            "JobAcctGatherType=jobacct_gather/linux",
            "JobAcctGatherFrequency=task=1",
            "JobAcctGatherParams=OverMemoryKill",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "SchedulerType=sched/backfill",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "ReturnToService=2",
            # Finished jobs must stay visible to squeue (the only status source without
            # accounting) for much longer than Snakemake's polling interval.
            "MinJobAge=300",
            f"StateSaveLocation={s}/ctld",
            f"SlurmdSpoolDir={s}/d",
            f"SlurmctldPidFile={s}/slurmctld.pid",
            f"SlurmdPidFile={s}/slurmd.pid",
            f"SlurmctldLogFile={s}/log/slurmctld.log",
            f"SlurmdLogFile={s}/log/slurmd.log",
            f"PlugStackConfig={s}/plugstack.conf",
            f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} "
            f"RealMemory={self.memory_mb} State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
            "",
        ]))
        (s / "plugstack.conf").write_text("")

    # ------------------------------------------------------------- processes
    def _run(self, args: list[str], check: bool = True,
             timeout: float = HANG_GUARD_S):
        result = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise SlurmError(f"{' '.join(args)} failed ({result.returncode}): "
                             f"{result.stderr.strip() or result.stdout.strip()}")
        return result

    def _start_munge(self) -> None:
        pid = _read_pid(MUNGE_PID_FILE)
        if pid is not None and _pid_alive(pid) and MUNGE_SOCKET.exists():
            return  # someone else's munged; leave it running
        MUNGE_PID_FILE.parent.mkdir(parents=True, exist_ok=True)
        shutil.chown(MUNGE_PID_FILE.parent, user="munge", group="munge")
        self._run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"])
        self._started_munge = True
        self._wait(lambda: MUNGE_SOCKET.exists(), HANG_GUARD_S, "munged socket")

    def _wait(self, predicate, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.2)
        raise SlurmError(f"timed out after {timeout_s:.0f} s waiting for {what}; logs in "
                         f"{self.state_dir / 'log'}")

    def node_state(self) -> str:
        """State of node ``localhost`` as sinfo prints it (``idle``, ``mix``, ``alloc`` …)."""
        result = self._run(["sinfo", "-h", "-n", "localhost", "-o", "%t"], check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    def start(self, timeout_s: float = HANG_GUARD_S) -> "SlurmCluster":
        """Write the config, start munged (if needed), slurmctld and slurmd; wait for idle."""
        ensure_installed()
        self.write_config()
        self._start_munge()
        self._run(["/usr/sbin/slurmctld"])
        self._run(["/usr/sbin/slurmd", "-N", "localhost"])
        self._wait(lambda: self.node_state() == "idle", timeout_s, "node localhost to be idle")
        return self

    def cancel_all_jobs(self) -> None:
        """Cancel every job of this cluster's partition (all of them belong to the tests)."""
        self._run(["scancel", "--partition", PARTITION], check=False)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Cancel remaining jobs, stop the daemons this object started (by PID) and put
        back the slurm.conf found at start."""
        if self._wrote_conf:
            self.cancel_all_jobs()
        pids = [_read_pid(path) for path in self._pid_files.values()]
        if self._started_munge:
            pids.append(_read_pid(MUNGE_PID_FILE))
        pids = [pid for pid in pids if pid is not None]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout_s
        while any(_pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in pids:
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._started_munge = False
        if self._wrote_conf:
            if self._conf_backup.exists():
                shutil.move(self._conf_backup, self.conf_path)
            else:
                self.conf_path.unlink(missing_ok=True)
            self._wrote_conf = False
        if self._created_conf_dir:   # leave /etc as it was found
            shutil.rmtree(self.conf_path.parent, ignore_errors=True)
            self._created_conf_dir = False

    def __enter__(self) -> "SlurmCluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
