"""Configuration: defaults that work, overridden by `VIRTKG_*` variables, then by flags.

Every setting is a field of :class:`Settings`; the README's configuration table is generated
from it (``python -m virtkg.config`` prints the table).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from virtkg.errors import BadRequest

#: The checkout (or install) root that holds ontology/, data/ and queries/.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise BadRequest(f"not a boolean: {value!r} (use true/false)")


@dataclass(frozen=True)
class Settings:
    """All of virtkg's settings. Field metadata documents each one."""

    store: str = field(
        default="embedded",
        metadata={
            "help": "Store backend: `embedded` (pyoxigraph) or `remote` (a SPARQL 1.1 server)."
        },
    )
    store_path: str = field(
        default="",
        metadata={
            "help": "Directory for the embedded store on disk; empty = in memory. One serving "
            "process only (the default then; `--workers` > 1 is refused)."
        },
    )
    endpoint: str = field(
        default="",
        metadata={"help": "Remote store's SPARQL query endpoint URL (implies `store=remote`)."},
    )
    update_endpoint: str = field(
        default="",
        metadata={"help": "Remote store's SPARQL update endpoint; empty = same as `endpoint`."},
    )
    gsp_endpoint: str = field(
        default="",
        metadata={"help": "Remote store's Graph Store Protocol endpoint; empty = derived/none."},
    )
    kb_dir: str = field(
        default=str(PROJECT_ROOT),
        metadata={"help": "Folder holding `ontology/`, `data/` and `queries/`."},
    )
    cache_dir: str = field(
        default=str(Path.home() / ".cache" / "virtkg"),
        metadata={"help": "Where reasoning results are cached, keyed by the KB files' content."},
    )
    base_iri: str = field(
        default="https://w3id.org/virtkg/",
        metadata={"help": "IRI base of the knowledge base (the namespace served as Linked Data)."},
    )
    host: str = field(default="127.0.0.1", metadata={"help": "Address `serve` binds."})
    port: int = field(default=8000, metadata={"help": "Port `serve` listens on."})
    workers: int = field(
        default=0,
        metadata={
            "help": "Serving processes (granian or gunicorn workers); 0 = one per core, or one "
            "when the embedded store cannot be shared (`store_path`, or `update_token` in memory)."
        },
    )
    server: str = field(
        default="granian",
        metadata={
            "help": "HTTP server of `serve`: `granian` (Rust HTTP front, WSGI workers), `gunicorn` "
            "(sync workers) or `werkzeug` (development server, one process)."
        },
    )
    query_workers: int = field(
        default=2,
        metadata={
            "help": "Query worker processes per serving process (embedded store); a query past "
            "the timeout is stopped by killing its worker. 0 = in-process, no hard timeout."
        },
    )
    query_timeout: float = field(
        default=10.0,
        metadata={
            "help": "Seconds before a SPARQL query, or an update's dry run (embedded store), is "
            "stopped."
        },
    )
    max_rows: int = field(
        default=10000, metadata={"help": "Row cap for SPARQL results (signalled when hit)."}
    )
    max_body_bytes: int = field(
        default=1_000_000, metadata={"help": "Largest request body accepted (413 over it)."}
    )
    update_token: str = field(
        default="",
        metadata={
            "help": "Bearer token that enables SPARQL Update; empty = update off (403). With the "
            "in-memory store, one serving process only (the default then; `--workers` > 1 is "
            "refused)."
        },
    )
    fetch_allow: tuple[str, ...] = field(
        default=(),
        metadata={"help": "IRI prefixes that SERVICE/LOAD/FROM may fetch (comma-separated)."},
    )
    cors_origins: tuple[str, ...] = field(
        default=(),
        metadata={"help": "Origins allowed by CORS (comma-separated; `*` for any)."},
    )
    url_prefix: str = field(
        default="",
        metadata={
            "help": "Path the service is mounted under when the reverse proxy passes it on "
            "(`/virtkg`: `/virtkg/api/...` is served as `/api/...` and every link, asset and "
            "script URL starts with `/virtkg`); empty = the site root."
        },
    )
    trusted_proxies: int = field(
        default=0,
        metadata={
            "help": "Reverse proxies in front of virtkg whose `X-Forwarded-For`, `-Proto`, "
            "`-Host`, `-Port` and `-Prefix` headers are believed (werkzeug ProxyFix); "
            "0 = ignore those headers, which any client can send."
        },
    )
    log_level: str = field(default="INFO", metadata={"help": "Logging level."})

    def with_overrides(self, overrides: Mapping[str, object]) -> Settings:
        """Return a copy with the given (non-None) values replacing the current ones."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(clean) - {f.name for f in fields(self)}
        if unknown:
            raise BadRequest(f"unknown settings: {', '.join(sorted(unknown))}")
        if clean.get("endpoint") and "store" not in clean:
            clean["store"] = "remote"
        return replace(self, **clean)


def env_name(field_name: str) -> str:
    """The environment variable that sets ``field_name``."""
    return "VIRTKG_" + field_name.upper()


def _coerce(kind: object, raw: str) -> object:
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    if kind in (bool, "bool"):
        return _bool(raw)
    if kind in (tuple[str, ...], "tuple[str, ...]"):
        return _split(raw)
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build settings from defaults, then the environment, then explicit overrides (CLI flags)."""
    environ = os.environ if environ is None else environ
    from_env: dict[str, object] = {}
    for f in fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is None:
            continue
        try:
            from_env[f.name] = _coerce(f.type, raw)
        except ValueError as exc:
            raise BadRequest(f"{env_name(f.name)}={raw!r} is not valid: {exc}") from exc
    return Settings().with_overrides(from_env).with_overrides(overrides)


def settings_table() -> str:
    """The configuration table (Markdown) documented in the README."""
    lines = ["| setting | environment | default | meaning |", "|---|---|---|---|"]
    for f in fields(Settings):
        default = f.default
        if f.name in {"kb_dir", "cache_dir"}:
            default = {"kb_dir": "the checkout", "cache_dir": "~/.cache/virtkg"}[f.name]
        if isinstance(default, tuple):
            default = ",".join(default)
        flag = "--" + f.name.replace("_", "-")
        lines.append(
            f"| `{flag}` | `{env_name(f.name)}` | `{default}` | {f.metadata.get('help', '')} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(settings_table())
