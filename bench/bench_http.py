"""HTTP throughput of /sparql: virtkg under gunicorn vs the Oxigraph server, same data, loopback.

Runs ``wrk`` (falls back to a small threaded Python load generator) for a small lookup and a
result-heavy query at 1 and 16 connections against:

* ``virtkg``: gunicorn, 2 workers (``--worker-class sync``, the production default, or
  ``gthread``), queries in forked workers with the hard timeout (default);
* ``virtkg-direct``: the same with ``VIRTKG_QUERY_WORKERS=0`` (in-process, no hard timeout), to
  show what the timeout machinery costs;
* ``oxigraph``: ``oxigraph serve`` in memory, ``--union-default-graph``.

Prints requests/s and latency per case and the virtkg/oxigraph ratio. Default runtime < 2 min.

    python bench/bench_http.py [--seconds 4] [--triples 100000] [--worker-class gthread]
                               [--rounds 3] [--only virtkg --only oxigraph]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlencode

VENV_BIN = Path(sys.executable).parent
EX = "http://example.org/"
GRAPH = "https://w3id.org/virtkg/graph/data"
QUERIES = {
    "lookup": f"SELECT ?p ?o WHERE {{ <{EX}s4242> ?p ?o }}",
    "heavy": f"SELECT ?s ?o WHERE {{ ?s <{EX}p3> ?o . ?s <{EX}p7> ?x FILTER(?x < 25) }}",
}
ACCEPT = "application/sparql-results+json"


def make_data(path: Path, triples: int) -> None:
    """Synthetic N-Quads: subjects with 10 integer-valued properties each, in the data graph."""
    subjects = max(1, triples // 10)
    with path.open("w", encoding="utf-8") as out:
        for i in range(subjects):
            for k in range(10):
                value = (i * (k + 1)) % 1000
                out.write(
                    f'<{EX}s{i}> <{EX}p{k}> "{value}"^^<http://www.w3.org/2001/XMLSchema#integer>'
                    f" <{GRAPH}> .\n"
                )


def make_app(data_path: str):  # noqa: ANN201 - gunicorn app factory
    """gunicorn factory: an embedded store with ``data_path`` loaded, served by virtkg."""
    import pyoxigraph as ox

    from virtkg.config import load_settings
    from virtkg.http import create_app
    from virtkg.store.embedded import EmbeddedStore

    store = EmbeddedStore()
    store.engine.bulk_load(path=data_path, format=ox.RdfFormat.N_QUADS)
    return create_app(load_settings(max_rows=100000), store=store)  # VIRTKG_* from the env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not start")


def start_virtkg(
    data: Path, port: int, log: Path, direct: bool, worker_class: str = "sync", threads: int = 4
) -> subprocess.Popen:
    env = dict(os.environ, VIRTKG_QUERY_WORKERS="0" if direct else "2", VIRTKG_LOG_LEVEL="WARNING")
    threading_args = ["--threads", str(threads)] if worker_class == "gthread" else []
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "--workers", "2",
        "--worker-class", worker_class, *threading_args,
        "--bind", f"127.0.0.1:{port}",
        "--pythonpath", str(Path(__file__).parent),
        f"bench_http:make_app('{data}')",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    wait_ready(port, "/healthz")
    return proc


def start_oxigraph(data: Path, port: int, log: Path) -> subprocess.Popen:
    cmd = [str(VENV_BIN / "oxigraph"), "serve", "--bind", f"127.0.0.1:{port}",
           "--union-default-graph"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    wait_ready(port, "/")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(
        "POST", "/store", body=data.read_bytes(), headers={"Content-Type": "application/n-quads"}
    )
    assert conn.getresponse().status in (200, 201, 204)
    return proc


def stop(proc: subprocess.Popen) -> None:
    """Stop a server we started (its own process group, which holds its workers)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def run_wrk(url: str, connections: int, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", f"Accept: {ACCEPT}",
         url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_ms": _ms(p50), "p99_ms": _ms(p99),
            "errors": int(errors.group(1)) if errors else 0}  # fmt: skip


def _ms(match: re.Match | None) -> float:
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def run_python(url: str, connections: int, seconds: int) -> dict:
    """Fallback load generator: keep-alive connections in threads."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    latencies: list[float] = []
    errors = [0]
    deadline = time.monotonic() + seconds
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        local = []
        while time.monotonic() < deadline:
            start = time.perf_counter()
            conn.request("GET", "/" + path, headers={"Accept": ACCEPT})
            resp = conn.getresponse()
            resp.read()
            local.append(time.perf_counter() - start)
            if resp.status != 200:
                errors[0] += 1
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors[0],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="duration of each load run")
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--no-direct", action="store_true", help="skip the virtkg-direct runs")
    parser.add_argument(
        "--worker-class",
        default="sync",
        choices=["sync", "gthread"],
        help="gunicorn worker class for virtkg (sync = what `serve --production` runs; gthread "
        "keeps connections alive, as wrk and most clients want)",
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--rounds", type=int, default=1, help="repeat each run, report the median")
    parser.add_argument(
        "--only", choices=["virtkg", "virtkg-direct", "oxigraph"], action="append", default=None
    )
    args = parser.parse_args()
    load = run_wrk if shutil.which("wrk") else run_python
    print(f"load generator: {'wrk' if load is run_wrk else 'python threads'}; "
          f"{args.triples} triples; {args.seconds} s per run x {args.rounds} (median); "
          f"{os.cpu_count()} cores; virtkg under gunicorn {args.worker_class} x2"
          + (f" ({args.threads} threads)" if args.worker_class == "gthread" else "")
          + f"; load average before: {os.getloadavg()[0]:.2f}")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.nq"
        make_data(data, args.triples)
        servers = [("virtkg", "virtkg", False)]
        if not args.no_direct:
            servers.append(("virtkg-direct", "virtkg", True))
        servers.append(("oxigraph", "oxigraph", False))
        if args.only:
            servers = [s for s in servers if s[0] in args.only]
        results: dict[tuple[str, str, int], dict] = {}
        for label, kind, direct in servers:
            port = free_port()
            log = Path(tmp) / f"{label}.log"
            if kind == "virtkg":
                proc = start_virtkg(data, port, log, direct, args.worker_class, args.threads)
                path = "/sparql"
            else:
                proc = start_oxigraph(data, port, log)
                path = "/query"
            try:
                for qname, query in QUERIES.items():
                    qs = urlencode({"query": query}, quote_via=quote)
                    url = f"http://127.0.0.1:{port}{path}?{qs}"
                    load(url, 1, 1)  # warm up (forks the query workers, fills caches)
                    for conns in (1, 16):
                        runs = [load(url, conns, args.seconds) for _ in range(args.rounds)]
                        r = sorted(runs, key=lambda run: run["rps"])[len(runs) // 2]
                        results[(label, qname, conns)] = r
                        print(f"{label:14} {qname:6} c={conns:<3} {r['rps']:9.0f} req/s  "
                              f"p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  "
                              f"non-2xx {r['errors']}", flush=True)  # fmt: skip
            finally:
                stop(proc)

    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    if ("virtkg", "lookup", 1) not in results or ("oxigraph", "lookup", 1) not in results:
        return 0
    print("ratio virtkg / oxigraph (requests/s):")
    for qname in QUERIES:
        for conns in (1, 16):
            ours = results[("virtkg", qname, conns)]["rps"]
            theirs = results[("oxigraph", qname, conns)]["rps"]
            line = f"  {qname:6} c={conns:<3} {ours / theirs:5.2f}x"
            if ("virtkg-direct", qname, conns) in results:
                direct = results[("virtkg-direct", qname, conns)]["rps"]
                line += f"   (worker-process overhead: forked {ours:.0f} vs in-process {direct:.0f}"
                line += f" req/s = {ours / direct:.2f}x)"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
