"""The HTTP layer: ``create_app`` builds the Flask app over a loaded knowledge store."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

from flask import Blueprint, Flask, current_app

from virtkg.config import Settings, load_settings
from virtkg.errors import VirtkgError
from virtkg.http.errors import register_error_handlers
from virtkg.http.executor import QueryExecutor, make_executor
from virtkg.http.ops import Metrics
from virtkg.store.base import KnowledgeStore

log = logging.getLogger("virtkg.http")


def blueprints() -> list[Blueprint]:
    """Every blueprint the app serves. ADD NEW BLUEPRINTS (api, linked_data, ui) TO THIS LIST."""
    from virtkg.http import api, linked_data, openapi, ops, sparql, ui

    return [
        sparql.bp,
        ops.bp,
        api.bp,
        openapi.bp,
        linked_data.bp,
        ui.bp,
    ]


@dataclass
class ServiceState:
    """Per-app state shared by the blueprints (``current_app.extensions["virtkg"]``)."""

    settings: Settings
    store: KnowledgeStore
    executor: QueryExecutor
    metrics: Metrics = field(default_factory=Metrics)
    ready: bool = False
    load_error: str = ""
    load_report: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)

    def not_ready_reason(self) -> str:
        """Empty when the store is loaded, reasoned and answering; else why not."""
        if not self.ready:
            return self.load_error or "the knowledge base is not loaded"
        try:
            self.store.ping()
        except VirtkgError as exc:
            return exc.message
        return ""


def get_state() -> ServiceState:
    """The current app's :class:`ServiceState`."""
    return current_app.extensions["virtkg"]


def _load_knowledge_base(state: ServiceState) -> None:
    """Load and reason the KB unless the store already holds data; record the outcome."""
    try:
        if state.store.count() > 0:
            state.ready = True
            return
        from virtkg.kb import load_knowledge_base

        report = load_knowledge_base(state.store, state.settings)
        state.load_report = report.to_dict()
        state.ready = True
        log.info("knowledge base loaded: %s", state.load_report)
    except VirtkgError as exc:  # inconsistent KB, parse error, store down: serve 503s, say why
        state.load_error = f"{exc.code}: {exc.message}"
        log.error("knowledge base not loaded: %s", state.load_error)


def _configure_logging(settings: Settings) -> None:
    """Send virtkg's logs (incl. the JSON access log) to stderr unless logging is configured."""
    root = logging.getLogger("virtkg")
    root.setLevel(settings.log_level.upper())
    if not root.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)


def create_app(settings: Settings | None = None, *, store: KnowledgeStore | None = None) -> Flask:
    """Build the app: settings, store (opened unless given), KB load, blueprints, error handlers."""
    settings = settings or load_settings()
    _configure_logging(settings)
    if store is None:
        from virtkg.store import open_store

        store = open_store(settings)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    executor = make_executor(
        store,
        timeout=settings.query_timeout,
        max_rows=settings.max_rows,
        workers=settings.query_workers,
    )
    state = ServiceState(settings=settings, store=store, executor=executor)
    _load_knowledge_base(state)
    app.extensions["virtkg"] = state
    register_error_handlers(app)
    from virtkg.http import mount, ops
    from virtkg.http.protocol import SparqlQueryMiddleware

    ops.init_app(app)
    for blueprint in blueprints():
        app.register_blueprint(blueprint)
    # /sparql queries are answered in front of Flask; the mount point is set in front of both
    app.wsgi_app = SparqlQueryMiddleware(app.wsgi_app, state)  # type: ignore[method-assign]
    mount.init_app(app, settings)
    return app
