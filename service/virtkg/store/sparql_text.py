"""Small, engine-independent helpers that read SPARQL text without parsing the full grammar.

A lexer splits the text into tokens the way the SPARQL 1.1 grammar does for the parts that matter
here: strings (short, long, with escapes), IRIs (with ``\\u`` escapes), comments, variables, blank
node labels, language tags, prefixed names (with ``\\``-escapes and ``%XX``), numbers, keywords and
punctuation. Anything that is not a keyword token can never be mistaken for one, so a ``SERVICE``
hidden in a string, an IRI, a comment or a prefixed name is not reported, and a real one is.

Where this lexer and the engine could disagree, the lexer errs towards seeing *more* keywords
(text the engine would reject anyway), never fewer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

from pyoxigraph import BlankNode, Literal, NamedNode, Variable

from virtkg.errors import BadRequest, InvalidParameter

_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
_IRIREF = re.compile(r"<(?:[^<>\"{}|^`\\\x00-\x20]|" + _UCHAR + r")*>")
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_CHARS = r"[\w\-\u00B7\u0300-\u036F\u203F\u2040]"
_PN_PREFIX = r"[^\W\d_](?:(?:" + _PN_CHARS + r"|\.)*" + _PN_CHARS + r")?"
_PN_LOCAL = (
    r"(?:[\w:]|" + _PLX + r")"
    r"(?:(?:" + _PN_CHARS + r"|[.:]|" + _PLX + r")*(?:" + _PN_CHARS + r"|:|" + _PLX + r"))?"
)
_PNAME = re.compile(r"(?:" + _PN_PREFIX + r")?:(?:" + _PN_LOCAL + r")?")
_VAR = re.compile(r"[?$][\w\u00B7\u0300-\u036F\u203F\u2040]+")
_BNODE = re.compile(r"_:(?:[\w\-\u00B7\u0300-\u036F\u203F\u2040]|\.(?=[\w\-]))*")
_LANGTAG = re.compile(r"@[A-Za-z]+(?:-[A-Za-z0-9]+)*")
_KEYWORD = re.compile(r"[A-Za-z]+")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_UNESCAPE = re.compile(_UCHAR + r"|\\(.)", re.DOTALL)

QUERY_FORMS = ("SELECT", "CONSTRUCT", "ASK", "DESCRIBE")


@dataclass(frozen=True)
class Token:
    """A token; ``kind``: iri, string, var, bnode, lang, pname, keyword, number or punct."""

    kind: str
    text: str
    start: int
    end: int

    def is_keyword(self, word: str) -> bool:
        return self.kind == "keyword" and self.text.upper() == word


def _string_end(text: str, start: int) -> int:
    """Index just past the string literal that starts at ``start`` (end of text if unterminated)."""
    quote = text[start]
    long_quote = text.startswith(quote * 3, start)
    closing = quote * 3 if long_quote else quote
    i = start + len(closing)
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if text.startswith(closing, i):
            if long_quote:  # """a"""" ends at the last three quotes of the run
                while text.startswith(closing, i + 1):
                    i += 1
            return i + len(closing)
        if not long_quote and char in "\r\n":
            return i  # illegal in a short string: the engine rejects the query
        i += 1
    return len(text)


def tokenize(sparql: str) -> Iterator[Token]:
    """Yield the tokens of a SPARQL query or update, skipping whitespace and comments."""
    i, n = 0, len(sparql)
    while i < n:
        char = sparql[i]
        if char.isspace():
            i += 1
            continue
        if char == "#":
            ends = [pos for pos in (sparql.find("\n", i), sparql.find("\r", i)) if pos >= 0]
            i = min(ends) if ends else n
            continue
        match = None
        kind = "punct"
        if char in "\"'":
            end = _string_end(sparql, i)
            yield Token("string", sparql[i:end], i, end)
            i = end
            continue
        if char == "<":
            match, kind = _IRIREF.match(sparql, i), "iri"
        elif char in "?$":
            match, kind = _VAR.match(sparql, i), "var"
        elif sparql.startswith("_:", i):
            match, kind = _BNODE.match(sparql, i), "bnode"
        elif char == "@":
            match, kind = _LANGTAG.match(sparql, i), "lang"
        elif char.isdigit() or (char == "." and sparql[i + 1 : i + 2].isdigit()):
            match, kind = _NUMBER.match(sparql, i), "number"
        elif char == ":" or char.isalpha():
            match, kind = _PNAME.match(sparql, i), "pname"
            if match is None:
                match, kind = _KEYWORD.match(sparql, i), "keyword"
        if match is None or match.end() == i:
            yield Token("punct", char, i, i + 1)
            i += 1
            continue
        yield Token(kind, match.group(), i, match.end())
        i = match.end()


def _unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return match.group(1)
        return chr(int(match.group()[2:], 16))

    return _UNESCAPE.sub(replace, text)


def _resolve(token: Token, prefixes: Mapping[str, str], base: str) -> str:
    """The IRI a token denotes (relative IRIs resolved against ``base``), else its text."""
    if token.kind == "iri":
        iri = _unescape(token.text[1:-1])
        return urljoin(base, iri) if base else iri
    if token.kind == "pname":
        prefix, _, local = token.text.partition(":")
        if prefix + ":" in prefixes:
            return prefixes[prefix + ":"] + _unescape(local)
    return token.text


def keywords_after_prologue(
    tokens: list[Token], base_iri: str = ""
) -> Iterator[tuple[str, list[Token], Callable[[Token], str]]]:
    """Each keyword (upper-cased) with the next three tokens and a resolver for IRI tokens.

    ``PREFIX`` and ``BASE`` declarations are applied as they are met (and not yielded), so the
    resolver expands prefixed names and resolves relative IRIs the way the engine will.
    """
    prefixes: dict[str, str] = {}
    base = base_iri
    for index, token in enumerate(tokens):
        if token.kind != "keyword":
            continue
        following = tokens[index + 1 : index + 4]
        word = token.text.upper()
        if word == "PREFIX" and len(following) >= 2 and following[1].kind == "iri":
            prefixes[following[0].text] = _resolve(following[1], {}, base)
        elif word == "BASE" and following and following[0].kind == "iri":
            base = _resolve(following[0], {}, base)
        else:
            yield word, following, functools.partial(_resolve, prefixes=prefixes, base=base)


def find_service_iris(sparql: str) -> list[str]:
    """IRIs named by ``SERVICE`` clauses in a query or update, in order of appearance.

    Prefixed names are expanded with the text's own ``PREFIX`` declarations and relative IRIs
    resolved against its ``BASE``. A ``SERVICE ?var`` yields ``"?var"``, which no allow-list can
    match. An empty list means the text has no SERVICE clause.
    """
    found: list[str] = []
    for word, following, resolve in keywords_after_prologue(list(tokenize(sparql))):
        if word == "SERVICE":
            if following and following[0].is_keyword("SILENT"):
                following = following[1:]
            found.append(resolve(following[0]) if following else "")
    return found


def from_clauses(sparql: str, base_iri: str = "") -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """The graphs a query's own ``FROM`` and ``FROM NAMED`` clauses name, or None without any.

    Returned as (default graphs, named graphs), prefixed names expanded and relative IRIs
    resolved against the text's ``BASE`` (itself against ``base_iri``).
    """
    if "from" not in sparql.lower():  # cheap pre-check: most queries have none
        return None
    defaults: list[str] = []
    named: list[str] = []
    tokens = list(tokenize(sparql))
    for word, following, resolve in keywords_after_prologue(tokens, base_iri):
        if word != "FROM" or not following:
            continue
        target = defaults
        if following[0].is_keyword("NAMED"):
            target, following = named, following[1:]
        if following:
            target.append(resolve(following[0]))
    if not defaults and not named:
        return None
    return tuple(defaults), tuple(named)


def query_form(sparql: str) -> str | None:
    """The query form: ``SELECT``, ``CONSTRUCT``, ``ASK``, ``DESCRIBE``, or None."""
    for token in tokenize(sparql):
        if token.kind == "keyword" and token.text.upper() in QUERY_FORMS:
            return token.text.upper()
    return None


def check_bindings(bindings: Mapping[str, object]) -> dict[Variable, NamedNode | Literal]:
    """Validate query parameters: names must be SPARQL variable names, values IRIs or literals.

    Raises :class:`~virtkg.errors.InvalidParameter` otherwise. Terms must be pyoxigraph terms,
    whose constructors already reject malformed IRIs (e.g. containing ``>`` or spaces).
    """
    checked: dict[Variable, NamedNode | Literal] = {}
    for name, value in bindings.items():
        try:
            variable = Variable(name.lstrip("?$"))
        except (ValueError, TypeError, AttributeError) as exc:
            raise InvalidParameter(f"not a SPARQL variable name: {name!r}") from exc
        if isinstance(value, BlankNode):
            raise InvalidParameter(f"?{variable.value} cannot be bound to a blank node")
        if not isinstance(value, NamedNode | Literal):
            kind = type(value).__name__
            raise InvalidParameter(f"?{variable.value} must be an IRI or a literal, not {kind}")
        checked[variable] = value
    return checked


def _matching_brace(tokens: list[Token], open_index: int) -> int:
    depth = 0
    for index in range(open_index, len(tokens)):
        if tokens[index].text == "{" and tokens[index].kind == "punct":
            depth += 1
        elif tokens[index].text == "}" and tokens[index].kind == "punct":
            depth -= 1
            if depth == 0:
                return index
    raise BadRequest("unbalanced braces in the query")


def add_values_block(sparql: str, bindings: Mapping[str, object]) -> str:
    """Bind variables by inserting a ``VALUES`` block at the start of the outermost WHERE group.

    Values are written with pyoxigraph's N-Triples serialization of each term (escaped by the
    engine), so no value can close the block or add syntax. ``CONSTRUCT WHERE { T }`` is rewritten
    to ``CONSTRUCT { T } WHERE { VALUES ... T }``. Differences from engine-side substitution: a
    bound variable is joined at the top level, so a sub-SELECT that does not project it does not
    see the value.
    """
    checked = check_bindings(bindings)
    if not checked:
        return sparql
    variables = " ".join(str(variable) for variable in checked)
    values = " ".join(str(term) for term in checked.values())
    block = f" VALUES ({variables}) {{ ({values}) }} "

    tokens = list(tokenize(sparql))
    depth = 0
    form_index = None
    for index, token in enumerate(tokens):
        if token.kind == "punct" and token.text in "{}":
            depth += 1 if token.text == "{" else -1
        elif depth == 0 and token.kind == "keyword" and token.text.upper() in QUERY_FORMS:
            form_index = index
            break
    if form_index is None:
        raise BadRequest("cannot bind parameters: no SELECT, CONSTRUCT, ASK or DESCRIBE found")

    rest = tokens[form_index + 1 :]
    if tokens[form_index].is_keyword("CONSTRUCT") and rest and rest[0].is_keyword("WHERE"):
        opening = form_index + 2
        if opening >= len(tokens) or tokens[opening].text != "{":
            raise BadRequest("cannot bind parameters: CONSTRUCT WHERE without a group")
        closing = _matching_brace(tokens, opening)
        template = sparql[tokens[opening].start : tokens[closing].end]
        inner = sparql[tokens[opening].end : tokens[closing].start]
        return (
            sparql[: tokens[form_index + 1].start]
            + f"{template} WHERE {{{block}{inner}}}"
            + sparql[tokens[closing].end :]
        )

    # The WHERE group is the first "{" outside parentheses (a projection may hold EXISTS {...});
    # a CONSTRUCT template comes before the WHERE keyword.
    need_where = tokens[form_index].is_keyword("CONSTRUCT")
    parens = 0
    for token in tokens[form_index + 1 :]:
        if token.kind != "punct" and not token.is_keyword("WHERE"):
            continue
        if token.text == "(":
            parens += 1
        elif token.text == ")":
            parens -= 1
        elif token.is_keyword("WHERE") and parens == 0:
            need_where = False
        elif token.text == "{" and parens == 0 and not need_where:
            return sparql[: token.end] + block + sparql[token.end :]
    raise BadRequest("cannot bind parameters: the query has no WHERE group")


#: Update keywords that set an operation's own dataset (SPARQL 1.1 Update §3.1.3).
UPDATE_DATASET_KEYWORDS = ("USING", "WITH")


def _top_level_keywords(tokens: list[Token]) -> Iterator[tuple[int, str]]:
    """Index and upper-cased text of each keyword outside every ``{...}`` group."""
    depth = 0
    for index, token in enumerate(tokens):
        if token.kind == "punct" and token.text in "{}":
            depth += 1 if token.text == "{" else -1
        elif depth == 0 and token.kind == "keyword":
            yield index, token.text.upper()


def _dataset_clause_error(word: str) -> BadRequest:
    return BadRequest(
        "using-graph-uri / using-named-graph-uri cannot be combined with an update that has its "
        f"own {word} clause (SPARQL 1.1 Protocol, 2.2.3)",
        details={"clause": word},
    )


def check_no_dataset_clause(sparql: str) -> None:
    """Raise :class:`~virtkg.errors.BadRequest` when an update has a ``USING`` or ``WITH`` clause.

    The Protocol's ``using-graph-uri`` / ``using-named-graph-uri`` may not be combined with them.
    """
    for _, word in _top_level_keywords(list(tokenize(sparql))):
        if word in UPDATE_DATASET_KEYWORDS:
            raise _dataset_clause_error(word)


def add_using_clauses(
    sparql: str, default_graphs: Sequence[str], named_graphs: Sequence[str]
) -> str:
    """Give every ``DELETE/INSERT ... WHERE`` operation of an update the dataset of the Protocol's
    ``using-graph-uri`` / ``using-named-graph-uri`` parameters.

    A ``USING <g>`` clause per default graph and a ``USING NAMED <g>`` clause per named graph are
    inserted before the top-level ``WHERE`` of each such operation (the "Modify" form; the
    ``DELETE WHERE`` short form, ``INSERT/DELETE DATA`` and graph management operations take no
    dataset). Keywords inside groups (sub-queries), strings, IRIs and comments are never taken
    for that ``WHERE``. IRIs are written by pyoxigraph (``NamedNode``), which checks and escapes
    them, so a parameter cannot add syntax. Raises :class:`~virtkg.errors.BadRequest` when the
    update has its own ``USING`` or ``WITH`` (the Protocol makes that combination an error) and
    :class:`~virtkg.errors.InvalidParameter` for a graph that is not an absolute IRI.
    """
    clauses = [f"USING {_graph_iri(g)}" for g in default_graphs]
    clauses += [f"USING NAMED {_graph_iri(g)}" for g in named_graphs]
    if not clauses:
        return sparql
    tokens = list(tokenize(sparql))
    positions: list[int] = []
    for index, word in _top_level_keywords(tokens):
        if word in UPDATE_DATASET_KEYWORDS:
            raise _dataset_clause_error(word)
        if word == "WHERE" and not (index > 0 and tokens[index - 1].is_keyword("DELETE")):
            positions.append(tokens[index].start)
    text = " ".join(clauses) + " "
    parts: list[str] = []
    done = 0
    for position in positions:
        parts += [sparql[done:position], text]
        done = position
    parts.append(sparql[done:])
    return "".join(parts)


def _graph_iri(iri: str) -> str:
    """``<iri>`` as the engine serializes it; :class:`InvalidParameter` for a non-IRI."""
    try:
        return str(NamedNode(iri))
    except (ValueError, TypeError) as exc:
        raise InvalidParameter(f"not an absolute IRI: {iri!r}", details={"iri": iri}) from exc
