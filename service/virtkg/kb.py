"""The knowledge-base files, and loading them (asserted + reasoned) into a store all-or-nothing."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import RdfFormat, Triple, parse

from virtkg.config import Settings
from virtkg.errors import CheckFailed
from virtkg.reasoning import REASONER_VERSION, materialize
from virtkg.reasoning.cache import load_cached, store_cached
from virtkg.store.base import DATA_GRAPH, INFERRED_GRAPH, ONTOLOGY_GRAPH, KnowledgeStore

log = logging.getLogger(__name__)

ONTOLOGY_FILE = Path("ontology") / "virtkg.ttl"
DATA_DIR = Path("data")


def parse_turtle(path: Path) -> list[Triple]:
    """Parse one Turtle file; a syntax error raises CheckFailed naming the file and line."""
    try:
        return [
            q.triple for q in parse(path=path, format=RdfFormat.TURTLE, rename_blank_nodes=True)
        ]
    except SyntaxError as exc:
        line = getattr(exc, "lineno", None)
        raise CheckFailed(
            f"{path}: line {line}: {exc.msg}" if line else f"{path}: {exc.msg}",
            details={"file": str(path), "line": line, "column": getattr(exc, "offset", None)},
        ) from exc


@dataclass(frozen=True)
class KnowledgeBaseFiles:
    """The hand-edited ontology file and the data files of one knowledge base."""

    root: Path
    ontology: Path
    data: tuple[Path, ...]

    @classmethod
    def discover(cls, kb_dir: str | Path) -> KnowledgeBaseFiles:
        """``ontology/virtkg.ttl`` and ``data/*.ttl`` (generated ontology files are ignored)."""
        root = Path(kb_dir)
        ontology = root / ONTOLOGY_FILE
        if not ontology.is_file():
            raise CheckFailed(f"no ontology file at {ontology}", details={"file": str(ontology)})
        data = tuple(sorted((root / DATA_DIR).glob("*.ttl")))
        return cls(root=root, ontology=ontology, data=data)

    @property
    def paths(self) -> tuple[Path, ...]:
        return (self.ontology, *self.data)

    def content_hash(self) -> str:
        """sha256 over the reasoner version and every file's relative name and bytes."""
        digest = hashlib.sha256(REASONER_VERSION.encode() + b"\0")
        for path in self.paths:
            name = path.relative_to(self.root).as_posix().encode()
            content = path.read_bytes()
            digest.update(len(name).to_bytes(8, "big") + name)
            digest.update(len(content).to_bytes(8, "big") + content)
        return digest.hexdigest()

    def ontology_triples(self) -> list[Triple]:
        return parse_turtle(self.ontology)

    def data_triples(self) -> list[Triple]:
        triples: list[Triple] = []
        for path in self.data:
            triples.extend(parse_turtle(path))
        return triples


@dataclass
class LoadReport:
    """What :func:`load_knowledge_base` put in the store."""

    triples: dict[str, int] = field(default_factory=dict)
    inferred: int = 0
    cached: bool = False
    seconds: float = 0.0
    reasoning_seconds: float = 0.0
    content_hash: str = ""

    def to_dict(self) -> dict:
        return {
            "triples": dict(self.triples),
            "inferred": self.inferred,
            "cached": self.cached,
            "seconds": round(self.seconds, 3),
            "reasoning_seconds": round(self.reasoning_seconds, 3),
            "content_hash": self.content_hash,
        }


def load_knowledge_base(store: KnowledgeStore, settings: Settings) -> LoadReport:
    """Parse, reason (or take the cache), and only then replace the three graphs in ``store``.

    Parse errors and an inconsistent KB raise before the store is touched.
    """
    start = time.perf_counter()
    files = KnowledgeBaseFiles.discover(settings.kb_dir)
    key = files.content_hash()
    ontology = files.ontology_triples()
    data = files.data_triples()
    reasoning_start = time.perf_counter()
    inferred = load_cached(settings.cache_dir, key)
    cached = inferred is not None
    if inferred is None:
        inferred = materialize([*ontology, *data]).inferred
        try:
            store_cached(settings.cache_dir, key, inferred)
        except OSError as exc:  # an unwritable cache only costs time on the next start
            log.warning("cannot write the reasoning cache in %s: %s", settings.cache_dir, exc)
    reasoning_seconds = time.perf_counter() - reasoning_start
    store.replace_graph(ONTOLOGY_GRAPH, ontology)
    store.replace_graph(DATA_GRAPH, data)
    store.replace_graph(INFERRED_GRAPH, inferred)
    return LoadReport(
        triples={
            ONTOLOGY_GRAPH: len(ontology),
            DATA_GRAPH: len(data),
            INFERRED_GRAPH: len(inferred),
        },
        inferred=len(inferred),
        cached=cached,
        seconds=time.perf_counter() - start,
        reasoning_seconds=reasoning_seconds,
        content_hash=key,
    )
