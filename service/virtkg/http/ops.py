"""Operations: /healthz, /readyz, /metrics (Prometheus text), JSON access log, CORS.

Metrics are per serving process (under gunicorn each worker counts its own requests).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict

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
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        with self._lock:
            self.requests[(endpoint, method, status)] += 1
            counts = self.buckets.setdefault(endpoint, [0] * len(BUCKETS))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            self.sums[endpoint] += seconds
            self.counts[endpoint] += 1

    def render(self, timeouts: int, replaced: int) -> str:
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
                for bound, n in zip(BUCKETS, counts, strict=True):
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
    text = state.metrics.render(state.executor.timeouts, getattr(state.executor, "replaced", 0))
    return Response(text, mimetype="text/plain; version=0.0.4")


# --- per-request hooks ----------------------------------------------------------------------


def _cors_origin(origins: tuple[str, ...]) -> str | None:
    origin = request.headers.get("Origin")
    if not origin or not origins:
        return None
    if "*" in origins:
        return "*"
    return origin if origin in origins else None


def _before() -> Response | None:
    g.virtkg_start = time.perf_counter()
    if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
        return Response(status=204)  # CORS preflight; headers added in _after
    return None


def _after(response: Response) -> Response:
    state = _state()
    origin = _cors_origin(state.settings.cors_origins)
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        if origin != "*":
            response.vary.add("Origin")
        response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Accept, Authorization, Content-Type"
            response.headers["Access-Control-Max-Age"] = "600"
    start = g.get("virtkg_start")
    seconds = time.perf_counter() - start if start is not None else 0.0
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    state.metrics.observe(endpoint, request.method, response.status_code, seconds)
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            json.dumps(
                {
                    "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "method": request.method,
                    "path": request.path,
                    "endpoint": endpoint,
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 3),
                    "bytes": response.calculate_content_length(),
                    "remote": request.remote_addr,
                    "user_agent": request.headers.get("User-Agent", ""),
                    "error": g.get("virtkg_error_code"),
                },
                separators=(",", ":"),
            )
        )
    return response


def init_app(app: Flask) -> None:
    """Install the per-request hooks (timing, CORS, metrics, access log)."""
    app.before_request(_before)
    app.after_request(_after)
