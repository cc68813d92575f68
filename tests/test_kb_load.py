"""Knowledge-base files, the all-or-nothing load, and the reasoning cache."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from virtkg.config import PROJECT_ROOT, load_settings
from virtkg.errors import CheckFailed, InconsistentKnowledgeBase
from virtkg.kb import KnowledgeBaseFiles, load_knowledge_base
from virtkg.reasoning.cache import cache_path
from virtkg.store import open_store
from virtkg.store.base import ALL_GRAPHS, DATA_GRAPH, INFERRED_GRAPH, ONTOLOGY_GRAPH

FIXTURES = Path(__file__).parent / "fixtures"


def make_store(settings):
    """A fresh in-memory embedded store."""
    return open_store(settings.with_overrides({"store": "embedded", "store_path": ""}))


def copy_kb(target: Path) -> Path:
    """A copy of the shipped ontology/ and data/ folders."""
    (target / "ontology").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "ontology" / "virtkg.ttl", target / "ontology" / "virtkg.ttl")
    shutil.copytree(PROJECT_ROOT / "data", target / "data")
    return target


@pytest.fixture
def settings(tmp_path):
    return load_settings(environ={}, kb_dir=str(PROJECT_ROOT), cache_dir=str(tmp_path / "cache"))


def counts(store) -> dict[str, int]:
    return {g: store.count(g) for g in ALL_GRAPHS}


def test_discover_ignores_generated_files(tmp_path):
    (tmp_path / "ontology").mkdir()
    (tmp_path / "data").mkdir()
    for name in ("virtkg.ttl", "virtkg.owl", "virtkg-kb.ttl", "shapes.ttl"):
        (tmp_path / "ontology" / name).write_text("")
    (tmp_path / "data" / "b.ttl").write_text("")
    (tmp_path / "data" / "a.ttl").write_text("")
    (tmp_path / "data" / "notes.md").write_text("")
    files = KnowledgeBaseFiles.discover(tmp_path)
    assert files.ontology == tmp_path / "ontology" / "virtkg.ttl"
    assert [p.name for p in files.data] == ["a.ttl", "b.ttl"]


def test_discover_without_ontology(tmp_path):
    with pytest.raises(CheckFailed):
        KnowledgeBaseFiles.discover(tmp_path)


def test_content_hash_follows_every_file(tmp_path):
    kb = copy_kb(tmp_path / "kb")
    first = KnowledgeBaseFiles.discover(kb).content_hash()
    assert KnowledgeBaseFiles.discover(kb).content_hash() == first
    data_file = sorted((kb / "data").glob("*.ttl"))[0]
    original = data_file.read_bytes()
    data_file.write_bytes(original + b"\n# edited\n")
    edited = KnowledgeBaseFiles.discover(kb).content_hash()
    assert edited != first
    data_file.write_bytes(original)
    assert KnowledgeBaseFiles.discover(kb).content_hash() == first
    (kb / "data" / "zz-extra.ttl").write_text("")
    assert KnowledgeBaseFiles.discover(kb).content_hash() not in {first, edited}
    (kb / "data" / "zz-extra.ttl").rename(kb / "data" / "zz-other.ttl")
    renamed = KnowledgeBaseFiles.discover(kb).content_hash()
    assert renamed not in {first, edited}


def test_parse_error_names_file_and_line(tmp_path):
    kb = copy_kb(tmp_path / "kb")
    bad = kb / "data" / "broken.ttl"
    bad.write_text('@prefix ex: <http://e/> .\nex:a ex:b ex:c .\nex:d ex:e "unterminated .\n')
    with pytest.raises(CheckFailed) as info:
        KnowledgeBaseFiles.discover(kb).data_triples()
    assert "broken.ttl" in info.value.message
    assert "line 3" in info.value.message
    assert info.value.details["line"] == 3


def test_load_then_cached_load(settings):
    store = make_store(settings)
    cold = load_knowledge_base(store, settings)
    assert not cold.cached
    assert cold.inferred > 0
    assert counts(store) == cold.triples
    assert cold.triples[ONTOLOGY_GRAPH] > 0 and cold.triples[DATA_GRAPH] > 0
    assert cache_path(settings.cache_dir, cold.content_hash).is_file()
    assert not [p for p in Path(settings.cache_dir).iterdir() if p.suffix != ".nt"]

    warm_store = make_store(settings)
    warm = load_knowledge_base(warm_store, settings)
    assert warm.cached
    assert warm.triples == cold.triples
    assert warm.reasoning_seconds < cold.reasoning_seconds
    assert inferred_triples(warm_store) == inferred_triples(store)
    assert len(inferred_triples(store)) == cold.inferred


def inferred_triples(store) -> set[ox.Triple]:
    sparql = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{INFERRED_GRAPH}> {{ ?s ?p ?o }} }}"
    return set(store.query(sparql).triples)


def test_edit_invalidates_cache(tmp_path):
    kb = copy_kb(tmp_path / "kb")
    settings = load_settings(environ={}, kb_dir=str(kb), cache_dir=str(tmp_path / "cache"))
    first = load_knowledge_base(make_store(settings), settings)
    assert load_knowledge_base(make_store(settings), settings).cached
    data_file = sorted((kb / "data").glob("*.ttl"))[0]
    data_file.write_bytes(data_file.read_bytes() + b"\n# touched\n")
    again = load_knowledge_base(make_store(settings), settings)
    assert not again.cached
    assert again.content_hash != first.content_hash


def test_unreadable_cache_is_recomputed(settings):
    report = load_knowledge_base(make_store(settings), settings)
    cache_path(settings.cache_dir, report.content_hash).write_text("this is not N-Triples <")
    again = load_knowledge_base(make_store(settings), settings)
    assert not again.cached and again.inferred == report.inferred


def test_inconsistent_kb_is_refused_and_store_kept(tmp_path, settings):
    store = make_store(settings)
    before = load_knowledge_base(store, settings)
    kb = copy_kb(tmp_path / "kb")
    shutil.copy(FIXTURES / "inconsistent" / "contradiction.ttl", kb / "data" / "contradiction.ttl")
    bad = load_settings(environ={}, kb_dir=str(kb), cache_dir=str(tmp_path / "cache2"))
    start = time.perf_counter()
    with pytest.raises(InconsistentKnowledgeBase) as info:
        load_knowledge_base(store, bad)
    assert time.perf_counter() - start < 30
    assert "tech:contradiction-demo" in info.value.message
    assert "vkg:Hypervisor" in info.value.message
    assert "vkg:ApplicationContainerRuntime" in info.value.message
    entities = {v["entity"] for v in info.value.details["violations"]}
    assert entities == {"https://w3id.org/virtkg/technology/contradiction-demo"}
    assert counts(store) == before.triples
    assert not list((tmp_path / "cache2").glob("*.nt"))
