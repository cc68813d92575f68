"""The README's generated sections are current, and its quick start matches .ci/run."""

from pathlib import Path

import pytest

from virtkg.config import PROJECT_ROOT
from virtkg.render import readme_sections, replace_section

README = PROJECT_ROOT / "README.md"


@pytest.mark.java
def test_generated_sections_are_current():
    text = README.read_text(encoding="utf-8")
    for name, content in readme_sections(PROJECT_ROOT).items():
        assert replace_section(text, name, content) == text, (
            f"README section {name!r} is stale: run `virtkg render readme`"
        )


def test_replace_section_needs_both_markers():
    with pytest.raises(ValueError, match="markers"):
        replace_section("no markers here", "fit-table", "x")
    text = "a\n<!-- BEGIN t -->\nold\n<!-- END t -->\nb"
    assert replace_section(text, "t", "new\n") == "a\n<!-- BEGIN t -->\nnew\n<!-- END t -->\nb"


def test_ci_runs_the_readme_test_command_verbatim():
    readme = README.read_text(encoding="utf-8")
    ci = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [
        line.split("#")[0].strip() for line in readme.splitlines() if line.startswith("make ")
    ]
    assert commands[:2] == ["make serve", "make test"]
    assert "\nmake test\n" in ci
    assert Path(PROJECT_ROOT / ".ci" / "run").stat().st_mode & 0o111
