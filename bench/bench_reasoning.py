"""Reasoning benchmark: virtkg's SPARQL forward chainer vs owlrl vs reasonable.

Every run is a fresh subprocess (``--worker``) that reports its wall time (parse + reason) and its
own peak RSS, so engines never share memory. Usage::

    python bench/bench_reasoning.py [--sizes 10k,100k,1m] [--quick] [--timeout 600]
                                    [--engines virtkg,owlrl,reasonable]

Part 1: the shipped KB, ``load_knowledge_base`` cold (empty cache) and cached, against owlrl
on the same files. Part 2: synthetic KBs (bench/synthetic.py) for every engine and size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ENGINES = ("virtkg", "owlrl", "reasonable")


def _load() -> str:
    """The 1/5/15-minute load averages (other work on the machine skews wall times)."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _owlrl(graph) -> int:
    import owlrl

    before = len(graph)
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(graph)
    return len(graph) - before


def worker(engine: str, arg: str) -> dict:
    """Run one engine on one input inside this process; return its measurements."""
    start = time.perf_counter()
    if engine == "virtkg":
        import pyoxigraph as ox

        from virtkg.reasoning import materialize

        triples = [q.triple for q in ox.parse(path=arg, format=ox.RdfFormat.N_TRIPLES)]
        inferred = len(materialize(triples).inferred)
    elif engine == "owlrl":
        from rdflib import Graph

        graph = Graph()
        graph.parse(arg, format="nt")
        inferred = _owlrl(graph)
    elif engine == "reasonable":
        import reasonable

        reasoner = reasonable.PyReasoner()
        reasoner.load_file(arg)
        base = len(reasoner.get_base_triples())
        inferred = len(reasoner.reason()) - base
    elif engine == "kb-virtkg":
        from virtkg.config import load_settings
        from virtkg.kb import load_knowledge_base
        from virtkg.store import open_store

        settings = load_settings(environ={}, kb_dir=str(ROOT), cache_dir=arg, store="embedded")
        report = load_knowledge_base(open_store(settings), settings)
        inferred = report.inferred
        return {
            "seconds": time.perf_counter() - start,
            "inferred": inferred,
            "cached": report.cached,
            "peak_mb": _peak_mb(),
        }
    elif engine == "kb-owlrl":
        from rdflib import Graph

        from virtkg.kb import KnowledgeBaseFiles

        graph = Graph()
        for path in KnowledgeBaseFiles.discover(ROOT).paths:
            graph.parse(path, format="turtle")
        inferred = _owlrl(graph)
    else:
        raise SystemExit(f"unknown engine {engine}")
    return {"seconds": time.perf_counter() - start, "inferred": inferred, "peak_mb": _peak_mb()}


def run(engine: str, arg: str, timeout: float) -> dict:
    """One measurement in a fresh subprocess; {"timeout": True} if it ran past ``timeout``."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, arg]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"timeout": True}
    except subprocess.CalledProcessError as exc:
        return {"error": exc.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(result: dict) -> str:
    if result.get("skipped"):
        return "not run"
    if result.get("timeout"):
        return "timeout"
    if "error" in result:
        return f"error: {result['error']}"
    return f"{result['seconds']:.2f} s / {result['peak_mb']:.0f} MB ({result['inferred']} new)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10k,100k,1m")
    parser.add_argument("--quick", action="store_true", help="10k only, short timeouts")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    parser.add_argument(
        "--engines", default=",".join(ENGINES), help="synthetic KBs: engines to run (default: all)"
    )
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE", "INPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return
    sizes = ["10k"] if args.quick else [s.strip().lower() for s in args.sizes.split(",")]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if unknown := set(engines) - set(ENGINES):
        parser.error(f"unknown engines: {', '.join(sorted(unknown))}")
    timeout = min(args.timeout, 120.0) if args.quick else args.timeout
    print(f"# reasoning benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {platform.platform()}")
    print(
        f"# python {platform.python_version()}, {len(__import__('os').sched_getaffinity(0))} cores"
    )
    print(f"# load average at start: {_load()}")

    with tempfile.TemporaryDirectory(prefix="virtkg-bench-") as tmp:
        cache = str(Path(tmp) / "cache")
        cold = run("kb-virtkg", cache, timeout)
        warm = run("kb-virtkg", cache, timeout)
        owl = run("kb-owlrl", "-", timeout)
        print("\n## shipped KB (parse + reason + load into the embedded store)")
        print("| run | virtkg | owlrl | owlrl / virtkg |")
        print("|---|---|---|---|")
        for name, result in (("cold", cold), ("cached", warm)):
            ratio = ""
            if "seconds" in result and "seconds" in owl:
                ratio = f"{owl['seconds'] / result['seconds']:.1f}x"
            print(f"| {name} | {fmt(result)} | {fmt(owl) if name == 'cold' else ''} | {ratio} |")
        print(f"(cached flag: cold={cold.get('cached')}, second={warm.get('cached')})")

        print("\n## synthetic KBs (parse + reason, fresh process each)")
        print(
            "| size | triples | "
            + " | ".join(ENGINES)
            + " | owlrl / virtkg | reasonable / virtkg |"
        )
        print("|---|---|" + "---|" * (len(ENGINES) + 2))
        sys.path.insert(0, str(BENCH))
        from synthetic import write_synthetic

        for size in sizes:
            path = Path(tmp) / f"syn-{size}.ttl"  # N-Triples text; reasonable wants .ttl
            n = write_synthetic(path, size)
            results = {
                engine: run(engine, str(path), timeout) if engine in engines else {"skipped": True}
                for engine in ENGINES
            }
            base = results["virtkg"].get("seconds")
            ratios = [
                f"{results[e]['seconds'] / base:.1f}x" if base and "seconds" in results[e] else "-"
                for e in ("owlrl", "reasonable")
            ]
            cells = " | ".join(fmt(results[e]) for e in ENGINES)
            print(f"| {size} | {n} | {cells} | {' | '.join(ratios)} |", flush=True)
        print(f"# load average at end: {_load()}")


if __name__ == "__main__":
    main()
