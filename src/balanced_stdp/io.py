"""Reading and writing run datasets safely (netCDF4 via xarray).

A dataset is written to a temporary file in the destination directory, a
completeness attribute ``complete = "true"`` is added *after* all data are on
disk, the file is flushed and only then renamed into place. A reader therefore
never sees a file that looks complete but is not: an interrupted write leaves at
most a ``*.tmp-*`` file (ignored by every reader and by Snakemake), and
:func:`open_run` refuses any file without the marker or that HDF5 cannot read.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

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
    path = Path(path)
    refuse_existing(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".tmp-", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        clean = ds.copy()
        clean.attrs = {k: v for k, v in ds.attrs.items() if k != COMPLETE_ATTRIBUTE}
        clean.to_netcdf(tmp, engine="netcdf4", encoding=_encoding(clean))
        with netCDF4.Dataset(tmp, "a") as handle:   # the marker goes in last
            handle.setncattr(COMPLETE_ATTRIBUTE, "true")
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        # mkstemp creates 0600 files; give results the usual umask-based mode so other
        # users of a shared cluster filesystem can read them
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o666 & ~umask)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


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
