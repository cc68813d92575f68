"""HTTP throughput of virtkg's production servers vs the Oxigraph server, same data, loopback.

Runs ``wrk -t1`` (falls back to a small threaded Python load generator) for a small lookup and a
result-heavy ``/sparql`` query, and ``GET /api/recommend``, at 1 and 16 connections against:

* ``granian``: ``virtkg serve`` as shipped (granian: Rust HTTP front, WSGI workers);
* ``gunicorn-sync``: ``virtkg serve --server gunicorn`` (sync workers);
* ``gunicorn-gthread``: the same with gunicorn's gthread workers (4 threads each, keep-alive);
* ``oxigraph``: ``oxigraph serve`` in memory, ``--union-default-graph`` (``/sparql`` cases only);
* ``granian-direct`` (``--direct``): granian with ``VIRTKG_QUERY_WORKERS=0`` (in-process queries,
  no hard timeout), to show what the timeout machinery costs.

Every virtkg server has 2 workers and runs the options ``virtkg.http.server`` gives production,
with an app factory that loads the knowledge base plus the synthetic data. All servers run at
once and the rounds are interleaved (round 1 of every server and case, then round 2, ...), so a
change in the machine's load hits all of them alike. Prints the median requests/s of
``--rounds`` runs, p50/p99 latency, the load average before, per round and after, and the
ratios to the Oxigraph server, and the server's CPU time per request (every process of the
server's process group, from /proc) with its ratio, which other load disturbs much less.

    python bench/bench_http.py [--seconds 4] [--rounds 3] [--triples 100000] [--direct]
                               [--only granian --only oxigraph ...]
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
#: The synthetic data's graph (the default graph is the union of all graphs on both servers).
GRAPH = "https://w3id.org/virtkg/graph/bench"
QUERIES = {
    "lookup": f"SELECT ?p ?o WHERE {{ <{EX}s4242> ?p ?o }}",
    "heavy": f"SELECT ?s ?o WHERE {{ ?s <{EX}p3> ?o . ?s <{EX}p7> ?x FILTER(?x < 25) }}",
}
RECOMMEND = "/api/recommend?isolation=hardware&untrusted_multitenant=true&max_startup_ms=500"
ACCEPT = "application/sparql-results+json"
VIRTKG_SERVERS = ("gunicorn-sync", "gunicorn-gthread", "granian", "granian-direct")
GTHREAD_THREADS = 4


def make_data(path: Path, triples: int) -> None:
    """Synthetic N-Quads: subjects with 10 integer-valued properties each, in their own graph."""
    subjects = max(1, triples // 10)
    with path.open("w", encoding="utf-8") as out:
        for i in range(subjects):
            for k in range(10):
                value = (i * (k + 1)) % 1000
                out.write(
                    f'<{EX}s{i}> <{EX}p{k}> "{value}"^^<http://www.w3.org/2001/XMLSchema#integer>'
                    f" <{GRAPH}> .\n"
                )


def make_app(data_path: str | None = None):  # noqa: ANN201 - a WSGI app
    """App factory: the knowledge base (for /api/recommend) plus ``data_path``, served by virtkg."""
    import pyoxigraph as ox

    from virtkg.config import load_settings
    from virtkg.http import create_app
    from virtkg.kb import load_knowledge_base
    from virtkg.store.embedded import EmbeddedStore

    settings = load_settings(max_rows=100000)  # VIRTKG_* from the env
    store = EmbeddedStore()
    load_knowledge_base(store, settings)
    # load (a transaction), as the Oxigraph server's POST /store does: bulk_load builds indexes
    # that make the heavy join ~25% slower in memory.
    store.engine.load(path=data_path or os.environ["BENCH_DATA"], format=ox.RdfFormat.N_QUADS)
    return create_app(settings, store=store)


def serve(kind: str, data: str, port: int) -> None:
    """Run one virtkg server (``--serve``) with production's options and the bench app."""
    from virtkg.config import load_settings
    from virtkg.http.server import granian_options, gunicorn_options

    settings = load_settings(host="127.0.0.1", port=port, workers=2)
    if kind.startswith("granian"):
        from granian import Granian

        os.environ["BENCH_DATA"] = data
        options = granian_options(settings)
        options.update(target="bench_http:make_app", working_dir=Path(__file__).parent)
        if os.environ.get("BENCH_GRANIAN_THREADS"):  # to try other values than production's
            options["blocking_threads"] = int(os.environ["BENCH_GRANIAN_THREADS"])
        Granian(**options).serve()
        return
    from gunicorn.app.base import BaseApplication

    options = gunicorn_options(settings)
    if kind == "gunicorn-gthread":
        options.update(worker_class="gthread", threads=GTHREAD_THREADS)

    class BenchApplication(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):  # noqa: ANN202 - a WSGI app
            return make_app(data)

    BenchApplication().run()


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


def start_virtkg(kind: str, data: Path, port: int, log: Path, log_level: str) -> subprocess.Popen:
    """Start ``bench_http.py --serve kind`` (its own process group) and wait until it answers."""
    env = dict(
        os.environ,
        VIRTKG_QUERY_WORKERS="0" if kind.endswith("-direct") else "2",
        VIRTKG_LOG_LEVEL=log_level,
        VIRTKG_CACHE_DIR=str(data.parent / "cache"),
    )
    cmd = [sys.executable, __file__, "--serve", kind, "--data", str(data), "--port", str(port)]
    proc = subprocess.Popen(
        cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    wait_ready(port, "/readyz")
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


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every live process in process group ``pgid`` (Linux /proc).

    Server CPU per request is much less disturbed by other work on the machine than requests/s.
    Processes that ended during a run (a replaced query worker) are not counted.
    """
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command: state ppid pgrp ... utime (14th field) stime (15th)
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _cases(label: str, port: int) -> list[tuple[str, str]]:
    """(case name, URL) pairs a server is measured on."""
    path = "/query" if label == "oxigraph" else "/sparql"
    out = []
    for qname, query in QUERIES.items():
        qs = urlencode({"query": query}, quote_via=quote)
        out.append((qname, f"http://127.0.0.1:{port}{path}?{qs}"))
    if label != "oxigraph":
        out.append(("recommend", f"http://127.0.0.1:{port}{RECOMMEND}"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=4, help="duration of each load run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per case; the median is shown")
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--direct", action="store_true", help="also run granian-direct")
    parser.add_argument(
        "--log-level",
        default="INFO",
        help="virtkg log level (INFO = production default: one JSON access-log line a request, "
        "written to a file here)",
    )
    parser.add_argument("--only", choices=[*VIRTKG_SERVERS, "oxigraph"], action="append")
    parser.add_argument("--serve", choices=VIRTKG_SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.data, args.port)
        return 0
    load = run_wrk if shutil.which("wrk") else run_python
    labels = [*VIRTKG_SERVERS[:3], *(["granian-direct"] if args.direct else []), "oxigraph"]
    if args.only:
        labels = [label for label in labels if label in args.only]
    print(f"load generator: {'wrk -t1' if load is run_wrk else 'python threads'}; "
          f"{args.triples} triples; {args.seconds} s per run x {args.rounds} rounds (median); "
          f"{os.cpu_count()} cores; virtkg: 2 workers, log level {args.log_level}; "
          f"load average before: {_load()}", flush=True)  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.nq"
        make_data(data, args.triples)
        procs: dict[str, subprocess.Popen] = {}
        cases: dict[str, list[tuple[str, str]]] = {}
        runs: dict[tuple[str, str, int], list[dict]] = {}
        try:
            for label in labels:
                port = free_port()
                log = Path(tmp) / f"{label}.log"
                if label == "oxigraph":
                    procs[label] = start_oxigraph(data, port, log)
                else:
                    procs[label] = start_virtkg(label, data, port, log, args.log_level)
                cases[label] = _cases(label, port)
                for _, url in cases[label]:
                    load(url, 1, 1)  # warm up (forks the query workers, fills caches)
            for round_no in range(1, args.rounds + 1):
                print(f"round {round_no}: load average {_load()}", flush=True)
                for conns in (1, 16):
                    for label in labels:
                        for qname, url in cases[label]:
                            before = group_cpu_seconds(procs[label].pid)
                            r = load(url, conns, args.seconds)
                            used = group_cpu_seconds(procs[label].pid) - before
                            requests = r["rps"] * args.seconds
                            r["cpu_us"] = used / requests * 1e6 if requests else float("nan")
                            runs.setdefault((label, qname, conns), []).append(r)
        finally:
            for proc in procs.values():
                stop(proc)

    results = {k: sorted(rs, key=lambda run: run["rps"])[len(rs) // 2] for k, rs in runs.items()}
    print(f"\nload average after: {_load()}")
    print(f"{'server':17} {'case':9} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'non-2xx':>7} {'CPU us/req':>10}  rounds (req/s)")  # fmt: skip
    for (label, qname, conns), r in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        every = ", ".join(f"{run['rps']:.0f}" for run in runs[(label, qname, conns)])
        cpu = statistics.median(run["cpu_us"] for run in runs[(label, qname, conns)])
        print(f"{label:17} {qname:9} {conns:5} {r['rps']:9.0f} {r['p50_ms']:8.2f} "
              f"{r['p99_ms']:8.2f} {r['errors']:7} {cpu:10.1f}  {every}")  # fmt: skip
    if "oxigraph" in labels:
        print("\nratio to the Oxigraph server (requests/s):")
        for label in labels[:-1]:
            parts = []
            for qname in QUERIES:
                for conns in (1, 16):
                    ours = results[(label, qname, conns)]["rps"]
                    theirs = results[("oxigraph", qname, conns)]["rps"]
                    parts.append(f"{qname} c={conns} {ours / theirs:.2f}x")
            print(f"  {label:17} " + "   ".join(parts))
        print("ratio of server CPU per request, Oxigraph / virtkg (higher is better for virtkg):")
        for label in labels[:-1]:
            parts = []
            for qname in QUERIES:
                for conns in (1, 16):
                    ours = statistics.median(r["cpu_us"] for r in runs[(label, qname, conns)])
                    ref = runs[("oxigraph", qname, conns)]
                    theirs = statistics.median(r["cpu_us"] for r in ref)
                    parts.append(f"{qname} c={conns} {theirs / ours:.2f}x")
            print(f"  {label:17} " + "   ".join(parts))
    return 0


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
