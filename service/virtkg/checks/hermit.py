"""Consistency check with HermiT: the KB must be consistent and every named class satisfiable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import owlready2

from virtkg.checks.report import CheckResult, Problem, cli, kb_files, missing_kb
from virtkg.reasoning.hermit import hermit_classify

NAME = "hermit"


def check_consistency(kb_dir: Path) -> CheckResult:
    """HermiT consistency: no contradiction and no unsatisfiable class in ontology + data."""
    kb_dir = Path(kb_dir)
    if (missing := missing_kb(NAME, kb_dir)) is not None:
        return missing
    try:
        result = hermit_classify(kb_files(kb_dir))
    except (
        owlready2.OwlReadyError,
        subprocess.CalledProcessError,
        OSError,
        ValueError,
        SyntaxError,
    ) as exc:
        return CheckResult(NAME, False, [Problem("HermiT", f"could not run: {exc}")])
    problems: list[Problem] = []
    if not result.consistent:
        pinned = [line for line in result.explanation if " is both a " in line]
        for line in pinned:
            problems.append(Problem(line.split(" is both a ")[0], line))
        if not pinned:
            entity = ", ".join(result.inconsistent_entities) or "the knowledge base"
            problems.append(Problem(entity, "inconsistent: " + "; ".join(result.explanation)))
    for iri in result.unsatisfiable:
        problems.append(Problem(iri, "unsatisfiable class (equivalent to owl:Nothing)"))
    details = [f"{len(result.memberships)} named classes classified"] if result.consistent else []
    return CheckResult(NAME, not problems, problems, details)


if __name__ == "__main__":
    sys.exit(cli(check_consistency))
