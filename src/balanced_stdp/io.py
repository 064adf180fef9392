"""Reading and writing run datasets safely (netCDF4 via xarray).

A dataset is written to a temporary file in the destination directory, a
completeness attribute ``complete = "true"`` is added *after* all data are on
disk, the file is flushed and only then renamed into place. A reader therefore
never sees a file that looks complete but is not: an interrupted write leaves at
most a hidden ``.NAME.tmp-*`` file (removed by the next write of that path), and
:func:`open_run` refuses any file without the marker or that HDF5 cannot read.
"""

from __future__ import annotations

import glob
import os
import secrets
from pathlib import Path
from typing import Callable

import netCDF4
import numpy as np
import xarray as xr

COMPLETE_ATTRIBUTE = "complete"

# Allow readers while another process writes (shared filesystems, Snakemake).
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")


class IncompleteRunError(RuntimeError):
    """A dataset file is missing, half-written or corrupt."""


def _encoding(ds: xr.Dataset) -> dict:
    encoding = {}
    for name, var in ds.variables.items():
        if var.dtype.kind in "fiu" and var.size > 1000:
            encoding[name] = {"zlib": True, "complevel": 4}
        if var.dtype.kind == "O" or var.dtype.kind == "U":
            encoding[name] = {"dtype": str}
    return encoding


def refuse_existing(path: str | Path, overwrite: bool = False) -> None:
    """Raise FileExistsError if ``path`` exists and ``overwrite`` is false."""
    if Path(path).exists() and not overwrite:
        raise FileExistsError(f"{path} exists; refusing to overwrite it (use --overwrite)")


TEMPORARY_MARKER = ".tmp-"


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

    The one way outputs are written (datasets and figures): a reader never sees a
    half-written file, an interrupted write leaves only a hidden temporary file
    (removed by the next write of the same path, see :func:`remove_stale_temporaries`),
    and an existing ``path`` is never replaced unless ``overwrite``.

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
    clean = ds.copy()
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


def open_run(path: str | Path, load: bool = True) -> xr.Dataset:
    """Open a run (or theory) dataset, refusing incomplete or corrupt files.

    Raises
    ------
    IncompleteRunError
        If the file does not exist, cannot be read as netCDF, or lacks the
        ``complete`` marker (interrupted write).
    """
    path = Path(path)
    if not path.exists():
        raise IncompleteRunError(f"{path}: no such file")
    if not is_complete(path):
        raise IncompleteRunError(f"{path}: incomplete or corrupt netCDF (no '{COMPLETE_ATTRIBUTE}' "
                                 "marker); delete it and rerun that simulation")
    try:
        ds = xr.open_dataset(path, engine="netcdf4")
        if load:
            ds = ds.load()
            ds.close()
    except (OSError, RuntimeError, ValueError) as exc:
        raise IncompleteRunError(f"{path}: unreadable netCDF ({exc})") from exc
    for name in ("diverged",):
        if name in ds and ds[name].dtype != np.int8:
            ds[name] = ds[name].astype(np.int8)
    return ds
