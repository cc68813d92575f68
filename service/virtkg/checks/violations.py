"""ODK-style violation queries: every ``queries/checks/*-violation.rq`` must return no rows.

Each query selects ``?entity`` and ``?message``; it runs with pyoxigraph over the asserted ontology
and data files (all in the default graph, no inference).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyoxigraph

from virtkg.checks.report import CheckResult, Problem, cli, kb_files, missing_kb
from virtkg.config import PROJECT_ROOT
from virtkg.errors import CheckFailed

NAME = "violations"


def queries_dir(kb_dir: Path) -> Path:
    """``queries/checks`` of the KB, else the project's own."""
    own = Path(kb_dir) / "queries" / "checks"
    return own if own.is_dir() else PROJECT_ROOT / "queries" / "checks"


def violation_queries(directory: Path) -> dict[str, str]:
    """Query name (file stem without ``-violation``) -> SPARQL text, sorted by name."""
    return {
        p.name.removesuffix("-violation.rq"): p.read_text(encoding="utf-8")
        for p in sorted(Path(directory).glob("*-violation.rq"))
    }


def load_store(paths: list[Path]) -> pyoxigraph.Store:
    """An in-memory store with every file in the default graph."""
    store = pyoxigraph.Store()
    for path in paths:
        fmt = pyoxigraph.RdfFormat.RDF_XML if path.suffix == ".owl" else pyoxigraph.RdfFormat.TURTLE
        try:
            store.bulk_load(path=str(path), format=fmt)
        except (SyntaxError, ValueError) as exc:
            raise CheckFailed(
                f"{path}: does not parse: {exc}", details={"file": str(path)}
            ) from exc
    return store


def _text(term: object) -> str:
    if term is None:
        return ""
    return str(getattr(term, "value", term))


def run_violation_query(store: pyoxigraph.Store, name: str, sparql: str) -> list[Problem]:
    """Run one query; each row becomes a Problem tagged with the query name."""
    return [
        Problem(_text(row["entity"]) or "(unbound)", f"[{name}] {_text(row['message'])}")
        for row in store.query(sparql)
    ]


def check_violations(kb_dir: Path, only: set[str] | None = None) -> CheckResult:
    """Violation queries (queries/checks/*-violation.rq) over the asserted KB return no rows."""
    kb_dir = Path(kb_dir)
    if (missing := missing_kb(NAME, kb_dir)) is not None:
        return missing
    try:
        store = load_store(kb_files(kb_dir))
    except CheckFailed as exc:
        return CheckResult(NAME, False, [Problem(exc.details["file"], exc.message)])
    queries = violation_queries(queries_dir(kb_dir))
    problems: list[Problem] = []
    details: list[str] = []
    for name, sparql in queries.items():
        if only is not None and name not in only:
            continue
        found = run_violation_query(store, name, sparql)
        details.append(f"{name}: {len(found)} row(s)")
        problems += found
    if not queries:
        problems.append(Problem(str(queries_dir(kb_dir)), "no *-violation.rq queries found"))
    return CheckResult(NAME, not problems, problems, details)


if __name__ == "__main__":
    sys.exit(cli(check_violations))
