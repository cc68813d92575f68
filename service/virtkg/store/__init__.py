"""Stores: pick a backend by name with :func:`open_store`; every backend is a ``KnowledgeStore``."""

from __future__ import annotations

from collections.abc import Callable

from virtkg.config import Settings
from virtkg.errors import BadRequest
from virtkg.store.base import (
    ALL_GRAPHS,
    ASSERTED_GRAPHS,
    ASSERTED_ONLY,
    DATA_GRAPH,
    INFERRED_GRAPH,
    ONTOLOGY_GRAPH,
    AskResult,
    Dataset,
    GraphResult,
    KnowledgeStore,
    QueryResult,
    RawResult,
    SelectResult,
    Term,
)
from virtkg.store.embedded import EmbeddedStore
from virtkg.store.remote import RemoteStore
from virtkg.store.sparql_text import find_service_iris

StoreFactory = Callable[[Settings], KnowledgeStore]

#: Backends by name; :func:`register_store` adds one.
STORES: dict[str, StoreFactory] = {
    "embedded": EmbeddedStore.from_settings,
    "remote": RemoteStore.from_settings,
}


def register_store(name: str, factory: StoreFactory) -> None:
    """Make ``factory(settings)`` available as ``settings.store == name``."""
    STORES[name] = factory


def open_store(settings: Settings) -> KnowledgeStore:
    """Open the backend named by ``settings.store``; unknown names raise BadRequest listing all."""
    factory = STORES.get(settings.store)
    if factory is None:
        allowed = sorted(STORES)
        raise BadRequest(
            f"unknown store {settings.store!r}; use one of: {', '.join(allowed)}",
            details={"allowed": allowed},
        )
    return factory(settings)


__all__ = [
    "ALL_GRAPHS",
    "ASSERTED_GRAPHS",
    "ASSERTED_ONLY",
    "DATA_GRAPH",
    "INFERRED_GRAPH",
    "ONTOLOGY_GRAPH",
    "STORES",
    "AskResult",
    "Dataset",
    "EmbeddedStore",
    "GraphResult",
    "KnowledgeStore",
    "QueryResult",
    "RawResult",
    "RemoteStore",
    "SelectResult",
    "Term",
    "find_service_iris",
    "open_store",
    "register_store",
]
