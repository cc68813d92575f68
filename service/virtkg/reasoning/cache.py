"""Cache of inferred triples as N-Triples files named by the knowledge base's content hash."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from pyoxigraph import RdfFormat, Triple, parse, serialize


def cache_path(cache_dir: str | Path, key: str) -> Path:
    """Where the inferred triples for ``key`` live."""
    return Path(cache_dir) / f"{key}.nt"


def load_cached(cache_dir: str | Path, key: str) -> list[Triple] | None:
    """The cached inferred triples for ``key``, or None if absent or unreadable."""
    path = cache_path(cache_dir, key)
    try:
        return [q.triple for q in parse(path=path, format=RdfFormat.N_TRIPLES)]
    except (OSError, SyntaxError):
        return None


def store_cached(cache_dir: str | Path, key: str, triples: Iterable[Triple]) -> Path:
    """Write the triples atomically (temp file in the same folder, then rename)."""
    path = cache_path(cache_dir, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            serialize(triples, out, RdfFormat.N_TRIPLES)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
