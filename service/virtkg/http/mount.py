"""Serving under a path prefix (``https://example.org/virtkg/``) behind a reverse proxy.

The app builds every URL from WSGI ``SCRIPT_NAME`` (Flask's ``request.script_root``): templates
through ``url_for``, scripts from the root the page hands them, Linked Data links, the OpenAPI
``servers`` entry and the SPARQL service description from the request. Two ways to set it:

* the proxy passes the prefix on (``/virtkg/api/...``): ``Settings.url_prefix = "/virtkg"``
  moves it from ``PATH_INFO`` to ``SCRIPT_NAME`` (:class:`PathPrefix`); gunicorn's own
  ``SCRIPT_NAME`` environment variable does the same;
* the proxy strips the prefix and says so in ``X-Forwarded-Prefix``: believed only when
  ``Settings.trusted_proxies`` > 0 (werkzeug's ``ProxyFix``), since any client can send that
  header, and with it ``X-Forwarded-Host``/``-Proto`` that become the service description's
  endpoint IRI.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

    from virtkg.config import Settings


def normalize_prefix(prefix: str) -> str:
    """``"virtkg/"`` -> ``"/virtkg"``; ``""`` and ``"/"`` -> ``""`` (the site root)."""
    stripped = prefix.strip().strip("/")
    return "/" + stripped if stripped else ""


class PathPrefix:
    """WSGI middleware: a request for ``{prefix}/path`` is served as ``/path`` mounted at
    ``{prefix}``. Other paths pass unchanged (served at the root), so a health probe that talks
    to the server directly still reaches ``/healthz``."""

    def __init__(self, app: WSGIApplication, prefix: str) -> None:
        self.app = app
        self.prefix = normalize_prefix(prefix)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        prefix = self.prefix
        if prefix and (path == prefix or path.startswith(prefix + "/")):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
            environ["PATH_INFO"] = path[len(prefix) :]
        return self.app(environ, start_response)


def init_app(app: Flask, settings: Settings) -> None:
    """Wrap ``app.wsgi_app`` as the settings ask (nothing when both settings are off)."""
    wsgi: Any = app.wsgi_app
    if normalize_prefix(settings.url_prefix):
        wsgi = PathPrefix(wsgi, settings.url_prefix)
    hops = settings.trusted_proxies
    if hops > 0:
        wsgi = ProxyFix(wsgi, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)
    app.wsgi_app = wsgi
