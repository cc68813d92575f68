"""What a SPARQL request would make the engine fetch, found before the engine sees it.

Built on the lexer of :mod:`virtkg.store.sparql_text` (a keyword inside a string, an IRI, a comment
or a prefixed name never counts). Adds what the HTTP layer needs on top of ``find_service_iris``:
the IRIs after ``LOAD``, ``FROM [NAMED]`` and ``USING [NAMED]``, and the allow-list decision.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from virtkg.errors import Forbidden, QuerySyntaxError, QueryTooComplex
from virtkg.store.base import Dataset
from virtkg.store.sparql_text import QUERY_FORMS, Token, keywords_after_prologue, tokenize

_DATASET_KEYWORDS = ("FROM", "FROM NAMED", "USING", "USING NAMED")
#: Texts up to this many characters have their analysis cached (clients repeat queries).
CACHE_MAX_CHARS = 16_384
#: Deepest nesting accepted: open ``{``, ``(`` and ``[`` plus a run of unary ``!`` / ``^``.
#: The engine's parser recurses once per level on the native stack and overflows (SIGSEGV,
#: killing the process: the server itself for updates and in-process queries) at a few hundred
#: levels of nested function calls in a 1 MB thread stack; real queries nest well under 64.
MAX_NESTING = 64
_OPENERS = frozenset("{([")
_CLOSERS = frozenset("})]")
_UNARY = frozenset("!^")


@dataclass(frozen=True)
class IriUse:
    """One IRI the request names after a fetching keyword (``keyword`` is e.g. ``FROM NAMED``)."""

    keyword: str
    iri: str


@dataclass(frozen=True)
class Analysis:
    """What the HTTP layer needs to know about a query or update text, from one lexer pass.

    ``form``: SELECT, ASK, CONSTRUCT, DESCRIBE or None (an update). ``services``: the SERVICE
    IRIs; ``fetches``: the IRIs after LOAD, FROM [NAMED] and USING [NAMED]. Prefixed names are
    expanded and relative IRIs resolved (the text's ``BASE``, itself against the base given).
    ``bounded``: the query is a lookup that cannot run away (:func:`is_bounded_lookup`).
    """

    form: str | None
    services: tuple[IriUse, ...]
    fetches: tuple[IriUse, ...]
    #: True for a lookup whose cost the data bounds (see :func:`is_bounded_lookup`).
    bounded: bool = False

    @property
    def uses(self) -> tuple[IriUse, ...]:
        return self.services + self.fetches


def _check_nesting(toks: list[Token]) -> None:
    """Raise :class:`QueryTooComplex` (400) when the text nests deeper than MAX_NESTING."""
    depth = unary = 0
    for tok in toks:
        if tok.kind != "punct":
            unary = 0
            continue
        char = tok.text
        if char in _OPENERS:
            depth += 1
        elif char in _CLOSERS:
            depth = max(depth - 1, 0)
        if char in _UNARY:
            unary += 1
        elif char not in _OPENERS:  # `!(` and `^(` nest on: keep the run
            unary = 0
        if depth + unary > MAX_NESTING:
            raise QueryTooComplex(
                f"the query or update nests more than {MAX_NESTING} levels deep (brackets, "
                f"parentheses or unary operators, at character {tok.start}); simplify it",
                details={"max_nesting": MAX_NESTING, "position": tok.start},
            )


def _analyze(sparql: str, base_iri: str) -> Analysis:
    toks = list(tokenize(sparql))
    _check_nesting(toks)
    form: str | None = None
    services: list[IriUse] = []
    fetches: list[IriUse] = []
    for word, nxt, resolve in keywords_after_prologue(toks, base_iri):
        if word in QUERY_FORMS:
            form = form or word
        elif word == "SERVICE":
            if nxt and nxt[0].is_keyword("SILENT"):
                nxt = nxt[1:]
            services.append(IriUse("SERVICE", resolve(nxt[0]) if nxt else ""))
        elif word in ("LOAD", "FROM", "USING"):
            keyword = word
            while nxt and (nxt[0].is_keyword("SILENT") or nxt[0].is_keyword("NAMED")):
                if nxt[0].is_keyword("NAMED"):
                    keyword += " NAMED"
                nxt = nxt[1:]
            fetches.append(IriUse(keyword, resolve(nxt[0]) if nxt else ""))
    bounded = not services and is_bounded_lookup(toks)
    return Analysis(form, tuple(services), tuple(fetches), bounded)


_CONSTANTS = frozenset(("iri", "pname"))
_VARIABLES = frozenset(("var", "bnode"))  # a blank node label in a pattern acts as a variable


def is_bounded_lookup(toks: list[Token]) -> bool:
    """True when the query reads at most the triples of one constant subject or object.

    Accepted shapes (after the prologue, optionally with FROM [NAMED] clauses):
    ``SELECT [DISTINCT|REDUCED] (* | ?v...) [WHERE] { s p o [.] }`` and ``ASK`` of the same
    pattern, where the subject or the object is a constant and the predicate is an IRI, ``a`` or
    a variable (no property path), followed only by ``ORDER BY`` variables, ``LIMIT`` and
    ``OFFSET``; and ``DESCRIBE`` of constant IRIs. The engine answers these with one index scan,
    so their cost is bounded by the data, never by a join or an aggregate: the executor may run
    them in the serving thread instead of a killable worker.
    """
    n = len(toks)
    i = _after_prologue(toks)

    def keyword(j: int, *words: str) -> bool:
        return j < n and toks[j].kind == "keyword" and toks[j].text.upper() in words

    def punct(j: int, char: str) -> bool:
        return j < n and toks[j].kind == "punct" and toks[j].text == char

    if keyword(i, "DESCRIBE"):
        i += 1
        start = i
        while i < n and toks[i].kind in _CONSTANTS:
            i += 1
        return i == n and i > start
    if keyword(i, "SELECT"):
        i += 1
        if keyword(i, "DISTINCT", "REDUCED"):
            i += 1
        if punct(i, "*"):
            i += 1
        else:
            start = i
            while i < n and toks[i].kind == "var":
                i += 1
            if i == start:
                return False
    elif keyword(i, "ASK"):
        i += 1
    else:
        return False
    while keyword(i, "FROM"):
        i += 2 if keyword(i + 1, "NAMED") else 1
        if not (i < n and toks[i].kind in _CONSTANTS):
            return False
        i += 1
    if keyword(i, "WHERE"):
        i += 1
    if not punct(i, "{") or i + 3 >= n:
        return False
    subject, predicate = toks[i + 1], toks[i + 2]
    if subject.kind not in _CONSTANTS and subject.kind not in _VARIABLES:
        return False
    is_a = predicate.is_keyword("A")
    if predicate.kind not in _CONSTANTS and predicate.kind != "var" and not is_a:
        return False
    i += 3
    object_constant = True
    if toks[i].kind in _VARIABLES:
        object_constant = False
        i += 1
    elif toks[i].kind in _CONSTANTS or toks[i].kind == "number" or keyword(i, "TRUE", "FALSE"):
        i += 1
    elif toks[i].kind == "string":
        i += 1
        if i < n and toks[i].kind == "lang":
            i += 1
        elif punct(i, "^") and punct(i + 1, "^") and i + 2 < n and toks[i + 2].kind in _CONSTANTS:
            i += 3
    else:
        return False
    if subject.kind not in _CONSTANTS and not object_constant:
        return False
    if punct(i, "."):
        i += 1
    if not punct(i, "}"):
        return False
    i += 1
    if keyword(i, "ORDER") and keyword(i + 1, "BY"):
        i += 2
        start = i
        while i < n:
            if toks[i].kind == "var":
                i += 1
            elif keyword(i, "ASC", "DESC") and punct(i + 1, "(") and punct(i + 3, ")"):
                if toks[i + 2].kind != "var":
                    return False
                i += 4
            else:
                break
        if i == start:
            return False
    while keyword(i, "LIMIT", "OFFSET") and i + 1 < n and toks[i + 1].kind == "number":
        i += 2
    return i == n


def _after_prologue(toks: list[Token]) -> int:
    """Index of the first token after the ``PREFIX`` / ``BASE`` declarations."""
    i = 0
    while i < len(toks):
        if toks[i].is_keyword("PREFIX") and i + 2 < len(toks) and toks[i + 2].kind == "iri":
            i += 3
        elif toks[i].is_keyword("BASE") and i + 1 < len(toks) and toks[i + 1].kind == "iri":
            i += 2
        else:
            return i
    return i


_analyze_cached = functools.lru_cache(maxsize=1024)(_analyze)


def analyze(sparql: str, base_iri: str = "") -> Analysis:
    """The :class:`Analysis` of ``sparql`` (cached for texts up to CACHE_MAX_CHARS)."""
    if len(sparql) <= CACHE_MAX_CHARS:
        return _analyze_cached(sparql, base_iri)
    return _analyze(sparql, base_iri)


def query_form(sparql: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE; :class:`QuerySyntaxError` (400) when there is none."""
    return require_form(analyze(sparql))


def require_form(analysis: Analysis) -> str:
    """The analysed text's query form; :class:`QuerySyntaxError` (400) when there is none."""
    if analysis.form is None:
        raise QuerySyntaxError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE found")
    return analysis.form


def fetch_iris(sparql: str, base_iri: str = "") -> list[IriUse]:
    """Every IRI after LOAD, FROM [NAMED] and USING [NAMED], prefixed names expanded.

    Relative IRIs are resolved against the text's ``BASE``, itself resolved against ``base_iri``
    (the base the engine is given), so the IRIs are the ones the engine will use.
    """
    return list(analyze(sparql, base_iri).fetches)


def allowed(iri: str, prefixes: Iterable[str]) -> bool:
    """True when ``iri`` starts with one of the allowed prefixes (``*`` allows everything)."""
    return any(p == "*" or iri.startswith(p) for p in prefixes)


def check_fetches(
    sparql: str,
    fetch_allow: Iterable[str],
    is_local_graph: Callable[[str], bool],
    base_iri: str = "",
    analysis: Analysis | None = None,
) -> None:
    """Raise :class:`~virtkg.errors.Forbidden` (403) naming the first IRI the request may not use.

    SERVICE and LOAD make the engine fetch, so their IRIs must be in ``fetch_allow``. FROM and
    USING only select graphs (pyoxigraph never fetches them: verified), so they are allowed when
    ``is_local_graph(iri)`` (a graph this store holds) or when the IRI is in ``fetch_allow``;
    any other IRI is refused, so a backend that would fetch it never gets the chance.
    ``base_iri`` is the base the engine resolves relative IRIs against; ``analysis`` is
    ``analyze(sparql, base_iri)`` when the caller already has it.
    """
    allow = tuple(fetch_allow)
    if analysis is None:
        analysis = analyze(sparql, base_iri)
    for use in analysis.uses:
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


def check_graph_parameters(
    dataset: Dataset, fetch_allow: Iterable[str], is_local_graph: Callable[[str], bool]
) -> None:
    """Apply :func:`check_fetches`' rule for ``USING`` to graphs given as protocol parameters.

    ``using-graph-uri=g`` stands for a ``USING <g>`` clause (SPARQL 1.1 Protocol), so it is allowed
    exactly when that clause would be: a graph this store holds, or an IRI in ``fetch_allow``.
    """
    allow = tuple(fetch_allow)
    uses = [IriUse("USING", g) for g in dataset.default_graphs or ()]
    uses += [IriUse("USING NAMED", g) for g in dataset.named_graphs or ()]
    for use in uses:
        if not (allowed(use.iri, allow) or is_local_graph(use.iri)):
            raise Forbidden(
                f"{use.keyword} <{use.iri}> (a protocol parameter) is not allowed: this service "
                "does not select IRIs outside its own graphs unless they are listed in fetch_allow",
                details={"keyword": use.keyword, "iri": use.iri},
            )
