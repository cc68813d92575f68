"""SHACL completeness check: ``ontology/shapes.ttl`` over the data, ontology as ``ont_graph``."""

from __future__ import annotations

import sys
from pathlib import Path

from pyshacl import validate
from rdflib import Graph, Namespace
from rdflib.namespace import RDF

from virtkg.checks.report import CheckResult, Problem, cli, data_files, missing_kb, ontology_file
from virtkg.config import PROJECT_ROOT
from virtkg.errors import CheckFailed

NAME = "shacl"
SH = Namespace("http://www.w3.org/ns/shacl#")


def shapes_file(kb_dir: Path) -> Path:
    """The SHACL shapes: ``ontology/shapes.ttl`` of the KB, else the project's own."""
    own = Path(kb_dir) / "ontology" / "shapes.ttl"
    return own if own.exists() else PROJECT_ROOT / "ontology" / "shapes.ttl"


def _load(paths: list[Path]) -> Graph:
    graph = Graph()
    for path in paths:
        try:
            graph.parse(path, format="turtle")
        except (SyntaxError, ValueError) as exc:
            raise CheckFailed(
                f"{path}: not valid Turtle: {exc}", details={"file": str(path)}
            ) from exc
    return graph


def check_shacl(kb_dir: Path, shapes: Path | None = None) -> CheckResult:
    """SHACL: technologies and scenarios are complete and sourced (ontology/shapes.ttl)."""
    kb_dir = Path(kb_dir)
    if (missing := missing_kb(NAME, kb_dir)) is not None:
        return missing
    shapes = shapes or shapes_file(kb_dir)
    if not shapes.exists():
        return CheckResult(NAME, False, [Problem(str(shapes), "file not found")])
    try:
        data, shapes_graph, ontology = (
            _load(data_files(kb_dir)),
            _load([shapes]),
            _load([ontology_file(kb_dir)]),
        )
    except CheckFailed as exc:
        return CheckResult(NAME, False, [Problem(exc.details["file"], exc.message)])
    conforms, report, _text = validate(
        data,
        shacl_graph=shapes_graph,
        ont_graph=ontology,
        inference="rdfs",
        advanced=True,
        allow_warnings=True,
    )
    problems = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus = report.value(result, SH.focusNode)
        message = report.value(result, SH.resultMessage)
        path = report.value(result, SH.resultPath)
        severity = report.value(result, SH.resultSeverity)
        text = str(message or f"constraint on {path} not met")
        if severity is not None and severity != SH.Violation:
            text = f"({severity.split('#')[-1]}) {text}"
        problems.append(Problem(str(focus), text))
    problems.sort(key=lambda p: (p.entity, p.message))
    failed = any(p for p in problems if not p.message.startswith("("))
    return CheckResult(NAME, bool(conforms) or not failed, problems)


if __name__ == "__main__":
    sys.exit(cli(check_shacl))
