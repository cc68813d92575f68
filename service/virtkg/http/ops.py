"""Operations: /healthz, /readyz, /metrics (Prometheus text), JSON access log, CORS.

Metrics are per serving process (under gunicorn each worker counts its own requests).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
from bisect import bisect_left
from collections import defaultdict, deque
from itertools import accumulate
from json.encoder import encode_basestring as _encode_string

from flask import Blueprint, Flask, Response, current_app, g, request

bp = Blueprint("ops", __name__)
access_log = logging.getLogger("virtkg.access")

#: Latency histogram bucket bounds, seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Headers a browser script may read from a cross-origin response.
EXPOSED_HEADERS = "X-Virtkg-Truncated, X-Virtkg-Row-Limit, Content-Type"


class Metrics:
    """Request counts by endpoint and status, a latency histogram per endpoint, query timeouts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        #: Per endpoint: how many requests fell in each bucket (not cumulative; the last slot
        #: counts those over the largest bound). :meth:`render` adds them up.
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Record one finished request (one counter per request, not one per bucket)."""
        slot = bisect_left(BUCKETS, seconds)
        with self._lock:
            self.requests[(endpoint, method, status)] += 1
            counts = self.buckets.get(endpoint)
            if counts is None:
                counts = self.buckets[endpoint] = [0] * (len(BUCKETS) + 1)
            counts[slot] += 1
            self.sums[endpoint] += seconds
            self.counts[endpoint] += 1

    def render(self, timeouts: int, replaced: int, inline: int = 0) -> str:
        """Prometheus text exposition format 0.0.4."""
        out = [
            "# HELP virtkg_http_requests_total HTTP requests by endpoint, method and status.",
            "# TYPE virtkg_http_requests_total counter",
        ]
        with self._lock:
            for (endpoint, method, status), n in sorted(self.requests.items()):
                out.append(
                    f'virtkg_http_requests_total{{endpoint="{_esc(endpoint)}",'
                    f'method="{method}",status="{status}"}} {n}'
                )
            out += [
                "# HELP virtkg_http_request_duration_seconds Request latency by endpoint.",
                "# TYPE virtkg_http_request_duration_seconds histogram",
            ]
            for endpoint, counts in sorted(self.buckets.items()):
                label = f'endpoint="{_esc(endpoint)}"'
                for bound, n in zip(BUCKETS, accumulate(counts), strict=False):
                    out.append(
                        f'virtkg_http_request_duration_seconds_bucket{{{label},le="{bound}"}} {n}'
                    )
                total = self.counts[endpoint]
                out.append(
                    f'virtkg_http_request_duration_seconds_bucket{{{label},le="+Inf"}} {total}'
                )
                out.append(
                    f"virtkg_http_request_duration_seconds_sum{{{label}}} {self.sums[endpoint]:.6f}"
                )
                out.append(f"virtkg_http_request_duration_seconds_count{{{label}}} {total}")
        out += [
            "# HELP virtkg_query_timeouts_total SPARQL queries stopped by the timeout.",
            "# TYPE virtkg_query_timeouts_total counter",
            f"virtkg_query_timeouts_total {timeouts}",
            "# HELP virtkg_query_workers_replaced_total Query workers killed and replaced.",
            "# TYPE virtkg_query_workers_replaced_total counter",
            f"virtkg_query_workers_replaced_total {replaced}",
            "# HELP virtkg_queries_inline_total Bounded lookups answered in the serving thread.",
            "# TYPE virtkg_queries_inline_total counter",
            f"virtkg_queries_inline_total {inline}",
        ]
        return "\n".join(out) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _state():  # noqa: ANN202 - ServiceState (import cycle)
    return current_app.extensions["virtkg"]


@bp.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers."""
    return Response('{"status":"ok"}', mimetype="application/json")


@bp.get("/readyz")
def readyz() -> Response:
    """Readiness: the store is loaded and reasoned and answers a ping."""
    state = _state()
    problem = state.not_ready_reason()
    status = 503 if problem else 200
    body = {"status": "not_ready", "reason": problem} if problem else {"status": "ready"}
    body["store"] = state.store.name
    return Response(json.dumps(body), status=status, mimetype="application/json")


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics of this process."""
    state = _state()
    executor = state.executor
    text = state.metrics.render(
        executor.timeouts, getattr(executor, "replaced", 0), getattr(executor, "inline", 0)
    )
    return Response(text, mimetype="text/plain; version=0.0.4")


# --- per-request hooks ----------------------------------------------------------------------
#
# These run on every request, so they read the WSGI environ directly (no werkzeug header or
# proxy objects), skip CORS entirely when no origin is configured, and queue the access-log
# entry for :class:`AccessLog` (a timestamp cached per second).

_START = "virtkg.start"


def _cors_origin(origins: tuple[str, ...], environ: dict) -> str | None:
    origin = environ.get("HTTP_ORIGIN")
    if not origin:
        return None
    if "*" in origins:
        return "*"
    return origin if origin in origins else None


def _before() -> Response | None:
    environ = request.environ
    environ[_START] = time.perf_counter()
    if environ["REQUEST_METHOD"] == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
        return Response(status=204)  # CORS preflight; headers added in _after
    return None


_stamp: tuple[int, str] = (0, "")


def _timestamp() -> str:
    """Local time as ISO 8601 with offset, formatted once per second."""
    global _stamp
    now = int(time.time())
    if _stamp[0] != now:
        _stamp = (now, time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now)))
    return _stamp[1]


def cors_headers(origins: tuple[str, ...], environ: dict) -> list[tuple[str, str]]:
    """The CORS headers for a request from an allowed ``Origin`` (none for other requests)."""
    origin = _cors_origin(origins, environ)
    if not origin:
        return []
    headers = [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Expose-Headers", EXPOSED_HEADERS),
    ]
    if origin != "*":
        headers.append(("Vary", "Origin"))
    if environ["REQUEST_METHOD"] == "OPTIONS":
        headers.append(("Access-Control-Allow-Methods", "GET, POST, OPTIONS"))
        headers.append(("Access-Control-Allow-Headers", "Accept, Authorization, Content-Type"))
        headers.append(("Access-Control-Max-Age", "600"))
    return headers


class AccessLog:
    """JSON access-log lines, queued by requests and written in batches by a daemon thread.

    A logging record per request (record, handler lock, format, write, flush) costs more than
    answering a small query. So a request only queues a tuple; every FLUSH_SECONDS a thread
    formats the queued entries and writes them as ONE record on ``virtkg.access`` whose message
    holds one JSON object per line. Lines reach the log at most FLUSH_SECONDS late (at exit the
    queue is flushed).
    """

    FLUSH_SECONDS = 0.2
    #: Queued entries that make the request flush at once (bounds memory under a flood).
    MAX_QUEUED = 10_000

    def __init__(self) -> None:
        self._queue: deque[tuple] = deque()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget_thread)
        atexit.register(self.flush)

    def _forget_thread(self) -> None:
        # In a forked child: threads do not survive fork (start a new one on the next add), and
        # the queued entries are the parent's to write.
        self._thread = None
        self._queue = deque()

    def add(self, entry: tuple) -> None:
        """Queue one entry (see :func:`access_log_line` for its fields)."""
        self._queue.append(entry)
        if self._thread is None:
            self._start()
        if len(self._queue) >= self.MAX_QUEUED:
            self.flush()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="virtkg-access-log", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()

    def flush(self) -> None:
        """Write every queued entry now (deque pops are atomic: no entry is lost or doubled)."""
        queue = self._queue
        lines = []
        for _ in range(len(queue)):
            try:
                lines.append(_format_entry(queue.popleft()))
            except IndexError:  # another flush took the rest
                break
        if lines:
            access_log.info("\n".join(lines))


def _text(value: str | None) -> str:
    """A JSON string (or null) for a text field."""
    return "null" if value is None else _encode_string(value)


def _format_entry(entry: tuple) -> str:
    """One JSON object per request (built directly: json.dumps of a dict costs twice as much)."""
    ts, method, path, endpoint, status, duration_ms, size, remote, agent, error = entry
    return (
        f'{{"ts":"{ts}","method":{_text(method)},"path":{_text(path)},'
        f'"endpoint":{_text(endpoint)},"status":{int(status)},"duration_ms":{float(duration_ms)!r},'
        f'"bytes":{"null" if size is None else int(size)},"remote":{_text(remote)},'
        f'"user_agent":{_text(agent)},"error":{_text(error)}}}'
    )


ACCESS_LOG = AccessLog()


def _path(environ: dict) -> str:
    """The request path as text (WSGI passes it as latin-1-decoded bytes)."""
    path = environ.get("PATH_INFO", "")
    if path.isascii():
        return path
    return path.encode("latin-1", "replace").decode("utf-8", "replace")


def access_log_line(
    environ: dict,
    endpoint: str,
    status: int,
    seconds: float,
    size: int | None,
    error: str | None,
) -> None:
    """Queue one access-log line (when ``virtkg.access`` logs at INFO); see :class:`AccessLog`."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    ACCESS_LOG.add(
        (
            _timestamp(),
            environ["REQUEST_METHOD"],
            _path(environ),
            endpoint,
            status,
            round(seconds * 1000, 3),
            size,
            environ.get("REMOTE_ADDR"),
            environ.get("HTTP_USER_AGENT", ""),
            error,
        )
    )


def _after(response: Response) -> Response:
    req = request._get_current_object()  # one proxy look-up instead of one per attribute
    environ = req.environ
    state = current_app.extensions["virtkg"]
    origins = state.settings.cors_origins
    if origins:
        for name, value in cors_headers(origins, environ):
            if name == "Vary":
                response.vary.add(value)
            else:
                response.headers[name] = value
    body = response.response
    if (
        not response.direct_passthrough
        and type(body) is list
        and len(body) == 1
        and type(body[0]) is bytes
    ):
        # A buffered body: hand the WSGI server the list itself instead of werkzeug's
        # ClosingIterator (granian then sends it in one call rather than iterating in Python).
        response.direct_passthrough = True
    start = environ.get(_START)
    seconds = time.perf_counter() - start if start is not None else 0.0
    rule = req.url_rule
    endpoint = rule.rule if rule is not None else "unmatched"
    status = response.status_code
    state.metrics.observe(endpoint, environ["REQUEST_METHOD"], status, seconds)
    access_log_line(
        environ,
        endpoint,
        status,
        seconds,
        response.calculate_content_length(),
        g.get("virtkg_error_code"),
    )
    return response


def init_app(app: Flask) -> None:
    """Install the per-request hooks (timing, CORS, metrics, access log)."""
    app.before_request(_before)
    app.after_request(_after)
