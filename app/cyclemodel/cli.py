"""``mes cyclemodel ...``: fit parameter sets to rating data and show what the model expects.

``register_cli(subparsers)`` adds the ``cyclemodel`` command to the ``mes`` argparse tree; each leaf
sets ``func`` (called with the parsed namespace, returns an exit code). Also runnable on its own:
``python -m app.cyclemodel.cli fit``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cyclemodel.fitting import fit_product, parameters_within_bounds
from app.cyclemodel.paramsets import PARAMS_DIR, save
from app.cyclemodel.products import DEMO_PRODUCTS


def _fit(args: argparse.Namespace) -> int:
    codes = args.model_codes or sorted(DEMO_PRODUCTS)
    unknown = [code for code in codes if code not in DEMO_PRODUCTS]
    if unknown:
        print(f"no product physics data for {', '.join(unknown)}", file=sys.stderr)
        return 2
    worst_exit = 0
    for code in codes:
        outcome = fit_product(product=DEMO_PRODUCTS[code])
        ps = outcome.parameter_set
        out_of_bounds = parameters_within_bounds(ps.parameters)
        status = "ok" if outcome.max_rating_error <= args.tolerance and not out_of_bounds else "NOT OK"
        print(f"{code}: {ps.parameter_set_id}  worst rating error {outcome.max_rating_error:.3%}  {status}")
        for fit in ps.rating_fit:
            print(
                f"  {fit.point:8s} capacity {fit.model_capacity_w:8.0f} W (rated {fit.rated_capacity_w:.0f})"
                f"  COP {fit.model_cop:.3f} (rated {fit.rated_cop:.2f})"
            )
        if outcome.at_bounds:
            print(f"  at a bound: {', '.join(outcome.at_bounds)}")
        if status != "ok":
            worst_exit = 1
            continue
        if not args.dry_run:
            path = Path(args.output_dir) / f"{code}.json"
            save(parameter_set=ps, path=path)
            print(f"  written to {path}")
    return worst_exit


def register_cli(subparsers: Any) -> None:
    """Add ``cyclemodel fit`` to an argparse subparsers object."""
    parser = subparsers.add_parser("cyclemodel", help="the heat-pump cycle model")
    commands = parser.add_subparsers(dest="cyclemodel_command", required=True)
    fit = commands.add_parser("fit", help="fit product models' cycle parameters to their rating data")
    fit.add_argument("model_codes", nargs="*", help="product model codes (default: all demo products)")
    fit.add_argument("--output-dir", default=str(PARAMS_DIR), help="where to write the parameter set files")
    fit.add_argument("--tolerance", type=float, default=0.02, help="worst relative rating error accepted")
    fit.add_argument("--dry-run", action="store_true", help="fit and report, write nothing")
    fit.set_defaults(func=_fit)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (the ``mes`` command wires ``register_cli`` instead)."""
    parser = argparse.ArgumentParser(prog="cyclemodel")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["cyclemodel", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
