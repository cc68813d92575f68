"""SPARQL Update for the HTTP layer: tried on a throw-away copy first, then applied for real.

An update must never leave the store half-applied or inconsistent, and (pyoxigraph having no
timeout or cancellation) must not keep a serving process busy for minutes. So, for the embedded
store, :func:`apply_update`:

1. forks a child process (the store is inherited copy-on-write, as for the query workers of
   :mod:`virtkg.http.executor`) that applies the update to *its* copy, re-materializes the
   inferences and runs the consistency check, under the query timeout. Past the timeout the child
   is SIGKILLed and the client gets :class:`~virtkg.errors.QueryTimeout` (503); a syntax error or
   an inconsistency is answered 400. In every such case the serving process's store was never
   touched;
2. only when the child reports success, applies the update to the real store and
   re-materializes (the same work again, which the dry run showed to fit in the timeout).

One update runs at a time per process (a lock around both steps), so each dry run starts from
the state the previous update left. In-process readers (the REST API) never see a rejected
update. An update the child accepted can still fail in the parent only if its result is not
deterministic (``RAND()``, ``NOW()``, ``UUID()``, ``BNODE()``...); the store is then put back from
a snapshot taken before it, as it was before dry runs existed (not atomic for in-process readers).

On-disk store (``store_path``, RocksDB): a forked child must not write to the database it shares
with the parent, so its dry run runs on an in-memory copy built from a snapshot (an N-Quads dump
taken in the parent, which is also the undo point). The dump and its parse cost time and memory
in proportion to the store (about 35 ms for the 5,500-quad knowledge base); the dump itself is
outside the timeout.

Remote store: no dry run. The store's HTTP timeout bounds each request (it does not stop the work
on the server), and an update that makes the knowledge base inconsistent is undone afterwards by
putting the two asserted graphs back (other graphs the update changed are not restored).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import select
import signal
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyoxigraph as ox
from pyoxigraph import Triple

from virtkg import errors
from virtkg.errors import (
    BadRequest,
    InconsistentKnowledgeBase,
    QuerySyntaxError,
    QueryTimeout,
    StoreUnavailable,
    VirtkgError,
)
from virtkg.http.executor import ENGINE_STACK_BYTES, QueryExecutor, on_deep_stack
from virtkg.reasoning import materialize
from virtkg.store.base import ASSERTED_GRAPHS, INFERRED_GRAPH, Dataset, KnowledgeStore
from virtkg.store.embedded import EmbeddedStore

#: One update at a time per serving process: a dry run must start from the state the previous
#: update left, and the real run must follow its own dry run with nothing in between.
_UPDATE_LOCK = threading.Lock()
#: How long a dry-run child outlives its deadline when its parent cannot kill it (parent gone).
_ORPHAN_GRACE_S = 1.0
#: Frame header of the child's reply: the length of the message that follows.
_FRAME = struct.Struct("!Q")


@dataclass(frozen=True)
class Update:
    """One SPARQL Update request as the store runs it."""

    text: str
    base_iri: str | None = None
    allow_service: bool = False
    using: Dataset | None = None


def apply_update(
    store: KnowledgeStore, executor: QueryExecutor, update: Update, timeout: float
) -> None:
    """Apply ``update`` and re-materialize, or raise and leave the store as it was.

    Embedded stores: dry run in a forked child first (see the module docstring). Raises
    :class:`~virtkg.errors.QueryTimeout` past ``timeout``, :class:`~virtkg.errors.BadRequest` for
    an update that would make the knowledge base inconsistent, and the store's own errors.
    """
    with _UPDATE_LOCK:
        undo = _undo_point(store)
        if isinstance(store, EmbeddedStore) and hasattr(os, "fork"):
            try:
                dry_run(lambda: _apply(_scratch_copy(store, undo), update), timeout)
            except QueryTimeout:
                executor.timeouts += 1  # /metrics: virtkg_query_timeouts_total
                raise
        executor.write(lambda: on_deep_stack(lambda: _apply_or_undo(store, update, undo)))


# --- applying -----------------------------------------------------------------------------


def _apply(store: KnowledgeStore, update: Update) -> None:
    """Run the update, then reason again (for a dry run: the store is a throw-away copy)."""
    _run(store, update)
    _reason(store)


def _apply_or_undo(store: KnowledgeStore, update: Update, undo: Undo) -> None:
    """:func:`_apply` on the real store, put back as it was if reasoning fails after the update.

    The update itself is atomic (when it fails, nothing changed), so only what follows it can
    need the undo.
    """
    _run(store, update)
    try:
        _reason(store)
    except BaseException:
        undo.restore()
        raise


def _run(store: KnowledgeStore, update: Update) -> None:
    """The update alone. Call it on a deep stack: the engine parses client text here."""
    try:
        store.update(
            update.text,
            allow_service=update.allow_service,
            base_iri=update.base_iri,
            using=update.using,
        )
    except SyntaxError as exc:
        raise QuerySyntaxError(str(exc)) from exc


def _reason(store: KnowledgeStore) -> None:
    """Re-materialize; :class:`~virtkg.errors.BadRequest` if the store is now inconsistent."""
    try:
        rematerialize(store)
    except InconsistentKnowledgeBase as exc:
        raise BadRequest(
            "the update was not applied: it would make the knowledge base inconsistent "
            f"({exc.message})",
            details={"reason": exc.code, **exc.details},
        ) from exc


def asserted_triples(store: KnowledgeStore) -> list[Triple]:
    """The triples of the asserted graphs (ontology + data) as the store holds them now."""
    engine = getattr(store, "engine", None)
    if isinstance(engine, ox.Store):
        return [
            q.triple
            for graph in ASSERTED_GRAPHS
            for q in engine.quads_for_pattern(None, None, None, ox.NamedNode(graph))
        ]
    return [t for graph in ASSERTED_GRAPHS for t in _graph(store, graph)]


def rematerialize(store: KnowledgeStore) -> int:
    """Reason over the asserted graphs again and replace the inferred graph with the result.

    Raises :class:`~virtkg.errors.InconsistentKnowledgeBase` (the store is then left as it was
    before this call). Returns the number of inferred triples.
    """
    inferred = materialize(asserted_triples(store)).inferred
    store.replace_graph(INFERRED_GRAPH, inferred)
    return len(inferred)


# --- undo -----------------------------------------------------------------------------------


@dataclass
class Undo:
    """How to put a store back as it was: an N-Quads snapshot (embedded) or asserted graphs."""

    store: KnowledgeStore
    snapshot: bytes | None = None
    graphs: dict[str, list[Triple]] | None = None

    def restore(self) -> None:
        """Put the store back (embedded: every graph, blank node labels kept)."""
        if self.snapshot is not None and isinstance(self.store, EmbeddedStore):
            self.store.restore(self.snapshot)
            return
        for graph, triples in (self.graphs or {}).items():
            self.store.replace_graph(graph, triples)


def _undo_point(store: KnowledgeStore) -> Undo:
    """An :class:`Undo` for the store as it is now.

    Embedded: the whole dataset. Other stores: the asserted graphs only (an update's changes to
    other graphs of a remote store are not undone).
    """
    if isinstance(store, EmbeddedStore):
        return Undo(store, snapshot=store.snapshot())
    return Undo(store, graphs={g: _graph(store, g) for g in ASSERTED_GRAPHS})


def _scratch_copy(store: EmbeddedStore, undo: Undo) -> EmbeddedStore:
    """The store a dry run may change, called in the child.

    In memory: the store itself (the child's copy-on-write copy). On disk: a new in-memory store
    filled from the snapshot, so nothing is ever written to the database the parent uses.
    """
    if store.path is None:
        return store
    copy = EmbeddedStore()
    copy.restore(undo.snapshot or b"")
    return copy


def _graph(store: KnowledgeStore, graph: str) -> list[Triple]:
    """One named graph's triples, through the store's query interface."""
    result = store.query(
        "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }",
        bindings={"g": ox.NamedNode(graph)},
    )
    return list(getattr(result, "triples", []))


# --- the dry run ----------------------------------------------------------------------------


def dry_run(action: Callable[[], None], timeout: float) -> None:
    """Run ``action`` in a forked child process; re-raise its error here; SIGKILL it on timeout.

    Whatever ``action`` changes stays in the child. Raises
    :class:`~virtkg.errors.QueryTimeout` when the child has not answered within ``timeout``
    seconds, :class:`~virtkg.errors.StoreUnavailable` when it died without an answer (e.g. the
    engine crashed), else the :class:`~virtkg.errors.VirtkgError` the action raised.
    """
    deadline = time.monotonic() + timeout
    parent = os.getpid()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into the server
        code = 0
        try:
            os.close(read_end)
            _child_main(action, write_end, parent, deadline)
        except BaseException:  # noqa: BLE001 - the parent sees EOF without a reply
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        reply = _read_reply(read_end, deadline)
    except TimeoutError:
        _kill(pid)
        raise QueryTimeout(
            f"update stopped after the {timeout:g} s timeout; nothing was applied",
            details={"timeout_s": timeout},
        ) from None
    except EOFError:
        _kill(pid)
        raise StoreUnavailable(
            "the update's dry run died without an answer (the engine crashed?); nothing was applied"
        ) from None
    finally:
        os.close(read_end)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    _raise_reply(reply)


def _child_main(action: Callable[[], None], out: int, parent: int, deadline: float) -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watchdog, args=(parent, deadline), daemon=True).start()
    reply: list[bytes] = []

    def run() -> None:
        reply.append(_outcome(action))

    # A deep native stack for the engine's parser (see executor.ENGINE_STACK_BYTES); set without
    # executor's lock, which another thread of the parent may have held at the fork.
    try:
        threading.stack_size(ENGINE_STACK_BYTES)
        worker = threading.Thread(target=run, name="virtkg-dry-run")
        worker.start()
        worker.join()
    except (ValueError, RuntimeError):  # no such stack here: run as we are
        run()
    data = reply[0] if reply else _error_reply("StoreUnavailable", "the dry run failed", {})
    view = memoryview(_FRAME.pack(len(data)) + data)
    while view:
        view = view[os.write(out, view) :]


def _watchdog(parent: int, deadline: float) -> None:
    """Exit the child if its parent is gone and so cannot kill it at the deadline."""
    while True:
        time.sleep(0.2)
        if os.getppid() != parent and time.monotonic() > deadline + _ORPHAN_GRACE_S:
            os._exit(1)


def _outcome(action: Callable[[], None]) -> bytes:
    """``b"O"`` if ``action`` succeeds, else ``b"E"`` + marshal of (error, message, details)."""
    try:
        action()
        return b"O"
    except VirtkgError as exc:
        return _error_reply(type(exc).__name__, exc.message, exc.details)
    except SyntaxError as exc:
        return _error_reply("QuerySyntaxError", str(exc), {})
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        return _error_reply("StoreUnavailable", f"the update failed in the engine: {exc}", {})


def _error_reply(name: str, message: str, details: dict) -> bytes:
    try:
        return b"E" + marshal.dumps((name, message, details))
    except ValueError:  # details hold something marshal cannot write
        return b"E" + marshal.dumps((name, message, {}))


def _read_reply(fd: int, deadline: float) -> bytes:
    """The child's one framed message; TimeoutError past ``deadline``, EOFError if it died.

    Framed rather than read to EOF: a process forked by another thread of the server at the
    wrong moment may hold a copy of the pipe's write end, so EOF may never come.
    """
    data = b""
    size: int | None = None
    while size is None or len(data) < _FRAME.size + size:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            raise TimeoutError
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError
        data += chunk
        if size is None and len(data) >= _FRAME.size:
            (size,) = _FRAME.unpack_from(data)
    return data[_FRAME.size : _FRAME.size + size]


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _raise_reply(reply: bytes) -> None:
    """Nothing for ``b"O"``; else raise the error the child reported."""
    if reply == b"O":
        return
    if reply[:1] != b"E":
        raise StoreUnavailable("the update's dry run sent no answer; nothing was applied")
    name, message, details = marshal.loads(reply[1:])  # noqa: S302 - from our own child
    cls = getattr(errors, name, StoreUnavailable)
    if not (isinstance(cls, type) and issubclass(cls, VirtkgError)):
        cls = StoreUnavailable
    raise cls(message, details=details)
