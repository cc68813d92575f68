"""One small hierarchy of typed errors. The HTTP layer maps each to a status in one place."""

from __future__ import annotations


class VirtkgError(Exception):
    """Base of every error virtkg raises on purpose.

    ``code`` is a short machine-readable name (it becomes ``error`` in JSON bodies);
    ``details`` carries structured extras such as the allowed values.
    """

    code = "error"

    def __init__(self, message: str, *, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class BadRequest(VirtkgError):
    """The client sent something malformed (400)."""

    code = "bad_request"


class QuerySyntaxError(BadRequest):
    """A SPARQL query or update does not parse; the message says where (400)."""

    code = "malformed_query"


class QueryTooComplex(BadRequest):
    """A SPARQL text nests deeper than the engine can parse safely (400, refused before it runs)."""

    code = "query_too_complex"


class UnknownRequirement(BadRequest):
    """A requirement name or value is not in the vocabulary; details list the allowed ones (400)."""

    code = "unknown_requirement"


class InvalidParameter(BadRequest):
    """A saved-query or API parameter is missing or has the wrong type (400)."""

    code = "invalid_parameter"


class NotFound(VirtkgError):
    """A technology, scenario, saved query or resource does not exist (404)."""

    code = "not_found"


class Unauthorized(VirtkgError):
    """Credentials are missing or wrong (401)."""

    code = "unauthorized"


class Forbidden(VirtkgError):
    """The operation is switched off or the IRI is not allowed (403)."""

    code = "forbidden"


class NotAcceptable(VirtkgError):
    """No representation matches the Accept header or format parameter (406)."""

    code = "not_acceptable"


class PayloadTooLarge(VirtkgError):
    """The request body is over the configured limit (413)."""

    code = "payload_too_large"


class UnsupportedMediaType(VirtkgError):
    """The request body's Content-Type is not one we read (415)."""

    code = "unsupported_media_type"


class QueryTimeout(VirtkgError):
    """A query ran past the configured timeout and was stopped (503)."""

    code = "query_timeout"


class StoreUnavailable(VirtkgError):
    """The store cannot be reached or is not loaded yet (503)."""

    code = "store_unavailable"


class InconsistentKnowledgeBase(VirtkgError):
    """Reasoning found a contradiction; details name the entities involved. Nothing is served."""

    code = "inconsistent_knowledge_base"


class ConfigurationError(VirtkgError):
    """Settings that cannot work together; the message says what to change (refused at start)."""

    code = "configuration_error"


class CheckFailed(VirtkgError):
    """A knowledge-base check (profile, reasoner, SHACL, violation query) found problems."""

    code = "check_failed"
