"""``mes cyclemodel ...``: fit parameter sets to rating data, keep them versioned in the database.

- ``mes cyclemodel fit [MODEL ...]`` fits each product model from its master data in the database and
  writes the result as the model's next parameter-set version (judging uses it from then on).
- ``mes cyclemodel versions [MODEL ...]`` lists the stored versions.
- ``mes cyclemodel fit --demo-seed`` fits the demo master data document and rewrites the demo seed file
  (no database); ``mes demo load`` puts the seed into the database.

``register_cli(subparsers)`` adds the ``cyclemodel`` command to the ``mes`` argparse tree; each leaf sets
``func`` (called with the parsed namespace, returns an exit code).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from app.cyclemodel.fitting import FitOutcome, fit_product, parameters_within_bounds
from app.cyclemodel.paramsets import DEMO_SEED, write_seed
from app.cyclemodel.products import ProductPhysics


def _fit_one(product: ProductPhysics, tolerance: float) -> tuple[FitOutcome, bool]:
    started = time.perf_counter()
    print(f"{product.model_code}: fitting to {len(product.rating_points)} rating points …", flush=True)

    def progress(evaluations: int, worst: float) -> None:
        print(f"  {evaluations:4d} evaluations, worst rating error {worst:.3%}", flush=True)

    outcome = fit_product(product=product, progress=progress)
    ps = outcome.parameter_set
    out_of_bounds = parameters_within_bounds(ps.parameters)
    ok = outcome.max_rating_error <= tolerance and not out_of_bounds
    print(
        f"  {ps.parameter_set_id}  worst rating error {outcome.max_rating_error:.3%}"
        f"  {'ok' if ok else 'NOT OK'}  ({time.perf_counter() - started:.1f} s)"
    )
    for fit in ps.rating_fit:
        print(
            f"  {fit.point:8s} capacity {fit.model_capacity_w:8.0f} W (rated {fit.rated_capacity_w:.0f})"
            f"  COP {fit.model_cop:.3f} (rated {fit.rated_cop:.2f})"
        )
    if outcome.at_bounds:
        print(f"  at a bound: {', '.join(outcome.at_bounds)}")
    if out_of_bounds:
        print(f"  outside bounds: {', '.join(out_of_bounds)}")
    return outcome, ok


def _fit_demo_seed(args: argparse.Namespace) -> int:
    from app.cyclemodel.products import DEMO_PRODUCTS

    codes = args.model_codes or sorted(DEMO_PRODUCTS)
    unknown = [code for code in codes if code not in DEMO_PRODUCTS]
    if unknown:
        print(f"not in the demo master data: {', '.join(unknown)}", file=sys.stderr)
        return 2
    outcomes = {code: _fit_one(DEMO_PRODUCTS[code], args.tolerance) for code in codes}
    if not all(ok for _, ok in outcomes.values()):
        return 1
    if not args.dry_run:
        from app.cyclemodel.paramsets import read_seed

        path = Path(args.seed_file)
        sets = read_seed(path) if path.exists() else {}
        sets.update({code: outcome.parameter_set for code, (outcome, _) in outcomes.items()})
        write_seed(sets.values(), path)
        print(f"demo seed written to {path}")
    return 0


def _session():  # type: ignore[no-untyped-def]
    from app.config import get_settings
    from app.persistence.db import make_engine, make_session_factory

    return make_session_factory(make_engine(get_settings().resolved_database_url()))()


def _fit(args: argparse.Namespace) -> int:
    if args.demo_seed:
        return _fit_demo_seed(args)
    from app.domain.actors import SYSTEM
    from app.services import cycle_parameters

    worst_exit = 0
    with _session() as session:
        codes = args.model_codes or cycle_parameters.product_codes(session)
        if not codes:
            print("no product model in the database carries cycle_physics master data", file=sys.stderr)
            return 2
        products = {code: cycle_parameters.physics_of(session, product_model_code=code) for code in codes}
    for code in codes:
        outcome, ok = _fit_one(products[code], args.tolerance)
        if not ok:
            worst_exit = 1
            print("  not stored (outside tolerance or bounds)")
            continue
        if args.dry_run:
            continue
        # One short transaction per model, after its fit: a failing model leaves the others stored.
        with _session() as session, session.begin():
            before = cycle_parameters.current(session, product_model_code=code)
            stored = cycle_parameters.store(
                session=session,
                actor=SYSTEM,
                parameter_set=outcome.parameter_set,
                source=args.source,
                max_rating_error=outcome.max_rating_error,
                if_changed=not args.always_new_version,
            )
        if before is not None and before.version == stored.version:
            print(f"  unchanged: version {stored.version} is current and has these numbers")
        else:
            print(f"  stored as version {stored.version} of {code}; judging uses it from now on")
    return worst_exit


def _versions(args: argparse.Namespace) -> int:
    from app.services import cycle_parameters

    with _session() as session:
        codes = args.model_codes or cycle_parameters.product_codes(session)
        for code in codes:
            rows = cycle_parameters.versions(session, product_model_code=code)
            print(f"{code}: {len(rows)} version(s)")
            for row in rows:
                bounds = "inside bounds" if row.within_bounds else f"OUTSIDE bounds: {', '.join(row.out_of_bounds)}"
                print(
                    f"  v{row.version}  {row.parameter_set_id}  {row.code_version}"
                    f"  fitted {row.fitted_at:%Y-%m-%d %H:%M}  worst rating error {row.max_rating_error:.3%}"
                    f"  {bounds}  ({row.source})"
                )
    return 0


def register_cli(subparsers: Any) -> None:
    """Add ``cyclemodel fit`` and ``cyclemodel versions`` to an argparse subparsers object."""
    parser = subparsers.add_parser("cyclemodel", help="the heat-pump cycle model")
    commands = parser.add_subparsers(dest="cyclemodel_command", required=True)
    fit = commands.add_parser("fit", help="fit product models' cycle parameters to their rating data")
    fit.add_argument("model_codes", nargs="*", help="product model codes (default: every model with cycle physics)")
    fit.add_argument("--tolerance", type=float, default=0.02, help="worst relative rating error accepted")
    fit.add_argument("--dry-run", action="store_true", help="fit and report, store nothing")
    fit.add_argument("--source", default="mes cyclemodel fit", help="provenance recorded with the new version")
    fit.add_argument(
        "--always-new-version", action="store_true", help="store a new version even when the numbers are unchanged"
    )
    fit.add_argument("--demo-seed", action="store_true", help="fit the demo master data document, write the seed")
    fit.add_argument("--seed-file", default=str(DEMO_SEED), help="seed file written by --demo-seed")
    fit.set_defaults(func=_fit)
    versions = commands.add_parser("versions", help="list the stored parameter-set versions")
    versions.add_argument("model_codes", nargs="*", help="product model codes (default: all with cycle physics)")
    versions.set_defaults(func=_versions)


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (the ``mes`` command wires ``register_cli`` instead)."""
    parser = argparse.ArgumentParser(prog="cyclemodel")
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["cyclemodel", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
