"""Browser tests of the UI (wizard, comparison, SPARQL editor) against a live server.

Headless Debian Chromium (/usr/bin/chromium) driven by Playwright for Python; no browser is
downloaded. Every request the pages make is recorded and must stay on 127.0.0.1. Screenshots of
the three views (desktop and phone width) go to artifacts/screenshots/.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 20_000

# Three ad-hoc requirement sets (query string form) for the wizard-vs-API check.
REQUIREMENT_SETS = [
    {"isolation": "hardware", "max_startup_ms": "500"},
    {"untrusted_multitenant": "true", "guest": "host-kernel", "container_ecosystem": "kubernetes"},
    {"host_arch": "aarch64", "gpu": "any", "max_memory_overhead_mib": "50"},
]
SCENARIO = "ci-untrusted-builds"
#: Where the prefix tests mount the app (as behind https://example.org/virtkg/).
PREFIX = "/virtkg"


def _require_frontend() -> None:
    if not (NODE_MODULES / "codemirror" / "lib" / "codemirror.js").is_file():
        pytest.fail(
            "node_modules is missing: run `npm ci` in the project root to install the browser "
            "libraries the UI serves (package-lock.json)",
            pytrace=False,
        )
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium", pytrace=False)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("Playwright is missing: pip install 'virtkg[test]'", pytrace=False)


# ------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def live_app() -> Iterator[object]:
    """create_app() with its query workers already forked."""
    _require_frontend()
    from virtkg.http import create_app

    app = create_app()
    # Fork the query workers now, before Playwright starts: a worker forked later would inherit
    # the pipes to the Playwright driver and keep it from exiting at the end.
    ask = urllib.parse.urlencode({"query": "ASK {}", "format": "json"})
    assert app.test_client().get(f"/sparql?{ask}").status_code == 200
    try:
        yield app
    finally:
        app.extensions["virtkg"].executor.close()


@contextmanager
def _serve(wsgi_app: object) -> Iterator[str]:
    """Serve ``wsgi_app`` (werkzeug, threaded) on 127.0.0.1; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url(live_app: object) -> Iterator[str]:
    """A live server on 127.0.0.1 serving the app at the site root."""
    with _serve(live_app) as url:
        yield url


@pytest.fixture(scope="module")
def prefixed_url(live_app: object) -> Iterator[str]:
    """The same app mounted at PREFIX by a WSGI dispatcher (it sets SCRIPT_NAME, as a server does
    behind a proxy that passes the path on); every other path is a 404. Yields ``{origin}/virtkg``.
    """
    from werkzeug.exceptions import NotFound
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    with _serve(DispatcherMiddleware(NotFound(), {PREFIX: live_app})) as url:
        yield url + PREFIX


@pytest.fixture(scope="module")
def requests_seen() -> list[str]:
    return []


@pytest.fixture(scope="module")
def browser_context(base_url: str, requests_seen: list[str]) -> Iterator[object]:
    """One Chromium (fresh user-data dir) for the module; records every request URL."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="virtkg-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=DESKTOP,
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.on("request", lambda request: requests_seen.append(request.url))
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser_context: object) -> Iterator[object]:
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    page.close()
    assert not errors, f"JavaScript errors: {errors}"


def _api(base_url: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base_url + path,
        data=data,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _wait_for_ranking(page: object) -> None:
    page.wait_for_function(
        "() => { const l = document.querySelector('#results');"
        " return l.children.length > 0 && !l.hasAttribute('aria-busy'); }"
    )


def _ranking(page: object) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#results > li", "items => items.map(li => [li.dataset.techId, li.dataset.fits])"
    )


def _expected(body: dict) -> list[list[str]]:
    return [[r["technology"]["id"], "true" if r["fits"] else "false"] for r in body["results"]]


# ------------------------------------------------------------------------------------------------
# wizard


@pytest.mark.parametrize("requirements", REQUIREMENT_SETS, ids=lambda r: ",".join(r))
def test_wizard_ranking_equals_api(page: object, base_url: str, requirements: dict) -> None:
    api_body = {k: (float(v) if k.startswith("max_") else v) for k, v in requirements.items()}
    expected = _api(base_url, "/api/recommend", {"requirements": api_body})
    page.goto(f"{base_url}/?{urllib.parse.urlencode(requirements)}")
    _wait_for_ranking(page)
    assert _ranking(page) == _expected(expected)
    # the controls show the requirements of the URL
    for name, value in requirements.items():
        control = page.locator(f"[name='{name}']")
        if control.get_attribute("type") == "checkbox":
            assert control.is_checked()
        else:
            assert (
                float(control.input_value()) == float(value)
                if name.startswith("max_")
                else (control.input_value() == value)
            )
    # every requirement row shows a status, and facts link to their sources
    first = page.locator("#results > li").first
    statuses = first.locator(".req").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert statuses == [r["status"] for r in expected["results"][0]["requirements"]]
    if any(f["sources"] for r in expected["results"][0]["requirements"] for f in r["facts"]):
        assert first.locator(".req a.source").count() > 0


def test_wizard_scenario_equals_api(page: object, base_url: str) -> None:
    expected = _api(base_url, f"/api/scenarios/{SCENARIO}/recommendations")
    page.goto(f"{base_url}/?scenario={SCENARIO}")
    _wait_for_ranking(page)
    assert _ranking(page) == _expected(expected)
    assert page.locator("#scenario").input_value() == SCENARIO
    assert page.locator(".fit-badge.fits").count() == sum(r["fits"] for r in expected["results"])


def test_wizard_url_round_trips_and_history(page: object, base_url: str) -> None:
    page.goto(f"{base_url}/")
    _wait_for_ranking(page)
    page.select_option("#req-isolation", "hardware")
    page.wait_for_url("**/?isolation=hardware")
    _wait_for_ranking(page)
    page.fill("#req-max_startup_ms", "500")
    page.press("#req-max_startup_ms", "Enter")
    page.wait_for_url("**/?isolation=hardware&max_startup_ms=500")
    _wait_for_ranking(page)
    before = _ranking(page)
    expected = _api(
        base_url,
        "/api/recommend",
        {"requirements": {"isolation": "hardware", "max_startup_ms": 500}},
    )
    assert before == _expected(expected)

    page.reload()
    _wait_for_ranking(page)
    assert _ranking(page) == before
    assert page.locator("#req-isolation").input_value() == "hardware"
    assert page.locator("#req-max_startup_ms").input_value() == "500"

    page.go_back()
    page.wait_for_url("**/?isolation=hardware")
    page.wait_for_function("() => document.querySelector('#req-max_startup_ms').value === ''")
    _wait_for_ranking(page)
    only_isolation = _api(base_url, "/api/recommend", {"requirements": {"isolation": "hardware"}})
    page.wait_for_function(
        "n => document.querySelectorAll('#results > li .req').length === n",
        arg=len(only_isolation["results"]),
    )
    assert _ranking(page) == _expected(only_isolation)
    page.go_forward()
    page.wait_for_url("**/?isolation=hardware&max_startup_ms=500")
    page.wait_for_function("() => document.querySelector('#req-max_startup_ms').value === '500'")

    # choosing a scenario replaces the requirements in the URL
    page.select_option("#scenario", SCENARIO)
    page.wait_for_url(f"**/?scenario={SCENARIO}")
    page.wait_for_function("() => document.querySelector('#req-isolation').value === 'hardware'")


def test_wizard_highlights_technology(page: object, base_url: str) -> None:
    page.goto(f"{base_url}/?scenario={SCENARIO}&tech=gvisor")
    _wait_for_ranking(page)
    highlighted = page.locator("#results > li.highlight")
    assert highlighted.count() == 1
    assert highlighted.get_attribute("data-tech-id") == "gvisor"
    assert highlighted.get_attribute("aria-current") == "true"


def test_keyboard_reaches_the_controls(page: object, base_url: str) -> None:
    page.goto(f"{base_url}/")
    _wait_for_ranking(page)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.id"))
        if reached[-1] == "req-isolation":
            break
    assert "scenario" in reached and reached[-1] == "req-isolation", reached
    # a visible focus indicator
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    # change the value with the keyboard alone
    page.keyboard.press("ArrowDown")
    page.wait_for_url("**/?isolation=*")
    _wait_for_ranking(page)


# ------------------------------------------------------------------------------------------------
# comparison


IDS = ["docker", "firecracker", "kata-containers", "gvisor", "xen", "wasmtime"]


def _numbers(data: dict, name: str) -> dict[str, list[float]]:
    row = next((r for r in data["properties"] if r["property"]["name"] == name), None)
    out: dict[str, list[float]] = {}
    for tech in data["technologies"]:
        cells = row["values"].get(tech["id"], []) if row else []
        out[tech["id"]] = sorted(float(c["value"]["literal"]) for c in cells)
    return out


def test_compare_charts_come_from_the_api(page: object, base_url: str) -> None:
    with page.expect_response(lambda r: "/api/compare?" in r.url) as response_info:
        page.goto(f"{base_url}/compare?ids={','.join(IDS)}")
    data = response_info.value.json()
    page.wait_for_selector("#comparison:not([hidden]) #chart-isolation circle")

    def drawn(chart: str, attribute: str) -> dict[str, list]:
        pairs = page.eval_on_selector_all(
            f"#{chart} circle",
            f"cs => cs.map(c => [c.dataset.tech, c.getAttribute('{attribute}')])",
        )
        out: dict[str, list] = {tech: [] for tech in IDS}
        for tech, value in pairs:
            out[tech].append(value)
        return out

    startup = {
        k: sorted(float(v) for v in vs) for k, vs in drawn("chart-startup", "data-value").items()
    }
    assert startup == _numbers(data, "startupTimeMs")
    memory = {
        k: sorted(float(v) for v in vs) for k, vs in drawn("chart-memory", "data-value").items()
    }
    assert memory == _numbers(data, "memoryOverheadMiB")
    assert page.get_attribute("#chart-startup svg", "data-scale") == "log"
    # contested values (two sources, two numbers) are drawn as a range
    contested = [t for t, values in _numbers(data, "startupTimeMs").items() if len(set(values)) > 1]
    for tech in contested:
        assert page.locator(f"#chart-startup g[data-tech='{tech}'] line.range").count() == 1

    row = next(r for r in data["properties"] if r["property"]["name"] == "isolationBoundary")
    boundaries = {k: sorted(v) for k, v in drawn("chart-isolation", "data-boundary").items()}
    assert boundaries == {t: sorted(c["value"]["iri"] for c in row["values"][t]) for t in IDS}
    # ranks drawn are the graph's vkg:isolationRank
    ranks = page.eval_on_selector_all(
        "#chart-isolation circle", "cs => cs.map(c => [c.dataset.boundary, c.dataset.rank])"
    )
    query = "SELECT ?b ?r WHERE { ?b <https://w3id.org/virtkg/ontology#isolationRank> ?r }"
    url = f"{base_url}/sparql?" + urllib.parse.urlencode({"query": query, "format": "json"})
    with urllib.request.urlopen(url, timeout=30) as response:
        graph_ranks = {
            b["b"]["value"]: b["r"]["value"] for b in json.load(response)["results"]["bindings"]
        }
    for boundary, rank in ranks:
        assert graph_ranks[boundary] == rank

    # the table has one column per technology and a source link for the facts
    headers = page.eval_on_selector_all("#compare-table thead th", "ths => ths.length")
    assert headers == len(IDS) + 1
    assert page.locator("#compare-table a.source").count() > 0


def test_compare_checkbox_choice(page: object, base_url: str) -> None:
    page.goto(f"{base_url}/compare?ids=firecracker")
    page.wait_for_selector("#tech-choices input[value='firecracker']:checked")
    page.check("#tech-choices input[value='gvisor']")
    page.click("#compare-form button[type=submit]")
    page.wait_for_url("**/compare?ids=*")
    assert set(urllib.parse.urlparse(page.url).query.split("=", 1)[1].split(",")) == {
        "firecracker",
        "gvisor",
    }
    page.wait_for_selector("#comparison:not([hidden]) #chart-startup svg")
    # more than 6: refused with a message
    for box in page.locator("#tech-choices input").all()[:7]:
        box.check()
    page.click("#compare-form button[type=submit]")
    assert "2 to 6" in page.inner_text("#pick-error")


# ------------------------------------------------------------------------------------------------
# SPARQL editor


def _set_query(page: object, text: str) -> None:
    page.evaluate("t => document.querySelector('.CodeMirror').CodeMirror.setValue(t)", text)


def test_editor_runs_a_saved_query(page: object, base_url: str) -> None:
    queries = _api(base_url, "/api/queries")["queries"]
    saved = next(q for q in queries if not q["parameters"])
    page.goto(f"{base_url}/sparql-editor")
    page.wait_for_selector(f"#saved option[value='{saved['name']}']", state="attached")
    assert page.locator("#saved option").count() == len(queries) + 1
    # prefixes prefilled, highlighted by the SPARQL mode
    assert "PREFIX vkg:" in page.evaluate(
        "document.querySelector('.CodeMirror').CodeMirror.getValue()"
    )
    assert page.locator(".CodeMirror .cm-keyword").count() > 0
    page.select_option("#saved", saved["name"])
    page.click("#run")
    page.wait_for_selector("#sparql-table[data-rows]")
    url = f"{base_url}/sparql?" + urllib.parse.urlencode(
        {"query": saved["sparql"], "format": "json"}
    )
    with urllib.request.urlopen(url, timeout=30) as response:
        expected = json.load(response)["results"]["bindings"]
    assert int(page.get_attribute("#sparql-table", "data-rows")) == len(expected)
    assert page.locator("#sparql-table tbody tr").count() == len(expected)
    if any(v["type"] == "uri" for row in expected for v in row.values()):
        assert page.locator("#sparql-table tbody a").count() > 0
    formats = page.eval_on_selector_all("#downloads a", "as => as.map(a => a.dataset.format)")
    assert formats == ["json", "xml", "csv", "tsv"]
    for fmt in formats:
        href = page.get_attribute(f"#downloads a[data-format='{fmt}']", "href")
        with urllib.request.urlopen(base_url + href, timeout=30) as response:
            assert response.status == 200


def test_editor_graph_query_downloads(page: object, base_url: str) -> None:
    page.goto(f"{base_url}/sparql-editor")
    page.wait_for_selector(".CodeMirror")
    _set_query(page, "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 3")
    page.wait_for_selector("#downloads a[data-format='turtle']")
    formats = page.eval_on_selector_all("#downloads a", "as => as.map(a => a.dataset.format)")
    assert formats == ["turtle", "ntriples", "rdfxml", "jsonld"]
    page.click("#run")
    page.wait_for_selector("#sparql-graph:not([hidden])")


def test_editor_shows_the_endpoint_error(page: object, base_url: str) -> None:
    broken = "SELECT ?x WHERE { ?x ?y }"
    url = f"{base_url}/sparql?" + urllib.parse.urlencode({"query": broken})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, timeout=30)
    message = info.value.read().decode().strip()
    page.goto(f"{base_url}/sparql-editor")
    page.wait_for_selector(".CodeMirror")
    _set_query(page, broken)
    page.click("#run")
    page.wait_for_selector("#sparql-error:not([hidden])")
    shown = page.inner_text("#sparql-error")
    assert message.split(": ", 1)[-1] in shown
    assert page.locator("#sparql-table tbody tr").count() == 0


def _api_error(base_url: str, path: str) -> str:
    """The service's JSON error message for a GET that fails."""
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(base_url + path, timeout=30)
    assert info.value.code == 400
    return json.load(info.value)["message"]


def _api_rows(base_url: str, path: str) -> int:
    request = urllib.request.Request(
        base_url + path, headers={"Accept": "application/sparql-results+json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return len(json.load(response)["results"]["bindings"])


def _run_saved(page: object, values: dict[str, str]) -> None:
    for name, value in values.items():
        page.fill(f"#param-{name}", value)
    page.click("#run-saved")
    page.wait_for_selector("#sparql-table[data-rows], #sparql-error:not([hidden])")


def test_editor_parameter_form_follows_the_api(page: object, base_url: str) -> None:
    queries = _api(base_url, "/api/queries")["queries"]
    with_parameters = [q for q in queries if q["parameters"]]
    assert with_parameters, "no saved query declares parameters"
    page.goto(f"{base_url}/sparql-editor")
    page.wait_for_selector(f"#saved option[value='{with_parameters[0]['name']}']", state="attached")
    assert page.locator("#params-form").is_hidden()
    for query in with_parameters:
        page.select_option("#saved", query["name"])
        page.wait_for_selector("#params-form:not([hidden])")
        fields = page.eval_on_selector_all(
            "#params-fields .field",
            """fs => fs.map(f => {
                const c = f.querySelector('input, select');
                return {name: c.name, required: c.required, type: c.dataset.type,
                        label: f.querySelector('label').textContent,
                        labelled: f.querySelector('label').htmlFor === c.id};
            })""",
        )
        assert [(f["name"], f["required"], f["type"]) for f in fields] == [
            (p["name"], p["required"], p["type"]) for p in query["parameters"]
        ]
        for field in fields:
            assert field["labelled"]
            assert ("required" if field["required"] else "optional") in field["label"]
        assert page.inner_text("#params-operation") == f"GET /api/queries/{query['name']}"
    # a saved query without parameters hides the form again
    plain = next(q for q in queries if not q["parameters"])
    page.select_option("#saved", plain["name"])
    page.wait_for_selector("#params-form", state="hidden")


def test_editor_runs_a_saved_query_with_parameters(page: object, base_url: str) -> None:
    name, iri = "technology-sources", "https://w3id.org/virtkg/technology/gvisor"
    page.goto(f"{base_url}/sparql-editor?saved={name}")
    page.wait_for_selector("#params-form:not([hidden]) #param-technology")
    assert page.get_attribute("#param-technology", "required") is not None
    page.fill("#param-technology", iri)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "sparql-editor-parameters-desktop.png"))
    # the values go to the REST operation, which binds them
    with page.expect_request(lambda r: f"/api/queries/{name}?" in r.url) as request_info:
        _run_saved(page, {"technology": iri})
    sent = urllib.parse.urlparse(request_info.value.url)
    assert sent.path == f"/api/queries/{name}"
    assert urllib.parse.parse_qs(sent.query) == {"technology": [iri]}
    query = urllib.parse.urlencode({"technology": iri})
    expected = _api_rows(base_url, f"/api/queries/{name}?{query}")
    assert expected > 0
    assert int(page.get_attribute("#sparql-table", "data-rows")) == expected
    assert page.locator("#sparql-table tbody tr").count() == expected

    # an invalid value: the service's JSON error message, no table
    bad = "not an IRI"
    message = _api_error(
        base_url, f"/api/queries/{name}?{urllib.parse.urlencode({'technology': bad})}"
    )
    _run_saved(page, {"technology": bad})
    page.wait_for_selector("#sparql-error:not([hidden])")
    assert message in page.inner_text("#sparql-error")
    assert page.locator("#sparql-table tbody tr").count() == 0
    # a required parameter left empty: the service says which one is missing
    message = _api_error(base_url, f"/api/queries/{name}")
    _run_saved(page, {"technology": ""})
    page.wait_for_function(
        "m => document.querySelector('#sparql-error').textContent.includes(m)", arg=message
    )

    # editing the text: the form says it still runs the saved query
    assert page.locator("#params-edited").is_hidden()
    _set_query(page, "SELECT * WHERE { ?s ?p ?o } LIMIT 1")
    page.wait_for_selector("#params-edited:not([hidden])")


def test_editor_optional_decimal_parameter(page: object, base_url: str) -> None:
    name = "fastest-hardware-isolated"
    page.goto(f"{base_url}/sparql-editor?saved={name}")
    page.wait_for_selector("#params-form:not([hidden]) #param-max")
    assert page.get_attribute("#param-max", "required") is None
    assert page.get_attribute("#param-max", "inputmode") == "decimal"
    # empty optional parameter: not sent, the query runs unrestricted
    with page.expect_request(lambda r: f"/api/queries/{name}" in r.url) as request_info:
        _run_saved(page, {"max": ""})
    assert urllib.parse.urlparse(request_info.value.url).query == ""
    everything = _api_rows(base_url, f"/api/queries/{name}")
    assert int(page.get_attribute("#sparql-table", "data-rows")) == everything
    _run_saved(page, {"max": "100"})
    page.wait_for_function(
        "n => document.querySelector('#sparql-table').dataset.rows === String(n)",
        arg=_api_rows(base_url, f"/api/queries/{name}?max=100"),
    )
    assert int(page.get_attribute("#sparql-table", "data-rows")) < everything
    message = _api_error(base_url, f"/api/queries/{name}?max=fast")
    _run_saved(page, {"max": "fast"})
    page.wait_for_selector("#sparql-error:not([hidden])")
    assert message in page.inner_text("#sparql-error")


def test_editor_tab_leaves_the_editor(page: object, base_url: str) -> None:
    page.goto(f"{base_url}/sparql-editor")
    page.wait_for_selector(".CodeMirror")
    page.click(".CodeMirror-code")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "run"


# ------------------------------------------------------------------------------------------------
# mounted under a path prefix


@pytest.fixture
def prefixed_page(browser_context: object, prefixed_url: str) -> Iterator[object]:
    """A page of the app under PREFIX: every request it makes must stay under PREFIX (a request
    to the site root would be a 404 there), and the console must stay free of errors."""
    page = browser_context.new_page()
    requests: list[str] = []
    problems: list[str] = []

    def console(message: object) -> None:
        if message.type == "error":
            problems.append(f"{message.text} ({message.location.get('url')})")

    def response(answer: object) -> None:
        if answer.status >= 400:
            problems.append(f"HTTP {answer.status}: {answer.url}")

    page.on("request", lambda request: requests.append(request.url))
    page.on("console", console)
    page.on("response", response)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    yield page
    page.close()
    assert requests, "no request was recorded"
    outside = [
        url
        for url in requests
        if not url.startswith((prefixed_url + "/", "data:", "about:", "blob:"))
    ]
    assert not outside, f"requests outside {PREFIX}/: {outside}"
    assert not problems, f"console errors or failed requests: {problems}"


def test_prefixed_wizard_and_technology_page(prefixed_page: object, prefixed_url: str) -> None:
    page = prefixed_page
    page.goto(f"{prefixed_url}/")
    _wait_for_ranking(page)
    # the state in the URL stays under the prefix
    page.select_option("#req-isolation", "hardware")
    page.wait_for_url(f"{prefixed_url}/?isolation=hardware")
    page.select_option("#scenario", SCENARIO)
    page.wait_for_url(f"{prefixed_url}/?scenario={SCENARIO}")
    expected = _api(prefixed_url, f"/api/scenarios/{SCENARIO}/recommendations")
    page.wait_for_function("() => document.querySelector('#req-isolation').value === 'hardware'")
    _wait_for_ranking(page)
    assert _ranking(page) == _expected(expected)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "prefixed-wizard-desktop.png"))
    # a result's "All facts" opens its Linked Data page, which links back into the UI
    first = page.locator("#results > li").first
    tech = first.get_attribute("data-tech-id")
    first.get_by_role("link", name="All facts").click()
    page.wait_for_url(f"{prefixed_url}/technology/{tech}")
    page.get_by_role("link", name="Compare with others").click()
    page.wait_for_url(f"{prefixed_url}/compare?ids={tech}")
    page.wait_for_selector(f"#tech-choices input[value='{tech}']:checked")
    page.get_by_role("link", name="SPARQL", exact=True).click()
    page.wait_for_url(f"{prefixed_url}/sparql-editor")
    page.wait_for_selector(".CodeMirror")


def test_prefixed_compare_charts(prefixed_page: object, prefixed_url: str) -> None:
    page = prefixed_page
    ids = IDS[:4]
    with page.expect_response(lambda r: "/api/compare?" in r.url) as response_info:
        page.goto(f"{prefixed_url}/compare?ids={','.join(ids)}")
    assert response_info.value.url.startswith(f"{prefixed_url}/api/compare?")
    data = response_info.value.json()
    page.wait_for_selector("#comparison:not([hidden]) #chart-isolation circle")
    startup = {tech: [] for tech in ids}
    for tech, value in page.eval_on_selector_all(
        "#chart-startup circle", "cs => cs.map(c => [c.dataset.tech, c.dataset.value])"
    ):
        startup[tech].append(float(value))
    assert {k: sorted(v) for k, v in startup.items()} == _numbers(data, "startupTimeMs")
    # the isolation ranks came from the prefixed /sparql
    assert page.locator("#chart-isolation circle[data-rank]").count() > 0
    links = page.eval_on_selector_all("#compare-table thead a", "as => as.map(a => a.href)")
    assert links and all(href.startswith(f"{prefixed_url}/?tech=") for href in links)


def test_prefixed_editor_runs_a_saved_query(prefixed_page: object, prefixed_url: str) -> None:
    page = prefixed_page
    queries = _api(prefixed_url, "/api/queries")["queries"]
    saved = next(q for q in queries if not q["parameters"])
    page.goto(f"{prefixed_url}/sparql-editor?saved={saved['name']}")
    page.wait_for_function(
        "name => document.querySelector('#saved').value === name", arg=saved["name"]
    )
    assert page.get_attribute("#sparql-form", "action") == f"{PREFIX}/sparql"
    page.click("#run")
    page.wait_for_selector("#sparql-table[data-rows]")
    url = f"{prefixed_url}/sparql?" + urllib.parse.urlencode(
        {"query": saved["sparql"], "format": "json"}
    )
    with urllib.request.urlopen(url, timeout=30) as response:
        expected = json.load(response)["results"]["bindings"]
    assert int(page.get_attribute("#sparql-table", "data-rows")) == len(expected)
    hrefs = page.eval_on_selector_all("#downloads a", "as => as.map(a => a.href)")
    assert hrefs and all(href.startswith(f"{prefixed_url}/sparql?") for href in hrefs)
    with urllib.request.urlopen(hrefs[0], timeout=30) as response:
        assert response.status == 200
    # a saved query with a parameter, through the prefixed REST operation
    page.select_option("#saved", "technology-sources")
    assert page.inner_text("#params-operation") == f"GET {PREFIX}/api/queries/technology-sources"
    iri = "https://w3id.org/virtkg/technology/firecracker"
    with page.expect_response(lambda r: "/api/queries/technology-sources?" in r.url) as answer:
        _run_saved(page, {"technology": iri})
    assert answer.value.url.startswith(f"{prefixed_url}/api/queries/technology-sources?")
    query = urllib.parse.urlencode({"technology": iri})
    expected = _api_rows(prefixed_url, f"/api/queries/technology-sources?{query}")
    page.wait_for_function(
        "n => document.querySelector('#sparql-table').dataset.rows === String(n)", arg=expected
    )


# ------------------------------------------------------------------------------------------------
# screenshots and the network


VIEWS = {
    "wizard": f"/?scenario={SCENARIO}&tech=gvisor",
    "compare": "/compare?ids=docker,firecracker,kata-containers,gvisor,xen",
    "sparql-editor": "/sparql-editor?saved=contested-facts",
}


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots(browser_context: object, base_url: str, size: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser_context.new_page()
    page.set_viewport_size(DESKTOP if size == "desktop" else PHONE)
    overflows = {}
    try:
        for name, path in VIEWS.items():
            page.goto(base_url + path)
            if name == "wizard":
                _wait_for_ranking(page)
            elif name == "compare":
                page.wait_for_selector("#comparison:not([hidden]) #chart-isolation circle")
            else:
                page.wait_for_selector(".CodeMirror")
                page.click("#run")
                page.wait_for_selector("#sparql-table[data-rows], #sparql-error:not([hidden])")
            # nothing wider than the screen (wide tables scroll inside their own region)
            overflows[name] = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
    finally:
        page.close()
    assert all(px <= 1 for px in overflows.values()), f"sideways scrolling at {size}: {overflows}"


def test_no_request_leaves_localhost(
    requests_seen: list[str], base_url: str, prefixed_url: str
) -> None:
    # runs last in this module: every page above has been loaded by now
    assert requests_seen, "no request was recorded"
    outside = [
        url
        for url in requests_seen
        if not url.startswith((base_url + "/", prefixed_url + "/", "data:", "about:", "blob:"))
    ]
    assert not outside, f"requests left 127.0.0.1: {outside}"
    assert any("/vendor/codemirror/" in url for url in requests_seen)
