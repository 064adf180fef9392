"""Compare every run.nc under two result directories: data and coordinates must be identical.

Usage::

    python benchmarks/compare_runs.py BASE_DIR NEW_DIR

Files are matched by their path relative to each directory. Data variables and
coordinates (values, dtypes, dimensions) are compared exactly — NaN equals NaN,
no tolerance. Global attributes are not compared for equality (timings, git
revision and software versions differ between runs) but keys missing from the
new file are reported. The stored run config may gain keys (a new config key with its
default); that is reported as a note, any other change of the config is a difference.
Prints OK/DIFF per file; exits non-zero on any difference or on a file present in only
one directory.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import xarray as xr

# Attributes that legitimately differ between two runs of the same config.
VOLATILE_ATTRS = {"wall_time_s", "setup_time_s", "kernel_time_s", "kernel_cpu_time_s",
                  "git_revision"}


def differences(base: xr.Dataset, new: xr.Dataset) -> list[str]:
    """Human-readable differences between two run datasets (empty: identical)."""
    problems = []
    try:
        xr.testing.assert_identical(base.drop_attrs(deep=False), new.drop_attrs(deep=False))
    except AssertionError as error:
        problems.append(str(error))
    missing = sorted(set(base.attrs) - set(new.attrs))
    if missing:
        problems.append(f"global attributes missing in new: {missing}")
    changed = sorted(k for k in set(base.attrs) & set(new.attrs) - VOLATILE_ATTRS
                     if str(base.attrs[k]) != str(new.attrs[k]))
    if "config" in changed and not config_changes(base.attrs["config"], new.attrs["config"]):
        changed.remove("config")
    if changed:
        problems.append(f"global attributes changed: {changed}")
    return problems


def config_changes(base_json: str, new_json: str) -> list[str]:
    """Keys of the stored run config whose value differs (keys only in new are not)."""
    base, new = json.loads(base_json), json.loads(new_json)
    return sorted(k for k in base if k not in new or base[k] != new[k])


def added_config_keys(base: xr.Dataset, new: xr.Dataset) -> list[str]:
    """Run-config keys present in new only (new keys stored with their defaults)."""
    if "config" not in base.attrs or "config" not in new.attrs:
        return []
    return sorted(set(json.loads(new.attrs["config"])) - set(json.loads(base.attrs["config"])))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    base_dir, new_dir = (Path(a) for a in argv)
    base_files = {p.relative_to(base_dir) for p in base_dir.rglob("run.nc")}
    new_files = {p.relative_to(new_dir) for p in new_dir.rglob("run.nc")}
    failed = False
    for rel in sorted(base_files | new_files):
        if rel not in new_files or rel not in base_files:
            print(f"MISSING {rel} (only in {'base' if rel in base_files else 'new'})")
            failed = True
            continue
        with xr.open_dataset(base_dir / rel) as base, xr.open_dataset(new_dir / rel) as new:
            problems = differences(base.load(), new.load())
            added = added_config_keys(base, new)
        print(f"{'DIFF' if problems else 'OK  '} {rel}"
              + (f" (note: config keys added in new: {', '.join(added)})" if added else ""))
        for problem in problems:
            print("    " + problem.replace("\n", "\n    "))
        failed |= bool(problems)
    if not base_files:
        print(f"no run.nc under {base_dir}")
        failed = True
    print(f"{len(base_files & new_files)} files compared: "
          f"{'DIFFERENCES FOUND' if failed else 'all identical'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
