"""Content negotiation: ``Accept`` (with q-values) and the ``format=`` parameter -> one media type.

Result media types are the canonical ones the store serializes (``RawResult.media_type``); common
aliases (``application/json``, ``text/xml``, ...) are accepted on input and answered with the
canonical type.
"""

from __future__ import annotations

import functools

from virtkg.errors import NotAcceptable

SPARQL_JSON = "application/sparql-results+json"
SPARQL_XML = "application/sparql-results+xml"
CSV = "text/csv"
TSV = "text/tab-separated-values"
TURTLE = "text/turtle"
NTRIPLES = "application/n-triples"
RDF_XML = "application/rdf+xml"
JSON_LD = "application/ld+json"

#: What SELECT and ASK can be answered in, in server preference order (first = default).
SOLUTION_TYPES: tuple[str, ...] = (SPARQL_JSON, SPARQL_XML, CSV, TSV)
BOOLEAN_TYPES: tuple[str, ...] = SOLUTION_TYPES
#: What CONSTRUCT and DESCRIBE (and the service description) can be answered in.
GRAPH_TYPES: tuple[str, ...] = (TURTLE, NTRIPLES, RDF_XML, JSON_LD)

#: ``format=`` values (also accepted: any canonical media type).
SOLUTION_FORMATS = {"json": SPARQL_JSON, "xml": SPARQL_XML, "csv": CSV, "tsv": TSV}
GRAPH_FORMATS = {
    "turtle": TURTLE,
    "ttl": TURTLE,
    "ntriples": NTRIPLES,
    "nt": NTRIPLES,
    "rdfxml": RDF_XML,
    "xml": RDF_XML,
    "jsonld": JSON_LD,
    "json": JSON_LD,
}

#: Alias media type -> canonical one, per result family.
_SOLUTION_ALIASES = {
    "application/json": SPARQL_JSON,
    "text/json": SPARQL_JSON,
    "application/xml": SPARQL_XML,
    "text/xml": SPARQL_XML,
    "text/tsv": TSV,
}
_GRAPH_ALIASES = {
    "application/x-turtle": TURTLE,
    "text/plain": NTRIPLES,
    "application/ntriples": NTRIPLES,
    "application/xml": RDF_XML,
    "text/xml": RDF_XML,
    "application/json": JSON_LD,
}


def parse_accept(header: str | None) -> list[tuple[str, float]]:
    """Parse an ``Accept`` header into ``(media_range, q)`` pairs, most preferred first.

    >>> parse_accept("text/csv;q=0.5, application/sparql-results+json")
    [('application/sparql-results+json', 1.0), ('text/csv', 0.5)]
    """
    if not header:
        return [("*/*", 1.0)]
    ranges: list[tuple[str, float, int, int]] = []
    for index, part in enumerate(header.split(",")):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        if "/" not in media:
            media = "*/*" if media == "*" else media + "/*"
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        specificity = 0 if media == "*/*" else 1 if media.endswith("/*") else 2
        ranges.append((media, q, specificity, index))
    ranges.sort(key=lambda r: (-r[1], -r[2], r[3]))
    return [(media, q) for media, q, _, _ in ranges]


def _quality(ranges: list[tuple[str, float]], media: str) -> float:
    """q of the most specific range matching ``media`` (0 if none)."""
    best_spec, best_q = -1, 0.0
    kind = media.split("/", 1)[0] + "/*"
    for rng, q in ranges:
        spec = 2 if rng == media else 1 if rng == kind else 0 if rng == "*/*" else -1
        if spec > best_spec:
            best_spec, best_q = spec, q
    return best_q if best_spec >= 0 else 0.0


def choose(accept: str | None, offered: tuple[str, ...], aliases: dict[str, str]) -> str | None:
    """The offered media type the client prefers most, or None when it accepts none of them.

    Ties go to the server's order in ``offered``. An alias in ``Accept`` counts for its canonical
    type (``application/json`` -> SPARQL JSON results).
    """
    ranges = parse_accept(accept)
    expanded = list(ranges)
    for rng, q in ranges:
        if rng in aliases:
            expanded.append((aliases[rng], q))
    best, best_q = None, 0.0
    for media in offered:
        q = _quality(expanded, media)
        for alias, canonical in aliases.items():
            if canonical == media:
                q = max(q, next((aq for rng, aq in ranges if rng == alias), 0.0))
        if q > best_q:
            best, best_q = media, q
    return best


@functools.lru_cache(maxsize=512)
def result_media_type(form: str, accept: str | None, fmt: str | None = None) -> str:
    """Media type for a query of ``form`` (SELECT, ASK, CONSTRUCT, DESCRIBE).

    ``fmt`` (the ``format=`` parameter) wins over ``Accept``. Raises
    :class:`~virtkg.errors.NotAcceptable` when nothing fits. Cached: clients send few distinct
    ``Accept`` headers, so the common ones cost a dictionary look-up (failures are not cached).
    """
    graph = form in ("CONSTRUCT", "DESCRIBE")
    offered = GRAPH_TYPES if graph else BOOLEAN_TYPES if form == "ASK" else SOLUTION_TYPES
    if fmt:
        key = fmt.strip().lower()
        names = GRAPH_FORMATS if graph else SOLUTION_FORMATS
        aliases = _GRAPH_ALIASES if graph else _SOLUTION_ALIASES
        media = names.get(key) or aliases.get(key) or (key if key in offered else None)
        if media not in offered:
            raise NotAcceptable(
                f"format={fmt!r} is not available for {form} queries",
                details={"available": sorted(set(names) | set(offered))},
            )
        return media
    media = choose(accept, offered, _GRAPH_ALIASES if graph else _SOLUTION_ALIASES)
    if media is None:
        raise NotAcceptable(
            f"none of the media types in Accept ({accept}) is available for {form} queries",
            details={"available": list(offered)},
        )
    return media


def graph_media_type(accept: str | None, fmt: str | None = None) -> str:
    """Media type for an RDF graph answer (the service description)."""
    return result_media_type("CONSTRUCT", accept, fmt)


def media_type_for_format(fmt: str, sparql: str) -> str:
    """Media type for the CLI's ``--format`` given the query text (its form decides the family)."""
    from virtkg.http.guard import query_form

    return result_media_type(query_form(sparql), None, fmt)
