"""Linked Data: every virtkg IRI resolves, each RDF format parses back, HTML pages link onwards."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import rdflib
from flask import Flask
from flask.testing import FlaskClient
from rdflib.namespace import OWL, RDF

from virtkg.config import PROJECT_ROOT, load_settings
from virtkg.http import create_app

BASE = "https://w3id.org/virtkg/"
VKG = BASE + "ontology#"
FORMATS = {
    "text/turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/ld+json": "json-ld",
    "application/n-triples": "nt",
}
EXTENSIONS = {"ttl": "turtle", "owl": "xml", "rdf": "xml", "jsonld": "json-ld", "nt": "nt"}
RESOURCES = [
    "/technology/gvisor",
    "/technology/kvm-qemu",
    "/scenario/gpu-untrusted",
    "/source/S19",
    "/caveat/firecracker-host-configuration",
    "/fit/gpu-untrusted",
]
DOCUMENTS = ["/ontology", "/kb", "/data/tech-hybrids", "/data/scenarios"]
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    settings = load_settings(
        {}, cache_dir=str(tmp_path_factory.mktemp("ld-cache")), query_workers=0
    )
    application = create_app(settings)
    assert application.extensions["virtkg"].ready
    yield application
    application.extensions["virtkg"].executor.close()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def parse(body: bytes, fmt: str) -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.parse(data=body, format=fmt, publicID=BASE)
    return graph


def iri(path: str) -> rdflib.URIRef:
    return rdflib.URIRef(BASE + path.lstrip("/"))


class Links(HTMLParser):
    """Collects every href and every element id of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "href" and value:
                self.hrefs.append(value)
            if name == "id" and value:
                self.ids.add(value)


def links(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


def first_caveat() -> str:
    text = (PROJECT_ROOT / "data" / "caveats.ttl").read_text(encoding="utf-8")
    return re.search(r"cav:([a-z0-9-]+)\s", text).group(1)


# --- RDF formats ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", RESOURCES)
@pytest.mark.parametrize("media", sorted(FORMATS))
def test_resource_formats_parse_back(client: FlaskClient, path: str, media: str) -> None:
    response = client.get(path, headers={"Accept": media})
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == media
    assert response.headers["Vary"] == "Accept"
    graph = parse(response.data, FORMATS[media])
    assert (iri(path), None, None) in graph, f"{path} is not described in {media}"


@pytest.mark.parametrize("path", RESOURCES)
def test_formats_agree(client: FlaskClient, path: str) -> None:
    graphs = [
        parse(client.get(path, headers={"Accept": m}).data, fmt) for m, fmt in FORMATS.items()
    ]
    assert all(len(g) == len(graphs[0]) for g in graphs), [len(g) for g in graphs]


def test_technology_description_carries_sources(client: FlaskClient) -> None:
    graph = parse(client.get("/technology/gvisor.ttl").data, "turtle")
    axioms = list(graph.subjects(OWL.annotatedSource, iri("/technology/gvisor")))
    assert axioms, "the facts' owl:Axiom annotations are part of the description"
    dcterms_source = rdflib.URIRef("http://purl.org/dc/terms/source")
    assert all(graph.value(a, dcterms_source) is not None for a in axioms)
    assert (iri("/technology/gvisor"), RDF.type, rdflib.URIRef(VKG + "Technology")) in graph


def test_fit_class_description_includes_its_definition(client: FlaskClient) -> None:
    graph = parse(client.get("/fit/gpu-untrusted.ttl").data, "turtle")
    definition = graph.value(iri("/fit/gpu-untrusted"), OWL.equivalentClass)
    assert definition is not None and graph.value(definition, OWL.intersectionOf) is not None


@pytest.mark.parametrize("path", DOCUMENTS)
@pytest.mark.parametrize("media", sorted(FORMATS))
def test_documents_parse_back(client: FlaskClient, path: str, media: str) -> None:
    response = client.get(path, headers={"Accept": media})
    assert response.status_code == 200 and response.mimetype == media
    graph = parse(response.data, FORMATS[media])
    assert (iri(path), RDF.type, OWL.Ontology) in graph


def test_ontology_turtle_is_the_edited_file(client: FlaskClient) -> None:
    body = client.get("/ontology", headers={"Accept": "text/turtle"}).data
    assert body == (PROJECT_ROOT / "ontology" / "virtkg.ttl").read_bytes()
    owl = client.get("/ontology", headers={"Accept": "application/rdf+xml"}).data
    assert owl == (PROJECT_ROOT / "ontology" / "virtkg.owl").read_bytes()


@pytest.mark.parametrize("ext", sorted(EXTENSIONS))
def test_ontology_file_extensions(client: FlaskClient, ext: str) -> None:
    response = client.get(f"/ontology.{ext}", headers={"Accept": "text/html"})
    assert response.status_code == 200
    graph = parse(response.data, EXTENSIONS[ext])
    assert (iri("/ontology"), RDF.type, OWL.Ontology) in graph


@pytest.mark.parametrize("ext", sorted(EXTENSIONS))
def test_resource_file_extensions(client: FlaskClient, ext: str) -> None:
    response = client.get(f"/technology/docker.{ext}", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert (iri("/technology/docker"), None, None) in parse(response.data, EXTENSIONS[ext])


def test_ontology_version_iri_resolves(client: FlaskClient) -> None:
    graph = parse(client.get("/ontology.ttl").data, "turtle")
    version = graph.value(iri("/ontology"), OWL.versionIRI)
    assert version is not None
    response = client.get(urlsplit(str(version)).path.replace("/virtkg", "", 1))
    assert response.status_code == 200 and response.mimetype == "text/turtle"


def test_json_ld_is_json(client: FlaskClient) -> None:
    response = client.get("/scenario/dev-test", headers={"Accept": "application/json"})
    assert response.mimetype == "application/ld+json"
    assert json.loads(response.data)


# --- negotiation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "mimetype"),
    [
        (None, "text/turtle"),
        ("*/*", "text/turtle"),
        (BROWSER, "text/html"),
        ("text/html", "text/html"),
        ("application/xhtml+xml", "text/html"),
        ("text/turtle;q=0.5, application/rdf+xml", "application/rdf+xml"),
        ("application/n-triples;q=0.9, text/html;q=0.1", "application/n-triples"),
        ("text/plain", "application/n-triples"),
        ("application/xml", "application/rdf+xml"),
    ],
)
def test_negotiation(client: FlaskClient, accept: str | None, mimetype: str) -> None:
    headers = {"Accept": accept} if accept else {}
    response = client.get("/technology/gvisor", headers=headers)
    assert response.status_code == 200 and response.mimetype == mimetype
    assert 'rel="alternate"' in response.headers["Link"]


@pytest.mark.parametrize("path", ["/technology/gvisor", "/ontology", "/data/caveats"])
def test_nothing_acceptable_is_406(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Accept": "image/png, application/pdf"})
    assert response.status_code == 406
    body = json.loads(response.data)
    assert body["error"] == "not_acceptable" and "text/turtle" in body["details"]["available"]


@pytest.mark.parametrize(
    "path",
    [
        "/technology/nope",
        "/scenario/nope",
        "/source/S999",
        "/caveat/nope",
        "/fit/nope",
        "/data/nope",
        "/technology/%00",
    ],
)
def test_unknown_resource_is_404_json_or_html(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404 and response.mimetype == "application/json"
    body = json.loads(response.data)
    assert body["error"] == "not_found" and isinstance(body["details"]["allowed"], list)
    page = client.get(path, headers={"Accept": BROWSER})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Not found" in page.get_data(as_text=True)


def test_extension_wins_over_accept_for_404(client: FlaskClient) -> None:
    response = client.get("/technology/nope.ttl", headers={"Accept": BROWSER})
    assert response.status_code == 404 and response.mimetype == "application/json"


def test_unknown_ontology_extension_is_404(client: FlaskClient) -> None:
    assert client.get("/ontology.exe").status_code == 404
    assert client.get("/ontology/9.9.9").status_code == 404


# --- every IRI resolves ---------------------------------------------------------------------


def kb_subjects(client: FlaskClient) -> list[str]:
    """Every IRI of ours that is described in the KB (technologies, scenarios, ...)."""
    graph = parse(client.get("/kb.ttl").data, "turtle")  # just to have a parser warm
    del graph
    paths = []
    for stem in ("caveats", "scenarios", "sources", "tech-containers", "tech-hybrids"):
        data = parse(client.get(f"/data/{stem}.nt").data, "nt")
        for subject in set(data.subjects()):
            text = str(subject)
            if isinstance(subject, rdflib.URIRef) and text.startswith(BASE):
                kind = text[len(BASE) :].split("/", 1)[0]
                if kind in {"technology", "scenario", "source", "caveat", "fit"}:
                    paths.append("/" + text[len(BASE) :])
    return sorted(set(paths))


def test_every_kb_iri_resolves(client: FlaskClient) -> None:
    paths = kb_subjects(client)
    assert len(paths) > 50
    for path in paths:
        response = client.get(path, headers={"Accept": "application/n-triples"})
        assert response.status_code == 200, path
        assert (iri(path), None, None) in parse(response.data, "nt"), path


def test_every_ontology_term_has_an_anchor(client: FlaskClient) -> None:
    graph = parse(client.get("/ontology.ttl").data, "turtle")
    terms = {
        str(s)[len(VKG) :]
        for s in graph.subjects()
        if isinstance(s, rdflib.URIRef) and str(s).startswith(VKG)
    }
    page = links(client.get("/ontology", headers={"Accept": BROWSER}).get_data(as_text=True))
    missing = sorted(terms - page.ids)
    assert not missing, f"hash IRIs without an anchor on /ontology: {missing[:10]}"


# --- HTML pages -----------------------------------------------------------------------------


def html(client: FlaskClient, path: str) -> tuple[str, Links]:
    response = client.get(path, headers={"Accept": BROWSER})
    assert response.status_code == 200 and response.mimetype == "text/html", path
    text = response.get_data(as_text=True)
    return text, links(text)


NAV = ["/", "/compare", "/sparql-editor", "/api/docs", "/ontology"]


def test_technology_page(client: FlaskClient) -> None:
    text, page = html(client, "/technology/gvisor")
    assert "gVisor" in text
    assert "/?tech=gvisor" in page.hrefs and "/compare?ids=gvisor" in page.hrefs
    assert any(h.startswith("/source/S") for h in page.hrefs), "facts link their sources"
    assert any(h.startswith("/caveat/") for h in page.hrefs), "caveats are linked"
    assert any(h.startswith("/scenario/") for h in page.hrefs), "fitting scenarios are linked"
    assert any(h.startswith("https://github.com/google/gvisor") for h in page.hrefs)
    assert set(NAV) <= set(page.hrefs)


def test_scenario_page(client: FlaskClient) -> None:
    detail = json.loads(client.get("/api/scenarios/gpu-untrusted").data)
    text, page = html(client, "/scenario/gpu-untrusted")
    assert "/?scenario=gpu-untrusted" in page.hrefs
    assert detail["rationale"][:40] in text.replace("&#39;", "'").replace("&#34;", '"')
    for tech in detail["fitting"]:
        assert f"/technology/{tech['id']}" in page.hrefs
    for source in detail["sources"]:
        assert f"/source/{source['id']}" in page.hrefs
    for name in detail["requirements"]:
        assert name in text


@pytest.mark.parametrize(
    "path",
    [
        "/technology/kvm-qemu",
        "/scenario/dev-test",
        "/source/S19",
        "/fit/dev-test",
        "/data/tech-hybrids",
        "/kb",
        "/ontology",
    ],
)
def test_local_links_resolve(client: FlaskClient, path: str) -> None:
    """Every local link on a page leads somewhere (UI pages are another blueprint's)."""
    _, page = html(client, path)
    ui_pages = {"/", "/compare", "/sparql-editor"}
    for href in page.hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path or parts.path in ui_pages:
            continue
        if parts.path.startswith("/static/"):
            continue
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        response = client.get(target)
        assert response.status_code == 200, f"{path} links to {href}: {response.status_code}"


def test_source_page_lists_citing_facts(client: FlaskClient) -> None:
    text, page = html(client, "/source/S19")
    assert "Facts citing this source" in text
    assert "/technology/gvisor" in page.hrefs


def test_pages_escape_text(client: FlaskClient) -> None:
    response = client.get("/technology/%3Cscript%3E", headers={"Accept": BROWSER})
    assert response.status_code == 404  # the page echoes the id
    assert "<script>" not in response.get_data(as_text=True)


def test_deployment_under_a_path_prefix(client: FlaskClient) -> None:
    response = client.get(
        "/technology/gvisor", headers={"Accept": BROWSER}, base_url="http://localhost/kg/"
    )
    assert response.status_code == 200
    page = links(response.get_data(as_text=True))
    assert "/kg/?tech=gvisor" in page.hrefs
    assert any(h.startswith("/kg/source/") for h in page.hrefs)


def test_base_iri_maps_paths(tmp_path: Path) -> None:
    from virtkg.http.linked_data import href, iri_for

    app = create_app(
        load_settings(
            {}, cache_dir=str(tmp_path), query_workers=0, base_iri="http://example.org/kg"
        )
    )
    try:
        with app.test_request_context("/technology/docker"):
            assert iri_for("/technology/docker") == "http://example.org/kg/technology/docker"
            assert href("http://example.org/kg/source/S1") == "/source/S1"
            assert href("https://elsewhere.example/x") == "https://elsewhere.example/x"
        # the KB's IRIs are under the default base, so nothing under this one exists
        assert app.test_client().get("/technology/docker").status_code == 404
    finally:
        app.extensions["virtkg"].executor.close()
