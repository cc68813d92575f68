"""The REST API (``/api``): technologies, scenarios, recommendations, comparison, saved queries.

Every answer is JSON (saved queries: SPARQL results, negotiated like ``/sparql``). Every error is
``{"error": code, "message": ...}`` with a 4xx status, mapped in :mod:`virtkg.http.errors`.

Results that depend only on the knowledge base are kept in ``ServiceState.cache`` as serialized
bytes, next to one :class:`~virtkg.recommend.KnowledgeSnapshot` (what ranking needs from the
reasoned graph: recommendations then run no query). The KB changes only through SPARQL Update,
and ``/sparql`` clears that cache after every update, so nothing here goes stale.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from flask import Blueprint, Response, request

from virtkg import catalog, recommend
from virtkg.errors import (
    BadRequest,
    InvalidParameter,
    NotFound,
    StoreUnavailable,
    UnsupportedMediaType,
)
from virtkg.http import get_state, protocol
from virtkg.http.guard import query_form
from virtkg.http.negotiate import result_media_type
from virtkg.queries import SavedQuery, load_saved_queries
from virtkg.store.base import KnowledgeStore

bp = Blueprint("api", __name__, url_prefix="/api")

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
#: Most answers kept per memo table and process (each is one serialized JSON body; a
#: recommendation is ~80-140 KB, and computing one from the snapshot takes ~0.2 ms).
RECOMMEND_CACHE_SIZE = 256
#: Longest accepted ``ids`` list for /api/compare (the catalog allows 2 to 6).
_COMPARE_MAX_TEXT = 2000

_lock = threading.Lock()


# --- helpers ------------------------------------------------------------------------------


def require_store() -> KnowledgeStore:
    """The store, or 503 while the knowledge base is not loaded."""
    state = get_state()
    if not state.ready:
        raise StoreUnavailable(f"the knowledge base is not ready: {state.not_ready_reason()}")
    return state.store


def dump(payload: Any) -> bytes:
    """Serialize a JSON answer (UTF-8, compact)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json(body: bytes, status: int = 200) -> Response:
    return Response(body, status=status, mimetype=JSON)


def memo(
    name: str,
    key: object,
    build: Callable[[], Any],
    *,
    encode: Callable[[Any], bytes] = dump,
    still_valid: Callable[[], bool] | None = None,
) -> bytes:
    """Like :func:`cached` for answers keyed by request input: at most RECOMMEND_CACHE_SIZE kept.

    Only successful answers are stored (``build`` raising leaves nothing behind), and only while
    ``still_valid()`` (e.g. the KB state they were built from is still the current one).
    """
    cache = get_state().cache
    table = cache.get(name)
    if table is None:
        table = cache.setdefault(name, {})
    body = table.get(key)
    if body is None:
        body = encode(build())
        if still_valid is not None and not still_valid():
            return body
        with _lock:
            if len(table) >= RECOMMEND_CACHE_SIZE:
                table.pop(next(iter(table)), None)
            table[key] = body
    return body


def cached(key: str, build: Callable[[], Any]) -> bytes:
    """The serialized JSON of ``build()``, memoized in the KB-scoped cache under ``key``."""
    cache = get_state().cache
    body = cache.get(key)
    if body is None:
        body = dump(build())
        cache[key] = body
    return body


def snapshot() -> recommend.KnowledgeSnapshot:
    """What recommendations need from the reasoned graph, read once per KB state.

    Kept in ``ServiceState.cache``, which a SPARQL update clears. A snapshot whose reading
    overlapped an update (the cache was cleared meanwhile, so its generation token is gone) serves
    the request that built it but is not kept.
    """
    cache = get_state().cache
    found = cache.get("api:snapshot")
    if found is None:
        token = cache.setdefault("api:generation", object())
        found = recommend.load_snapshot(require_store())
        if cache.get("api:generation") is token:
            found = cache.setdefault("api:snapshot", found)
    return found


def _is_current(snap: recommend.KnowledgeSnapshot) -> Callable[[], bool]:
    return lambda: get_state().cache.get("api:snapshot") is snap


def _encode_text(text: str) -> bytes:
    return text.encode("utf-8")


def vocabulary() -> recommend.Vocabulary:
    """The requirement vocabulary and scenarios, read once per KB state (with the snapshot)."""
    return snapshot().vocabulary


def saved_queries() -> dict[str, SavedQuery]:
    """The saved queries of ``{kb_dir}/queries`` (read once per KB state)."""
    cache = get_state().cache
    found = cache.get("api:queries")
    if found is None:
        folder = Path(get_state().settings.kb_dir) / "queries"
        found = load_saved_queries(folder) if folder.is_dir() else {}
        cache["api:queries"] = found
    return found


def read_body() -> bytes:
    """The raw body; 413 over ``max_body_bytes``, 400 when it cannot be read (a bad chunk)."""
    return protocol.read_body(request.environ, get_state().settings.max_body_bytes)


def read_json_body() -> Any:
    """The request's JSON body: 415 unless JSON, 413 over the limit, 400 when malformed."""
    mimetype = request.mimetype
    if mimetype != JSON and not (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    ):
        got = f"Content-Type {mimetype}" if mimetype else "no Content-Type"
        raise UnsupportedMediaType(f"{got}: send {JSON}", details={"accepted": [JSON]})
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"JSON bodies must be UTF-8, not {charset}")
    raw = read_body()
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        message = str(exc) if not isinstance(exc, RecursionError) else "nested too deeply"
        raise BadRequest(f"the body is not valid JSON: {message}"[:300]) from None


# --- technologies and scenarios -----------------------------------------------------------


@bp.get("/technologies")
def technologies() -> Response:
    """Every technology: id, IRI, label, kind."""
    require_store()

    def build() -> dict:
        techs = catalog.list_technologies(require_store())
        return {"count": len(techs), "technologies": techs}

    return _json(cached("api:technologies", build))


@bp.get("/technologies/<tech_id>")
def technology(tech_id: str) -> Response:
    """One technology with its sourced facts, caveats and fitting scenarios."""
    store = require_store()
    return _json(memo("api:technology", tech_id, lambda: catalog.technology_detail(store, tech_id)))


@bp.get("/scenarios")
def scenarios() -> Response:
    """Every scenario with its requirements as REST name/value pairs."""
    require_store()

    def build() -> dict:
        found = catalog.list_scenarios(require_store())
        return {"count": len(found), "scenarios": found}

    return _json(cached("api:scenarios", build))


@bp.get("/scenarios/<scenario_id>")
def scenario(scenario_id: str) -> Response:
    """One scenario with its requirements, sourced rationale and fitting technologies."""
    store = require_store()
    return _json(
        memo("api:scenario", scenario_id, lambda: catalog.scenario_detail(store, scenario_id))
    )


@bp.get("/scenarios/<scenario_id>/recommendations")
def scenario_recommendations(scenario_id: str) -> Response:
    """Every technology ranked for a scenario (``fits`` = member of its fit class)."""
    require_store()
    snap = snapshot()

    def build() -> str:  # 404 if unknown
        scenario, wanted = recommend.scenario_requirements(snap.vocabulary, scenario_id)
        return recommend.rank(snap, wanted, scenario).to_json()

    return _json(
        memo(
            "api:scenario-recommendations",
            scenario_id,
            build,
            encode=_encode_text,
            still_valid=_is_current(snap),
        )
    )


# --- recommendation -----------------------------------------------------------------------


def _requirements_from_args() -> dict[str, object]:
    """``?isolation=hardware&guest=linux&guest=windows`` -> ``{"isolation": "hardware", ...}``."""
    out: dict[str, object] = {}
    for name in request.args:
        values = request.args.getlist(name)
        out[name] = values[0] if len(values) == 1 else values
    return out


def _requirements_from_body() -> Mapping[str, object]:
    body = read_json_body()
    if not isinstance(body, dict):
        raise BadRequest(
            f'the body must be a JSON object {{"requirements": {{...}}}}, not {_kind(body)}',
            details={"allowed": ["requirements"]},
        )
    unknown = sorted(k for k in body if k != "requirements")
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(map(repr, unknown))}; the body is"
            ' {"requirements": {name: value, ...}}',
            details={"unknown": unknown, "allowed": ["requirements"]},
        )
    requirements = body.get("requirements", {})
    if requirements is None:
        requirements = {}
    if not isinstance(requirements, dict):
        raise InvalidParameter(
            f"requirements must be an object mapping names to values, not {_kind(requirements)}",
            details={"allowed": list(vocabulary().dimensions)},
        )
    return requirements


def _kind(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def recommendation_body(requirements: Mapping[str, object]) -> bytes:
    """The serialized recommendation for ``requirements`` (validated; memoized per request set).

    The cache key is the parsed requirement list, so equivalent spellings (``"Hardware"``,
    ``true``/``"true"``, ``100``/``"100.0"``) share one entry.
    """
    snap = snapshot()
    # absurd bounds (1e999999999, 10^60, inf) are refused here, before any conversion
    wanted = recommend.parse_requirements(snap.vocabulary, requirements)
    key = tuple(
        (w.dimension.name, w.requirement.iri, None if w.bound is None else str(w.bound.normalize()))
        for w in wanted
    )
    return memo(
        "api:recommend",
        key,
        lambda: recommend.rank(snap, wanted).to_json(),
        encode=_encode_text,
        still_valid=_is_current(snap),
    )


@bp.route("/recommend", methods=["GET", "POST"])
def recommend_view() -> Response:
    """Rank technologies: POST ``{"requirements": {...}}`` or GET with the same as parameters."""
    require_store()
    if request.method == "POST":
        if request.args:
            raise BadRequest(
                "POST takes the requirements in the JSON body, not in the URL",
                details={"unexpected": sorted(request.args)},
            )
        requirements = _requirements_from_body()
    else:
        requirements = _requirements_from_args()
    return _json(recommendation_body(requirements))


@bp.get("/requirements")
def requirements() -> Response:
    """The requirement vocabulary: each dimension with its allowed values (or unit)."""
    require_store()

    def build() -> dict:
        dims = vocabulary().dimensions.values()
        return {"requirements": [_dimension_json(d) for d in dims]}

    return _json(cached("api:requirements", build))


def _dimension_json(dim: recommend.Dimension) -> dict:
    data = dim.to_dict()
    if dim.is_boolean:
        data["accepts"] = ["true", "false"]
    elif dim.kind == "categorical":
        data["accepts"] = [v.value for v in dim.values]
    else:
        data["accepts"] = "a positive number"
    return data


# --- comparison ---------------------------------------------------------------------------


@bp.get("/compare")
def compare() -> Response:
    """Side-by-side facts of 2 to 6 technologies: ``?ids=docker,gvisor`` (or repeated ids)."""
    store = require_store()
    unknown = sorted(k for k in request.args if k != "ids")
    if unknown:
        raise InvalidParameter(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; use ids=a,b,c",
            details={"unknown": unknown, "allowed": ["ids"]},
        )
    text = ",".join(request.args.getlist("ids"))
    if len(text) > _COMPARE_MAX_TEXT:
        raise InvalidParameter("ids is too long: give 2 to 6 technology ids")
    ids = [i.strip() for i in text.split(",") if i.strip()]
    return _json(memo("api:compare", tuple(ids), lambda: catalog.compare(store, ids)))


# --- saved queries ------------------------------------------------------------------------


def _query_json(query: SavedQuery) -> dict:
    data = query.to_dict()
    data["path"] = f"/api/queries/{query.name}"
    data["form"] = query_form(query.sparql)
    return data


@bp.get("/queries")
def queries() -> Response:
    """The saved queries: name, title, description, tags, parameters, SPARQL text."""
    require_store()
    found = saved_queries()
    return _json(dump({"count": len(found), "queries": [_query_json(q) for q in found.values()]}))


def _scalar(name: str, value: object) -> str | None:
    """A parameter value from JSON: strings, numbers and booleans; null means "not given"."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return json.dumps(value)
    raise InvalidParameter(
        f"parameter {name!r} must be a string, number or boolean, not {_kind(value)}",
        details={"name": name},
    )


def _query_params() -> dict[str, str]:
    """Parameters from the URL (GET) or the body (POST: JSON object or form)."""
    params: dict[str, list[str]] = {k: request.args.getlist(k) for k in request.args}
    if request.method == "POST":
        if request.mimetype == FORM:
            raw = read_body()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest("the form body is not valid UTF-8") from None
            for key, values in parse_qs(text, keep_blank_values=True).items():
                params.setdefault(key, []).extend(values)
        elif request.mimetype or request.content_length:
            body = read_json_body()
            if not isinstance(body, dict):
                raise BadRequest(f"the body must be a JSON object of parameters, not {_kind(body)}")
            for key, value in body.items():
                # null means "not given" (like an empty form field), but the name must exist
                text = _scalar(key, value)
                params.setdefault(key, []).append("" if text is None else text)
    out: dict[str, str] = {}
    for key, values in params.items():
        if len(values) > 1:
            raise InvalidParameter(
                f"parameter {key!r} is given {len(values)} times; give it once",
                details={"name": key},
            )
        out[key] = values[0]
    return out


@bp.route("/queries/<name>", methods=["GET", "POST"])
def run_query(name: str) -> Response:
    """Run a saved query; parameters as in its header; result format by ``Accept``."""
    require_store()
    found = saved_queries()
    query = found.get(name)
    if query is None:
        raise NotFound(f"no saved query named {name!r}", details={"allowed": list(found)})
    params = _query_params()
    bindings = query.bindings(params)  # 400 for unknown, missing or ill-typed parameters
    media = result_media_type(query_form(query.sparql), request.headers.get("Accept"))
    # Through the executor, so a saved query is bound by the same hard timeout as /sparql.
    outcome = get_state().executor.run(query.sparql, media, None, bindings=bindings)
    raw, truncated = outcome.raw, outcome.truncated
    content_type = raw.media_type
    if content_type.startswith("text/") and "charset" not in content_type:
        content_type += "; charset=utf-8"
    resp = Response(raw.body, content_type=content_type)
    resp.headers["Vary"] = "Accept"
    if truncated:
        resp.headers["X-Virtkg-Truncated"] = "true"
        resp.headers["X-Virtkg-Row-Limit"] = str(get_state().settings.max_rows)
    return resp
