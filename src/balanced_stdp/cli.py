"""Command line: ``balanced-stdp simulate | theory | compile | config-keys``.

Errors in the user's input are reported as one line on stderr naming the key,
with exit code 2, and no output file is written.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import __version__
from .config import ConfigError, load_config


def _add_config_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("config", nargs=None if required else "?",
                        help="run config (YAML); see README for the keys")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a config value; dotted keys for nested values, e.g. "
                             "--set plasticity.ee.eta=1e-3 (repeatable)")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="balanced-stdp",
        description="Plastic balanced EIF networks under STDP (Akil, Rosenbaum & Josić 2021).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="run one simulation and write its netCDF dataset")
    _add_config_arguments(sim)
    sim.add_argument("--out", required=True, type=Path, help="output netCDF file")
    sim.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    sim.add_argument("--quiet", action="store_true", help="no progress output")

    theory = sub.add_parser("theory", help="mean-field predictions as a netCDF dataset")
    _add_config_arguments(theory, required=False)
    theory.add_argument("--from-simulation", type=Path, metavar="RUN.nc",
                        help="Δ-corrected predictions for a finished run (instead of CONFIG)")
    theory.add_argument("--out", required=True, type=Path, help="output netCDF file")
    theory.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    compile_ = sub.add_parser("compile", help="compile the numba kernel once (fills the cache)")
    compile_.add_argument("--quiet", action="store_true")

    sub.add_parser("config-keys", help="print the run-config key reference (Markdown)")
    return parser


def _fail(message: str) -> int:
    print(f"balanced-stdp: error: {message}", file=sys.stderr)
    return 2


def _simulate(args) -> int:
    from .io import refuse_existing, write_dataset_atomic
    from .simulation import simulate

    config = load_config(args.config, args.overrides)
    refuse_existing(args.out, args.overwrite)     # before spending the simulation time
    ds = simulate(config, progress=not args.quiet)
    write_dataset_atomic(ds, args.out, overwrite=args.overwrite)
    status = ds.attrs["status"]
    if not args.quiet:
        print(f"[balanced-stdp] wrote {args.out} (status: {status}, wall "
              f"{ds.attrs['wall_time_s']:.1f} s)", file=sys.stderr)
    return 0


def _theory(args) -> int:
    from . import theory
    from .io import open_run, refuse_existing, write_dataset_atomic

    refuse_existing(args.out, args.overwrite)
    if args.from_simulation is not None:
        if args.config is not None or args.overrides:
            raise ConfigError("--from-simulation takes its config from the run; give no CONFIG "
                              "or --set")
        ds = theory.predict_from_simulation(open_run(args.from_simulation))
    else:
        if args.config is None:
            raise ConfigError("theory needs CONFIG or --from-simulation RUN.nc")
        ds = theory.predict(load_config(args.config, args.overrides))
    write_dataset_atomic(ds, args.out, overwrite=args.overwrite)
    return 0


def _compile(args) -> int:
    from .simulation import simulate

    simulate({"N": 100, "duration_s": 0.2, "recording": {"interval_s": 0.1},
              "plasticity": {"ee": {"rule": "kohonen"}, "ei": {"rule": "istdp"}}},
             progress=False)
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``balanced-stdp`` console script."""
    logging.basicConfig(level=logging.WARNING, format="[balanced-stdp] %(levelname)s: %(message)s")
    args = _build_parser().parse_args(argv)
    handler = {"simulate": _simulate, "theory": _theory, "compile": _compile,
               "config-keys": _config_keys}[args.command]
    try:
        return handler(args)
    except ConfigError as exc:
        return _fail(str(exc))
    except FileExistsError as exc:
        return _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - surface known data errors as one line
        from .io import IncompleteRunError
        from .theory import NoBalancedStateError
        if isinstance(exc, (IncompleteRunError, NoBalancedStateError)):
            return _fail(str(exc))
        raise


if __name__ == "__main__":
    sys.exit(main())
