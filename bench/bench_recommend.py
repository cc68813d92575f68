"""Benchmark recommendations in-process on the embedded store, against rdflib as a reference.

    python bench/bench_recommend.py [--repeat 200]
    python bench/bench_recommend.py --http [--seconds 5] [--connections 1,16] [--workers 2]

In-process: loads the real knowledge base (asserted + reasoned graphs), then times ``recommend``
and ``recommend_for_scenario`` (median and 95th percentile per call) four ways: reading
everything from the store (``full``), with a cached vocabulary (``+vocab``), with a
``KnowledgeSnapshot`` (``snapshot``: no query at all) and with the snapshot plus the JSON body the
API sends (``snap+json``). A "never seen" case uses a different numeric bound on every call. The
reference runs the *same* code against rdflib's SPARQL engine over the same quads (through a small
adapter that converts terms), checks that the rankings are identical, and prints the speed ratio.

``--http``: starts gunicorn (sync workers) on 127.0.0.1 with the real KB, runs ``wrk`` against
``POST /api/recommend`` for a bounded time at each connection count and stops the server. The Lua
script sends a *different* requirement set on every request (a rotating categorical combination
plus a numeric bound unique to that request), so the answer memo never hits; ``--memo`` also runs
a few fixed sets that the memo serves. Prints requests/s, latency and the 1-minute load average.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pyoxigraph as ox
import rdflib

from virtkg.config import load_settings
from virtkg.kb import load_knowledge_base
from virtkg.recommend import load_snapshot, load_vocabulary, recommend, recommend_for_scenario
from virtkg.store import EmbeddedStore, SelectResult, open_store

VENV_BIN = Path(sys.executable).parent

# (label, requirements or a scenario id)
CASES: list[tuple[str, dict | str]] = [
    ("ad hoc: isolation+startup+gpu",
     {"isolation": "hardware", "max_startup_ms": 200, "gpu": "any"}),
    ("ad hoc: 6 requirements",
     {"isolation": "user-space-kernel", "untrusted_multitenant": True, "guest": "host-kernel",
      "host_arch": "x86_64", "container_ecosystem": "oci", "max_memory_overhead_mib": 64}),
    ("ad hoc: all 10 dimensions",
     {"isolation": "process", "guest": ["host-kernel", "own-linux-kernel"], "host_arch": "aarch64",
      "untrusted_multitenant": True, "gpu": "any", "full_os": True, "no_nested_virt": True,
      "container_ecosystem": "oci", "max_startup_ms": 1000, "max_memory_overhead_mib": 128}),
    ("scenario: ci-untrusted-builds", "ci-untrusted-builds"),
]  # fmt: skip


def run_case(store, case: dict | str, **kwargs):  # noqa: ANN001, ANN201 - bench glue
    if isinstance(case, str):
        return recommend_for_scenario(store, case, **kwargs)
    return recommend(store, case, **kwargs)


class RdflibStore:
    """Just enough of KnowledgeStore over an rdflib Dataset (union default graph)."""

    name = "rdflib"

    def __init__(self, quads: list[ox.Quad]) -> None:
        self.dataset = rdflib.Dataset(default_union=True)
        for q in quads:
            graph = self.dataset.graph(rdflib.URIRef(q.graph_name.value))
            graph.add((to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object)))

    def query(self, sparql: str, *, bindings: Mapping | None = None, dataset=None) -> SelectResult:
        init = {k: to_rdflib(v) for k, v in (bindings or {}).items()}
        result = self.dataset.query(sparql, initBindings=init)
        names = [str(v) for v in result.vars]
        rows = []
        for row in result:
            rows.append({n: to_ox(t) for n, t in zip(names, row, strict=True) if t is not None})
        return SelectResult(variables=names, rows=rows)


def to_rdflib(term):
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))


def to_ox(term):
    if isinstance(term, rdflib.URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, rdflib.BNode):
        return ox.BlankNode(str(term))
    if term.language:
        return ox.Literal(str(term), language=term.language)
    if term.datatype:
        return ox.Literal(str(term), datatype=ox.NamedNode(str(term.datatype)))
    return ox.Literal(str(term))


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median and 95th percentile in ms."""
    fn()  # warm up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def ranking(recommendation) -> list[tuple[str, bool, str]]:
    return [(r.id, r.fits, ",".join(q.status for q in r.requirements))
            for r in recommendation.results]  # fmt: skip


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def in_process(args: argparse.Namespace) -> int:
    settings = load_settings(cache_dir=tempfile.mkdtemp(prefix="virtkg-bench-"))
    store = open_store(settings)
    report = load_knowledge_base(store, settings)
    assert isinstance(store, EmbeddedStore)
    print(f"KB: {sum(report.triples.values())} triples ({report.inferred} inferred)")
    print(f"load average before: {load_average()}")
    reference = RdflibStore(list(store.engine.quads_for_pattern(None, None, None, None)))
    vocabulary = load_vocabulary(store)
    ref_vocabulary = load_vocabulary(reference)
    build = timed(lambda: load_snapshot(store), max(5, args.repeat // 10))
    snapshot = load_snapshot(store)
    ref_snapshot = load_snapshot(reference)
    print(f"load_snapshot: {build[0]:.2f} ms median, p95 {build[1]:.2f}")

    counter = iter(range(10**9))

    def never_seen(target, **kwargs):  # noqa: ANN001, ANN003, ANN202 - a new bound each call
        return recommend(target, {"isolation": "hardware", "gpu": "any",
                                 "max_startup_ms": 50 + next(counter) / 7}, **kwargs)  # fmt: skip

    rows = []
    cases: list[tuple[str, Callable]] = [
        (label, lambda s, case=case, **kw: run_case(s, case, **kw)) for label, case in CASES
    ]
    cases.append(("ad hoc: never seen (new bound)", never_seen))
    for label, case in cases:
        same = ranking(case(store)) == ranking(case(reference))
        same = same and ranking(case(store, snapshot=snapshot)) == ranking(case(reference))
        same = same and ranking(case(reference, snapshot=ref_snapshot)) == ranking(case(store))
        full = timed(lambda case=case: case(store), args.repeat)
        cached = timed(lambda case=case: case(store, vocabulary=vocabulary), args.repeat)
        snap = timed(lambda case=case: case(store, snapshot=snapshot), args.repeat)
        body = timed(lambda case=case: case(store, snapshot=snapshot).to_json(), args.repeat)
        ref = timed(lambda case=case: case(reference, vocabulary=ref_vocabulary),
                    max(5, args.repeat // 20))  # fmt: skip
        rows.append((label, full, cached, snap, body, ref, same))
    print(f"{'case (ms: median p95)':32} {'full':>12} {'+vocab':>12} {'snapshot':>12} "
          f"{'snap+json':>12} {'rdflib':>8} {'ratio':>6} same")  # fmt: skip
    for label, full, cached, snap, body, ref, same in rows:
        cells = " ".join(f"{m:5.2f} {p:6.2f}" for m, p in (full, cached, snap, body))
        print(f"{label:32} {cells} {ref[0]:8.1f} {ref[0] / cached[0]:5.0f}x "
              f"{'yes' if same else 'NO'}")  # fmt: skip
    print("ratio = rdflib / oxigraph, same code (+vocab path); snap+json = the API's work")
    print(f"load average after: {load_average()}")
    return 0 if all(r[-1] for r in rows) else 1


# --- HTTP ------------------------------------------------------------------------------------

#: Categorical parts rotated by the wrk script; each request also gets a unique numeric bound.
HTTP_SETS = [
    '"isolation":"hardware","gpu":"any"',
    '"isolation":"user-space-kernel","untrusted_multitenant":true,"guest":"host-kernel",'
    '"host_arch":"x86_64","container_ecosystem":"oci"',
    '"guest":"windows","container_ecosystem":"oci"',
    '"host_arch":"aarch64","no_nested_virt":true',
    '"full_os":true,"guest":["own-linux-kernel","other-os"]',
    '"isolation":"process","guest":"host-kernel","container_ecosystem":"kubernetes"',
    '"untrusted_multitenant":true,"isolation":"hardware","full_os":true',
    '"gpu":"passthrough","guest":"other-cpu-arch"',
]

WRK_SCRIPT = """
local sets = { %(sets)s }
local dims = { "max_startup_ms", "max_memory_overhead_mib" }
local counter = 0
local memo = %(memo)s
local tid = 1
function setup(thread)
  setup_count = (setup_count or 0) + 1
  thread:set("tid", setup_count)
end
request = function()
  counter = counter + 1
  local base = sets[(counter %% #sets) + 1]
  local body
  if memo then
    body = '{"requirements":{' .. base .. '}}'
  else
    -- a bound no other request uses: integer part varies, fraction = counter, thread, then 1
    local bound = tostring(20 + counter %% 3000) .. "." .. tostring(counter)
                  .. string.format("%%02d", tid) .. "1"
    body = '{"requirements":{' .. base .. ',"' .. dims[(counter %% 2) + 1] .. '":' .. bound .. '}}'
  end
  return wrk.format("POST", "/api/recommend", {["Content-Type"] = "application/json"}, body)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/requirements")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"server on port {port} did not start")


def start_gunicorn(port: int, workers: int, cache_dir: str, log: Path) -> subprocess.Popen:
    env = dict(os.environ, VIRTKG_CACHE_DIR=cache_dir, VIRTKG_LOG_LEVEL="WARNING")
    cmd = [
        str(VENV_BIN / "gunicorn"),
        "--workers", str(workers),
        "--worker-class", "sync",
        "--bind", f"127.0.0.1:{port}",
        "virtkg.http:create_app()",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        wait_ready(port)
    except RuntimeError:
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen) -> None:
    """Stop the server we started (its own process group, which holds its workers)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)


def warm(port: int) -> None:
    """One request of each kind per worker-ish, so no run pays for the first snapshot."""
    for i in range(8):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        body = json.dumps({"requirements": {"isolation": "hardware", "max_startup_ms": 7 + i}})
        conn.request("POST", "/api/recommend", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        conn.close()


def run_wrk(port: int, script: Path, connections: int, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/api/recommend"],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": _ms(re.search(r"50%\s+([\d.]+)(us|ms|s)\b", out)),
        "p99_ms": _ms(re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)),
        "errors": int(errors.group(1)) if errors else 0,
        "load": load_average(),
    }


def _ms(match: re.Match | None) -> float:
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def over_http(args: argparse.Namespace) -> int:
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    connections = [int(c) for c in args.connections.split(",")]
    work = Path(tempfile.mkdtemp(prefix="virtkg-bench-http-"))
    modes = ["distinct", "memo"] if args.memo else ["distinct"]
    scripts = {}
    for mode in modes:
        scripts[mode] = work / f"{mode}.lua"
        scripts[mode].write_text(
            WRK_SCRIPT
            % {
                "sets": ", ".join("'" + s + "'" for s in HTTP_SETS),
                "memo": "true" if mode == "memo" else "false",
            }
        )
    port = free_port()
    print(f"load average before start: {load_average()}")
    proc = start_gunicorn(port, args.workers, str(work / "cache"), work / "gunicorn.log")
    failed = False
    try:
        warm(port)
        print(f"gunicorn --workers {args.workers} --worker-class sync, wrk -t1, {args.seconds} s "
              "per run, POST /api/recommend")  # fmt: skip
        print(f"{'mode':10} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
              "  load avg (1/5/15 min, after)")  # fmt: skip
        for mode in modes:
            for c in connections:
                found = run_wrk(port, scripts[mode], c, args.seconds)
                failed = failed or found["errors"] > 0
                print(f"{mode:10} {c:5d} {found['rps']:9.0f} {found['p50_ms']:8.2f} "
                      f"{found['p99_ms']:8.2f} {found['errors']:8d}  {found['load']}")  # fmt: skip
    finally:
        stop(proc)
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--http", action="store_true", help="measure POST /api/recommend")
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--connections", default="1,16", help="comma-separated counts")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--memo", action="store_true", help="also run sets the memo serves")
    args = parser.parse_args(argv)
    if args.http:
        return over_http(args)
    return in_process(args)


if __name__ == "__main__":
    sys.exit(main())
