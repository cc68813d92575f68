"""Result types shared by every check, and the helpers that find the KB files they read."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from virtkg.errors import CheckFailed


@dataclass(frozen=True)
class Problem:
    """One thing a check found wrong: the offending entity (an IRI or file) and why."""

    entity: str
    message: str


@dataclass
class CheckResult:
    """The outcome of one check. ``details`` holds extra, non-failing lines (e.g. files loaded)."""

    name: str
    passed: bool
    problems: list[Problem] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def format_report(self) -> str:
        """A readable report: a PASS/FAIL header, then one line per problem."""
        status = "PASS" if self.passed else "FAIL"
        lines = [f"[{status}] {self.name}: {len(self.problems)} problem(s)"]
        lines += [f"  - {p.entity}: {p.message}" for p in self.problems]
        return "\n".join(lines)

    def raise_for_problems(self) -> None:
        """Raise :class:`CheckFailed` (details list the problems) unless the check passed."""
        if not self.passed:
            raise CheckFailed(
                self.format_report(),
                details={"problems": [p.__dict__ for p in self.problems]},
            )


def ontology_file(kb_dir: Path) -> Path:
    """The hand-edited ontology, ``ontology/virtkg.ttl``."""
    return Path(kb_dir) / "ontology" / "virtkg.ttl"


def data_files(kb_dir: Path) -> list[Path]:
    """Every data file, ``data/*.ttl``, sorted."""
    return sorted((Path(kb_dir) / "data").glob("*.ttl"))


def kb_files(kb_dir: Path) -> list[Path]:
    """The ontology and every data file: the asserted knowledge base the checks read."""
    core = ontology_file(kb_dir)
    return ([core] if core.exists() else []) + data_files(kb_dir)


def missing_kb(name: str, kb_dir: Path) -> CheckResult | None:
    """A failing result when the KB has no ontology file, else None."""
    if ontology_file(kb_dir).exists():
        return None
    return CheckResult(name, False, [Problem(str(ontology_file(kb_dir)), "file not found")])


def cli(check, argv: list[str] | None = None) -> int:  # noqa: ANN001 - any check function
    """Run one check from the command line (``[--kb-dir DIR]``); print its report; 0/1."""
    import argparse

    from virtkg.config import load_settings

    parser = argparse.ArgumentParser(description=(check.__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--kb-dir", default=None, help="folder holding ontology/ and data/")
    args = parser.parse_args(argv)
    kb_dir = Path(args.kb_dir or load_settings().kb_dir)
    result = check(kb_dir)
    print(result.format_report())
    return 0 if result.passed else 1
