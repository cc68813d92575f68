"""Every check passes on the shipped KB and fails, naming the entity, on each broken fixture.

A broken fixture is one extra Turtle file (tests/fixtures/broken/*.ttl) dropped into ``data/`` of
a copy of a base KB: the tiny valid KB in tests/fixtures/broken/base, and the shipped KB.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from virtkg.checks import CHECKS, main, run_checks
from virtkg.checks.hermit import check_consistency
from virtkg.checks.owlapi import check_owl_dl_profile
from virtkg.checks.report import CheckResult, kb_files
from virtkg.checks.shacl import check_shacl
from virtkg.checks.violations import check_violations, violation_queries
from virtkg.config import PROJECT_ROOT
from virtkg.reasoning.hermit import hermit_classify
from virtkg.render import fit_table_markdown, render_html_reference, render_rdfxml

FIXTURES = Path(__file__).parent / "fixtures" / "broken"
BASE = FIXTURES / "base"
TECH = "https://w3id.org/virtkg/technology/"
SCN = "https://w3id.org/virtkg/scenario/"
SRC = "https://w3id.org/virtkg/source/"

java = pytest.mark.java
needs_shipped_kb = pytest.mark.skipif(
    not (PROJECT_ROOT / "ontology" / "virtkg.ttl").exists()
    or not list((PROJECT_ROOT / "data").glob("tech-*.ttl")),
    reason="the shipped KB (ontology/virtkg.ttl, data/tech-*.ttl) is not there yet",
)

#: fixture file stem -> (check, entity it must name, text the message must contain)
BROKEN = {
    "profile-xsd-date": ("profile", TECH + "fixture-dated", "xsd:date"),
    "hermit-disjoint-kinds": ("hermit", TECH + "fixture-both", "disjoint"),
    "shacl-no-isolation": ("shacl", TECH + "fixture-unbounded", "isolationBoundary"),
    "violation-unsourced-fact": ("violations", TECH + "fixture-unsourced", "[unsourced-fact]"),
    "violation-technology-without-kind": (
        "violations",
        TECH + "fixture-kindless",
        "[technology-without-kind]",
    ),
    "violation-asserted-satisfies": (
        "violations",
        TECH + "fixture-satisfied",
        "[asserted-satisfies]",
    ),
    "violation-source-not-declared": ("violations", SRC + "S999", "[source-not-declared]"),
    "violation-scenario-without-fit-class": (
        "violations",
        SCN + "fixture-unfit",
        "[scenario-without-fit-class]",
    ),
    "violation-missing-label": ("violations", TECH + "fixture-unlabelled", "[missing-label]"),
    "violation-axiom-target-mismatch": (
        "violations",
        TECH + "fixture-mismatched",
        "[axiom-target-mismatch]",
    ),
}

CHECK_FUNCTIONS = {
    "profile": check_owl_dl_profile,
    "hermit": check_consistency,
    "shacl": check_shacl,
    "violations": check_violations,
}


def _marks(check: str) -> list[pytest.MarkDecorator]:
    return [java] if check in {"profile", "hermit"} else []


def copy_kb(base: Path, dest: Path, extra: Path | None = None) -> Path:
    """Copy ontology/ and data/ of ``base`` into ``dest``, plus ``extra`` in data/."""
    shutil.copytree(base / "ontology", dest / "ontology")
    shutil.copytree(base / "data", dest / "data")
    if extra is not None:
        shutil.copy(extra, dest / "data" / extra.name)
    return dest


def assert_names(result: CheckResult, entity: str, text: str) -> None:
    assert not result.passed, result.format_report()
    hits = [p for p in result.problems if p.entity == entity and text in p.message]
    assert hits, f"expected a problem on {entity} mentioning {text!r}:\n{result.format_report()}"
    assert entity in result.format_report()


def test_every_fixture_is_listed() -> None:
    assert {p.stem for p in FIXTURES.glob("*.ttl")} == set(BROKEN)


def test_every_violation_query_has_a_header_and_a_fixture() -> None:
    queries = violation_queries(PROJECT_ROOT / "queries" / "checks")
    assert set(queries) == {
        "unsourced-fact",
        "technology-without-kind",
        "asserted-satisfies",
        "source-not-declared",
        "scenario-without-fit-class",
        "missing-label",
        "axiom-target-mismatch",
    }
    for name, text in queries.items():
        assert text.startswith("# title:"), name
        assert "# description:" in text, name
        assert "?entity" in text and "?message" in text, name
        assert f"violation-{name}" in BROKEN


# --- the tiny valid base KB passes everything (so each fixture's failure is its own) ------------


@pytest.mark.parametrize("check", [pytest.param(c, marks=_marks(c)) for c in CHECKS])
def test_base_fixture_passes(check: str) -> None:
    result = CHECK_FUNCTIONS[check](BASE)
    assert result.passed, result.format_report()


@pytest.mark.parametrize(
    "stem",
    [pytest.param(stem, marks=_marks(check)) for stem, (check, _, _) in BROKEN.items()],
)
def test_broken_fixture_fails_naming_entity(stem: str, tmp_path: Path) -> None:
    check, entity, text = BROKEN[stem]
    kb = copy_kb(BASE, tmp_path / "kb", FIXTURES / f"{stem}.ttl")
    assert_names(CHECK_FUNCTIONS[check](kb), entity, text)


@needs_shipped_kb
@pytest.mark.parametrize(
    "stem",
    [pytest.param(stem, marks=_marks(check)) for stem, (check, _, _) in BROKEN.items()],
)
def test_broken_fixture_on_shipped_kb_fails_naming_entity(stem: str, tmp_path: Path) -> None:
    check, entity, text = BROKEN[stem]
    kb = copy_kb(PROJECT_ROOT, tmp_path / "kb", FIXTURES / f"{stem}.ttl")
    assert_names(CHECK_FUNCTIONS[check](kb), entity, text)


# --- the shipped KB ---------------------------------------------------------------------------


@needs_shipped_kb
@pytest.mark.parametrize("check", [pytest.param(c, marks=_marks(c)) for c in CHECKS])
def test_shipped_kb_passes(check: str) -> None:
    result = CHECK_FUNCTIONS[check](PROJECT_ROOT)
    assert result.passed, result.format_report()


# --- runner, CLI entry, reasoning API -----------------------------------------------------------


def test_run_checks_only_and_main_exit_codes(tmp_path: Path, capsys) -> None:
    results = run_checks(BASE, only={"violations", "shacl"})
    assert [r.name for r in results] == ["shacl", "violations"]
    assert main(["--kb-dir", str(BASE), "--only", "violations"]) == 0
    broken = copy_kb(BASE, tmp_path / "kb", FIXTURES / "violation-unsourced-fact.ttl")
    assert main(["--kb-dir", str(broken), "--only", "violations"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] violations" in out and TECH + "fixture-unsourced" in out
    assert main(["--kb-dir", str(BASE), "--only", "nonsense"]) == 2


def test_missing_kb_fails_cleanly(tmp_path: Path) -> None:
    result = check_violations(tmp_path)
    assert not result.passed and "virtkg.ttl" in result.problems[0].entity


@java
def test_hermit_classify_memberships_include_inferred() -> None:
    result = hermit_classify(kb_files(BASE))
    assert result.consistent and result.unsatisfiable == []
    vkg = "https://w3id.org/virtkg/ontology#"
    assert TECH + "xen" in result.memberships[vkg + "Technology"]  # inferred via subclass
    assert result.memberships["https://w3id.org/virtkg/fit/regulated-isolation"] == {TECH + "xen"}


@java
def test_hermit_explains_inconsistency() -> None:
    files = kb_files(BASE) + [FIXTURES / "hermit-disjoint-kinds.ttl"]
    result = hermit_classify(files)
    assert not result.consistent
    assert TECH + "fixture-both" in result.inconsistent_entities
    assert any("fixture-both" in line and "disjoint" in line for line in result.explanation)


# --- render ------------------------------------------------------------------------------------


def test_rdfxml_is_isomorphic_and_stable(tmp_path: Path) -> None:
    kb = copy_kb(BASE, tmp_path / "kb")
    target = render_rdfxml(kb)
    first = target.read_bytes()
    assert render_rdfxml(kb).read_bytes() == first
    ttl = Graph().parse(kb / "ontology" / "virtkg.ttl", format="turtle")
    assert isomorphic(ttl, Graph().parse(target, format="xml"))


@needs_shipped_kb
def test_shipped_virtkg_owl_matches_virtkg_ttl() -> None:
    """ontology/virtkg.owl is generated (`python -m virtkg.render rdfxml`) and kept in sync."""
    owl = PROJECT_ROOT / "ontology" / "virtkg.owl"
    assert owl.exists(), "run `python -m virtkg.render rdfxml`"
    ttl = Graph().parse(PROJECT_ROOT / "ontology" / "virtkg.ttl", format="turtle")
    assert isomorphic(ttl, Graph().parse(owl, format="xml")), "virtkg.owl is stale: re-render"


def test_html_reference(tmp_path: Path) -> None:
    index = render_html_reference(BASE, tmp_path / "html")
    text = index.read_text(encoding="utf-8")
    assert "<html" in text.lower() and "isolationBoundary" in text


@java
def test_fit_table_on_base() -> None:
    table = fit_table_markdown(BASE)
    assert table.splitlines()[0].startswith("| scenario | requirements |")
    assert "| regulated isolation | hardware isolation | Xen |" in table
