"""THE one place that maps errors to HTTP statuses and bodies.

Bodies: ``{"error": code, "message": ...}`` (JSON) for API and JSON clients; ``text/plain`` for
SPARQL Protocol clients (requests to ``/sparql`` that do not ask for ``application/json``), as
Fuseki and Oxigraph do. Never a stack trace: anything unexpected is logged and answered with a
generic 500.
"""

from __future__ import annotations

import json
import logging

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from virtkg import errors as e
from virtkg.http.negotiate import choose

log = logging.getLogger("virtkg.http")

#: VirtkgError subclass -> HTTP status. The most specific class listed wins.
STATUS: dict[type[e.VirtkgError], int] = {
    e.QuerySyntaxError: 400,
    e.QueryTooComplex: 400,
    e.UnknownRequirement: 400,
    e.InvalidParameter: 400,
    e.BadRequest: 400,
    e.Unauthorized: 401,
    e.Forbidden: 403,
    e.NotFound: 404,
    e.NotAcceptable: 406,
    e.PayloadTooLarge: 413,
    e.UnsupportedMediaType: 415,
    e.QueryTimeout: 503,
    e.StoreUnavailable: 503,
    e.InconsistentKnowledgeBase: 503,
    e.CheckFailed: 500,
    e.ConfigurationError: 500,
    e.VirtkgError: 500,
}

#: werkzeug's own HTTP errors (routing, body limits) -> our error codes.
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def status_for(exc: e.VirtkgError) -> int:
    """HTTP status for a virtkg error (walks the class hierarchy)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def wants_text(accept: str | None, on_sparql_endpoint: bool) -> bool:
    """True for SPARQL Protocol clients: /sparql requests that do not prefer JSON."""
    if not on_sparql_endpoint:  # not /sparql-editor and the like
        return False
    return choose(accept, ("text/plain", "application/json"), {}) != "application/json"


def error_parts(
    status: int,
    code: str,
    message: str,
    details: dict | None,
    accept: str | None,
    on_sparql_endpoint: bool,
) -> tuple[list[tuple[str, str]], bytes]:
    """Headers and body of an error answer, in the representation the client gets."""
    if wants_text(accept, on_sparql_endpoint):
        body = f"{code}: {message}\n".encode()
        content_type = "text/plain; charset=utf-8"
    else:
        payload: dict[str, object] = {"error": code, "message": message}
        if details:
            payload["details"] = details
        body = json.dumps(payload).encode()
        content_type = "application/json"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    if status == 401:
        headers.append(("WWW-Authenticate", 'Bearer realm="virtkg"'))
    if code == "query_timeout":
        headers.append(("Retry-After", "1"))
    return headers, body


def error_response(status: int, code: str, message: str, details: dict | None = None) -> Response:
    """The error as a Flask response for the current request."""
    g.virtkg_error_code = code
    on_sparql = request.path == "/sparql"
    headers, body = error_parts(
        status, code, message, details, request.headers.get("Accept"), on_sparql
    )
    return Response(body, status=status, headers=headers)


def log_error(exc: e.VirtkgError, status: int) -> None:
    """Server-side errors (other than timeouts) go to the log; client errors do not."""
    if status >= 500 and not isinstance(exc, e.QueryTimeout):
        log.warning("%s: %s", exc.code, exc.message)


def handle_virtkg_error(exc: e.VirtkgError) -> Response:
    """Map a typed virtkg error to its status."""
    status = status_for(exc)
    log_error(exc, status)
    return error_response(status, exc.code, exc.message, exc.details)


def handle_http_exception(exc: HTTPException) -> Response:
    """werkzeug's errors (404 route, 405 method, 413 body) in our format."""
    status = exc.code or 500
    code = _HTTP_CODES.get(status, "http_error")
    message = exc.description or exc.name
    if status == 413:
        message = "the request body is larger than the configured limit (max_body_bytes)"
    resp = error_response(status, code, message)
    if status == 405:
        allow = exc.get_headers()
        for name, value in allow:
            if name.lower() == "allow":
                resp.headers["Allow"] = value
    return resp


def handle_unexpected(exc: Exception) -> Response:
    """Anything else: log it with its traceback, answer a generic 500 (never the trace)."""
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error", "internal server error; see the server log")


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on ``app``."""
    app.register_error_handler(e.VirtkgError, handle_virtkg_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
