"""Reading and writing datasets safely (runs, theory, aggregates; netCDF4 via xarray).

A dataset is written to a temporary file in the destination directory, a
completeness attribute ``complete = "true"`` is added *after* all data are on
disk, the file is flushed and only then renamed into place. A reader therefore
never sees a file that looks complete but is not: an interrupted write leaves at
most a hidden ``.NAME.tmp-*`` file (removed by the next write of that path), and
:func:`open_dataset` refuses any file without the marker or that HDF5 cannot read.

Every array variable carries HDF5's Fletcher-32 checksum, so content damaged after
the write (a flipped disk block, a bad copy) fails on read instead of returning
wrong numbers; :func:`open_dataset` also checks that a file is the kind of dataset
(run or theory) and has the variables its consumer needs.
"""

from __future__ import annotations

import errno
import glob
import os
import secrets
from pathlib import Path
from typing import Callable

# HDF5 reads this once, when netCDF4 loads it: allow readers while another process
# writes (shared filesystems, Snakemake), unless the user chose otherwise.
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

import netCDF4  # noqa: E402 (after the HDF5 setting above)
import numpy as np
import xarray as xr

from .contract import RUN_KIND, THEORY_KIND

COMPLETE_ATTRIBUTE = "complete"

KIND_ATTRIBUTE = "kind"
LEGACY_KIND_BY_TITLE = {"balanced-stdp simulation run": RUN_KIND,
                        "balanced-stdp mean-field theory prediction": THEORY_KIND}
"""Kind of files written before the ``kind`` attribute existed, from their ``title``."""



class IncompleteDatasetError(RuntimeError):
    """A dataset file is missing, half-written, corrupt or not what the reader needs."""


class OutputPathError(OSError):
    """An output path cannot be written (checked before any work is done)."""


class OutputWriteError(OutputPathError):
    """Writing an output failed part-way (disk full, quota, I/O error, termination); the
    message names the file and the cause in one line, and no partial file is left."""


LOW_SPACE_BYTES = 1 << 20
"""Free space below which a failed write is reported as a full disk (or quota)."""


def _free_bytes(directory: Path) -> int | None:
    try:
        stats = os.statvfs(directory)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize


def write_failure(path: Path, error: BaseException) -> OutputWriteError:
    """The one-line error of a failed write of ``path``: the cause, and the free space
    where the file was going (HDF5 reports a full disk only as "NetCDF: HDF error")."""
    free = _free_bytes(path.parent)
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        cause = error.strerror or "no space left on device"
    elif free is not None and free < LOW_SPACE_BYTES:
        cause = "no space left on the device (or the quota is exhausted)"
    elif isinstance(error, OSError) and error.strerror:
        cause = error.strerror
    else:
        cause = str(error) or type(error).__name__
    where = f"; {free / 1e6:.1f} MB free in {path.parent}" if free is not None else ""
    return OutputWriteError(f"{path}: not written: {cause}{where}; no partial file was left, "
                            "rerun once the cause is fixed")


def _encoding(ds: xr.Dataset) -> dict:
    """netCDF4 encoding: Fletcher-32 checksums everywhere, compression for large arrays.

    HDF5 applies the checksum per chunk of every array variable, numeric or string (for
    variable-length strings it covers the stored references, not the text). Scalars are
    stored contiguously, where HDF5 has no filters; every variable of a run or theory
    dataset has the swept dimensions, so none is scalar there.
    """
    encoding = {}
    for name, var in ds.variables.items():
        encoding[name] = {"fletcher32": True}
        if var.dtype.kind in "fiu" and var.size > 1000:
            encoding[name].update(zlib=True, complevel=4)
        if var.dtype.kind == "O" or var.dtype.kind == "U":
            encoding[name]["dtype"] = str
    return encoding


def refuse_existing(path: str | Path, overwrite: bool = False) -> None:
    """Raise FileExistsError if ``path`` exists and ``overwrite`` is false."""
    # os.path.lexists: a dangling symlink counts as existing, and an unusable name (too
    # long, parent a file) is not an error here; check_writable reports it.
    if os.path.lexists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; refusing to overwrite it (use --overwrite)")


TEMPORARY_MARKER = ".tmp-"


def check_writable(path: str | Path) -> None:
    """Make sure ``path`` can be written, before hours are spent computing its content.

    Creates the parent directory if needed, then creates and removes a temporary file
    beside ``path`` (the same kind of name :func:`write_atomic` writes first, so a name
    too long for the filesystem is caught too).

    Raises
    ------
    OutputPathError
        If ``path`` is a directory, its parent cannot be created (e.g. a parent is a
        file) or no file can be created there (permissions, read-only filesystem,
        name too long); the message names the path.
    """
    path = Path(path)
    if os.path.isdir(path):
        raise OutputPathError(f"{path}: is a directory; give a file name for the output")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = _temporary_path(path)
        with open(probe, "xb"):
            pass
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        blocking = next((parent for parent in path.parents
                         if parent.exists() and not parent.is_dir()), None)
        if blocking is not None:        # mkdir says only "File exists" or "Not a directory"
            reason = f"{blocking} is a file, not a directory"
        raise OutputPathError(f"{path}: cannot write the output there ({reason})") from None


def _temporary_path(path: Path) -> Path:
    """Hidden temporary name next to ``path``, unique per process and call."""
    return path.with_name(f".{path.name}{TEMPORARY_MARKER}{os.getpid()}-{secrets.token_hex(4)}")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete temporary files of ``path`` left by writers that no longer run.

    A killed job leaves ``.NAME.tmp-PID-XXXX`` beside its output; the PID tells
    whether its writer is gone (a live writer's file is kept).
    """
    path = Path(path)
    removed = []
    for stale in path.parent.glob(f".{glob.escape(path.name)}{TEMPORARY_MARKER}*"):
        pid = stale.name.rsplit(TEMPORARY_MARKER, 1)[1].split("-", 1)[0]
        if not pid.isdigit() or not _process_alive(int(pid)):
            stale.unlink(missing_ok=True)
            removed.append(stale)
    return removed


def write_atomic(path: str | Path, write: Callable[[Path], None], overwrite: bool = False) -> Path:
    """Write a file atomically: ``write(temporary)``, then rename it to ``path``.

    The one way outputs are written (datasets, figures, tables, archives): a reader never
    sees a half-written file, a failed write (a full disk, an exhausted quota, an I/O error,
    SIGTERM turned into an exception by :mod:`balanced_stdp.job`) removes its temporary
    file and raises :class:`OutputWriteError` naming the file and the cause; a process
    killed outright leaves only a hidden temporary file (removed by the next write of the
    same path, see :func:`remove_stale_temporaries`); and an existing ``path`` is never
    replaced unless ``overwrite``.

    Parameters
    ----------
    path : str or Path
        Destination; its directory is created if needed.
    write : callable
        Writes the complete content to the temporary path it is given.
    overwrite : bool
        Replace an existing file.
    """
    path = Path(path)
    refuse_existing(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = _temporary_path(path)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as error:       # netCDF4 raises RuntimeError for HDF5
        if isinstance(error, OutputPathError):
            raise
        raise write_failure(path, error) from error
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_dataset_atomic(ds: xr.Dataset, path: str | Path, overwrite: bool = False) -> Path:
    """Write ``ds`` to ``path`` atomically, with the completeness marker written last.

    Parameters
    ----------
    ds : xarray.Dataset
        Dataset to write (netcdf4 engine).
    path : str or Path
        Destination. Its directory is created if needed.
    overwrite : bool
        Refuse to replace an existing file unless true, so nothing already
        computed is silently lost.

    Returns
    -------
    Path
        The final path.
    """
    # Encodings read from input files (e.g. int32 of a run's raster_neuron) would cast
    # the NaN an outer join pads with to -2**31 on writing; each variable is written as
    # the type it has now, so padded values stay missing.
    clean = ds.drop_encoding()
    clean.attrs = {k: v for k, v in ds.attrs.items() if k != COMPLETE_ATTRIBUTE}

    def write(tmp: Path) -> None:
        clean.to_netcdf(tmp, engine="netcdf4", encoding=_encoding(clean))
        with netCDF4.Dataset(tmp, "a") as handle:   # the marker goes in last
            handle.setncattr(COMPLETE_ATTRIBUTE, "true")

    return write_atomic(path, write, overwrite)


def is_complete(path: str | Path) -> bool:
    """True if ``path`` is a readable netCDF file carrying the completeness marker."""
    try:
        with netCDF4.Dataset(path, "r") as handle:
            return getattr(handle, COMPLETE_ATTRIBUTE, None) == "true"
    except (OSError, RuntimeError):
        return False


def dataset_kind(attrs: dict) -> str | None:
    """``"run"``, ``"theory"`` or None: the ``kind`` attribute, else inferred from the
    ``title`` of files written before ``kind`` existed."""
    kind = attrs.get(KIND_ATTRIBUTE)
    if kind is None:
        kind = LEGACY_KIND_BY_TITLE.get(attrs.get("title"))
    return kind


def open_dataset(path: str | Path, load: bool = True, *, kind: str | None = None,
                 require: tuple[str, ...] | list[str] = ()) -> xr.Dataset:
    """Open a run, theory or aggregate dataset, refusing incomplete, corrupt or unsuitable
    files.

    Parameters
    ----------
    path : str or Path
        The netCDF file.
    load : bool
        Read all data now (and close the file). Checksums are verified as data are
        read, so only a loaded dataset is known to be intact.
    kind : {"run", "theory"}, optional
        Refuse a file of another kind (``kind`` attribute, or the ``title`` of older
        files); None accepts any.
    require : sequence of str
        Variables (or coordinates) the caller needs; a file lacking any is refused.

    Raises
    ------
    IncompleteDatasetError
        If the file does not exist, cannot be read as netCDF, lacks the ``complete``
        marker (interrupted write), fails a checksum (damaged after writing), is not
        of the requested ``kind`` or lacks a required variable. The message names the
        file, what was expected and what was found.
    """
    path = Path(path)
    if not path.exists():
        raise IncompleteDatasetError(f"{path}: no such file")
    if path.is_dir():
        raise IncompleteDatasetError(f"{path}: is a directory, not a netCDF file")
    if not is_complete(path):
        raise IncompleteDatasetError(f"{path}: incomplete or corrupt netCDF (no "
                                     f"'{COMPLETE_ATTRIBUTE}' marker); delete it and rerun "
                                     "that simulation")
    try:
        ds = xr.open_dataset(path, engine="netcdf4")
    except (OSError, RuntimeError, ValueError) as exc:
        raise IncompleteDatasetError(f"{path}: unreadable netCDF ({exc})") from exc
    # Kind and variables are checked before loading: a wrong file fails fast.
    found_kind = dataset_kind(ds.attrs)
    if kind is not None and found_kind != kind:
        ds.close()
        raise IncompleteDatasetError(f"{path}: expected a {kind} dataset, found "
                                     f"{found_kind or 'an unknown kind'} (kind = "
                                     f"{ds.attrs.get(KIND_ATTRIBUTE)!r}, title = "
                                     f"{ds.attrs.get('title')!r})")
    missing = [name for name in require if name not in ds.variables]
    if missing:
        found = ", ".join(sorted(str(name) for name in ds.data_vars)) or "none"
        ds.close()
        raise IncompleteDatasetError(f"{path}: lacks the variable(s) {', '.join(missing)} that are "
                                     f"needed here; data variables found: {found}")
    if load:
        try:
            ds = ds.load()
        except (OSError, RuntimeError, ValueError) as exc:
            # HDF5 reports a failed Fletcher-32 checksum or a broken compressed chunk here.
            raise IncompleteDatasetError(f"{path}: corrupt netCDF, its data fail to read "
                                         f"(checksum or decompression error: {exc}); delete it and "
                                         "rerun what produced it") from exc
        finally:
            ds.close()
    for name in ("diverged",):
        if name in ds and ds[name].dtype != np.int8:
            ds[name] = ds[name].astype(np.int8)
    return ds
