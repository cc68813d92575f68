"""The ``virtkg`` command line: serve, query, recommend, check, load, render.

Every flag maps onto a :class:`~virtkg.config.Settings` field, so flags, ``VIRTKG_*`` variables
and defaults behave the same way everywhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from virtkg import __version__
from virtkg.config import Settings, load_settings
from virtkg.errors import VirtkgError
from virtkg.store.base import AskResult, GraphResult, KnowledgeStore, QueryResult

#: Settings exposed as flags on every sub-command that opens a store.
STORE_FLAGS = (
    "store",
    "store_path",
    "endpoint",
    "update_endpoint",
    "gsp_endpoint",
    "kb_dir",
    "cache_dir",
    "query_timeout",
    "max_rows",
    "log_level",
)
SERVE_FLAGS = (
    "host",
    "port",
    "workers",
    "server",
    "query_workers",
    "max_body_bytes",
    "update_token",
    "fetch_allow",
    "cors_origins",
    "base_iri",
    "url_prefix",
    "trusted_proxies",
)


def _add_setting_flags(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    by_name = {f.name: f for f in fields(Settings)}
    for name in names:
        f = by_name[name]
        kind = {"int": int, "float": float}.get(str(f.type), str)
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=kind,
            default=None,
            help=f"{f.metadata.get('help', '')} (env VIRTKG_{name.upper()})",
        )


def _settings_from(args: argparse.Namespace) -> Settings:
    overrides = {f.name: getattr(args, f.name) for f in fields(Settings) if hasattr(args, f.name)}
    for key in ("fetch_allow", "cors_origins"):
        if isinstance(overrides.get(key), str):
            overrides[key] = tuple(p.strip() for p in overrides[key].split(",") if p.strip())
    return load_settings(**overrides)


def _open_loaded_store(settings: Settings) -> KnowledgeStore:
    """Open the configured store, loading and reasoning the KB into it if it is empty."""
    from virtkg.kb import load_knowledge_base
    from virtkg.store import open_store

    store = open_store(settings)
    if store.count() == 0:  # a remote or on-disk store that holds the KB is used as it is
        load_knowledge_base(store, settings)
    return store


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the SPARQL endpoint, the REST API and the UI."""
    settings = _settings_from(args)
    from virtkg.http.server import run_server

    run_server(settings)  # --production changes nothing: production servers are the default
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    """Run one SPARQL query and print the result in the requested format."""
    from virtkg.http.negotiate import media_type_for_format

    settings = _settings_from(args)
    if args.file:
        sparql = Path(args.file).read_text(encoding="utf-8")
    elif args.sparql:
        sparql = args.sparql
    else:
        sparql = sys.stdin.read()
    store = _open_loaded_store(settings)
    try:
        if args.format == "table":
            print(format_query_table(store.query(sparql)))
            return 0
        raw = store.query_raw(sparql, media_type_for_format(args.format, sparql))
        sys.stdout.buffer.write(raw.body)
        if not raw.body.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")
    finally:
        store.close()
    return 0


def format_query_table(result: QueryResult) -> str:
    """Render a query result as plain text: a table for SELECT, a word for ASK, N-Triples else."""
    if isinstance(result, AskResult):
        return "true" if result.value else "false"
    if isinstance(result, GraphResult):
        return "\n".join(f"{t.subject} {t.predicate} {t.object} ." for t in result.triples)
    header = [f"?{v}" for v in result.variables]
    body = [[_cell(row.get(v)) for v in result.variables] for row in result.rows]
    return _fixed_width([header, *body])


def _cell(term: object) -> str:
    if term is None:
        return ""
    value = getattr(term, "value", None)
    return str(value) if value is not None else str(term)


def _fixed_width(rows: list[list[str]] | list[tuple[str, ...]]) -> str:
    if not rows or not rows[0]:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _parse_requirement_flags(pairs: Sequence[str]) -> dict[str, str]:
    requirements: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise VirtkgError(f"requirement {pair!r} must look like name=value")
        requirements[name.strip()] = value.strip()
    return requirements


def cmd_recommend(args: argparse.Namespace) -> int:
    """Rank technologies for a scenario or for requirement flags."""
    from virtkg.recommend import recommend, recommend_for_scenario, requirement_vocabulary

    settings = _settings_from(args)
    store = _open_loaded_store(settings)
    try:
        if args.list:
            vocabulary = [d.to_dict() for d in requirement_vocabulary(store)]
            print(json.dumps(vocabulary, indent=2))
            return 0
        if args.scenario:
            result = recommend_for_scenario(store, args.scenario)
        else:
            result = recommend(store, _parse_requirement_flags(args.require or []))
    finally:
        store.close()
    data = result.to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(format_recommendation_table(data))
    return 0


def format_recommendation_table(data: dict) -> str:
    """A readable fixed-width table of a recommendation's ranked results."""
    rows = [("rank", "technology", "kind", "fits", "score", "unmet", "unknown")]
    for rank, result in enumerate(data.get("results", []), start=1):
        statuses = [r["status"] for r in result.get("requirements", [])]
        rows.append(
            (
                str(rank),
                result["technology"]["label"],
                result["technology"].get("kind", {}).get("label", ""),
                "yes" if result["fits"] else "no",
                f"{result['score']:.2f}",
                str(statuses.count("unmet")),
                str(statuses.count("unknown")),
            )
        )
    return _fixed_width(rows)


def cmd_check(args: argparse.Namespace) -> int:
    """Run the knowledge-base checks (OWL 2 DL profile, HermiT, SHACL, violation queries)."""
    from virtkg.checks import main as checks_main

    argv = ["--kb-dir", args.kb_dir or str(load_settings().kb_dir)]
    if args.only:
        argv += ["--only", args.only]
    return checks_main(argv)


def cmd_load(args: argparse.Namespace) -> int:
    """Load (and reason over) the knowledge base into the configured store, e.g. a remote server."""
    from virtkg.kb import load_knowledge_base
    from virtkg.store import open_store

    settings = _settings_from(args)
    store = open_store(settings)
    try:
        report = load_knowledge_base(store, settings)
    finally:
        store.close()
    print(report)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    """Generate derived artefacts: RDF/XML rendering, HTML reference, README fit table."""
    from virtkg import render

    return render.main([args.what, *(["--kb-dir", args.kb_dir] if args.kb_dir else [])])


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(prog="virtkg", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"virtkg {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help=cmd_serve.__doc__)
    _add_setting_flags(serve, STORE_FLAGS + SERVE_FLAGS)
    serve.add_argument(
        "--production",
        action="store_true",
        help="accepted for compatibility; the production servers are the default (see --server)",
    )
    serve.set_defaults(func=cmd_serve)

    query = sub.add_parser("query", help=cmd_query.__doc__)
    _add_setting_flags(query, STORE_FLAGS)
    query.add_argument("sparql", nargs="?", help="the query text (or use --file, or stdin)")
    query.add_argument("--file", "-f", help="read the query from this file")
    query.add_argument(
        "--format",
        default="table",
        help="json, xml, csv, tsv, table (SELECT/ASK); turtle, ntriples, rdfxml, "
        "jsonld (CONSTRUCT/DESCRIBE)",
    )
    query.set_defaults(func=cmd_query)

    rec = sub.add_parser("recommend", help=cmd_recommend.__doc__)
    _add_setting_flags(rec, STORE_FLAGS)
    rec.add_argument("--scenario", help="scenario id, e.g. ci-untrusted-builds")
    rec.add_argument(
        "--require",
        "-r",
        action="append",
        metavar="NAME=VALUE",
        help="a requirement, e.g. -r isolation=hardware -r max_startup_ms=500",
    )
    rec.add_argument("--list", action="store_true", help="list the requirement vocabulary")
    rec.add_argument("--json", action="store_true", help="print JSON instead of a table")
    rec.set_defaults(func=cmd_recommend)

    check = sub.add_parser("check", help=cmd_check.__doc__)
    check.add_argument("--kb-dir", default=None)
    check.add_argument("--only", help="comma-separated: profile,hermit,shacl,violations")
    check.set_defaults(func=cmd_check)

    load = sub.add_parser("load", help=cmd_load.__doc__)
    _add_setting_flags(load, STORE_FLAGS)
    load.set_defaults(func=cmd_load)

    render = sub.add_parser("render", help=cmd_render.__doc__)
    render.add_argument("what", choices=["rdfxml", "html", "fit-table", "readme"])
    render.add_argument("--kb-dir", default=None)
    render.set_defaults(func=cmd_render)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``virtkg`` command."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except VirtkgError as exc:
        print(f"virtkg: error: {exc.message}", file=sys.stderr)
        for key, value in exc.details.items():
            print(f"  {key}: {value}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
