"""Query execution with a real timeout and a row cap.

pyoxigraph cannot cancel a query, so for the embedded store queries run in a small pool of worker
*processes* forked from the process that holds the loaded store (the in-memory store is inherited
copy-on-write). A worker answers a query over a Unix socket pair: the request is a small
``marshal``-encoded tuple of strings, the reply a short header plus the engine's own serialization
as raw bytes (no pickling either way; see ``encode_request`` and ``_answer``). When a query
outlives the timeout its worker is SIGKILLed (the CPU is freed at once), a fresh worker is forked
in its place, and the caller gets :class:`~virtkg.errors.QueryTimeout` (503). Other requests keep
being served by the other workers.

After an update the parent's store changed but the workers hold the old snapshot, so every worker
is replaced (:meth:`ForkedExecutor.refresh`).

For other backends (``remote``) the query runs in the calling thread; the store's HTTP timeout is
the query timeout.

Row cap: at most ``max_rows`` solutions (SELECT) or triples (CONSTRUCT/DESCRIBE) are returned. When
a result is cut, :attr:`Outcome.truncated` is true; the HTTP layer turns that into the header
``X-Virtkg-Truncated: true`` (plus ``X-Virtkg-Row-Limit``), a top-level ``"truncated": true`` in
SPARQL JSON results and a comment in XML, Turtle and N-Triples bodies.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import marshal
import os
import queue
import select
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Protocol, TypeVar

import pyoxigraph as ox

from virtkg import errors
from virtkg.errors import QueryTimeout, StoreUnavailable, VirtkgError
from virtkg.store.base import Dataset, KnowledgeStore, RawResult, Term

log = logging.getLogger(__name__)

#: Default number of query worker processes per serving process.
DEFAULT_WORKERS = 2
#: A generous bound on the engine's cost of reading and serializing one quad (measured: about
#: 1 µs for a full scan serialized as SPARQL JSON). Bounded lookups run in the serving thread
#: only while a scan of the whole store at this cost fits in the query timeout.
INLINE_SECONDS_PER_QUAD = 4e-6

_RESULTS_FORMATS = {
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
}
_RDF_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}
#: Fewest bytes one solution takes in each format: a body shorter than max_rows * this cannot
#: hold more than max_rows solutions, so it is not parsed to count them.
_MIN_ROW_BYTES = {
    "application/sparql-results+json": 3,  # {},
    "application/sparql-results+xml": 17,  # <result></result>
    "text/csv": 2,  # \r\n
    "text/tab-separated-values": 1,  # \n
}
_MIN_TRIPLE_BYTES = 5
#: Native stack of the threads that hand client SPARQL text to the engine. Its parser and planner
#: recurse once per nesting level and per chained operator (``BIND``, ``MINUS``, ``||``, ``|``,
#: ...), and a stack overflow there is a SIGSEGV that takes the whole process down: a few
#: thousand chained ``BIND``s overflow a default 8 MB thread stack. Only the pages used are
#: committed, so this costs address space, not memory. See also ``guard.MAX_NESTING``.
ENGINE_STACK_BYTES = 1024 * 1024 * 1024
#: Texts up to this many characters cannot nest or chain deep enough to matter: run inline.
DEEP_STACK_MIN_CHARS = 2048
_stack_lock = threading.Lock()


@dataclass
class Outcome:
    """A serialized result plus whether the row cap cut it."""

    raw: RawResult
    truncated: bool = False
    elapsed: float = 0.0


class QueryExecutor(Protocol):
    """Runs queries for the HTTP layer."""

    timeouts: int

    def run(
        self,
        sparql: str,
        media_type: str,
        dataset: Dataset | None,
        allow_service: bool = False,
        base_iri: str | None = None,
        bindings: Mapping[str, Term] | None = None,
        bounded: bool = False,
    ) -> Outcome: ...

    def write(self, action: Callable[[], None]) -> None: ...

    def refresh(self) -> None: ...

    def close(self) -> None: ...


# --- row cap ------------------------------------------------------------------------------


def cap_result(raw: RawResult, max_rows: int) -> tuple[RawResult, bool]:
    """Cut ``raw`` to ``max_rows`` solutions or triples; say whether it was cut."""
    media = raw.media_type.split(";")[0].strip()
    if max_rows <= 0:
        return raw, False
    if media in _RESULTS_FORMATS:
        if len(raw.body) <= max_rows * _MIN_ROW_BYTES[media]:
            return raw, False
        if media == "text/csv":  # the engine cannot read CSV back (lossy): use the csv module
            return _cap_csv(raw, max_rows)
        fmt = _RESULTS_FORMATS[media]
        parsed = ox.parse_query_results(raw.body, format=fmt)
        if not isinstance(parsed, ox.QuerySolutions):
            return raw, False  # a boolean
        if sum(1 for _ in islice(parsed, max_rows + 1)) <= max_rows:
            return raw, False
        return RawResult(_cut_solutions(raw.body, fmt, max_rows, media), raw.media_type), True
    if media in _RDF_FORMATS:
        if len(raw.body) <= max_rows * _MIN_TRIPLE_BYTES:
            return raw, False
        triples = list(islice(ox.parse(raw.body, format=_RDF_FORMATS[media]), max_rows + 1))
        if len(triples) <= max_rows:
            return raw, False
        body = ox.serialize(triples[:max_rows], format=_RDF_FORMATS[media])
        if media in ("text/turtle", "application/n-triples"):
            body = f"# truncated: only the first {max_rows} triples\n".encode() + body
        return RawResult(body, raw.media_type), True
    return raw, False


def _cap_csv(raw: RawResult, max_rows: int) -> tuple[RawResult, bool]:
    """Row cap for CSV results (records may hold quoted newlines, so read them properly)."""
    reader = csv.reader(io.StringIO(raw.body.decode("utf-8"), newline=""))
    records = list(islice(reader, max_rows + 2))  # header + max_rows + one more
    if len(records) <= max_rows + 1:
        return raw, False
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(records[: max_rows + 1])
    return RawResult(out.getvalue().encode("utf-8"), raw.media_type), True


def _cut_solutions(body: bytes, fmt: ox.QueryResultsFormat, max_rows: int, media: str) -> bytes:
    """The first ``max_rows`` solutions of ``body`` re-serialized by the engine.

    Goes through TSV (one solution per line, newlines inside values are escaped there) so the
    cut is exact and every step stays in the engine.
    """
    solutions = ox.parse_query_results(body, format=fmt)
    tsv = solutions.serialize(format=ox.QueryResultsFormat.TSV)
    lines = tsv.split(b"\n")
    cut = b"\n".join(lines[: max_rows + 1]) + b"\n"
    again = ox.parse_query_results(cut, format=ox.QueryResultsFormat.TSV)
    out = again.serialize(format=fmt)
    if media == "application/sparql-results+json":
        data = json.loads(out)
        data["truncated"] = True
        return json.dumps(data, separators=(",", ":")).encode()
    if media == "application/sparql-results+xml":
        marker = f"<!-- truncated: only the first {max_rows} solutions -->".encode()
        head, sep, rest = out.partition(b"?>")
        return head + sep + marker + rest if sep else marker + out
    return out


# --- a deep native stack for the engine ---------------------------------------------------


T = TypeVar("T")


def on_deep_stack(action: Callable[[], T]) -> T:
    """``action()`` run in a thread with an ENGINE_STACK_BYTES stack (inline if none can start)."""
    result: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            result.append(action())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            failure.append(exc)

    with _stack_lock:
        try:
            old = threading.stack_size(ENGINE_STACK_BYTES)
        except (ValueError, RuntimeError):  # the platform cannot set it: run as we are
            return action()
        try:
            thread = threading.Thread(target=target, name="virtkg-engine", daemon=True)
            thread.start()
        except RuntimeError:  # address space exhausted (ulimit -v): run as we are
            thread = None
        finally:
            threading.stack_size(old)
    if thread is None:
        return action()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


# --- in-process execution (remote stores) ---------------------------------------------------


def _query_options(
    allow_service: bool, base_iri: str | None, bindings: Mapping[str, Term] | None
) -> dict[str, object]:
    """Keyword arguments for ``store.query_raw`` (only those that differ from its defaults)."""
    options: dict[str, object] = {"allow_service": True} if allow_service else {}
    if base_iri:
        options["base_iri"] = base_iri
    if bindings:
        options["bindings"] = bindings
    return options


class DirectExecutor:
    """Runs queries in the calling thread; the store's own (HTTP) timeout applies."""

    def __init__(self, store: KnowledgeStore, max_rows: int) -> None:
        self.store = store
        self.max_rows = max_rows
        self.timeouts = 0
        self._write_lock = threading.Lock()

    def run(
        self,
        sparql: str,
        media_type: str,
        dataset: Dataset | None,
        allow_service: bool = False,
        base_iri: str | None = None,
        bindings: Mapping[str, Term] | None = None,
        bounded: bool = False,
    ) -> Outcome:
        """Run one query and cap its rows (``bounded`` changes nothing here)."""
        start = time.perf_counter()
        kwargs = _query_options(allow_service, base_iri, bindings)

        def query() -> RawResult:
            return self.store.query_raw(sparql, media_type, dataset=dataset, **kwargs)

        try:
            raw = query() if len(sparql) <= DEEP_STACK_MIN_CHARS else on_deep_stack(query)
        except QueryTimeout:
            self.timeouts += 1
            raise
        raw, truncated = cap_result(raw, self.max_rows)
        return Outcome(raw, truncated, time.perf_counter() - start)

    def write(self, action: Callable[[], None]) -> None:
        """Run a store write (one at a time)."""
        with self._write_lock:
            action()

    def refresh(self) -> None:
        """Nothing to refresh: the store is shared."""

    def close(self) -> None:
        """Nothing to release."""


# --- worker processes (embedded store) ------------------------------------------------------


#: Frame header on the worker sockets: the length of the message that follows.
_FRAME = struct.Struct("!Q")
#: Header of an "ok" reply after its b"O": truncated flag, length of the media type.
_OK = struct.Struct("!BH")


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


def _recv_exact(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    """Exactly ``size`` bytes from ``sock``; TimeoutError past ``deadline``; EOFError on EOF."""
    if size == 0:
        return b""
    if deadline is not None:
        sock.settimeout(_remaining(deadline))
    data = sock.recv(size)
    if len(data) == size:
        return data
    if not data:
        raise EOFError("the peer closed the socket")
    buf = bytearray(size)
    view = memoryview(buf)
    view[: len(data)] = data
    got = len(data)
    while got < size:
        if deadline is not None:
            sock.settimeout(_remaining(deadline))
        n = sock.recv_into(view[got:])
        if n == 0:
            raise EOFError("the peer closed the socket")
        got += n
    return bytes(buf)


def _send(sock: socket.socket, *parts: bytes) -> None:
    """One framed message made of ``parts`` (a large part is not copied into one buffer)."""
    size = sum(len(p) for p in parts)
    if size < 65536:
        sock.sendall(_FRAME.pack(size) + b"".join(parts))
        return
    sock.sendall(_FRAME.pack(size))
    for part in parts:
        sock.sendall(part)


def _recv(sock: socket.socket, deadline: float | None) -> bytes:
    (size,) = _FRAME.unpack(_recv_exact(sock, _FRAME.size, deadline))
    return _recv_exact(sock, size, deadline)


def encode_request(
    sparql: str,
    media_type: str,
    dataset: Dataset | None,
    allow_service: bool,
    base_iri: str | None,
    bindings: Mapping[str, Term] | None = None,
) -> bytes:
    """A query for a worker as bytes (marshal of strings, tuples, None and bools only)."""
    graphs = None if dataset is None else (dataset.default_graphs, dataset.named_graphs)
    terms = None if not bindings else {k: _encode_term(v) for k, v in bindings.items()}
    return marshal.dumps((sparql, media_type, graphs, allow_service, base_iri, terms))


def _encode_term(term: Term) -> tuple[str, ...]:
    """A bound term as plain strings: ("I", iri) or ("L", value, datatype, language)."""
    if isinstance(term, ox.NamedNode):
        return ("I", term.value)
    if isinstance(term, ox.Literal):
        return ("L", term.value, term.datatype.value, term.language or "")
    raise errors.InvalidParameter("only IRIs and literals can be bound to query parameters")


def _decode_term(parts: tuple[str, ...]) -> Term:
    if parts[0] == "I":
        return ox.NamedNode(parts[1])
    _, value, datatype, language = parts
    if language:
        return ox.Literal(value, language=language)
    return ox.Literal(value, datatype=ox.NamedNode(datatype))


def _decode_request(
    data: bytes,
) -> tuple[str, str, Dataset | None, bool, str | None, dict[str, Term] | None]:
    sparql, media_type, graphs, allow_service, base_iri, terms = marshal.loads(data)  # noqa: S302
    dataset = None if graphs is None else Dataset(graphs[0], graphs[1])
    bindings = None if terms is None else {k: _decode_term(v) for k, v in terms.items()}
    return sparql, media_type, dataset, allow_service, base_iri, bindings


def _error_reply(name: str, message: str, details: dict) -> bytes:
    try:
        return b"E" + marshal.dumps((name, message, details))
    except ValueError:  # details hold something marshal cannot write
        return b"E" + marshal.dumps((name, message, {}))


def _answer(store: KnowledgeStore, max_rows: int, request: bytes) -> list[bytes]:
    """Run one encoded query; the reply as the parts of one message."""
    try:
        sparql, media_type, dataset, allow_service, base_iri, bindings = _decode_request(request)
        kwargs = _query_options(allow_service, base_iri, bindings)
        raw = store.query_raw(sparql, media_type, dataset=dataset, **kwargs)  # type: ignore[arg-type]
        raw, truncated = cap_result(raw, max_rows)
        media = raw.media_type.encode()
        return [b"O" + _OK.pack(truncated, len(media)) + media, raw.body]
    except VirtkgError as exc:
        return [_error_reply(type(exc).__name__, exc.message, exc.details)]
    except SyntaxError as exc:
        return [_error_reply("QuerySyntaxError", str(exc), {})]
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which logs it
        return [_error_reply("StoreUnavailable", f"query failed in the engine: {exc}", {})]


def _worker_main(sock: socket.socket, store: KnowledgeStore, max_rows: int, parent: int) -> None:
    """Loop of a forked worker: answer queries from ``sock`` until told to stop or orphaned."""
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    on_deep_stack(lambda: _worker_loop(sock, store, max_rows, parent))


def _worker_loop(sock: socket.socket, store: KnowledgeStore, max_rows: int, parent: int) -> None:
    sock.setblocking(True)
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    while True:
        try:
            if not poller.poll(1000):
                if os.getppid() != parent:
                    return
                continue
            request = _recv(sock, None)
        except (EOFError, OSError):
            return
        if not request:  # an empty message: stop
            return
        try:
            _send(sock, *_answer(store, max_rows, request))
        except OSError:
            return


@dataclass
class _Worker:
    pid: int
    sock: socket.socket
    generation: int
    busy_since: float = field(default=0.0)


class ForkedExecutor:
    """A pool of forked worker processes with a hard, SIGKILL-backed timeout."""

    def __init__(
        self,
        store: KnowledgeStore,
        *,
        timeout: float,
        max_rows: int,
        size: int = DEFAULT_WORKERS,
    ) -> None:
        self.store = store
        self.timeout = timeout
        self.max_rows = max_rows
        self.size = max(1, size)
        self.timeouts = 0
        self.replaced = 0
        self.inline = 0
        self._inline_ok = False
        self._here = DirectExecutor(store, max_rows)  # runs bounded lookups in this thread
        self._generation = 0
        self._owner = -1
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: dict[int, _Worker] = {}
        self._lock = threading.Lock()  # guards forks, the worker table and store writes
        self._closed = False

    # pool management

    def _ensure_started(self) -> None:
        """Fork the pool in this process (again after a fork of the server itself)."""
        if self._owner == os.getpid():
            return
        with self._lock:
            if self._owner == os.getpid():
                return
            self._idle = queue.Queue()
            self._all = {}
            self._measure_store()
            self._owner = os.getpid()
            for _ in range(self.size):
                self._idle.put(self._spawn())

    def _spawn(self) -> _Worker:
        """Fork one worker (caller holds the lock)."""
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # child
            code = 0
            try:
                parent_end.close()
                for other in self._all.values():  # siblings' sockets: keep EOF detection working
                    other.sock.close()
                _worker_main(child_end, self.store, self.max_rows, parent)
            except BaseException:  # noqa: BLE001 - a worker must never return into the server
                code = 1
            finally:
                os._exit(code)
        child_end.close()
        worker = _Worker(pid, parent_end, self._generation)
        self._all[pid] = worker
        return worker

    def _kill(self, worker: _Worker) -> None:
        """SIGKILL a worker and reap it."""
        self._all.pop(worker.pid, None)
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(worker.pid, 0)
        worker.sock.close()

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` and put a fresh one in the pool."""
        with self._lock:
            self._kill(worker)
            self.replaced += 1
            if not self._closed:
                self._idle.put(self._spawn())

    def _release(self, worker: _Worker) -> None:
        worker.busy_since = 0.0
        if worker.generation != self._generation:
            self._replace(worker)
        else:
            self._idle.put(worker)

    def worker_pids(self) -> list[int]:
        """Pids of the live workers (for tests and /metrics)."""
        return list(self._all)

    # queries

    def run(
        self,
        sparql: str,
        media_type: str,
        dataset: Dataset | None,
        allow_service: bool = False,
        base_iri: str | None = None,
        bindings: Mapping[str, Term] | None = None,
        bounded: bool = False,
    ) -> Outcome:
        """Run one query in a worker; SIGKILL the worker if it passes the timeout.

        ``bounded``: the caller vouches that the query is a lookup the data bounds
        (``guard.is_bounded_lookup``); it runs in the calling thread when even a scan of the
        whole store would take a small part of the timeout (see ``INLINE_SECONDS_PER_QUAD``).
        """
        self._ensure_started()
        if bounded and self._inline_ok and len(sparql) <= DEEP_STACK_MIN_CHARS:
            outcome = self._here.run(sparql, media_type, dataset, allow_service, base_iri, bindings)
            self.inline += 1
            return outcome
        request = encode_request(sparql, media_type, dataset, allow_service, base_iri, bindings)
        start = time.perf_counter()
        try:
            worker = self._idle.get(timeout=self.timeout)
        except queue.Empty:
            self.timeouts += 1
            raise QueryTimeout(
                f"no query worker became free within {self.timeout:g} s; try again later",
                details={"timeout_s": self.timeout},
            ) from None
        worker.busy_since = time.monotonic()
        deadline = time.monotonic() + self.timeout - (time.perf_counter() - start)
        try:
            worker.sock.settimeout(_remaining(deadline))
            _send(worker.sock, request)
            reply = _recv(worker.sock, deadline)
        except TimeoutError:
            self.timeouts += 1
            self._replace(worker)
            raise QueryTimeout(
                f"query stopped after the {self.timeout:g} s timeout",
                details={"timeout_s": self.timeout},
            ) from None
        except (EOFError, OSError) as exc:
            self._replace(worker)
            raise StoreUnavailable("the query worker died; the query was not answered") from exc
        self._release(worker)
        elapsed = time.perf_counter() - start
        if reply[:1] == b"O":
            truncated, size = _OK.unpack_from(reply, 1)
            offset = 1 + _OK.size
            media = reply[offset : offset + size].decode()
            return Outcome(RawResult(reply[offset + size :], media), bool(truncated), elapsed)
        name, message, details = marshal.loads(reply[1:])  # noqa: S302 - from our own worker
        cls = getattr(errors, name, StoreUnavailable)
        if not (isinstance(cls, type) and issubclass(cls, VirtkgError)):
            cls = StoreUnavailable
        if cls is StoreUnavailable:
            log.error("query failed in worker: %s", message)
        raise cls(message, details=details)

    def _measure_store(self) -> None:
        """Decide whether bounded lookups may run inline for the store as it is now."""
        try:
            quads = self.store.count()
        except VirtkgError:
            quads = None
        self._inline_ok = quads is not None and quads * INLINE_SECONDS_PER_QUAD <= self.timeout

    def write(self, action: Callable[[], None]) -> None:
        """Run a store write in this process, then replace every worker (their snapshot is old)."""
        with self._lock:
            action()
        self.refresh()

    def refresh(self) -> None:
        """Replace all workers so they see the store as it is now."""
        if self._owner != os.getpid():
            return
        with self._lock:
            self._measure_store()
            self._generation += 1
            idle: list[_Worker] = []
            while True:
                try:
                    idle.append(self._idle.get_nowait())
                except queue.Empty:
                    break
            for worker in idle:
                self._kill(worker)
                self._idle.put(self._spawn())
        # busy workers are replaced when they come back (generation mismatch)

    def close(self) -> None:
        """Stop every worker."""
        self._closed = True
        if self._owner != os.getpid():
            return
        with self._lock:
            for worker in list(self._all.values()):
                self._kill(worker)


def make_executor(
    store: KnowledgeStore, *, timeout: float, max_rows: int, workers: int = DEFAULT_WORKERS
) -> QueryExecutor:
    """Forked workers for the embedded store, direct calls for anything else.

    ``workers`` (``Settings.query_workers``) sets the pool size per serving process; 0 runs
    queries in-process with no hard timeout (for debugging).
    """
    if getattr(store, "name", "") == "embedded" and workers > 0 and hasattr(os, "fork"):
        return ForkedExecutor(store, timeout=timeout, max_rows=max_rows, size=workers)
    return DirectExecutor(store, max_rows)
