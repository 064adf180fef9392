"""A workflow job's process: its log, its one-line failures, and SIGTERM.

Every workflow script runs its body inside :func:`job_log`. On a cluster a job meets
faults no code path expects: the disk or the quota fills while it writes, or SLURM sends
SIGTERM at the time limit or on preemption. Both end the job with one line in its log
naming the file and the cause, leave no partial or temporary file (writes go through
:func:`balanced_stdp.io.write_atomic`, whose clean-up runs because SIGTERM is turned into
an exception), and a rerun of the same command resumes: Snakemake reruns the failed job,
finished outputs are kept.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import traceback

from .io import OutputWriteError

TERMINATED_EXIT_CODE = 128 + signal.SIGTERM


class Terminated(BaseException):
    """SIGTERM arrived (a BaseException, like KeyboardInterrupt: no ``except Exception``
    swallows it, every ``finally`` runs)."""


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def terminate_on_sigterm():
    """Within the block, SIGTERM raises :class:`Terminated` instead of killing the process."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


TERMINATED_MESSAGE = ("terminated by SIGTERM (a time limit or preemption); no partial file was "
                      "left, rerun to resume")


@contextlib.contextmanager
def job_log(path):
    """Run a workflow job's body with stdout and stderr in its log file ``path``.

    A failed write (:class:`~balanced_stdp.io.OutputWriteError`) or SIGTERM ends the job
    with one line in the log and a non-zero exit status (1, or 143 for SIGTERM); any other
    exception writes its traceback to the log and propagates.
    """
    with open(path, "w") as log:
        stdout, stderr = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = log
        try:
            with terminate_on_sigterm():
                yield log
        except OutputWriteError as error:
            print(f"error: {error}", flush=True)
            raise SystemExit(1) from None
        except Terminated:
            print(f"error: {TERMINATED_MESSAGE}", flush=True)
            raise SystemExit(TERMINATED_EXIT_CODE) from None
        except Exception:
            # the traceback belongs in the job's log too: the interpreter prints it only
            # after the streams are restored, i.e. where the scheduler may not keep it
            traceback.print_exc(file=log)
            log.flush()
            raise
        finally:
            sys.stdout, sys.stderr = stdout, stderr
