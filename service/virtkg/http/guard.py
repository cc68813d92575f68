"""What a SPARQL request would make the engine fetch, found before the engine sees it.

Built on the lexer of :mod:`virtkg.store.sparql_text` (a keyword inside a string, an IRI, a comment
or a prefixed name never counts). Adds what the HTTP layer needs on top of ``find_service_iris``:
the IRIs after ``LOAD``, ``FROM [NAMED]`` and ``USING [NAMED]``, and the allow-list decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

from virtkg.errors import Forbidden, QuerySyntaxError
from virtkg.store import sparql_text
from virtkg.store.sparql_text import Token, find_service_iris, tokenize

_DATASET_KEYWORDS = ("FROM", "FROM NAMED", "USING", "USING NAMED")


def query_form(sparql: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE; :class:`QuerySyntaxError` (400) when there is none."""
    form = sparql_text.query_form(sparql)
    if form is None:
        raise QuerySyntaxError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE found")
    return form


@dataclass(frozen=True)
class IriUse:
    """One IRI the request names after a fetching keyword (``keyword`` is e.g. ``FROM NAMED``)."""

    keyword: str
    iri: str


def _resolve(token: Token, prefixes: dict[str, str], base: str) -> str:
    if token.kind == "iri":
        return urljoin(base, token.text[1:-1]) if base else token.text[1:-1]
    if token.kind == "pname":
        prefix, _, local = token.text.partition(":")
        if prefix + ":" in prefixes:
            return prefixes[prefix + ":"] + local
    return token.text


def fetch_iris(sparql: str, base_iri: str = "") -> list[IriUse]:
    """Every IRI after LOAD, FROM [NAMED] and USING [NAMED], prefixed names expanded.

    Relative IRIs are resolved against the text's ``BASE``, itself resolved against ``base_iri``
    (the base the engine is given), so the IRIs are the ones the engine will use.
    """
    toks = list(tokenize(sparql))
    prefixes: dict[str, str] = {}
    base = base_iri
    uses: list[IriUse] = []
    for i, tok in enumerate(toks):
        nxt = toks[i + 1 : i + 4]
        if tok.is_keyword("PREFIX") and len(nxt) >= 2 and nxt[1].kind == "iri":
            prefixes[nxt[0].text] = _resolve(nxt[1], {}, base)
        elif tok.is_keyword("BASE") and nxt and nxt[0].kind == "iri":
            base = _resolve(nxt[0], {}, base)
        elif tok.is_keyword("LOAD") or tok.is_keyword("FROM") or tok.is_keyword("USING"):
            keyword = tok.text.upper()
            while nxt and (nxt[0].is_keyword("SILENT") or nxt[0].is_keyword("NAMED")):
                if nxt[0].is_keyword("NAMED"):
                    keyword += " NAMED"
                nxt = nxt[1:]
            uses.append(IriUse(keyword, _resolve(nxt[0], prefixes, base) if nxt else ""))
    return uses


def _absolute(iri: str, base_iri: str) -> str:
    """A SERVICE IRI resolved against the engine's base (variables and "" stay as they are)."""
    if not base_iri or not iri or iri[0] in "?$":
        return iri
    return urljoin(base_iri, iri)


def allowed(iri: str, prefixes: Iterable[str]) -> bool:
    """True when ``iri`` starts with one of the allowed prefixes (``*`` allows everything)."""
    return any(p == "*" or iri.startswith(p) for p in prefixes)


def check_fetches(
    sparql: str,
    fetch_allow: Iterable[str],
    is_local_graph: Callable[[str], bool],
    base_iri: str = "",
) -> None:
    """Raise :class:`~virtkg.errors.Forbidden` (403) naming the first IRI the request may not use.

    SERVICE and LOAD make the engine fetch, so their IRIs must be in ``fetch_allow``. FROM and
    USING only select graphs (pyoxigraph never fetches them: verified), so they are allowed when
    ``is_local_graph(iri)`` (a graph this store holds) or when the IRI is in ``fetch_allow``;
    any other IRI is refused, so a backend that would fetch it never gets the chance.
    ``base_iri`` is the base the engine resolves relative IRIs against.
    """
    allow = tuple(fetch_allow)
    services = [IriUse("SERVICE", _absolute(iri, base_iri)) for iri in find_service_iris(sparql)]
    uses = services + fetch_iris(sparql, base_iri)
    for use in uses:
        if use.iri.startswith("?") or use.iri.startswith("$") or not use.iri:
            raise Forbidden(
                f"{use.keyword} with a variable or missing IRI is not allowed "
                "(the target cannot be checked against fetch_allow)",
                details={"keyword": use.keyword},
            )
        if allowed(use.iri, allow):
            continue
        if use.keyword in _DATASET_KEYWORDS and is_local_graph(use.iri):
            continue
        raise Forbidden(
            f"{use.keyword} <{use.iri}> is not allowed: this service does not fetch or "
            "select IRIs outside its own graphs unless they are listed in fetch_allow",
            details={"keyword": use.keyword, "iri": use.iri},
        )
