"""Run a test app under granian, the server `virtkg serve` runs, in a subprocess on 127.0.0.1.

``target`` is ``"module:factory"`` for a module in ``tests/``; granian imports it in its worker
(one worker, the options ``virtkg.http.server.granian_options`` gives production).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

TESTS = Path(__file__).parent
_SCRIPT = """
import sys
from pathlib import Path
from granian import Granian
from virtkg.config import load_settings
from virtkg.http.server import granian_options
options = granian_options(load_settings(host="127.0.0.1", port=int(sys.argv[1]), workers=1))
options.update(target=sys.argv[2], working_dir=Path(sys.argv[3]))
Granian(**options).serve()
"""


@contextmanager
def granian_server(target: str, ready_path: str = "/readyz") -> Iterator[str]:
    """Yield the base URL of granian serving ``target``; stop it (and its workers) afterwards."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, str(port), target, str(TESTS)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"granian exited with {proc.returncode}"
            assert time.monotonic() < deadline, "granian did not become ready in 60 s"
            try:
                if requests.get(base + ready_path, timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
