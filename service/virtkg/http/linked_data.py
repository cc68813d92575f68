"""Linked Data: every virtkg IRI resolves, with content negotiation.

``/ontology`` (and every ``/ontology#Term``), ``/technology/{id}``, ``/scenario/{id}``,
``/source/{id}``, ``/caveat/{id}``, ``/fit/{id}``, ``/data/{file}`` and ``/kb`` answer Turtle,
RDF/XML, JSON-LD, N-Triples or an HTML page (when ``Accept`` prefers ``text/html``). A file
extension (``.ttl``, ``.owl``/``.rdf``, ``.jsonld``, ``.nt``, ``.html``) picks the format instead.

A request path maps to the IRI ``settings.base_iri + path`` (default ``https://w3id.org/virtkg/``).
A resource's RDF is its concise bounded description plus the ``owl:Axiom`` annotations (sources)
of its facts, over the asserted and inferred graphs. The ontology, the KB ontology and the data
files are served from their files (Turtle and RDF/XML byte for byte).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, render_template, request
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS

from virtkg import catalog
from virtkg.errors import NotAcceptable, NotFound
from virtkg.http import get_state
from virtkg.http.api import require_store
from virtkg.http.negotiate import JSON_LD, NTRIPLES, RDF_XML, TURTLE, choose

bp = Blueprint("linked_data", __name__)

HTML = "text/html"
#: Server preference when the client has none (``*/*``): Turtle; browsers ask for HTML.
OFFERED: tuple[str, ...] = (TURTLE, HTML, RDF_XML, JSON_LD, NTRIPLES)
ALIASES = {
    "application/xhtml+xml": HTML,
    "application/x-turtle": TURTLE,
    "application/xml": RDF_XML,
    "text/xml": RDF_XML,
    "application/json": JSON_LD,
    "text/plain": NTRIPLES,
}
EXTENSIONS = {
    "ttl": TURTLE,
    "owl": RDF_XML,
    "rdf": RDF_XML,
    "xml": RDF_XML,
    "jsonld": JSON_LD,
    "nt": NTRIPLES,
    "html": HTML,
}
#: Extension shown for each media type (alternate links).
EXTENSION_OF = {TURTLE: "ttl", RDF_XML: "rdf", JSON_LD: "jsonld", NTRIPLES: "nt", HTML: "html"}
RDFLIB_FORMAT = {TURTLE: "turtle", RDF_XML: "xml", JSON_LD: "json-ld", NTRIPLES: "nt"}
#: Path segment -> the kind of resource served there.
KINDS = ("technology", "scenario", "source", "caveat", "fit")
VKG = "https://w3id.org/virtkg/ontology#"

PREFIXES = {
    "vkg": VKG,
    "tech": "https://w3id.org/virtkg/technology/",
    "scn": "https://w3id.org/virtkg/scenario/",
    "fit": "https://w3id.org/virtkg/fit/",
    "src": "https://w3id.org/virtkg/source/",
    "cav": "https://w3id.org/virtkg/caveat/",
    "owl": str(OWL),
    "rdfs": str(RDFS),
    "skos": str(SKOS),
    "dcterms": str(DCTERMS),
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

_ALL_TRIPLES = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


# --- graphs ---------------------------------------------------------------------------------


def _new_graph() -> Graph:
    graph = Graph()
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace, override=True)
    return graph


def kb_graph() -> Graph:
    """Every triple of the store (asserted and inferred) in an rdflib graph, built once per KB."""
    cache = get_state().cache
    graph = cache.get("ld:graph")
    if graph is None:
        raw = require_store().query_raw(_ALL_TRIPLES, NTRIPLES)
        graph = _new_graph()
        graph.parse(data=raw.body.decode("utf-8"), format="nt")
        cache["ld:graph"] = graph
    return graph


def describe(kb: Graph, node: URIRef) -> Graph:
    """The concise bounded description of ``node`` plus the axiom annotations of its facts."""
    out = _new_graph()
    for triple in kb.cbd(node):
        out.add(triple)
    for axiom in kb.subjects(OWL.annotatedSource, node):
        for triple in kb.cbd(axiom):
            out.add(triple)
    return out


def _kb_dir() -> Path:
    return Path(get_state().settings.kb_dir)


def _file_graph(path: Path) -> Graph:
    cache = get_state().cache
    key = "ld:file:" + str(path)
    graph = cache.get(key)
    if graph is None:
        graph = _new_graph()
        graph.parse(path, format="turtle")
        cache[key] = graph
    return graph


def data_files() -> dict[str, Path]:
    """``data/*.ttl`` by stem (the ``/data/{file}`` ids)."""
    folder = _kb_dir() / "data"
    return {p.stem: p for p in sorted(folder.glob("*.ttl"))} if folder.is_dir() else {}


# --- IRIs and links -------------------------------------------------------------------------


def base_iri() -> str:
    """The namespace served here (``settings.base_iri``, always ending in ``/``)."""
    base = get_state().settings.base_iri
    return base if base.endswith("/") else base + "/"


def iri_for(path: str) -> str:
    """The IRI a request path stands for (``/technology/docker`` -> ``{base}technology/docker``)."""
    return base_iri() + path.lstrip("/")


def href(iri: str) -> str:
    """Where a browser should go for ``iri``: a local path for our IRIs, else the IRI itself."""
    base = base_iri()
    if iri.startswith(base):
        return request.script_root + "/" + iri[len(base) :]
    return iri


def negotiate(extension: str | None = None) -> str:
    """The media type to answer with: the extension's, else the best match for ``Accept``."""
    if extension is not None:
        return EXTENSIONS[extension]
    accept = request.headers.get("Accept")
    media = choose(accept, OFFERED, ALIASES)
    if media is None:
        raise NotAcceptable(
            f"none of the media types in Accept ({accept}) is available",
            details={"available": list(OFFERED)},
        )
    return media


def _split_extension(name: str) -> tuple[str, str | None]:
    """``docker.ttl`` -> (``docker``, ``ttl``) when ``ttl`` is a known extension."""
    stem, dot, ext = name.rpartition(".")
    if dot and ext.lower() in EXTENSIONS and stem:
        return stem, ext.lower()
    return name, None


def _serialize(graph: Graph, media: str) -> bytes:
    if media == JSON_LD:
        return graph.serialize(format="json-ld", context=PREFIXES, auto_compact=True).encode()
    return graph.serialize(format=RDFLIB_FORMAT[media], encoding="utf-8")


def _rdf_response(body: bytes, media: str, path: str) -> Response:
    content_type = media + ("; charset=utf-8" if media.startswith("text/") else "")
    resp = Response(body, content_type=content_type)
    _link_alternates(resp, path)
    return resp


def _link_alternates(resp: Response, path: str) -> None:
    root = request.script_root
    links = [f'<{root}{path}.{EXTENSION_OF[m]}>; rel="alternate"; type="{m}"' for m in OFFERED]
    resp.headers["Link"] = ", ".join(links)
    resp.headers["Vary"] = "Accept"


def _not_found(media: str, message: str, allowed: list[str] | None = None) -> Response:
    """404 as an HTML page for browsers, else the JSON error (via the central handler)."""
    if media == HTML:
        html = render_template("not_found.html", title="Not found", message=message)
        return Response(html, status=404, mimetype=HTML)
    raise NotFound(message, details={"allowed": allowed} if allowed is not None else None)


# --- labels and value display (HTML) -------------------------------------------------------


def label(kb: Graph, node: Any) -> str:
    """An English (or untagged) rdfs:label, else a short name."""
    if isinstance(node, Literal):
        return str(node)
    found = None
    for value in kb.objects(node, RDFS.label):
        if isinstance(value, Literal) and value.language in ("en", None):
            found = str(value)
            if value.language == "en":
                break
    if found:
        return found
    text = str(node)
    return text.rsplit("#", 1)[-1].rsplit("/", 1)[-1] or text


def owl_expression(kb: Graph, node: Any, depth: int = 0) -> str:
    """A compact Manchester-like rendering of an OWL class expression (blank node)."""
    if depth > 6:
        return "…"
    if isinstance(node, URIRef):
        return label(kb, node)
    if not isinstance(node, BNode):
        return str(node)
    for prop, word in ((OWL.intersectionOf, " and "), (OWL.unionOf, " or ")):
        head = kb.value(node, prop)
        if head is not None:
            items = [owl_expression(kb, item, depth + 1) for item in Collection(kb, head)]
            return "(" + word.join(items) + ")"
    head = kb.value(node, OWL.oneOf)
    if head is not None:
        return "{" + ", ".join(label(kb, i) for i in Collection(kb, head)) + "}"
    prop = kb.value(node, OWL.onProperty)
    if prop is not None:
        for restriction, word in (
            (OWL.hasValue, "value"),
            (OWL.someValuesFrom, "some"),
            (OWL.allValuesFrom, "only"),
        ):
            target = kb.value(node, restriction)
            if target is not None:
                shown = owl_expression(kb, target, depth + 1)
                return f"({label(kb, prop)} {word} {shown})"
    return "[…]"


def _value_view(kb: Graph, node: Any) -> dict[str, Any]:
    if isinstance(node, URIRef):
        return {"href": href(str(node)), "text": label(kb, node), "iri": str(node)}
    if isinstance(node, BNode):
        return {"text": owl_expression(kb, node)}
    view: dict[str, Any] = {"text": str(node)}
    if isinstance(node, Literal) and node.language:
        view["note"] = "@" + node.language
    elif isinstance(node, Literal) and node.datatype:
        view["note"] = str(node.datatype).rsplit("#", 1)[-1]
    return view


def property_rows(kb: Graph, node: URIRef) -> list[dict[str, Any]]:
    """The outgoing statements of ``node`` grouped by property, with sources of each value."""
    rows: dict[Any, dict[str, Any]] = {}
    for prop, value in sorted(kb.predicate_objects(node), key=lambda po: (str(po[0]), str(po[1]))):
        row = rows.setdefault(prop, {"property": _value_view(kb, prop), "vals": []})
        sources = []
        for axiom in kb.subjects(OWL.annotatedSource, node):
            if kb.value(axiom, OWL.annotatedProperty) == prop and (
                kb.value(axiom, OWL.annotatedTarget) == value
            ):
                sources += [_value_view(kb, s) for s in kb.objects(axiom, DCTERMS.source)]
        row["vals"].append({**_value_view(kb, value), "sources": sources})
    order = {RDF.type: 0, RDFS.label: 1}
    return sorted(
        rows.values(),
        key=lambda r: (
            order.get(URIRef(r["property"].get("iri", "")), 2),
            r["property"]["text"].lower(),
        ),
    )


def incoming_rows(kb: Graph, node: URIRef, limit: int = 200) -> list[dict[str, Any]]:
    """Statements that point at ``node`` from named resources (axiom nodes are skipped)."""
    rows = []
    for subject, prop in kb.subject_predicates(node):
        if isinstance(subject, URIRef) and prop != OWL.annotatedSource:
            rows.append({"subject": _value_view(kb, subject), "property": _value_view(kb, prop)})
    rows.sort(key=lambda r: (r["property"]["text"].lower(), r["subject"]["text"].lower()))
    return rows[:limit]


def cited_by(kb: Graph, source: URIRef) -> list[dict[str, Any]]:
    """Facts (subject, property, value) whose axiom annotation cites ``source``."""
    rows = []
    for axiom in kb.subjects(DCTERMS.source, source):
        subject = kb.value(axiom, OWL.annotatedSource)
        prop = kb.value(axiom, OWL.annotatedProperty)
        target = kb.value(axiom, OWL.annotatedTarget)
        if subject is None or prop is None or target is None:
            continue
        rows.append(
            {
                "subject": _value_view(kb, subject),
                "property": _value_view(kb, prop),
                "value": _value_view(kb, target),
                "comment": str(kb.value(axiom, RDFS.comment) or "") or None,
            }
        )
    rows.sort(key=lambda r: (r["subject"]["text"].lower(), r["property"]["text"].lower()))
    return rows


def _alternates(path: str) -> list[dict[str, str]]:
    return [
        {
            "href": f"{request.script_root}{path}.{EXTENSION_OF[m]}",
            "type": m,
            "ext": EXTENSION_OF[m],
        }
        for m in OFFERED
        if m != HTML
    ]


# --- resources ------------------------------------------------------------------------------


def _serve_resource(kind: str, name: str) -> Response:
    resource_id, extension = _split_extension(name)
    media = negotiate(extension)
    path = f"/{kind}/{resource_id}"
    iri = iri_for(path)
    kb = kb_graph()
    node = URIRef(iri)
    if (node, None, None) not in kb:
        known = sorted(
            str(s)[len(base_iri() + kind) + 1 :]
            for s in set(kb.subjects())
            if isinstance(s, URIRef) and str(s).startswith(base_iri() + kind + "/")
        )
        return _not_found(media, f"no {kind} with id {resource_id!r}", known)
    if media != HTML:
        cache = get_state().cache
        key = ("ld", iri, media)
        body = cache.get(key)
        if body is None:
            body = _serialize(describe(kb, node), media)
            cache[key] = body
        return _rdf_response(body, media, path)
    page = _html_page(kind, resource_id, kb, node, path)
    resp = Response(page, mimetype=HTML)
    _link_alternates(resp, path)
    return resp


def _html_page(kind: str, resource_id: str, kb: Graph, node: URIRef, path: str) -> str:
    common = {
        "iri": str(node),
        "alternates": _alternates(path),
        "title": label(kb, node),
        "kind": kind,
        "resource_id": resource_id,
    }
    store = require_store()
    if kind == "technology":
        tech = catalog.technology_detail(store, resource_id)
        return render_template("technology.html", tech=tech, href=href, **common)
    if kind == "scenario":
        scenario = catalog.scenario_detail(store, resource_id)
        return render_template("scenario.html", scenario=scenario, href=href, **common)
    extra: dict[str, Any] = {}
    if kind == "source":
        extra["cited_by"] = cited_by(kb, node)
        citation = kb.value(node, DCTERMS.bibliographicCitation)
        extra["citation"] = str(citation) if citation else None
    if kind == "fit":
        extra["members"] = [
            _value_view(kb, t)
            for t in sorted(kb.subjects(RDF.type, node), key=lambda t: label(kb, t).lower())
            if isinstance(t, URIRef)
        ]
        extra["definition"] = [owl_expression(kb, e) for e in kb.objects(node, OWL.equivalentClass)]
    return render_template(
        "resource.html",
        rows=property_rows(kb, node),
        incoming=incoming_rows(kb, node) if kind != "fit" else [],
        **extra,
        **common,
    )


@bp.get("/technology/<name>")
def technology(name: str) -> Response:
    """A technology (``tech:{id}``)."""
    return _serve_resource("technology", name)


@bp.get("/scenario/<name>")
def scenario(name: str) -> Response:
    """A scenario (``scn:{id}``)."""
    return _serve_resource("scenario", name)


@bp.get("/source/<name>")
def source(name: str) -> Response:
    """A cited source (``src:{id}``)."""
    return _serve_resource("source", name)


@bp.get("/caveat/<name>")
def caveat(name: str) -> Response:
    """A caveat (``cav:{id}``)."""
    return _serve_resource("caveat", name)


@bp.get("/fit/<name>")
def fit(name: str) -> Response:
    """A scenario's fit class (``fit:{id}``)."""
    return _serve_resource("fit", name)


# --- documents: ontology, KB ontology, data files ------------------------------------------


def _serve_document(
    path: str, source: Path, owl_file: Path | None, extension: str | None, html: str, **context: Any
) -> Response:
    """A whole Turtle document in the negotiated format (files served as they are)."""
    media = negotiate(extension)
    if media == TURTLE:
        return _rdf_response(source.read_bytes(), media, path)
    if media == RDF_XML and owl_file is not None and owl_file.is_file():
        return _rdf_response(owl_file.read_bytes(), media, path)
    graph = _file_graph(source)
    if media == HTML:
        page = render_template(
            html, graph=graph, alternates=_alternates(path), href=href, **context
        )
        resp = Response(page, mimetype=HTML)
        _link_alternates(resp, path)
        return resp
    cache = get_state().cache
    key = ("ld:doc", str(source), media)
    body = cache.get(key)
    if body is None:
        body = _serialize(graph, media)
        cache[key] = body
    return _rdf_response(body, media, path)


def _ontology_terms(graph: Graph) -> list[dict[str, Any]]:
    """Sections of the ontology page: classes, properties, individuals with anchors."""
    sections = [
        ("Classes", OWL.Class),
        ("Object properties", OWL.ObjectProperty),
        ("Datatype properties", OWL.DatatypeProperty),
        ("Annotation properties", OWL.AnnotationProperty),
        ("Individuals", OWL.NamedIndividual),
    ]
    seen: set[URIRef] = set()
    out = []
    for title, cls in sections:
        terms = []
        for term in graph.subjects(RDF.type, cls):
            if not isinstance(term, URIRef) or not str(term).startswith(VKG) or term in seen:
                continue
            seen.add(term)
            definition = graph.value(term, SKOS.definition) or graph.value(term, RDFS.comment)
            facts = []
            for prop in (
                RDF.type,
                RDFS.subClassOf,
                OWL.equivalentClass,
                RDFS.domain,
                RDFS.range,
                VKG_IN_DIMENSION,
                VKG_JUDGED_BY,
                VKG_API_NAME,
                VKG_API_VALUE,
            ):
                values = [
                    _value_view(graph, v)
                    for v in graph.objects(term, prop)
                    if not (prop == RDF.type and v in (OWL.NamedIndividual, cls))
                ]
                if values:
                    facts.append({"property": label(graph, prop), "vals": values})
            terms.append(
                {
                    "anchor": str(term)[len(VKG) :],
                    "iri": str(term),
                    "label": label(graph, term),
                    "definition": str(definition) if definition else None,
                    "facts": facts,
                }
            )
        terms.sort(key=lambda t: t["anchor"].lower())
        if terms:
            out.append({"title": title, "terms": terms})
    return out


VKG_IN_DIMENSION = URIRef(VKG + "inDimension")
VKG_JUDGED_BY = URIRef(VKG + "judgedBy")
VKG_API_NAME = URIRef(VKG + "apiName")
VKG_API_VALUE = URIRef(VKG + "apiValue")


@bp.get("/ontology")
@bp.get("/ontology.<ext>")
@bp.get("/ontology/<version>")
def ontology(ext: str | None = None, version: str | None = None) -> Response:
    """The ontology (every ``vkg:`` term is a hash IRI of this document)."""
    if ext is not None and ext.lower() not in EXTENSIONS:
        raise NotFound(f"no ontology format .{ext}", details={"allowed": sorted(EXTENSIONS)})
    folder = _kb_dir() / "ontology"
    source = folder / "virtkg.ttl"
    if version is not None:
        stem, version_ext = _split_extension(version)
        graph = _file_graph(source)
        versions = {str(v) for v in graph.objects(None, OWL.versionIRI)}
        if iri_for(f"/ontology/{stem}") not in versions:
            raise NotFound(f"no ontology version {stem!r}", details={"allowed": sorted(versions)})
        ext = version_ext
    graph = _file_graph(source)
    onto = next(iter(graph.subjects(RDF.type, OWL.Ontology)), None)
    return _serve_document(
        "/ontology",
        source,
        folder / "virtkg.owl",
        ext.lower() if ext else None,
        "ontology.html",
        page="ontology",
        title=label(graph, onto) if onto is not None else "virtkg ontology",
        description=str(
            graph.value(onto, RDFS.comment) or graph.value(onto, DCTERMS.description) or ""
        ),
        version=str(graph.value(onto, OWL.versionIRI) or ""),
        sections=_ontology_terms(graph),
    )


@bp.get("/kb")
@bp.get("/kb.<ext>")
def kb_ontology(ext: str | None = None) -> Response:
    """The KB ontology that imports the core and every data file."""
    if ext is not None and ext.lower() not in EXTENSIONS:
        raise NotFound(f"no KB format .{ext}", details={"allowed": sorted(EXTENSIONS)})
    source = _kb_dir() / "ontology" / "virtkg-kb.ttl"
    return _data_document("/kb", source, ext.lower() if ext else None, "virtkg knowledge base")


@bp.get("/data/<name>")
def data_file(name: str) -> Response:
    """A data file's ontology (``/data/tech-hybrids``): the file with its resources."""
    stem, extension = _split_extension(name)
    files = data_files()
    if stem not in files:
        return _not_found(negotiate(extension), f"no data file {stem!r}", sorted(files))
    return _data_document(f"/data/{stem}", files[stem], extension, stem)


def _data_document(path: str, source: Path, extension: str | None, fallback: str) -> Response:
    graph = _file_graph(source)
    onto = next(iter(graph.subjects(RDF.type, OWL.Ontology)), None)
    resources = sorted(
        (
            _value_view(graph, s)
            for s in set(graph.subjects())
            if isinstance(s, URIRef) and s != onto
        ),
        key=lambda v: v["text"].lower(),
    )
    return _serve_document(
        path,
        source,
        None,
        extension,
        "document.html",
        title=label(graph, onto) if onto is not None else fallback,
        iri=iri_for(path),
        description=str(graph.value(onto, RDFS.comment) or "") if onto is not None else "",
        imports=[_value_view(graph, i) for i in graph.objects(onto, OWL.imports)],
        resources=resources,
    )
