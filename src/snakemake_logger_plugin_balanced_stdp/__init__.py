"""Console logger of the balanced-stdp workflow: ``snakemake --logger balanced-stdp``.

The workflow's default profile selects it. Snakemake's own console output prints a
block per job and two scheduler lines per scheduling round — thousands of lines for
a study of a few hundred jobs. This handler keeps the console to what a user watches:

* the job statistics at the start;
* one line per finished simulation: progress count, experiment, grid point and the
  simulator's own closing words (status ``ok`` or ``diverged``, wall time), read from
  the job's log;
* a progress line at every further 10 % of the jobs;
* every error and warning in full (a failed job with its log, as ``--show-failed-logs``);
* Snakemake's closing messages ("Nothing to be done", "Complete log: …").

Everything else stays in Snakemake's log (``.snakemake/log/``) and the per-job logs
(``<results_dir>/logs/``). A dry run (``-n``) prints exactly what Snakemake prints.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from snakemake.logging import DefaultFormatter
from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent

__all__ = ["LogHandler"]

PROGRESS_STEP = 0.1
"""Fraction of the jobs between two progress lines (simulations always get one)."""

SIMULATION_RULE = "simulate"

DROPPED_MESSAGES = ("Select jobs to execute", "Execute ", "Building DAG", "Using shell",
                    "Provided cores", "Rules claiming more threads", "Assuming unrestricted",
                    "Conda environments", "host:", "Using workflow specific profile")
"""Scheduler and set-up chatter (INFO messages without an event) kept off the console."""


class LogHandler(LogHandlerBase):
    """Stream handler printing the summary lines described in the module docstring."""

    def __post_init__(self) -> None:
        settings = self.common_settings
        self.stream = sys.stdout if settings.stdout else sys.stderr
        self.snakemake_format = DefaultFormatter(settings.quiet, settings.show_failed_logs)
        self.jobs: dict[int, tuple[str, dict, list[str]]] = {}
        self.finished: tuple[str, dict, list[str]] | None = None
        self.next_progress = PROGRESS_STEP

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return False          # Snakemake's own filter (--quiet, …) still applies

    @property
    def has_formatter(self) -> bool:
        return True

    @property
    def needs_rulegraph(self) -> bool:
        return False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.line(record)
            if text:
                self.stream.write(text + "\n")
                self.stream.flush()
        except Exception:  # noqa: BLE001 - a logging error must not stop the workflow
            self.handleError(record)

    def line(self, record: logging.LogRecord) -> str | None:
        """The console text for ``record`` (None: nothing)."""
        event = getattr(record, "event", None)
        if self.common_settings.dryrun:
            return self.snakemake_format.format(record)
        if event == LogEvent.JOB_INFO:
            self.jobs[record.jobid] = (record.rule_name, dict(record.wildcards or {}),
                                       list(record.log or []))
            return None
        if event == LogEvent.JOB_FINISHED:
            job = self.jobs.pop(record.job_id, None)
            if job is not None and job[0] == SIMULATION_RULE:
                self.finished = job
            return None
        if event == LogEvent.PROGRESS:
            return self.progress(record.done, record.total)
        if event in (LogEvent.ERROR, LogEvent.JOB_ERROR, LogEvent.GROUP_ERROR,
                     LogEvent.RUN_INFO):
            return self.snakemake_format.format(record)
        if event is None:
            message = record.getMessage().strip()
            if record.levelno >= logging.WARNING:
                return message
            if message and not message.startswith(DROPPED_MESSAGES):
                return message
        return None

    def progress(self, done: int, total: int) -> str | None:
        count = f"[{done}/{total}]"
        if self.finished is not None:
            _, wildcards, logs = self.finished
            self.finished = None
            point = f"{wildcards.get('experiment', '?')} {wildcards.get('point', '')}".strip()
            return f"{count} simulated {point}: {_closing_words(logs)}"
        if done >= total or done >= self.next_progress * total:
            while self.next_progress * total <= done:
                self.next_progress += PROGRESS_STEP
            return f"{count} {100.0 * done / total:.0f}% of the jobs done"
        return None


def _closing_words(logs: list[str]) -> str:
    """The simulator's last line, '… (status: ok, wall 9.8 s)', reduced to its parenthesis."""
    try:
        last = Path(logs[0]).read_text().rstrip().rsplit("\n", 1)[-1]
    except (IndexError, OSError):
        return "finished"
    return last[last.find("(") + 1:].rstrip(")") if "(" in last else last
