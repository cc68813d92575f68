"""Mounted under a path prefix: links, assets, API documents and the proxy headers that set it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from virtkg.cli import build_parser
from virtkg.config import load_settings
from virtkg.http import create_app
from virtkg.http.mount import normalize_prefix

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
PAGES = ["/", "/compare", "/sparql-editor", "/api/docs", "/technology/gvisor", "/ontology"]


class _Urls(HTMLParser):
    """Every URL a page makes the browser follow or fetch: href, src, action."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.root: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"href", "src", "action"} and value is not None:
                self.urls.append(value)
            if tag == "html" and name == "data-root":
                self.root = value


def urls(html: str) -> _Urls:
    parser = _Urls()
    parser.feed(html)
    return parser


def local(found: list[str]) -> list[str]:
    """The URLs that point into this site (not #anchors, data:, or other hosts)."""
    return [u for u in found if not u.startswith(("#", "data:", "http:", "https:", "mailto:"))]


def _app(tmp_path: Path, **settings: object) -> Flask:
    return create_app(
        load_settings({}, cache_dir=str(tmp_path / "cache"), query_workers=0, **settings)
    )


@pytest.fixture(scope="module")
def prefixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app with url_prefix=/virtkg (the proxy passes /virtkg/... on)."""
    app = _app(tmp_path_factory.mktemp("mount"), url_prefix="/virtkg")
    yield app
    app.extensions["virtkg"].executor.close()


@pytest.mark.parametrize("path", PAGES)
def test_every_link_of_a_page_stays_under_the_prefix(prefixed: Flask, path: str) -> None:
    response = prefixed.test_client().get("/virtkg" + path, headers={"Accept": BROWSER})
    assert response.status_code == 200, path
    found = urls(response.get_data(as_text=True))
    assert local(found.urls), f"{path} has no local link"
    outside = [u for u in local(found.urls) if not u.startswith("/virtkg/")]
    assert not outside, f"{path} links outside /virtkg/: {outside}"


def test_the_page_hands_its_root_to_the_scripts(prefixed: Flask) -> None:
    page = prefixed.test_client().get("/virtkg/compare").get_data(as_text=True)
    assert urls(page).root == "/virtkg"
    root_page = prefixed.test_client().get("/compare").get_data(as_text=True)
    assert urls(root_page).root == ""


def test_assets_and_api_answer_under_the_prefix(prefixed: Flask) -> None:
    client = prefixed.test_client()
    for path in ("/static/ui/ui.css", "/static/ui/common.js", "/api/queries", "/healthz"):
        assert client.get("/virtkg" + path).status_code == 200, path
    # a probe that talks to the server directly still reaches the root paths
    assert client.get("/healthz").status_code == 200
    # /virtkg without the slash redirects to the wizard at /virtkg/
    response = client.get("/virtkg")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/virtkg/")


def test_openapi_server_is_the_mount_point(prefixed: Flask) -> None:
    client = prefixed.test_client()
    document = json.loads(client.get("/virtkg/openapi.json").data)
    assert document["servers"] == [{"url": "/virtkg"}]
    assert json.loads(client.get("/openapi.json").data)["servers"] == [{"url": "/"}]


def test_service_description_names_the_prefixed_endpoint(prefixed: Flask) -> None:
    response = prefixed.test_client().get(
        "/virtkg/sparql", headers={"Accept": "application/n-triples"}
    )
    assert response.status_code == 200
    assert "<http://localhost/virtkg/sparql>" in response.get_data(as_text=True)


def test_queries_under_the_prefix_resolve_against_the_prefixed_endpoint(prefixed: Flask) -> None:
    """The /sparql query path (answered in front of Flask) sees the mount point too."""
    client = prefixed.test_client()
    counter = 'virtkg_http_requests_total{endpoint="/sparql",method="GET",status="200"} '

    def answered() -> int:
        metrics = client.get("/virtkg/metrics").get_data(as_text=True).splitlines()
        return next(
            (int(line.rsplit(" ", 1)[1]) for line in metrics if line.startswith(counter)), 0
        )

    before = answered()
    response = client.get(
        "/virtkg/sparql",
        query_string={"query": "SELECT ?x WHERE { BIND(<other> AS ?x) }"},
        headers={"Accept": "text/csv"},
    )
    assert response.status_code == 200
    assert response.get_data(as_text=True).splitlines() == ["x", "http://localhost/virtkg/other"]
    assert answered() == before + 1


def test_linked_data_alternates_carry_the_prefix(prefixed: Flask) -> None:
    response = prefixed.test_client().get(
        "/virtkg/technology/gvisor", headers={"Accept": "text/turtle"}
    )
    assert response.status_code == 200
    assert "</virtkg/technology/gvisor.ttl>" in response.headers["Link"]


def test_script_name_from_a_dispatcher(tmp_path: Path) -> None:
    """Mounted by WSGI (SCRIPT_NAME set by the server or a dispatcher), no setting needed."""
    app = _app(tmp_path)
    try:
        client = Client(DispatcherMiddleware(Flask("root"), {"/kg": app}))
        response = client.get("/kg/sparql-editor")
        assert response.status_code == 200
        found = urls(response.get_data(as_text=True))
        assert found.root == "/kg"
        assert all(u.startswith("/kg/") for u in local(found.urls)), found.urls
        assert "/kg/sparql" in found.urls  # the form's action and the footer link
    finally:
        app.extensions["virtkg"].executor.close()


def test_forwarded_prefix_is_ignored_unless_proxies_are_trusted(tmp_path: Path) -> None:
    headers = {
        "X-Forwarded-Prefix": "/evil",
        "X-Forwarded-Host": "attacker.example",
        "X-Forwarded-Proto": "https",
    }
    app = _app(tmp_path)
    try:
        client = app.test_client()
        page = client.get("/compare", headers=headers).get_data(as_text=True)
        assert urls(page).root == ""
        assert not any("/evil" in u for u in urls(page).urls)
        description = client.get(
            "/sparql", headers={**headers, "Accept": "application/n-triples"}
        ).get_data(as_text=True)
        assert "attacker.example" not in description
    finally:
        app.extensions["virtkg"].executor.close()


def test_forwarded_headers_of_a_trusted_proxy(tmp_path: Path) -> None:
    app = _app(tmp_path, trusted_proxies=1)
    try:
        client = app.test_client()
        headers = {
            "X-Forwarded-Prefix": "/virtkg",
            "X-Forwarded-Host": "example.org",
            "X-Forwarded-Proto": "https",
        }
        page = client.get("/compare", headers=headers).get_data(as_text=True)
        assert urls(page).root == "/virtkg"
        assert all(u.startswith("/virtkg/") for u in local(urls(page).urls))
        description = client.get(
            "/sparql", headers={**headers, "Accept": "application/n-triples"}
        ).get_data(as_text=True)
        assert "<https://example.org/virtkg/sparql>" in description
        document = json.loads(client.get("/openapi.json", headers=headers).data)
        assert document["servers"] == [{"url": "/virtkg"}]
        # only as many hops as configured: the client's own header before the proxy's is ignored
        two = {"X-Forwarded-Prefix": "/evil, /virtkg"}
        assert urls(client.get("/compare", headers=two).get_data(as_text=True)).root == "/virtkg"
    finally:
        app.extensions["virtkg"].executor.close()


@pytest.mark.parametrize(
    ("given", "expected"),
    [("", ""), ("/", ""), ("virtkg", "/virtkg"), ("/virtkg/", "/virtkg"), ("/a/b", "/a/b")],
)
def test_prefix_is_normalized(given: str, expected: str) -> None:
    assert normalize_prefix(given) == expected


def test_settings_from_environment_and_flags() -> None:
    settings = load_settings({"VIRTKG_URL_PREFIX": "/kg", "VIRTKG_TRUSTED_PROXIES": "1"})
    assert (settings.url_prefix, settings.trusted_proxies) == ("/kg", 1)
    args = build_parser().parse_args(["serve", "--url-prefix", "/kg", "--trusted-proxies", "2"])
    assert (args.url_prefix, args.trusted_proxies) == ("/kg", 2)
