"""Saved SPARQL queries (``queries/*.rq``) with a grlc-style header and BASIL-style parameters.

Header lines at the top of the file::

    #+ summary: Technologies by isolation boundary
    #+ description: Every technology with its isolation boundary.
    #+ tags: [technologies, isolation]

Parameters are variables in the query: ``?_name`` is required, ``?__name`` optional, with an
optional type suffix: ``?_name_iri``, ``_integer``, ``_decimal``, ``_boolean``, ``_string``
(the default: a plain string literal) or a language tag such as ``_en`` (a language-tagged
literal). The API name is ``name`` (no underscores). Values are converted to pyoxigraph terms and
bound by the engine (``store.query(bindings=...)``), never formatted into the query text, so a
value is always just one RDF term. An optional parameter that is not given stays unbound.
pyoxigraph only substitutes projected variables: a SELECT must list its parameters (or use *).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pyoxigraph import Literal, NamedNode

from virtkg.errors import CheckFailed, InvalidParameter
from virtkg.store.base import KnowledgeStore, QueryResult, Term

XSD = "http://www.w3.org/2001/XMLSchema#"
TYPES = ("iri", "integer", "decimal", "boolean", "string")
PARAMETER = re.compile(r"[?$](__?)([A-Za-z][A-Za-z0-9]*)(?:_([A-Za-z][A-Za-z0-9]*))?(?![\w])")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")
INTEGER = re.compile(r"^[+-]?[0-9]+$")
PROJECTION = re.compile(r"\bSELECT\b(.*?)\b(WHERE\b|FROM\b|\{)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Parameter:
    """One query parameter: API ``name``, the SPARQL ``variable`` (without ``?``), its type."""

    name: str
    variable: str
    required: bool
    type: str  # iri | integer | decimal | boolean | string | langString
    language: str | None = None

    def to_dict(self) -> dict:
        data = {
            "name": self.name,
            "required": self.required,
            "type": self.type,
            "variable": self.variable,
        }
        if self.language:
            data["language"] = self.language
        return data

    def term(self, raw: str) -> Term:
        """Convert a client's text to the RDF term this parameter stands for."""
        if not isinstance(raw, str):
            raw = str(raw)
        problem = InvalidParameter(
            f"parameter {self.name!r} must be {self.describe()}, got {raw!r}",
            details={"name": self.name, "type": self.type, "value": raw},
        )
        if self.type == "iri":
            try:
                return NamedNode(raw.strip())
            except ValueError:
                raise problem from None
        if self.type == "integer":
            if not INTEGER.match(raw.strip()):
                raise problem
            return Literal(str(int(raw.strip())), datatype=NamedNode(XSD + "integer"))
        if self.type == "decimal":
            try:
                number = Decimal(raw.strip())
            except InvalidOperation:
                raise problem from None
            if not number.is_finite():
                raise problem
            return Literal(str(number), datatype=NamedNode(XSD + "decimal"))
        if self.type == "boolean":
            lowered = raw.strip().lower()
            if lowered not in {"true", "false"}:
                raise problem
            return Literal(lowered, datatype=NamedNode(XSD + "boolean"))
        if self.type == "langString":
            return Literal(raw, language=self.language)
        return Literal(raw)

    def describe(self) -> str:
        return {
            "iri": "an absolute IRI",
            "integer": "an integer",
            "decimal": "a decimal number",
            "boolean": "true or false",
            "langString": f"text (@{self.language})",
        }.get(self.type, "text")


@dataclass
class SavedQuery:
    """A saved query: metadata from the header, parameters from the body, and the SPARQL text."""

    name: str
    title: str
    description: str
    tags: list[str]
    parameters: list[Parameter]
    sparql: str
    path: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "tags": self.tags,
            "parameters": [p.to_dict() for p in self.parameters],
            "sparql": self.sparql,
        }

    def bindings(self, params: Mapping[str, str] | None) -> dict[str, Term]:
        """Check ``params`` against the declared parameters and convert them to terms."""
        params = dict(params or {})
        allowed = [p.name for p in self.parameters]
        unknown = sorted(k for k in params if k not in allowed)
        if unknown:
            raise InvalidParameter(
                f"unknown parameter(s) {', '.join(map(repr, unknown))} for query {self.name!r};"
                f" allowed: {', '.join(allowed) or 'none'}",
                details={"query": self.name, "unknown": unknown, "allowed": allowed},
            )
        bindings: dict[str, Term] = {}
        for parameter in self.parameters:
            raw = params.get(parameter.name)
            if raw is None or raw == "":
                if parameter.required:
                    raise InvalidParameter(
                        f"missing required parameter {parameter.name!r} ({parameter.describe()})"
                        f" for query {self.name!r}",
                        details={
                            "query": self.name,
                            "name": parameter.name,
                            "type": parameter.type,
                        },
                    )
                continue
            bindings[parameter.variable] = parameter.term(raw)
        return bindings

    def run(self, store: KnowledgeStore, params: Mapping[str, str] | None = None) -> QueryResult:
        """Run the query with ``params`` (API name -> text) bound as typed RDF terms."""
        return store.query(self.sparql, bindings=self.bindings(params))


def _header(text: str) -> dict[str, object]:
    """Read the ``#+ key: value`` lines (values may be ``[a, b]`` lists or ``- item`` lines)."""
    header: dict[str, object] = {}
    last: str | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            break
        if not stripped.startswith("#+"):
            continue
        body = stripped[2:].strip()
        if body.startswith("- ") and last is not None:
            current = header.get(last)
            items = current if isinstance(current, list) else []
            items.append(body[2:].strip().strip("\"'"))
            header[last] = items
            continue
        key, _, value = body.partition(":")
        last = key.strip()
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            header[last] = [v.strip().strip("\"'") for v in value[1:-1].split(",") if v.strip()]
        else:
            header[last] = value.strip("\"'") if value else []
    return header


def parse_parameters(sparql: str, query_name: str = "") -> list[Parameter]:
    """Find the ``?_name`` / ``?__name`` parameters of a query, in order of appearance."""
    body = "\n".join(line for line in sparql.splitlines() if not line.lstrip().startswith("#"))
    found: dict[str, Parameter] = {}
    for match in PARAMETER.finditer(body):
        underscores, name, suffix = match.groups()
        variable = match.group(0)[1:]
        if variable in {p.variable for p in found.values()}:
            continue
        language = None
        if suffix is None:
            kind = "string"
        elif suffix.lower() in TYPES:
            kind = suffix.lower()
        elif LANGUAGE.match(suffix):
            kind, language = "langString", suffix
        else:
            raise CheckFailed(
                f"saved query {query_name!r}: unknown parameter type {suffix!r} in ?{variable}",
                details={"query": query_name, "variable": variable},
            )
        if name in found:
            raise CheckFailed(
                f"saved query {query_name!r}: parameter {name!r} declared twice",
                details={"query": query_name, "name": name},
            )
        found[name] = Parameter(name, variable, underscores == "_", kind, language)
    return list(found.values())


def _check_projection(sparql: str, parameters: list[Parameter], name: str) -> None:
    """pyoxigraph substitutes only projected variables: make a SELECT project its parameters."""
    body = "\n".join(line for line in sparql.splitlines() if not line.lstrip().startswith("#"))
    match = PROJECTION.search(body)
    if not match or "*" in match.group(1):
        return
    missing = [
        p.variable
        for p in parameters
        if "?" + p.variable not in match.group(1) and "$" + p.variable not in match.group(1)
    ]
    if missing:
        raise CheckFailed(
            f"saved query {name!r}: SELECT must project its parameters: {', '.join(missing)}",
            details={"query": name, "variables": missing},
        )


def load_saved_query(path: Path) -> SavedQuery:
    """Read one ``.rq`` file."""
    text = path.read_text(encoding="utf-8")
    header = _header(text)
    parameters = parse_parameters(text, path.stem)
    _check_projection(text, parameters, path.stem)
    tags = header.get("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    summary = header.get("summary") or path.stem
    description = header.get("description") or ""
    extra = {k: str(v) for k, v in header.items() if k not in {"summary", "description", "tags"}}
    return SavedQuery(
        name=path.stem,
        title=str(summary),
        description=str(description),
        tags=list(tags),
        parameters=parameters,
        sparql=text,
        path=str(path),
        extra=extra,
    )


def load_saved_queries(queries_dir: str | Path) -> dict[str, SavedQuery]:
    """Every ``*.rq`` directly in ``queries_dir`` (not sub-folders such as ``checks/``), by name."""
    folder = Path(queries_dir)
    return {p.stem: load_saved_query(p) for p in sorted(folder.glob("*.rq")) if p.is_file()}
