"""Run every benchmark in one go; each prints its reference engine's figures and the ratios.

python bench/run_all.py            # the default sizes (about 10 minutes on 2 cores)
python bench/run_all.py --quick    # a smoke run of each (about 2 minutes)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL = [
    ["bench_reasoning.py", "--sizes", "10k,100k,1m"],
    ["bench_query.py"],
    ["bench_recommend.py", "--http"],
    ["bench_http.py", "--rounds", "3"],
]
QUICK = [
    ["bench_reasoning.py", "--quick"],
    ["bench_query.py", "--triples", "20000", "--repeat", "5", "--rdflib-repeat", "1"],
    ["bench_recommend.py", "--repeat", "50"],
    ["bench_http.py", "--seconds", "2", "--triples", "20000"],
]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks one after another; non-zero if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs")
    args = parser.parse_args(argv)
    failed = []
    for command in QUICK if args.quick else FULL:
        print(f"\n=== {' '.join(command)} ===", flush=True)
        start = time.monotonic()
        code = subprocess.call([sys.executable, str(HERE / command[0]), *command[1:]])
        print(f"=== {command[0]}: exit {code} in {time.monotonic() - start:.0f} s ===", flush=True)
        if code:
            failed.append(command[0])
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
