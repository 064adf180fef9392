"""Command line: ``balanced-stdp simulate | theory | compile | config-keys | archive-verify``.

Errors in the user's input (a bad config key or value, an output path that cannot
be written, an input file that is incomplete, corrupt or of the wrong kind) are
reported as one line on stderr naming the key or file, with exit code 2, before
any work is done; no output file is written and no existing file is replaced.

A simulation stopped by the divergence guard is a *result*, not an error: its
dataset is written with ``status = "diverged"`` and the time and reason, a warning
is printed, and ``simulate`` exits 0 (a study records where a rule loses balance).
Only ``theory --from-simulation`` refuses such a run, as its Δ correction needs
the steady state the run never reached.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

from . import __version__
from .config import ConfigAdjustedWarning, ConfigError, load_config, resolve_config

DELTA_CORRECTION_INPUTS = ("mean_weight", "neuron_rate", "neuron_mean_input",
                           "neuron_population", "final_weight_rate_cov", "sampled_weight",
                           "sampled_pre_neuron", "sampled_post_neuron")
"""Run variables ``theory --from-simulation`` reads (theory.measured_corrections,
theory.prediction)."""

SIMULATE_EPILOG = ("A run stopped by the divergence guard (runaway rates) is a result, not an "
                   "error: it is written with status 'diverged', the time and the reason, a "
                   "warning is printed and the exit code is 0. Exit code 2: bad input (config, "
                   "output path), reported before simulating.")


class UsageError(Exception):
    """A command line argparse cannot parse (unknown option, missing argument, …)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one ``balanced-stdp: error:`` line (exit code 2)
    like every other bad input, instead of the usage text and a second line."""

    def error(self, message):
        command = self.prog.removeprefix("balanced-stdp").strip()
        where = f"{command}: " if command else ""
        raise UsageError(f"{where}{message} (see {self.prog} --help)")


def _add_config_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("config", nargs=None if required else "?",
                        help="run config (YAML); see README for the keys")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a config value; dotted keys for nested values, e.g. "
                             "--set plasticity.ee.eta=1e-3 (repeatable)")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="balanced-stdp",
        description="Plastic balanced EIF networks under STDP (Akil, Rosenbaum & Josić 2021).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="run one simulation and write its netCDF dataset",
                         epilog=SIMULATE_EPILOG)
    _add_config_arguments(sim)
    sim.add_argument("--out", required=True, type=Path, help="output netCDF file")
    sim.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    sim.add_argument("--quiet", action="store_true", help="no progress output")

    theory = sub.add_parser(
        "theory", help="mean-field predictions as a netCDF dataset",
        epilog="Prints a summary (theory order, balanced rates, fixed point, stability, "
               "relaxation time) on stdout. Refuses what simulate refuses, and a diverged run "
               "for --from-simulation. --finite-size and --from-simulation exclude each other: "
               "the finite-size theory is computed from CONFIG alone, never fitted to a run.")
    _add_config_arguments(theory, required=False)
    theory.add_argument("--from-simulation", type=Path, metavar="RUN.nc",
                        help="Δ-corrected predictions for a finished run (instead of CONFIG)")
    theory.add_argument("--finite-size", action="store_true",
                        help="the finite-size (second-order) theory of CONFIG: the leading-order "
                             "variables plus rate and final-weight quantiles")
    theory.add_argument("--out", required=True, type=Path, help="output netCDF file")
    theory.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    compile_ = sub.add_parser("compile", help="compile the numba kernel once (fills the cache)")
    compile_.add_argument("--quiet", action="store_true")

    sub.add_parser("config-keys", help="print the run-config key reference (Markdown)")

    verify = sub.add_parser(
        "archive-verify", help="check a results archive (snakemake archive) before using it",
        epilog="Checks the format, the data-contract version and every member's SHA-256 "
               "checksum, and prints what the archive holds. Whether it fits a study is "
               "checked by the workflow (snakemake --config archive=PATH).")
    verify.add_argument("archive", type=Path, help="results archive (.tar.gz)")
    return parser


def _fail(message: str) -> int:
    print(f"balanced-stdp: error: {message}", file=sys.stderr)
    return 2


def _simulate(args) -> int:
    from .io import check_writable, refuse_existing, write_dataset_atomic
    from .simulation import simulate

    config = load_config(args.config, args.overrides)
    # Everything that can fail on the output path fails before the simulation time is spent.
    refuse_existing(args.out, args.overwrite)
    check_writable(args.out)
    ds = simulate(config, progress=not args.quiet)
    write_dataset_atomic(ds, args.out, overwrite=args.overwrite)
    status = ds.attrs["status"]
    if not args.quiet:
        print(f"[balanced-stdp] wrote {args.out} (status: {status}, wall "
              f"{ds.attrs['wall_time_s']:.1f} s)", file=sys.stderr)
    return 0     # a diverged run is a result (see SIMULATE_EPILOG), not a failure


def _run_for_delta_correction(path: Path):
    """The finished, non-diverged run at ``path`` with a valid stored config."""
    from .contract import RUN_KIND
    from .io import open_dataset

    run = open_dataset(path, kind=RUN_KIND, require=DELTA_CORRECTION_INPUTS)
    if "config" not in run.attrs:
        raise ConfigError(f"{path}: has no 'config' attribute; not a balanced-stdp run")
    try:
        # The stored config must pass today's checks too, with the same message
        # simulate would give, prefixed by the file it came from.
        resolve_config(json.loads(run.attrs["config"]))
    except ConfigError as exc:
        raise ConfigError(f"{path}: stored config: {exc}") from None
    from .theory import DivergedRunError, check_converged
    try:
        check_converged(run)
    except DivergedRunError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return run


THEORY_ORDER_NAMES = {"finite_size": "finite-size theory", "leading_order": "leading order",
                      "delta_corrected": "Delta-corrected (spec 6.6)"}
"""Printed name of each ``theory_order`` attribute value (others are printed as they are)."""


def _theory_summary(ds) -> str:
    """A few lines with the prediction's headline numbers (populations E, I, …)."""
    import numpy as np

    squeezed = ds.squeeze()

    def rates(name):
        values = squeezed[name]
        return ", ".join(f"{p} {float(values.sel(population=p)):.2f}"
                         for p in values["population"].values) + " Hz"

    plastic = [b for b in ds.attrs.get("plastic_blocks", "none").split(",") if b != "none"]
    weights = ", ".join(f"j_{b}* = {float(squeezed['fixed_point_weight'].sel(synapse=b)):.3f}"
                        for b in plastic) + " mV" if plastic else "no plastic synapses"
    relaxation = float(squeezed["relaxation_time_s"])
    relaxation_text = (f"{relaxation:.3g} s" if np.isfinite(relaxation)
                       else "none (no stable fixed point)")
    order = THEORY_ORDER_NAMES.get(ds.attrs.get("theory_order", "leading order"),
                                   ds.attrs.get("theory_order"))
    lines = [f"theory ({order}), rule "
             f"{ds.attrs.get('rule')}, c = {float(squeezed['c']):g}",
             f"  balanced rates at the initial weights: {rates('balanced_rate')}",
             f"  fixed point: {weights}; rates {rates('fixed_point_rate')}",
             f"  stability: {squeezed['stability'].item()}; relaxation time {relaxation_text}"]
    if "fixed_point_rate_laser_on" in ds:
        lines.append(f"  fixed point while X2 is on: rates {rates('fixed_point_rate_laser_on')}"
                     f" ({squeezed['stability_laser_on'].item()})")
    if "rate_quantile" in ds:
        quantiles = squeezed["rate_quantile"]
        for p in quantiles["population"].values:
            values = ", ".join(f"{float(q):g}: {float(v):.2f}" for q, v in zip(
                quantiles["quantile"].values, quantiles.sel(population=p).values))
            lines.append(f"  rate quantiles {p} (Hz): {values}")
    lost = float(squeezed["balance_lost_at_s"])
    if np.isfinite(lost):
        lines.append(f"  the mean-field trajectory loses balance at t = {lost:g} s")
    return "\n".join(lines)


def _theory(args) -> int:
    from . import theory
    from .io import check_writable, refuse_existing, write_dataset_atomic

    if args.finite_size and args.from_simulation is not None:
        raise ConfigError("--finite-size and --from-simulation exclude each other: the "
                          "finite-size theory is computed from CONFIG alone (give CONFIG)")
    if args.from_simulation is not None:
        if args.config is not None or args.overrides:
            raise ConfigError("--from-simulation takes its config from the run; give no CONFIG "
                              "or --set")
        config = None
    else:
        if args.config is None:
            raise ConfigError("theory needs CONFIG or --from-simulation RUN.nc")
        # The same resolve_config as simulate: theory refuses what simulate refuses.
        config = load_config(args.config, args.overrides)
    refuse_existing(args.out, args.overwrite)
    check_writable(args.out)
    if config is None:
        ds = theory.predict_from_simulation(_run_for_delta_correction(args.from_simulation))
    elif args.finite_size:
        from .theory.finite_size_prediction import predict_finite_size_point
        ds = predict_finite_size_point(config)
    else:
        ds = theory.predict(config)
        theory.check_ever_balanced(config, ds)
    write_dataset_atomic(ds, args.out, overwrite=args.overwrite)
    print(_theory_summary(ds))
    print(f"wrote {args.out}")
    return 0


COMPILE_CONFIG = {"N": 100, "duration_s": 0.2,
                  "recording": {"interval_s": 0.1, "covariance_window_s": 0.05},
                  "plasticity": {"ee": {"rule": "kohonen"}, "ei": {"rule": "istdp"}}}
"""A tiny run exercising every kernel branch (two covariance windows fit in its 0.1 s)."""


def _compile(args) -> int:
    from .simulation import simulate

    simulate(COMPILE_CONFIG, progress=False)
    if not args.quiet:
        print("[balanced-stdp] numba kernel compiled and cached", file=sys.stderr)
    return 0


def _config_keys(args) -> int:
    from .config import describe_fields
    from .plasticity import RULES

    print("| key | default | meaning |\n|---|---|---|")
    for key, default, doc in describe_fields():
        print(f"| `{key}` | `{default}` | {doc} |")
    print("\n| rule | synapse types | parameters (defaults) | description |\n|---|---|---|---|")
    for name, spec in RULES.items():
        params = ", ".join(f"`{k}`={v}" for k, v in spec.defaults.items())
        print(f"| `{name}` | {', '.join(spec.synapses)} | {params} | {spec.doc} |")
    return 0


def _archive_verify(args) -> int:
    from .archive import ArchiveRefused, check_format, verify_archive

    try:
        manifest = verify_archive(args.archive)
        check_format(args.archive, manifest)
    except ArchiveRefused as exc:
        return _fail(str(exc))
    members = manifest["members"]
    size = sum(entry["bytes"] for entry in members.values())
    print(f"{args.archive}: {len(members)} files, {size / 1e6:.1f} MB unpacked, every checksum "
          f"verified; study fingerprint {manifest['study_fingerprint']}, results_dir "
          f"{manifest['results_dir']}; written {manifest['created_utc']} by balanced-stdp "
          f"{manifest['balanced_stdp_version']} (git {manifest['git_revision']}, data contract "
          f"{manifest['data_contract_version']})")
    return 0


def _show_config_warning(message, category, filename, lineno, file=None, line=None):
    """One line per config adjustment, like the other messages; other warnings as usual."""
    if issubclass(category, ConfigAdjustedWarning):
        print(f"[balanced-stdp] WARNING: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``balanced-stdp`` console script.

    Returns
    -------
    int
        0 on success, including a simulation stopped by the divergence guard (a
        result, written with ``status = "diverged"``); 2 on bad input, reported as
        one line on stderr before any work is done, or on an output that could not be
        written (disk full, quota: one line naming the file, no partial file left); 143
        after SIGTERM (one line; no partial file left).
    """
    from .io import IncompleteDatasetError, OutputPathError
    from .job import TERMINATED_EXIT_CODE, TERMINATED_MESSAGE, Terminated, terminate_on_sigterm

    logging.basicConfig(level=logging.WARNING, format="[balanced-stdp] %(levelname)s: %(message)s")
    try:
        args = _build_parser().parse_args(argv)
    except UsageError as exc:
        return _fail(str(exc))
    handler = {"simulate": _simulate, "theory": _theory, "compile": _compile,
               "config-keys": _config_keys, "archive-verify": _archive_verify}[args.command]
    try:
        with warnings.catch_warnings(), terminate_on_sigterm():
            warnings.showwarning = _show_config_warning
            return handler(args)
    except (ConfigError, FileExistsError, OutputPathError, IncompleteDatasetError) as exc:
        return _fail(str(exc))
    except Terminated:
        _fail(TERMINATED_MESSAGE)
        return TERMINATED_EXIT_CODE
    except Exception as exc:  # noqa: BLE001 - surface known data errors as one line
        from .theory import NoBalancedStateError
        if isinstance(exc, NoBalancedStateError):
            return _fail(str(exc))
        raise


if __name__ == "__main__":
    sys.exit(main())
