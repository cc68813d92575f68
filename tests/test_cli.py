"""The `virtkg` command as a user runs it: query, recommend, check and load (into a real server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

VIRTKG = str(Path(sys.executable).with_name("virtkg"))
TECHNOLOGIES = "SELECT ?t WHERE { ?t a <https://w3id.org/virtkg/ontology#Technology> }"


def run(*args: str, cache: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIRTKG_CACHE_DIR": str(cache)}
    result = subprocess.run(
        [VIRTKG, *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def test_query_prints_a_table_and_any_result_format(cache: Path) -> None:
    table = run("query", TECHNOLOGIES, cache=cache).stdout.splitlines()
    assert table[0].strip() == "?t"
    assert len(table) - 2 >= 15
    body = json.loads(run("query", TECHNOLOGIES, "--format", "json", cache=cache).stdout)
    assert len(body["results"]["bindings"]) == len(table) - 2
    csv = run("query", TECHNOLOGIES, "--format", "csv", cache=cache).stdout.splitlines()
    assert csv[0] == "t" and len(csv) - 1 == len(table) - 2


def test_query_reads_a_file_and_reports_syntax_errors(cache: Path, tmp_path: Path) -> None:
    query = tmp_path / "q.rq"
    query.write_text("ASK { ?s a <https://w3id.org/virtkg/ontology#MicroVM> }", encoding="utf-8")
    assert run("query", "--file", str(query), cache=cache).stdout.strip() == "true"
    broken = run("query", "SELECT ?x WHERE { ?x", cache=cache, check=False)
    assert broken.returncode == 2
    assert "virtkg: error:" in broken.stderr and "Traceback" not in broken.stderr


def test_recommend_for_a_scenario_as_table_and_json(cache: Path) -> None:
    table = run("recommend", "--scenario", "windows-containers", cache=cache).stdout.splitlines()
    assert table[0].split()[:2] == ["rank", "technology"]
    data = json.loads(
        run("recommend", "--scenario", "windows-containers", "--json", cache=cache).stdout
    )
    fitting = [r["technology"]["id"] for r in data["results"] if r["fits"]]
    assert fitting, "some technology fits Windows multi-tenant containers"
    assert [r["technology"]["id"] for r in data["results"][: len(fitting)]] == fitting
    assert all(
        req["status"] == "met" for r in data["results"] if r["fits"] for req in r["requirements"]
    )


def test_recommend_with_requirement_flags(cache: Path) -> None:
    data = json.loads(
        run(
            "recommend",
            "-r",
            "isolation=hardware",
            "-r",
            "max_startup_ms=1000",
            "--json",
            cache=cache,
        ).stdout
    )
    dims = {r["dimension"] for r in data["requirements"]}
    assert dims == {"isolation", "max_startup_ms"}
    for result in data["results"]:
        if result["fits"]:
            assert result["startup_ms"] is not None and result["startup_ms"] <= 1000


def test_recommend_lists_the_vocabulary(cache: Path) -> None:
    vocabulary = json.loads(run("recommend", "--list", cache=cache).stdout)
    names = {d["name"] for d in vocabulary}
    assert {"isolation", "guest", "max_startup_ms", "no_nested_virt"} <= names


def test_unknown_requirement_is_a_clear_error(cache: Path) -> None:
    result = run("recommend", "-r", "isolation=titanium", cache=cache, check=False)
    assert result.returncode == 2
    assert "titanium" in result.stderr and "hardware" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_runs_the_violation_queries(cache: Path) -> None:
    result = run("check", "--only", "violations", cache=cache)
    assert "[PASS] violations" in result.stdout


def test_load_pushes_the_reasoned_kb_into_a_remote_server(
    cache: Path, oxigraph_server: str
) -> None:
    endpoint = f"{oxigraph_server}/query"
    run(
        "load",
        "--endpoint",
        endpoint,
        "--update-endpoint",
        f"{oxigraph_server}/update",
        "--gsp-endpoint",
        f"{oxigraph_server}/store",
        cache=cache,
    )
    remote = run("query", TECHNOLOGIES, "--endpoint", endpoint, "--format", "json", cache=cache)
    local = run("query", TECHNOLOGIES, "--format", "json", cache=cache)
    rows = lambda out: sorted(b["t"]["value"] for b in json.loads(out)["results"]["bindings"])  # noqa: E731
    assert rows(remote.stdout) == rows(local.stdout)
    assert len(rows(remote.stdout)) >= 15
