"""A live server driven by plain HTTP clients, and the recipes of docs/api.md and the README run
as written.

Recipes are the fenced blocks of docs/api.md and README.md tagged ``sh curl`` (run with bash;
``expect=NNN`` means the command prints the status line with ``-i`` and must show that status)
and ``python`` (run with this interpreter). ``http://localhost:8000`` is replaced by the live
server's address, so the documentation and these tests cannot drift apart.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from virtkg.config import PROJECT_ROOT, load_settings
from virtkg.http import create_app

DOCS = (PROJECT_ROOT / "docs" / "api.md", PROJECT_ROOT / "README.md")
DOC_HOST = "http://localhost:8000"
MAX_BODY = 50_000
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass
class Recipe:
    kind: str  # "curl" | "python" | "json"
    code: str
    line: int
    expect: int | None = None
    doc: str = "api.md"

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}:{self.kind}"


def recipes() -> list[Recipe]:
    """The runnable blocks of docs/api.md and README.md."""
    return [recipe for doc in DOCS for recipe in _recipes_in(doc)]


def _recipes_in(doc: Path) -> list[Recipe]:
    text = doc.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        words = match.group(1).split()
        line = text.count("\n", 0, match.start()) + 1
        if words[:2] == ["sh", "curl"]:
            expect = next((int(w[7:]) for w in words if w.startswith("expect=")), None)
            found.append(Recipe("curl", match.group(2), line, expect, doc.name))
        elif words[:1] == ["python"]:
            found.append(Recipe("python", match.group(2), line, doc=doc.name))
        elif words[:1] == ["json"]:
            found.append(Recipe("json", match.group(2), line, doc=doc.name))
    return found


RECIPES = recipes()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    settings = load_settings(
        {},
        cache_dir=str(tmp_path_factory.mktemp("clients-cache")),
        max_body_bytes=MAX_BODY,
        log_level="WARNING",
    )
    application = create_app(settings)
    assert application.extensions["virtkg"].ready
    yield application
    application.extensions["virtkg"].executor.close()


@pytest.fixture(scope="module")
def live(app: Flask) -> Iterator[str]:
    """Base URL of the app served by a threaded werkzeug server on 127.0.0.1."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)


def check_error(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error", "message"}
    return body


# --- plain HTTP -----------------------------------------------------------------------------


def test_rest_api_over_http(live: str) -> None:
    techs = requests.get(f"{live}/api/technologies", timeout=30).json()["technologies"]
    first = techs[0]["id"]
    detail = requests.get(f"{live}/api/technologies/{first}", timeout=30)
    assert detail.status_code == 200 and detail.json()["facts"]
    scenarios = requests.get(f"{live}/api/scenarios", timeout=30).json()["scenarios"]
    ranking = requests.get(
        f"{live}/api/scenarios/{scenarios[0]['id']}/recommendations", timeout=30
    ).json()
    assert ranking["results"][0]["rank"] == 1
    vocabulary = requests.get(f"{live}/api/requirements", timeout=30).json()["requirements"]
    isolation = next(d for d in vocabulary if d["name"] == "isolation")
    for value in isolation["accepts"]:
        posted = requests.post(
            f"{live}/api/recommend", json={"requirements": {"isolation": value}}, timeout=30
        )
        shared = requests.get(f"{live}/api/recommend", params={"isolation": value}, timeout=30)
        assert posted.status_code == shared.status_code == 200
        assert posted.json() == shared.json()
    compared = requests.get(f"{live}/api/compare", params={"ids": "docker,gvisor"}, timeout=30)
    assert compared.status_code == 200
    queries = requests.get(f"{live}/api/queries", timeout=30).json()["queries"]
    assert queries
    spec = requests.get(f"{live}/openapi.json", timeout=30).json()
    assert spec["openapi"].startswith("3.1")
    docs = requests.get(f"{live}/api/docs", timeout=30)
    assert docs.status_code == 200 and "openapi.json" in docs.text


def test_errors_over_http(live: str) -> None:
    check_error(requests.get(f"{live}/api/technologies/nope", timeout=30), 404)
    check_error(requests.get(f"{live}/api/recommend?isolation=nope", timeout=30), 400)
    check_error(
        requests.post(
            f"{live}/api/recommend",
            data="{oops",
            headers={"Content-Type": "application/json"},
            timeout=30,
        ),
        400,
    )
    check_error(requests.post(f"{live}/api/recommend", data="isolation=hardware", timeout=30), 415)
    check_error(requests.delete(f"{live}/api/recommend", timeout=30), 405)
    big = json.dumps({"requirements": {"isolation": "x" * MAX_BODY}})
    check_error(
        requests.post(
            f"{live}/api/recommend",
            data=big,
            headers={"Content-Type": "application/json"},
            timeout=30,
        ),
        413,
    )


def test_chunked_body_over_limit_is_413(live: str) -> None:
    """No Content-Length (chunked transfer): the limit still holds while reading."""

    def chunks() -> Iterator[bytes]:
        yield b'{"requirements": {"isolation": "'
        for _ in range(MAX_BODY // 1000 + 5):
            yield b"x" * 1000
        yield b'"}}'

    response = requests.post(
        f"{live}/api/recommend",
        data=chunks(),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    check_error(response, 413)


def test_linked_data_over_http(live: str) -> None:
    turtle = requests.get(
        f"{live}/technology/gvisor", headers={"Accept": "text/turtle"}, timeout=30
    )
    assert turtle.status_code == 200 and turtle.headers["Content-Type"].startswith("text/turtle")
    page = requests.get(f"{live}/technology/gvisor", headers={"Accept": "text/html"}, timeout=30)
    assert "/?tech=gvisor" in page.text
    assert (
        requests.get(f"{live}/ontology.owl", timeout=30)
        .headers["Content-Type"]
        .startswith("application/rdf+xml")
    )


def test_concurrent_recommendations_agree(live: str) -> None:
    """Sixteen clients at once get the same (memoized) answer."""
    bodies: list[bytes] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with requests.Session() as session:
                for _ in range(5):
                    response = session.post(
                        f"{live}/api/recommend",
                        json={"requirements": {"gpu": "any", "max_memory_overhead_mib": 64}},
                        timeout=30,
                    )
                    assert response.status_code == 200
                    bodies.append(response.content)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors[:3]
    assert len(bodies) == 80 and len(set(bodies)) == 1


# --- docs/api.md recipes --------------------------------------------------------------------


def test_the_docs_have_recipes() -> None:
    kinds = [r.kind for r in RECIPES if r.doc == "api.md"]
    assert kinds.count("curl") >= 10 and kinds.count("python") >= 2
    in_readme = [r.kind for r in RECIPES if r.doc == "README.md"]
    assert in_readme.count("curl") >= 2 and in_readme.count("python") >= 1


@pytest.mark.parametrize("recipe", [r for r in RECIPES if r.kind == "curl"], ids=str)
def test_curl_recipe(live: str, recipe: Recipe, tmp_path: Path) -> None:
    command = recipe.code.replace(DOC_HOST, live)
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + command],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, (recipe, result.stdout[:500], result.stderr[:500])
    assert result.stdout.strip(), recipe
    if recipe.expect is not None:
        status_line = result.stdout.splitlines()[0]
        assert f" {recipe.expect}" in status_line, (recipe, status_line)
        assert '"error"' in result.stdout


@pytest.mark.parametrize("recipe", [r for r in RECIPES if r.kind == "python"], ids=str)
def test_python_recipe(live: str, recipe: Recipe, tmp_path: Path) -> None:
    script = tmp_path / "recipe.py"
    script.write_text(recipe.code.replace(DOC_HOST, live), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, (recipe, result.stdout[:500], result.stderr[-1500:])


@pytest.mark.parametrize("recipe", [r for r in RECIPES if r.kind == "json"], ids=str)
def test_json_examples_parse(recipe: Recipe) -> None:
    json.loads(recipe.code)


def test_documented_endpoints_exist(app: Flask) -> None:
    """Every ``### `METHOD /path` `` heading of docs/api.md is a route of the app."""
    text = DOCS[0].read_text(encoding="utf-8")
    headings = re.findall(r"^### `(GET|POST) (/[^`? ]*)", text, re.MULTILINE)
    assert len(headings) >= 10
    rules = {re.sub(r"<[^>]*>", "{}", r.rule): r.methods for r in app.url_map.iter_rules()}
    for method, path in headings:
        shape = re.sub(r"\{[^}]*\}", "{}", path)
        assert shape in rules, f"docs/api.md documents {path}, which is not served"
        assert method in rules[shape], f"{method} {path} is not served"


# --- the docs page in a real browser --------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
def test_docs_page_try_it_in_chromium(live: str) -> None:
    """/api/docs lists the operations from /openapi.json and runs them, with no outside fetch."""
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium at /usr/bin/chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    seen: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.on("request", lambda request: seen.append(request.url))
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live}/api/docs")
            page.wait_for_selector("details#recommendGet")
            operations = page.locator("details.op").count()
            spec = requests.get(f"{live}/openapi.json", timeout=30).json()
            expected = sum(
                1 for item in spec["paths"].values() for m in item if m in {"get", "post"}
            )
            assert operations == expected

            page.click("details#recommendGet > summary")
            page.select_option("#recommendGet-query-isolation", "hardware")
            page.click("details#recommendGet button[type=submit]")
            page.wait_for_selector("details#recommendGet p.status-ok")
            output = page.locator("details#recommendGet pre.out").nth(1).inner_text()
            assert json.loads(output)["requirements"][0]["value"] == "hardware"

            page.click("details#getTechnology > summary")
            page.fill("#getTechnology-path-id", "nope")
            page.click("details#getTechnology button[type=submit]")
            page.wait_for_selector("details#getTechnology p.status-err")
            status = page.locator("details#getTechnology p.status-err").inner_text()
            assert status.startswith("404")

            page.click("details#recommend > summary")
            page.click("details#recommend button[type=submit]")  # the example body
            page.wait_for_selector("details#recommend p.status-ok")
        finally:
            browser.close()
    assert not errors, errors
    outside = [u for u in seen if not u.startswith(live)]
    assert not outside, f"the docs page fetched from elsewhere: {outside}"
