"""OpenAPI 3.1 description of the REST API (``/openapi.json``) and its docs page (``/api/docs``).

The document is built from the live service: requirement names and values come from the KB's
vocabulary, and each saved query gets its own path with the parameters of its header
(grlc-style). It is cached with the other KB-derived answers.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request

from virtkg import catalog
from virtkg.http import get_state
from virtkg.http.api import memo, require_store, saved_queries, vocabulary
from virtkg.http.guard import query_form
from virtkg.http.negotiate import GRAPH_TYPES, SOLUTION_TYPES
from virtkg.queries import SavedQuery

bp = Blueprint("openapi", __name__)

VERSION = "0.1.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{description}"}


#: Error responses every operation may give.
_COMMON_ERRORS = {"503": _error("Unavailable")}

_IRI_LABEL = {
    "type": "object",
    "properties": {"iri": {"type": "string"}, "label": {"type": ["string", "null"]}},
    "required": ["iri"],
}

#: A fact's property: IRI, name (``type`` for rdf:type, else the local name) and label.
_FACT_PROPERTY = {
    "type": "object",
    "properties": {
        "iri": {"type": "string"},
        "name": {"type": "string", "examples": ["startupTimeMs", "type"]},
        "label": {"type": "string"},
    },
    "required": ["iri", "name", "label"],
    "additionalProperties": False,
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every error body. `details` carries e.g. the allowed ids or values.",
        "properties": {
            "error": {"type": "string", "examples": ["not_found", "unknown_requirement"]},
            "message": {"type": "string"},
            "details": {"type": "object"},
        },
        "required": ["error", "message"],
    },
    "IriLabel": _IRI_LABEL,
    "FactValue": {
        "description": "A fact's value: an IRI with its label, or a literal as its lexical form "
        "with its datatype IRI (and language tag, when it has one).",
        "oneOf": [
            {
                "type": "object",
                "properties": {"iri": {"type": "string"}, "label": {"type": "string"}},
                "required": ["iri", "label"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {
                    "literal": {"type": "string", "examples": ["40"]},
                    "datatype": {
                        "type": "string",
                        "examples": ["http://www.w3.org/2001/XMLSchema#decimal"],
                    },
                    "language": {"type": "string"},
                },
                "required": ["literal", "datatype"],
                "additionalProperties": False,
            },
        ],
    },
    "Source": {
        "type": "object",
        "description": "A cited source; `label` is its id when it has none, `url` the smallest "
        "of its rdfs:seeAlso URLs.",
        "properties": {
            "id": {"type": "string", "examples": ["S19"]},
            "iri": {"type": "string"},
            "label": {"type": "string"},
            "url": {"type": ["string", "null"]},
        },
        "required": ["id", "iri", "label", "url"],
        "additionalProperties": False,
    },
    "Fact": {
        "type": "object",
        "description": "One asserted fact with what its OWL axiom annotation(s) say: the sources "
        "(ordered by number), and the comments, evidence grades and years of measurement "
        '(distinct ones joined with "; "; null when none is recorded). Every view of facts '
        "(technology, comparison, recommendation) gives this same shape.",
        "properties": {
            "property": _FACT_PROPERTY,
            "value": _ref("FactValue"),
            "sources": {"type": "array", "items": _ref("Source")},
            "comment": {"type": ["string", "null"]},
            "evidence": {"type": ["string", "null"], "examples": ["V"]},
            "measured_in": {"type": ["string", "null"], "examples": ["2021"]},
        },
        "required": ["property", "value", "sources", "comment", "evidence", "measured_in"],
        "additionalProperties": False,
    },
    "Caveat": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "iri": {"type": "string"},
            "label": {"type": ["string", "null"]},
            "text": {"type": ["string", "null"]},
            "dimension": {"type": ["string", "null"]},
            "relevant": {"type": "boolean"},
            "sources": {"type": "array", "items": _ref("Source")},
        },
        "required": ["id", "iri", "sources"],
    },
    "TechnologySummary": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "examples": ["gvisor"]},
            "iri": {"type": "string"},
            "label": {"type": "string"},
            "kind": {"oneOf": [_IRI_LABEL, {"type": "null"}]},
        },
        "required": ["id", "iri", "label"],
    },
    "TechnologyList": {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "technologies": {"type": "array", "items": _ref("TechnologySummary")},
        },
        "required": ["count", "technologies"],
    },
    "Technology": {
        "allOf": [
            _ref("TechnologySummary"),
            {
                "type": "object",
                "properties": {
                    "comment": {"type": ["string", "null"]},
                    "see_also": {"type": "array", "items": {"type": "string"}},
                    "wikidata": {"type": "array", "items": {"type": "string"}},
                    "facts": {"type": "array", "items": _ref("Fact")},
                    "caveats": {"type": "array", "items": _ref("Caveat")},
                    "scenarios": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"id": {"type": "string"}, "label": {"type": "string"}},
                        },
                    },
                },
                "required": ["facts", "caveats", "scenarios"],
            },
        ]
    },
    "ScenarioSummary": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "examples": ["gpu-untrusted"]},
            "iri": {"type": "string"},
            "label": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "requirements": {
                "type": "object",
                "description": "Requirement name -> value, as accepted by /api/recommend.",
                "additionalProperties": {"type": "string"},
            },
        },
        "required": ["id", "iri", "label", "requirements"],
    },
    "ScenarioList": {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "scenarios": {"type": "array", "items": _ref("ScenarioSummary")},
        },
        "required": ["count", "scenarios"],
    },
    "Scenario": {
        "allOf": [
            _ref("ScenarioSummary"),
            {
                "type": "object",
                "properties": {
                    "rationale": {"type": ["string", "null"]},
                    "fit_class": {"type": ["string", "null"]},
                    "sources": {"type": "array", "items": _ref("Source")},
                    "fitting": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"id": {"type": "string"}, "label": {"type": "string"}},
                        },
                    },
                },
                "required": ["sources", "fitting"],
            },
        ]
    },
    "Requested": {
        "type": "object",
        "description": "One requested requirement as understood by the service.",
        "properties": {
            "dimension": {"type": "string"},
            "value": {"type": ["string", "number"]},
            "requirement": {"type": "string"},
            "label": {"type": "string"},
            "unit": {"type": ["string", "null"]},
        },
        "required": ["dimension", "value", "requirement"],
    },
    "RequirementResult": {
        "allOf": [
            _ref("Requested"),
            {
                "type": "object",
                "properties": {
                    "status": {"enum": ["met", "unmet", "unknown"]},
                    "largest_recorded": {"type": ["number", "null"]},
                    "facts": {"type": "array", "items": _ref("Fact")},
                },
                "required": ["status", "facts"],
            },
        ]
    },
    "TechnologyResult": {
        "type": "object",
        "properties": {
            "rank": {"type": "integer", "minimum": 1},
            "technology": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "iri": {"type": "string"},
                    "label": {"type": "string"},
                    "kind": {"type": "object"},
                },
                "required": ["id", "iri", "label"],
            },
            "fits": {"type": "boolean"},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "met": {"type": "integer"},
            "unmet": {"type": "integer"},
            "unknown": {"type": "integer"},
            "startup_ms": {"type": ["number", "null"]},
            "memory_overhead_mib": {"type": ["number", "null"]},
            "isolation_rank": {"type": ["integer", "null"]},
            "requirements": {"type": "array", "items": _ref("RequirementResult")},
            "caveats": {"type": "array", "items": _ref("Caveat")},
        },
        "required": ["rank", "technology", "fits", "score", "requirements", "caveats"],
    },
    "Recommendation": {
        "type": "object",
        "properties": {
            "scenario": {"type": ["object", "null"]},
            "requirements": {"type": "array", "items": _ref("Requested")},
            "ranking": {"type": "array", "items": {"type": "string"}},
            "results": {"type": "array", "items": _ref("TechnologyResult")},
        },
        "required": ["requirements", "ranking", "results"],
    },
    "Dimension": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "examples": ["isolation"]},
            "label": {"type": "string"},
            "description": {"type": ["string", "null"]},
            "kind": {"enum": ["categorical", "numeric"]},
            "iri": {"type": "string"},
            "judged_by": {"type": "string"},
            "unit": {"type": ["string", "null"]},
            "values": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "value": {"type": ["string", "null"]},
                        "label": {"type": "string"},
                        "description": {"type": ["string", "null"]},
                        "iri": {"type": "string"},
                    },
                },
            },
            "accepts": {
                "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
            },
        },
        "required": ["name", "kind", "iri", "accepts"],
    },
    "Vocabulary": {
        "type": "object",
        "properties": {"requirements": {"type": "array", "items": _ref("Dimension")}},
        "required": ["requirements"],
    },
    "Comparison": {
        "type": "object",
        "properties": {
            "technologies": {"type": "array", "items": _ref("TechnologySummary")},
            "properties": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "property": _FACT_PROPERTY,
                        "values": {
                            "type": "object",
                            "description": "technology id -> its facts of this property",
                            "additionalProperties": {"type": "array", "items": _ref("Fact")},
                        },
                    },
                    "required": ["property", "values"],
                },
            },
        },
        "required": ["technologies", "properties"],
    },
    "SavedQuery": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "parameters": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "required": {"type": "boolean"},
                        "type": {"type": "string"},
                        "variable": {"type": "string"},
                        "language": {"type": "string"},
                    },
                    "required": ["name", "required", "type"],
                },
            },
            "sparql": {"type": "string"},
            "path": {"type": "string"},
            "form": {"enum": ["SELECT", "ASK", "CONSTRUCT", "DESCRIBE"]},
        },
        "required": ["name", "title", "parameters", "sparql", "path"],
    },
    "SavedQueryList": {
        "type": "object",
        "properties": {
            "count": {"type": "integer"},
            "queries": {"type": "array", "items": _ref("SavedQuery")},
        },
        "required": ["count", "queries"],
    },
    "SparqlResults": {
        "type": "object",
        "description": "SPARQL 1.1 Query Results JSON (SELECT: head.vars + results.bindings; "
        "ASK: boolean).",
        "properties": {
            "head": {"type": "object"},
            "results": {"type": "object"},
            "boolean": {"type": "boolean"},
        },
    },
}

RESPONSES = {
    "BadRequest": _json_response(
        "Malformed input: bad JSON, unknown requirement or value, wrong parameter type.",
        _ref("Error"),
    ),
    "NotFound": _json_response(
        "Unknown id; `details.allowed` lists the known ones.", _ref("Error")
    ),
    "NotAcceptable": _json_response("No representation matches Accept.", _ref("Error")),
    "PayloadTooLarge": _json_response("The body is over the service's limit.", _ref("Error")),
    "UnsupportedMediaType": _json_response("The body is not JSON.", _ref("Error")),
    "Unavailable": _json_response("The knowledge base is not loaded (yet).", _ref("Error")),
}


def _id_param(name: str, description: str, allowed: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if allowed:
        schema["examples"] = allowed[:3]
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description + (f" One of: {', '.join(allowed)}." if allowed else ""),
        "schema": schema,
    }


#: What ``recommend`` ignores around a requirement given as text (``recommend.BLANK``).
_BLANK = "[ \\t\\n\\r]*"
#: A numeric requirement bound (``recommend._parse_bound``): positive, finite, at most 10^15.
_BOUND: dict[str, Any] = {"type": "number", "exclusiveMinimum": 0, "maximum": 1e15}
#: The same bound as text (a URL parameter or a JSON string), exactly as the service reads it:
#: plain decimal notation (no exponent), at most 64 characters, above 0, at most 10^15.
_BOUND_TEXT: dict[str, Any] = {
    "type": "string",
    "maxLength": 64,
    "pattern": f"^{_BLANK}"
    r"\+?(?:0*[1-9][0-9]{0,14}(?:\.[0-9]*)?|0*1000000000000000(?:\.0*)?|0*\.0*[1-9][0-9]*)"
    f"{_BLANK}$",
    "examples": ["500", "0.5"],
}
_REGEX_SPECIALS = set("\\^$.|?*+()[]{}/")


def _any_case(values: list[str]) -> dict[str, Any]:
    """A categorical value as the service reads it: one of ``values`` in any ASCII case, with
    ``recommend.BLANK`` around it (``"HARDWARE"``, ``" hardware "``); the enum lists them."""
    letters = [
        "".join(
            f"[{c.upper()}{c.lower()}]"
            if c.isascii() and c.isalpha()
            else ("\\" + c if c in _REGEX_SPECIALS else c)
            for c in value
        )
        for value in values
    ]
    pattern = f"^{_BLANK}(?:{'|'.join(letters)}){_BLANK}$"
    return {"anyOf": [{"enum": values}, {"type": "string", "pattern": pattern}]}


def _requirement_schemas() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Query parameters of GET /api/recommend and the body schema of POST, from the vocabulary."""
    params: list[dict[str, Any]] = []
    properties: dict[str, Any] = {}
    for dim in vocabulary().dimensions.values():
        if dim.kind == "numeric":
            schema: dict[str, Any] = dict(_BOUND_TEXT)
            body_schema: dict[str, Any] = {
                "anyOf": [dict(_BOUND), dict(_BOUND_TEXT), {"type": "null"}]
            }
            text = (
                f"{dim.label}: an upper bound in {dim.unit}, a positive number no larger than"
                " 10^15. As text (in the URL, or a JSON string): decimal notation such as `500`"
                " or `0.5`, no exponent, at most 64 characters. In a JSON body also a number"
                " (any notation); null: not required."
            )
        else:
            values = [v.value for v in dim.values if v.value is not None]
            if dim.is_boolean:
                values = [*values, "false"]
            item = _any_case(values)
            schema = {"type": "array", "items": item, "minItems": 1}
            if dim.is_boolean:
                item = {"anyOf": [item, {"type": "boolean"}]}
            alternatives: list[dict[str, Any]] = [
                *item["anyOf"],
                {"type": "array", "items": item},
                {"type": "null"},
            ]
            body_schema = {"anyOf": alternatives}
            text = (
                f"{dim.label}. Case-insensitive; spaces around are ignored. Repeat the parameter"
                " (or give an array) to require several."
            )
        if dim.description:
            text += " " + dim.description
        params.append(
            {
                "name": dim.name,
                "in": "query",
                "required": False,
                "description": text,
                "schema": schema,
                "style": "form",
                "explode": True,
            }
        )
        properties[dim.name] = {**body_schema, "description": text}
    body = {
        "type": "object",
        "properties": {
            "requirements": {
                "type": ["object", "null"],
                "description": "Requirement name -> value. Absent, null or empty: no "
                "requirements (every technology fits).",
                "properties": properties,
                "additionalProperties": False,
            }
        },
        "additionalProperties": False,
    }
    return params, body


_PARAM_TYPES: dict[str, dict[str, Any]] = {
    "iri": {"type": "string", "format": "iri", "minLength": 1},
    "integer": {"type": "integer"},
    "decimal": {"type": "number"},
    "boolean": {"type": "boolean"},
    "string": {"type": "string", "minLength": 1},
    "langString": {"type": "string", "minLength": 1},
}
#: What else a JSON body may give for a parameter type (numbers and booleans are read as text).
_JSON_TEXT: dict[str, list[dict[str, Any]]] = {
    "integer": [{"type": "string", "pattern": r"^\s*[+-]?[0-9]+\s*$"}],
    "decimal": [
        {
            "type": "string",
            "pattern": r"^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$",
        }
    ],
    "boolean": [
        {"type": "string", "pattern": r"^\s*(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\s*$"}
    ],
    "string": [{"type": ["number", "boolean"]}],
    "langString": [{"type": ["number", "boolean"]}],
}
#: An empty value (and, in JSON, null) means "not given".
_EMPTY: dict[str, Any] = {"type": "string", "maxLength": 0}
_NULL: dict[str, Any] = {"type": "null"}


def _param_schema(kind: str, required: bool, *, json: bool = False) -> dict[str, Any]:
    """A saved-query parameter: its type; an optional one may also be empty (or JSON null)."""
    typed = dict(_PARAM_TYPES.get(kind, _PARAM_TYPES["string"]))
    if json:  # JSON scalars are read as their text
        typed = {"anyOf": [typed, *_JSON_TEXT.get(kind, [])]}
    if required:
        return typed
    return {"anyOf": [typed, _EMPTY, _NULL] if json else [typed, _EMPTY]}


def _result_content(form: str) -> dict[str, Any]:
    if form in ("CONSTRUCT", "DESCRIBE"):
        return {media: {"schema": {"type": "string"}} for media in GRAPH_TYPES}
    content: dict[str, Any] = {SOLUTION_TYPES[0]: {"schema": _ref("SparqlResults")}}
    for media in SOLUTION_TYPES[1:]:
        content[media] = {"schema": {"type": "string"}}
    return content


def _saved_query_path(query: SavedQuery) -> dict[str, Any]:
    """One path per saved query: GET with query parameters, POST with a JSON or form body."""
    params = []
    json_properties: dict[str, Any] = {}
    form_properties: dict[str, Any] = {}
    required = []
    for p in query.parameters:
        text = f"{p.describe()} (binds ?{p.variable})"
        if not p.required:
            text += "; optional: empty (or JSON null) means not given"
        params.append(
            {
                "name": p.name,
                "in": "query",
                "required": p.required,
                "description": text,
                "schema": _param_schema(p.type, p.required),
            }
        )
        json_properties[p.name] = {
            **_param_schema(p.type, p.required, json=True),
            "description": text,
        }
        form_properties[p.name] = {**_param_schema(p.type, p.required), "description": text}
        if p.required:
            required.append(p.name)

    def body_schema(properties: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
        return schema

    responses = {
        "200": {
            "description": "The query result, in the format chosen by Accept.",
            "content": _result_content(query_form(query.sparql)),
        },
        "400": _error("BadRequest"),
        "406": _error("NotAcceptable"),
        **_COMMON_ERRORS,
    }
    tags = ["saved queries", *query.tags]
    description = query.description or query.title
    common = {"tags": tags, "summary": query.title, "description": description}
    return {
        "get": {
            **common,
            "operationId": f"query_{_op(query.name)}_get",
            "parameters": params,
            "responses": responses,
        },
        "post": {
            **common,
            "operationId": f"query_{_op(query.name)}_post",
            "requestBody": {
                # without a body no required parameter is given
                "required": bool(required),
                "content": {
                    "application/json": {"schema": body_schema(json_properties)},
                    "application/x-www-form-urlencoded": {"schema": body_schema(form_properties)},
                },
            },
            "responses": {
                **responses,
                "413": _error("PayloadTooLarge"),
                "415": _error("UnsupportedMediaType"),
            },
        },
    }


def _op(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


def build_document(server_url: str = "/") -> dict[str, Any]:
    """The whole OpenAPI 3.1 document, its paths relative to ``server_url`` (the mount point)."""
    store = get_state().store
    tech_ids = [t["id"] for t in catalog.list_technologies(store)]
    scenario_ids = list(vocabulary().scenarios)
    queries = saved_queries()
    req_params, req_body = _requirement_schemas()
    tech_param = _id_param("id", "Technology id.", tech_ids)
    scenario_param = _id_param("id", "Scenario id.", scenario_ids)
    errors = _COMMON_ERRORS

    paths: dict[str, Any] = {
        "/api/technologies": {
            "get": {
                "tags": ["technologies"],
                "operationId": "listTechnologies",
                "summary": "List every technology",
                "responses": {
                    "200": _json_response("Technologies by label.", _ref("TechnologyList")),
                    **errors,
                },
            }
        },
        "/api/technologies/{id}": {
            "get": {
                "tags": ["technologies"],
                "operationId": "getTechnology",
                "summary": "A technology with its sourced facts, caveats and fitting scenarios",
                "parameters": [tech_param],
                "responses": {
                    "200": _json_response("The technology.", _ref("Technology")),
                    "404": _error("NotFound"),
                    **errors,
                },
            }
        },
        "/api/scenarios": {
            "get": {
                "tags": ["scenarios"],
                "operationId": "listScenarios",
                "summary": "List every scenario with its requirements",
                "responses": {
                    "200": _json_response("Scenarios by id.", _ref("ScenarioList")),
                    **errors,
                },
            }
        },
        "/api/scenarios/{id}": {
            "get": {
                "tags": ["scenarios"],
                "operationId": "getScenario",
                "summary": "A scenario with its requirements, sourced rationale and fitting "
                "technologies",
                "parameters": [scenario_param],
                "responses": {
                    "200": _json_response("The scenario.", _ref("Scenario")),
                    "404": _error("NotFound"),
                    **errors,
                },
            }
        },
        "/api/scenarios/{id}/recommendations": {
            "get": {
                "tags": ["scenarios", "recommendation"],
                "operationId": "recommendForScenario",
                "summary": "Every technology ranked for a scenario",
                "parameters": [scenario_param],
                "responses": {
                    "200": _json_response("The ranking.", _ref("Recommendation")),
                    "404": _error("NotFound"),
                    **errors,
                },
            }
        },
        "/api/recommend": {
            "get": {
                "tags": ["recommendation"],
                "operationId": "recommendGet",
                "summary": "Rank technologies for requirements given as query parameters",
                "description": "The shareable form of POST /api/recommend: "
                "`?isolation=hardware&untrusted_multitenant=true`.",
                "parameters": req_params,
                "responses": {
                    "200": _json_response("The ranking.", _ref("Recommendation")),
                    "400": _error("BadRequest"),
                    **errors,
                },
            },
            "post": {
                "tags": ["recommendation"],
                "operationId": "recommend",
                "summary": "Rank technologies for a set of requirements",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": req_body,
                            "example": {
                                "requirements": {
                                    "isolation": "hardware",
                                    "untrusted_multitenant": True,
                                    "max_startup_ms": 500,
                                }
                            },
                        }
                    },
                },
                "responses": {
                    "200": _json_response("The ranking.", _ref("Recommendation")),
                    "400": _error("BadRequest"),
                    "413": _error("PayloadTooLarge"),
                    "415": _error("UnsupportedMediaType"),
                    **errors,
                },
            },
        },
        "/api/requirements": {
            "get": {
                "tags": ["recommendation"],
                "operationId": "requirementVocabulary",
                "summary": "The requirement names and their allowed values",
                "responses": {
                    "200": _json_response("The vocabulary.", _ref("Vocabulary")),
                    **errors,
                },
            }
        },
        "/api/compare": {
            "get": {
                "tags": ["technologies"],
                "operationId": "compare",
                "summary": "Side-by-side facts of 2 to 6 technologies",
                "parameters": [
                    {
                        "name": "ids",
                        "in": "query",
                        "required": True,
                        "description": "Comma-separated distinct technology ids (2 to 6), e.g. "
                        "`docker,gvisor,firecracker`; an unknown id is 404 (a repeated id is "
                        "counted once).",
                        "style": "form",
                        "explode": False,
                        "schema": {
                            "type": "array",
                            "items": {"type": "string", "minLength": 1, "enum": tech_ids}
                            if tech_ids
                            else {"type": "string", "minLength": 1, "pattern": "^[^,]+$"},
                            "minItems": 2,
                            "maxItems": 6,
                            "uniqueItems": True,
                        },
                    }
                ],
                "responses": {
                    "200": _json_response("The comparison.", _ref("Comparison")),
                    "400": _error("BadRequest"),
                    "404": _error("NotFound"),
                    **errors,
                },
            }
        },
        "/api/queries": {
            "get": {
                "tags": ["saved queries"],
                "operationId": "listQueries",
                "summary": "The saved SPARQL queries and their parameters",
                "responses": {
                    "200": {
                        **_json_response("The saved queries.", _ref("SavedQueryList")),
                        "links": _run_query_links(list(queries.values())),
                    },
                    **errors,
                },
            }
        },
        "/api/queries/{name}": _generic_query_path(
            [q.name for q in queries.values() if not any(p.required for p in q.parameters)]
        ),
    }
    for query in queries.values():
        paths[f"/api/queries/{query.name}"] = _saved_query_path(query)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "virtkg REST API",
            "version": VERSION,
            "summary": "Choose between VMs, containers and hybrids from a sourced knowledge graph.",
            "description": "Every fact carries its sources. Errors are JSON "
            '`{"error": code, "message": text}`. The SPARQL 1.1 endpoint is `/sparql`; '
            "resources resolve as Linked Data under their IRIs (`/technology/{id}`, ...).",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": server_url}],
        "tags": [
            {"name": "technologies"},
            {"name": "scenarios"},
            {"name": "recommendation"},
            {"name": "saved queries", "description": "grlc-style: one operation per .rq file."},
        ],
        "paths": paths,
        "components": {"schemas": SCHEMAS, "responses": RESPONSES},
    }


def _run_query_links(queries: list[SavedQuery]) -> dict[str, Any]:
    """Links from the list of saved queries to running each one that needs no parameter.

    Only those may run through ``/api/queries/{name}`` without parameters; the link names the
    list entry that holds such a query's name (the list and this document are built from the same
    saved queries, in the same order), so a client following links never picks one that needs
    parameters.
    """
    links: dict[str, Any] = {}
    for index, query in enumerate(queries):
        if any(p.required for p in query.parameters):
            continue
        for operation in ("runQueryGet", "runQueryPost"):
            links[f"{operation}_{_op(query.name)}"] = {
                "operationId": operation,
                "parameters": {"path.name": f"$response.body#/queries/{index}/name"},
                "description": f"Run {query.name!r}, which needs no parameter.",
            }
    return links


#: The generic saved-query operation takes no parameters (see each query's own path).
_NO_PARAMETERS: dict[str, Any] = {"type": "object", "maxProperties": 0}


def _generic_query_path(names: list[str]) -> dict[str, Any]:
    name_param = {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "Saved query name. Run without parameters here; each query's own path"
        " lists its parameters (a query with required parameters is only run there).",
        "schema": {"type": "string", "enum": names} if names else {"type": "string"},
    }
    responses = {
        "200": {"description": "The query result.", "content": _result_content("SELECT")},
        "400": _error("BadRequest"),
        "404": _error("NotFound"),
        "406": _error("NotAcceptable"),
        **_COMMON_ERRORS,
    }
    return {
        "get": {
            "tags": ["saved queries"],
            "operationId": "runQueryGet",
            "summary": "Run a saved query (parameters as query parameters)",
            "parameters": [name_param],
            "responses": responses,
        },
        "post": {
            "tags": ["saved queries"],
            "operationId": "runQueryPost",
            "summary": "Run a saved query (parameters as a JSON object or form)",
            "parameters": [name_param],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {"schema": _NO_PARAMETERS},
                    "application/x-www-form-urlencoded": {"schema": _NO_PARAMETERS},
                },
            },
            "responses": {
                **responses,
                "413": _error("PayloadTooLarge"),
                "415": _error("UnsupportedMediaType"),
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3.1 document; its server is where the app is mounted (``/`` or a prefix)."""
    require_store()
    root = request.script_root or "/"
    body = memo("openapi:document", root, lambda: build_document(root))
    return Response(body, mimetype="application/json")


@bp.get("/api/docs")
def docs_page() -> str:
    """Interactive API docs (offline: no CDN; reads /openapi.json)."""
    return render_template("api_docs.html", title="API docs", page="api")
