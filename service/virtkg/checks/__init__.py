"""Knowledge-base checks, each runnable alone and together as ``virtkg check``.

- ``profile`` (:mod:`virtkg.checks.owlapi`): files parse as Turtle/RDF-XML and are OWL 2 DL;
- ``hermit`` (:mod:`virtkg.checks.hermit`): HermiT finds the KB consistent, classes satisfiable;
- ``shacl`` (:mod:`virtkg.checks.shacl`): technologies and scenarios are complete and sourced;
- ``violations`` (:mod:`virtkg.checks.violations`): ``queries/checks/*-violation.rq`` give no rows.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from virtkg.checks.report import CheckResult, Problem
from virtkg.errors import VirtkgError

__all__ = ["CHECKS", "CheckResult", "Problem", "main", "run_checks"]

#: Check names in the order they run.
CHECKS = ("profile", "hermit", "shacl", "violations")


def _check_function(name: str) -> Callable[[Path], CheckResult]:
    if name == "profile":
        from virtkg.checks.owlapi import check_owl_dl_profile

        return check_owl_dl_profile
    if name == "hermit":
        from virtkg.checks.hermit import check_consistency

        return check_consistency
    if name == "shacl":
        from virtkg.checks.shacl import check_shacl

        return check_shacl
    from virtkg.checks.violations import check_violations

    return check_violations


def run_checks(kb_dir: Path, only: set[str] | None = None) -> list[CheckResult]:
    """Run the named checks (all by default) on ``kb_dir``; an unknown name is a BadRequest."""
    from virtkg.errors import BadRequest

    names = set(CHECKS) if only is None else set(only)
    unknown = names - set(CHECKS)
    if unknown:
        raise BadRequest(
            f"unknown check(s): {', '.join(sorted(unknown))}; choose from {', '.join(CHECKS)}"
        )
    results = []
    for name in CHECKS:
        if name not in names:
            continue
        try:
            results.append(_check_function(name)(Path(kb_dir)))
        except VirtkgError as exc:
            results.append(CheckResult(name, False, [Problem(name, exc.message)]))
    return results


def format_summary(results: Sequence[CheckResult]) -> str:
    """Every check's report, then one summary line."""
    failed = [r.name for r in results if not r.passed]
    tail = f"FAILED: {', '.join(failed)}" if failed else f"all {len(results)} check(s) passed"
    return "\n".join([r.format_report() for r in results] + [tail])


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the ``virtkg check`` options to ``parser`` (or a new one)."""
    parser = parser or argparse.ArgumentParser(
        prog="virtkg check", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--only", default=None, help=f"comma-separated subset of: {', '.join(CHECKS)}"
    )
    parser.add_argument("--kb-dir", default=None, help="folder holding ontology/ and data/")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``virtkg check [--only profile,hermit,shacl,violations] [--kb-dir DIR]``; returns 0 or 1."""
    from virtkg.config import load_settings

    args = build_parser().parse_args(list(argv) if argv is not None else None)
    kb_dir = Path(args.kb_dir or load_settings().kb_dir)
    only = {n.strip() for n in args.only.split(",") if n.strip()} if args.only else None
    try:
        results = run_checks(kb_dir, only)
    except VirtkgError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(format_summary(results))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
