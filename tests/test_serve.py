"""`virtkg serve` as a user runs it: the development server and the gunicorn production mode."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from virtkg.config import load_settings
from virtkg.http.server import gunicorn_options

VIRTKG = str(Path(sys.executable).with_name("virtkg"))
COUNT_TECHNOLOGIES = (
    "SELECT (COUNT(*) AS ?n) WHERE { ?s a <https://w3id.org/virtkg/ontology#Technology> }"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(base: str, proc: subprocess.Popen, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early with {proc.returncode}")
        try:
            if requests.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise AssertionError("server did not become ready in time")


@pytest.fixture(params=[[], ["--production", "--workers", "2"]], ids=["development", "production"])
def served(request, tmp_path):
    port = _free_port()
    env = {**os.environ, "VIRTKG_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [VIRTKG, "serve", "--host", "127.0.0.1", "--port", str(port), *request.param],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def test_serve_answers_sparql_and_health(served):
    assert requests.get(served + "/healthz", timeout=5).status_code == 200
    response = requests.get(
        served + "/sparql",
        params={"query": COUNT_TECHNOLOGIES},
        headers={"Accept": "application/sparql-results+json"},
        timeout=10,
    )
    assert response.status_code == 200
    count = int(response.json()["results"]["bindings"][0]["n"]["value"])
    assert count >= 15


def test_production_options_use_one_sync_worker_per_core_by_default():
    options = gunicorn_options(load_settings({}, port=9999))
    assert options["bind"] == "127.0.0.1:9999"
    assert options["workers"] == (os.cpu_count() or 1)
    assert options["worker_class"] == "sync"
    assert options["timeout"] > load_settings({}).query_timeout
