"""/api and /openapi.json: every endpoint, every error status, hostile input, the document."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from virtkg.config import PROJECT_ROOT, load_settings
from virtkg.http import create_app

TECHNOLOGIES = {
    "docker", "containerd", "podman", "lxc-incus", "windows-process-containers", "kvm-qemu",
    "qemu-tcg", "xen", "vmware-esxi", "hyper-v", "virtualbox", "firecracker", "cloud-hypervisor",
    "kata-containers", "windows-hyperv-containers", "gvisor", "unikraft", "wasmtime",
}  # fmt: skip
SCENARIOS = {
    "dev-test", "microservices", "legacy-apps", "regulated-isolation", "multi-tenant-untrusted",
    "other-os", "other-cpu-arch", "gpu-trusted", "gpu-untrusted", "ci-untrusted-builds",
    "edge-iot", "windows-containers", "cloud-vm-no-nested", "kubernetes-mixed-trust",
}  # fmt: skip
DIMENSIONS = {
    "isolation", "guest", "host_arch", "untrusted_multitenant", "gpu", "full_os",
    "no_nested_virt", "container_ecosystem", "max_startup_ms", "max_memory_overhead_mib",
}  # fmt: skip
MAX_BODY = 20_000
QUERY_FILES = sorted(p.stem for p in (PROJECT_ROOT / "queries").glob("*.rq"))
TOKEN = "api-test-token"


def make_app(tmp: Path, **overrides: object) -> Flask:
    settings = load_settings(
        {}, cache_dir=str(tmp), max_body_bytes=MAX_BODY, query_workers=0, **overrides
    )
    app = create_app(settings)
    assert app.extensions["virtkg"].ready, app.extensions["virtkg"].load_error
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    application = make_app(tmp_path_factory.mktemp("api-cache"))
    yield application
    application.extensions["virtkg"].executor.close()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def ok_json(response, mimetype: str = "application/json") -> dict:  # noqa: ANN001
    assert response.status_code == 200, response.data[:500]
    assert response.mimetype == mimetype
    return json.loads(response.data)


def error(response, status: int, code: str | None = None) -> dict:  # noqa: ANN001
    """Assert a JSON error body with ``status`` (and ``code``); return it."""
    assert response.status_code == status, (response.status_code, response.data[:500])
    assert response.mimetype == "application/json"
    body = json.loads(response.data)
    assert isinstance(body["error"], str) and isinstance(body["message"], str), body
    if code is not None:
        assert body["error"] == code, body
    return body


# --- technologies ---------------------------------------------------------------------------


def test_technologies(client: FlaskClient) -> None:
    body = ok_json(client.get("/api/technologies"))
    assert {t["id"] for t in body["technologies"]} == TECHNOLOGIES
    assert body["count"] == len(TECHNOLOGIES)
    for tech in body["technologies"]:
        assert tech["iri"] == "https://w3id.org/virtkg/technology/" + tech["id"]
        assert tech["label"] and tech["kind"]["iri"].startswith("https://w3id.org/virtkg/ontology#")


@pytest.mark.parametrize("tech_id", sorted(TECHNOLOGIES))
def test_technology_detail_every_fact_sourced(client: FlaskClient, tech_id: str) -> None:
    body = ok_json(client.get(f"/api/technologies/{tech_id}"))
    assert body["id"] == tech_id
    assert body["facts"], "a technology without facts"
    for fact in body["facts"]:
        assert fact["sources"], f"unsourced fact {fact['property']['name']}"
        iris = [s["iri"] for s in fact["sources"]]
        assert len(iris) == len(set(iris)), f"a source listed twice: {iris}"
        assert all(i.startswith("https://w3id.org/virtkg/source/") for i in iris)
    for caveat in body["caveats"]:
        assert caveat["iri"].startswith("https://w3id.org/virtkg/caveat/")
    assert {s["id"] for s in body["scenarios"]} <= SCENARIOS


def test_a_fact_looks_the_same_in_every_view(client: FlaskClient) -> None:
    """The technology view, a recommendation and the comparison render each fact identically."""
    views = {t: ok_json(client.get(f"/api/technologies/{t}"))["facts"] for t in TECHNOLOGIES}
    ranking = ok_json(
        client.get("/api/recommend?isolation=hardware&guest=own-linux-kernel&max_startup_ms=500")
    )
    shown = 0
    for result in ranking["results"]:
        facts = views[result["technology"]["id"]]
        for requirement in result["requirements"]:
            for fact in requirement["facts"]:
                assert fact in facts, (result["technology"]["id"], fact)
                shown += 1
    assert shown > 20
    compared = ok_json(client.get("/api/compare?ids=firecracker,gvisor"))
    for tech in ("firecracker", "gvisor"):
        assert [f for row in compared["properties"] for f in row["values"][tech]] == views[tech]
    for fact in views["gvisor"]:
        assert set(fact) == {"property", "value", "sources", "comment", "evidence", "measured_in"}


def test_unknown_technology_lists_allowed_ids(client: FlaskClient) -> None:
    body = error(client.get("/api/technologies/no-such-thing"), 404, "not_found")
    assert set(body["details"]["allowed"]) == TECHNOLOGIES


# --- scenarios ------------------------------------------------------------------------------


def test_scenarios(client: FlaskClient) -> None:
    body = ok_json(client.get("/api/scenarios"))
    assert {s["id"] for s in body["scenarios"]} == SCENARIOS
    for scenario in body["scenarios"]:
        assert scenario["requirements"], scenario["id"]
        assert set(scenario["requirements"]) <= DIMENSIONS


@pytest.mark.parametrize("scenario_id", sorted(SCENARIOS))
def test_scenario_detail_and_ranking_agree(client: FlaskClient, scenario_id: str) -> None:
    detail = ok_json(client.get(f"/api/scenarios/{scenario_id}"))
    assert detail["rationale"] and detail["sources"], "rationale must be sourced"
    ranking = ok_json(client.get(f"/api/scenarios/{scenario_id}/recommendations"))
    assert ranking["scenario"]["id"] == scenario_id
    fitting = {r["technology"]["id"] for r in ranking["results"] if r["fits"]}
    assert fitting == {t["id"] for t in detail["fitting"]}
    assert [r["rank"] for r in ranking["results"]] == list(range(1, len(TECHNOLOGIES) + 1))
    fits = [r["fits"] for r in ranking["results"]]
    assert fits == sorted(fits, reverse=True), "fitting technologies come first"


@pytest.mark.parametrize("path", ["/api/scenarios/nope", "/api/scenarios/nope/recommendations"])
def test_unknown_scenario_is_404(client: FlaskClient, path: str) -> None:
    body = error(client.get(path), 404, "not_found")
    assert set(body["details"]["allowed"]) == SCENARIOS


# --- recommendation ---------------------------------------------------------------------------


def test_requirement_vocabulary(client: FlaskClient) -> None:
    body = ok_json(client.get("/api/requirements"))
    dims = {d["name"]: d for d in body["requirements"]}
    assert set(dims) == DIMENSIONS
    assert [v["value"] for v in dims["isolation"]["values"]] == sorted(
        ["process", "user-space-kernel", "hardware"]
    ) or {v["value"] for v in dims["isolation"]["values"]} == {
        "process",
        "user-space-kernel",
        "hardware",
    }
    assert dims["max_startup_ms"]["kind"] == "numeric" and dims["max_startup_ms"]["unit"] == "ms"
    assert dims["untrusted_multitenant"]["accepts"] == ["true", "false"]


def test_recommend_post_and_get_agree(client: FlaskClient) -> None:
    requirements = {"isolation": "hardware", "untrusted_multitenant": True, "max_startup_ms": 500}
    body = json.dumps({"requirements": requirements})  # json= would sort the keys
    posted = ok_json(client.post("/api/recommend", data=body, content_type="application/json"))
    got = ok_json(
        client.get(
            "/api/recommend?isolation=hardware&untrusted_multitenant=true&max_startup_ms=500"
        )
    )
    assert posted == got
    assert [r["dimension"] for r in posted["requirements"]] == list(requirements)
    assert posted["results"][0]["fits"]
    fits = {r["technology"]["id"] for r in posted["results"] if r["fits"]}
    assert "firecracker" in fits and "docker" not in fits
    for result in posted["results"]:
        statuses = [r["status"] for r in result["requirements"]]
        assert result["fits"] == all(s == "met" for s in statuses)


def test_recommend_without_requirements_ranks_everything(client: FlaskClient) -> None:
    body = ok_json(client.post("/api/recommend", json={"requirements": {}}))
    assert len(body["results"]) == len(TECHNOLOGIES) and all(r["fits"] for r in body["results"])
    assert ok_json(client.get("/api/recommend")) == body


def test_recommend_repeated_parameter_requires_all(client: FlaskClient) -> None:
    body = ok_json(client.get("/api/recommend?guest=windows&guest=host-kernel"))
    assert [r["value"] for r in body["requirements"]] == ["windows", "host-kernel"]
    same = ok_json(
        client.post("/api/recommend", json={"requirements": {"guest": ["windows", "host-kernel"]}})
    )
    assert same == body


def test_recommend_is_memoized_per_requirement_set(app: Flask, client: FlaskClient) -> None:
    first = client.post("/api/recommend", json={"requirements": {"isolation": "Hardware"}}).data
    second = client.get("/api/recommend?isolation=hardware").data
    assert first == second
    memo = app.extensions["virtkg"].cache["api:recommend"]
    assert any(key and key[0][0] == "isolation" for key in memo)


def test_unknown_requirement_lists_allowed(client: FlaskClient) -> None:
    body = error(
        client.post("/api/recommend", json={"requirements": {"colour": "blue"}}),
        400,
        "unknown_requirement",
    )
    assert set(body["details"]["allowed"]) == DIMENSIONS
    body = error(client.get("/api/recommend?isolation=titanium"), 400, "unknown_requirement")
    assert set(body["details"]["allowed"]) == {"process", "user-space-kernel", "hardware"}


# --- comparison -----------------------------------------------------------------------------


def test_compare(client: FlaskClient) -> None:
    body = ok_json(client.get("/api/compare?ids=docker,gvisor,firecracker"))
    assert [t["id"] for t in body["technologies"]] == ["docker", "gvisor", "firecracker"]
    for row in body["properties"]:
        assert set(row["values"]) == {"docker", "gvisor", "firecracker"}
    assert ok_json(client.get("/api/compare?ids=docker&ids=gvisor"))["technologies"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),
        ("?ids=docker", 400),
        ("?ids=docker,docker", 400),
        ("?ids=docker,gvisor,docker", 400),  # the document says unique; no silent merging
        ("?ids=docker&ids=gvisor&ids=gvisor", 400),
        ("?ids=" + ",".join(sorted(TECHNOLOGIES)[:7]), 400),
        ("?ids=docker,nope", 404),
        ("?ids=docker,gvisor&colour=red", 400),
        ("?ids=" + "a," * 5000, 400),
    ],
)
def test_compare_errors(client: FlaskClient, query: str, status: int) -> None:
    body = error(client.get("/api/compare" + query), status)
    if status == 404:
        assert set(body["details"]["allowed"]) == TECHNOLOGIES


# --- saved queries --------------------------------------------------------------------------


def test_query_list_matches_files(client: FlaskClient) -> None:
    body = ok_json(client.get("/api/queries"))
    assert sorted(q["name"] for q in body["queries"]) == QUERY_FILES
    for query in body["queries"]:
        assert query["title"] and query["path"] == f"/api/queries/{query['name']}"
        assert query["form"] in {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}


def _required(client: FlaskClient) -> dict[str, dict[str, str]]:
    """A valid value for every required parameter of every saved query."""
    samples = {
        "iri": "https://w3id.org/virtkg/technology/gvisor",
        "integer": "1",
        "decimal": "100",
        "boolean": "true",
        "string": "x",
        "langString": "x",
    }
    out = {}
    for query in ok_json(client.get("/api/queries"))["queries"]:
        out[query["name"]] = {
            p["name"]: samples[p["type"]] for p in query["parameters"] if p["required"]
        }
    return out


@pytest.mark.parametrize("name", QUERY_FILES)
def test_every_saved_query_runs(client: FlaskClient, name: str) -> None:
    params = _required(client)[name]
    response = client.get(f"/api/queries/{name}", query_string=params)
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype in {"application/sparql-results+json", "text/turtle"}
    posted = client.post(f"/api/queries/{name}", json=params)
    assert posted.status_code == 200 and posted.data == response.data
    form = client.post(f"/api/queries/{name}", data=params)
    assert form.status_code == 200 and form.data == response.data


@pytest.mark.parametrize(
    ("accept", "mimetype"),
    [
        (None, "application/sparql-results+json"),
        ("application/json", "application/sparql-results+json"),
        ("text/csv", "text/csv"),
        ("text/tab-separated-values", "text/tab-separated-values"),
        ("application/sparql-results+xml", "application/sparql-results+xml"),
    ],
)
def test_saved_query_negotiation(client: FlaskClient, accept: str | None, mimetype: str) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get("/api/queries/technologies-by-isolation", headers=headers)
    assert response.status_code == 200 and response.mimetype == mimetype
    assert response.headers["Vary"] == "Accept"


def _query_with_parameter(client: FlaskClient, kind: str) -> tuple[str, str]:
    for query in ok_json(client.get("/api/queries"))["queries"]:
        for param in query["parameters"]:
            if param["type"] == kind:
                return query["name"], param["name"]
    pytest.skip(f"no saved query has a {kind} parameter")


def test_saved_query_parameter_binds(client: FlaskClient) -> None:
    name, param = _query_with_parameter(client, "iri")
    xen = "https://w3id.org/virtkg/technology/xen"
    results = "application/sparql-results+json"
    rows = ok_json(client.get(f"/api/queries/{name}", query_string={param: xen}), results)
    everything = ok_json(client.get(f"/api/queries/{name}"), results)
    assert len(rows["results"]["bindings"]) <= len(everything["results"]["bindings"])


def test_saved_query_errors(client: FlaskClient) -> None:
    body = error(client.get("/api/queries/nope"), 404, "not_found")
    assert sorted(body["details"]["allowed"]) == QUERY_FILES
    error(client.get("/api/queries/technologies-by-isolation?colour=red"), 400, "invalid_parameter")
    error(
        client.get("/api/queries/technologies-by-isolation", headers={"Accept": "image/png"}),
        406,
        "not_acceptable",
    )
    name, param = _query_with_parameter(client, "iri")
    error(client.get(f"/api/queries/{name}", query_string={param: "not an iri"}), 400)
    error(client.get(f"/api/queries/{name}?{param}=a&{param}=b"), 400, "invalid_parameter")
    error(client.post(f"/api/queries/{name}", json={param: {"nested": [1]}}), 400)
    error(client.post(f"/api/queries/{name}", json=[1, 2]), 400)
    error(client.post(f"/api/queries/{name}", data="{", content_type="application/json"), 400)
    error(client.post(f"/api/queries/{name}", data="x", content_type="text/plain"), 415)
    error(client.put(f"/api/queries/{name}"), 405, "method_not_allowed")


def test_saved_query_with_missing_required_parameter(client: FlaskClient) -> None:
    for query in ok_json(client.get("/api/queries"))["queries"]:
        if any(p["required"] for p in query["parameters"]):
            error(client.get(query["path"]), 400, "invalid_parameter")
            return
    pytest.skip("no saved query has a required parameter")


# --- error statuses and hostile input -------------------------------------------------------


def test_malformed_json_is_400(client: FlaskClient) -> None:
    error(
        client.post("/api/recommend", data='{"requirements": ', content_type="application/json"),
        400,
        "bad_request",
    )
    error(client.post("/api/recommend", data=b"\xff\xfe", content_type="application/json"), 400)
    error(client.post("/api/recommend", data="", content_type="application/json"), 400)


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_wrong_content_type_is_415(client: FlaskClient, content_type: str | None) -> None:
    kwargs = {"content_type": content_type} if content_type else {}
    response = client.post("/api/recommend", data='{"requirements": {}}', **kwargs)
    error(response, 415, "unsupported_media_type")


def test_body_over_limit_is_413(client: FlaskClient) -> None:
    body = json.dumps({"requirements": {"isolation": "x" * MAX_BODY}})
    error(client.post("/api/recommend", data=body, content_type="application/json"), 413)
    error(client.post("/api/queries/licences", data=body, content_type="application/json"), 413)


API_ROUTES = [
    "/api/technologies",
    "/api/technologies/docker",
    "/api/scenarios",
    "/api/scenarios/dev-test",
    "/api/scenarios/dev-test/recommendations",
    "/api/recommend",
    "/api/requirements",
    "/api/compare",
    "/api/queries",
    "/api/queries/licences",
    "/openapi.json",
]


@pytest.mark.parametrize("path", API_ROUTES)
@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_unsupported_methods_are_405(client: FlaskClient, path: str, method: str) -> None:
    response = client.open(path, method=method)
    error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_post_to_get_only_routes_is_405(client: FlaskClient) -> None:
    error(client.post("/api/technologies", json={}), 405)


def test_unknown_api_path_is_json_404(client: FlaskClient) -> None:
    error(client.get("/api/nothing-here"), 404, "not_found")


HOSTILE_BODIES = [
    "[]",
    '"requirements"',
    "1",
    "null",
    "true",
    '{"requirements": []}',
    '{"requirements": "isolation"}',
    '{"requirements": 42}',
    '{"requirements": {"isolation": {"$gt": ""}}}',
    '{"requirements": {"isolation": [[["hardware"]]]}}',
    '{"requirements": {"isolation": [{"a": 1}]}}',
    '{"requirements": {"isolation": 1}}',
    '{"requirements": {"isolation": "hard\\u0000ware"}}',
    '{"requirements": {"iso\\u0000lation": "hardware"}}',
    '{"requirements": {"ïsölätïön 🙂": "härdwäre"}}',
    '{"requirements": {"": ""}}',
    '{"requirements": {"max_startup_ms": 1e400}}',
    '{"requirements": {"max_startup_ms": -1e400}}',
    '{"requirements": {"max_startup_ms": NaN}}',
    '{"requirements": {"max_startup_ms": Infinity}}',
    '{"requirements": {"max_startup_ms": "NaN"}}',
    '{"requirements": {"max_startup_ms": -5}}',
    '{"requirements": {"max_startup_ms": 0}}',
    '{"requirements": {"max_startup_ms": true}}',
    '{"requirements": {"max_startup_ms": [100]}}',
    '{"requirements": {"max_startup_ms": {"lt": 100}}}',
    '{"requirements": {"max_startup_ms": "1e999999999"}}',
    '{"requirements": {"max_startup_ms": 1e300}}',
    '{"requirements": {"max_memory_overhead_mib": "1' + "0" * 60 + '"}}',
    '{"requirements": {"max_startup_ms": ' + "9" * 5000 + "}}",
    '{"requirements": {"untrusted_multitenant": "maybe"}}',
    '{"requirements": {}, "scenario": "dev-test"}',
    '{"requirements": {"isolation": "hardware", "isolation": "bogus"}}',
    "[" * 50_000 + "]" * 50_000,
    '{"a":' * 5000 + "1" + "}" * 5000,
    '{"requirements": {"isolation": "' + "\\ud800" + '"}}',
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_bodies_never_500(app: Flask, body: str) -> None:
    client = app.test_client()
    state = app.extensions["virtkg"]
    settings = state.settings
    state.settings = dataclasses.replace(settings, max_body_bytes=200_000)  # deep nesting
    app.config["MAX_CONTENT_LENGTH"] = 200_000
    try:
        response = client.post("/api/recommend", data=body, content_type="application/json")
    finally:
        state.settings = settings
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    error(response, 400)


GOOD_ODD_BODIES = [
    '{"requirements": null}',
    '{"requirements": {"isolation": null}}',
    '{"requirements": {"max_startup_ms": "  250 "}}',
    '{"requirements": {"untrusted_multitenant": false}}',
    '{"requirements": {"untrusted_multitenant": "FALSE"}}',
    '{"requirements": {"isolation": " HARDWARE "}}',
]


@pytest.mark.parametrize("body", GOOD_ODD_BODIES)
def test_odd_but_valid_bodies(client: FlaskClient, body: str) -> None:
    ok_json(client.post("/api/recommend", data=body, content_type="application/json"))


HOSTILE_URLS = [
    "/api/recommend?isolation=%00",
    "/api/recommend?isolation=",
    "/api/recommend?max_startup_ms=1e999999",
    "/api/recommend?max_startup_ms=-5",
    "/api/recommend?max_startup_ms=0x10",
    "/api/recommend?%00=1",
    "/api/recommend?isolation=%F0%9F%99%82",
    "/api/recommend?isolation=%ff%fe",
    "/api/technologies/%00",
    "/api/technologies/" + "a" * 5000,
    "/api/technologies/%F0%9F%99%82",
    "/api/technologies/..",
    "/api/scenarios/%00/recommendations",
    "/api/compare?ids=%00,%01",
    "/api/queries/%00",
    "/api/queries/licences?%00=%00",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_hostile_urls_never_500(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert 400 <= response.status_code < 500, (response.status_code, response.data[:300])
    error(response, response.status_code)


def test_api_not_ready_is_503(app: Flask) -> None:
    state = app.extensions["virtkg"]
    state.ready = False
    try:
        error(app.test_client().get("/api/technologies"), 503, "store_unavailable")
    finally:
        state.ready = True


# --- caching --------------------------------------------------------------------------------


def test_sparql_update_invalidates_cached_answers(tmp_path: Path) -> None:
    app = make_app(tmp_path, update_token=TOKEN)
    client = app.test_client()
    try:
        before = ok_json(client.get("/api/technologies"))
        ok_json(client.get("/api/requirements"))
        assert "api:technologies" in app.extensions["virtkg"].cache
        update = """
            PREFIX vkg: <https://w3id.org/virtkg/ontology#>
            PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
            INSERT DATA { GRAPH <https://w3id.org/virtkg/graph/data> {
              <https://w3id.org/virtkg/technology/new-thing> a vkg:MicroVM ;
                  rdfs:label "New thing"@en . } }"""
        response = client.post(
            "/sparql",
            data=update,
            content_type="application/sparql-update",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 204, response.data
        after = ok_json(client.get("/api/technologies"))
        assert after["count"] == before["count"] + 1
        assert "new-thing" in {t["id"] for t in after["technologies"]}
    finally:
        app.extensions["virtkg"].executor.close()


# --- OpenAPI --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(app: Flask) -> dict:
    return ok_json(app.test_client().get("/openapi.json"))


def test_openapi_document_is_valid(openapi: dict) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(openapi)
    assert openapi["openapi"].startswith("3.1")


def test_openapi_describes_every_api_route(app: Flask, openapi: dict) -> None:
    def shape(path: str) -> str:  # "/api/technologies/<tech_id>" -> "/api/technologies/{}"
        return re.sub(r"[<{][^>}]*[>}]", "{}", path)

    described = {shape(path): item for path, item in openapi["paths"].items()}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint == "openapi.docs_page":
            continue
        item = described.get(shape(rule.rule))
        assert item is not None, f"{rule.rule} is not in /openapi.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in item, f"{method} {rule.rule} is not described"


def test_openapi_has_one_path_per_saved_query(openapi: dict) -> None:
    for name in QUERY_FILES:
        item = openapi["paths"][f"/api/queries/{name}"]
        assert set(item) == {"get", "post"}


def test_openapi_saved_query_parameters_match_headers(client: FlaskClient, openapi: dict) -> None:
    for query in ok_json(client.get("/api/queries"))["queries"]:
        params = openapi["paths"][query["path"]]["get"]["parameters"]
        assert [(p["name"], p["required"]) for p in params] == [
            (p["name"], p["required"]) for p in query["parameters"]
        ]


def test_openapi_recommend_parameters_from_vocabulary(openapi: dict) -> None:
    params = {p["name"]: p for p in openapi["paths"]["/api/recommend"]["get"]["parameters"]}
    assert set(params) == DIMENSIONS
    assert set(params["isolation"]["schema"]["items"]["anyOf"][0]["enum"]) == {
        "process",
        "user-space-kernel",
        "hardware",
    }


# Values the document and the service must agree on: valid in the schema <=> accepted (200).
CATEGORICAL_TEXTS = [
    "hardware", "HARDWARE", "Hardware", " hardware ", "\thardware\r\n", "", " ", "hard ware",
    "hardwar", "hardwaree", "h\u0430rdware", "\u00a0hardware", "hardware\u2003", "process",
    "user-space-\u212aernel",  # KELVIN SIGN: Python's lower() makes it "k"; only ASCII folds
]  # fmt: skip
BOUND_TEXTS = [
    "500", " 500 ", "\t500\n", "+500", "0500", "5.", ".5", "0.5", "0.0001", "0", "0.0", "00",
    "-5", "+", ".", "1e3", "2E2", "1e-3", "0x10", "1_000", "5 0", "\u0665", "\u00a0500",
    "1000000000000000", "1000000000000000.000", "1000000000000000.1", "999999999999999.99",
    "1000000000000001", "0" * 63 + "1", " " + "0" * 63 + "1", "0." + "0" * 61 + "1", "9" * 64,
]  # fmt: skip


def _valid(openapi: dict, schema: dict, value: object) -> bool:
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    resource = referencing.Resource.from_contents(
        openapi, default_specification=referencing.jsonschema.DRAFT202012
    )
    registry = referencing.Registry().with_resource("urn:virtkg:openapi", resource)
    return jsonschema.Draft202012Validator(schema, registry=registry).is_valid(value)


@pytest.mark.parametrize(
    ("name", "text"),
    [("isolation", t) for t in CATEGORICAL_TEXTS]
    + [("full_os", t) for t in ("true", "TRUE", " False ", "yes", "1")]
    + [("max_startup_ms", t) for t in BOUND_TEXTS],
)
def test_openapi_recommend_parameters_say_exactly_what_is_accepted(
    client: FlaskClient, openapi: dict, name: str, text: str
) -> None:
    params = {p["name"]: p for p in openapi["paths"]["/api/recommend"]["get"]["parameters"]}
    schema = params[name]["schema"]
    documented = _valid(openapi, schema, [text] if schema["type"] == "array" else text)
    status = client.get("/api/recommend", query_string={name: text}).status_code
    assert status in (200, 400)
    assert documented == (status == 200), (text, status)
    body_schema = openapi["paths"]["/api/recommend"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    body = {"requirements": {name: text}}
    status = client.post("/api/recommend", json=body).status_code
    assert _valid(openapi, body_schema, body) == (status == 200), (text, status)


@pytest.mark.parametrize(
    "value", [1e3, 1e-3, 5e-324, 1e15, 1e15 + 1, 10**15, 10**15 + 1, 0, -1.5, True, None]
)
def test_openapi_recommend_body_numbers_say_exactly_what_is_accepted(
    client: FlaskClient, openapi: dict, value: object
) -> None:
    schema = openapi["paths"]["/api/recommend"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    body = {"requirements": {"max_startup_ms": value}}
    status = client.post("/api/recommend", json=body).status_code
    assert _valid(openapi, schema, body) == (status == 200), (value, status)


def test_openapi_links_run_only_queries_without_required_parameters(
    client: FlaskClient, openapi: dict
) -> None:
    listed = ok_json(client.get("/api/queries"))
    links = openapi["paths"]["/api/queries"]["get"]["responses"]["200"]["links"]
    generic = openapi["paths"]["/api/queries/{name}"]
    assert {link["operationId"] for link in links.values()} == {
        generic["get"]["operationId"],
        generic["post"]["operationId"],
    }
    reached = set()
    for link in links.values():
        (expression,) = link["parameters"].values()
        pointer = expression.removeprefix("$response.body#")
        name = listed
        for part in pointer.strip("/").split("/"):
            name = name[int(part)] if isinstance(name, list) else name[part]
        assert name in generic["get"]["parameters"][0]["schema"]["enum"]
        reached.add(name)
        assert client.get(f"/api/queries/{name}").status_code == 200
    assert reached == {
        q["name"] for q in listed["queries"] if not any(p["required"] for p in q["parameters"])
    }


def _keys(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


@pytest.mark.parametrize(
    "url",
    [
        "/api/technologies/gvisor",
        "/api/scenarios/gpu-untrusted",
        "/api/scenarios/gpu-untrusted/recommendations",
        "/api/compare?ids=docker,gvisor",
        "/api/requirements",
        "/api/queries",
    ],
)
def test_api_keys_are_snake_case(client: FlaskClient, url: str) -> None:
    camel = sorted({k for k in _keys(ok_json(client.get(url))) if re.search("[a-z][A-Z]", k)})
    assert not camel, camel


def _validator(openapi: dict, schema_name: str):  # noqa: ANN202
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    resource = referencing.Resource.from_contents(
        openapi, default_specification=referencing.jsonschema.DRAFT202012
    )
    registry = referencing.Registry().with_resource("urn:virtkg:openapi", resource)
    schema = {"$ref": f"urn:virtkg:openapi#/components/schemas/{schema_name}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


@pytest.mark.parametrize(
    ("url", "schema"),
    [
        ("/api/technologies", "TechnologyList"),
        ("/api/technologies/gvisor", "Technology"),
        ("/api/technologies/kvm-qemu", "Technology"),
        ("/api/scenarios", "ScenarioList"),
        ("/api/scenarios/gpu-untrusted", "Scenario"),
        ("/api/scenarios/gpu-untrusted/recommendations", "Recommendation"),
        ("/api/recommend?isolation=hardware&max_startup_ms=100", "Recommendation"),
        ("/api/requirements", "Vocabulary"),
        ("/api/compare?ids=docker,kvm-qemu", "Comparison"),
        ("/api/queries", "SavedQueryList"),
        ("/api/queries/technologies-by-isolation", "SparqlResults"),
        ("/api/technologies/nope", "Error"),
        ("/api/recommend?nope=1", "Error"),
    ],
)
def test_responses_match_their_schemas(
    client: FlaskClient, openapi: dict, url: str, schema: str
) -> None:
    body = json.loads(client.get(url).data)
    errors = sorted(_validator(openapi, schema).iter_errors(body), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_docs_page_works_offline(client: FlaskClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "/openapi.json" in html and "Try it" in html
    for marker in ('src="http', "src='http", 'href="https://cdn', "unpkg.com", "jsdelivr"):
        assert marker not in html
    for link in ('href="/"', 'href="/compare"', 'href="/sparql-editor"', 'href="/ontology"'):
        assert link in html
