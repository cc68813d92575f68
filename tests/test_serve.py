"""`virtkg serve` as a user runs it: the development server and both production servers
(gunicorn, granian), including the hard query timeout in their worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from virtkg.config import load_settings
from virtkg.errors import ConfigurationError
from virtkg.http.server import check_serving_processes, granian_options, gunicorn_options

VIRTKG = str(Path(sys.executable).with_name("virtkg"))
COUNT_TECHNOLOGIES = (
    "SELECT (COUNT(*) AS ?n) WHERE { ?s a <https://w3id.org/virtkg/ontology#Technology> }"
)
#: Billions of solutions over the KB: runs for minutes unless stopped.
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
PRODUCTION = {
    "gunicorn": ["--server", "gunicorn", "--workers", "2"],
    "granian": ["--server", "granian", "--workers", "2"],
}


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


def _start(args: list[str], tmp_path: Path) -> tuple[str, subprocess.Popen]:
    port = _free_port()
    env = {**os.environ, "VIRTKG_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen(
        [VIRTKG, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
    except BaseException:
        _stop(proc)
        raise
    return base, proc


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out |= {int(p) for p in (task / "children").read_text().split()}
    return out


def _query_workers(master: int) -> set[int]:
    """Pids two levels below the server's master: the query workers of its HTTP workers."""
    return {pid for worker in _children(master) for pid in _children(worker)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(
    params=[["--server", "werkzeug"], PRODUCTION["gunicorn"], PRODUCTION["granian"]],
    ids=["development", "production-gunicorn", "production-granian"],
)
def served(request, tmp_path):
    base, proc = _start(request.param, tmp_path)
    try:
        yield base
    finally:
        _stop(proc)


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


def test_plain_serve_runs_granian_with_one_process_per_core(tmp_path):
    """`virtkg serve` with no server flags is the production setup, not a development server."""
    base, proc = _start([], tmp_path)
    try:
        workers = _children(proc.pid)
        assert len(workers) == (os.cpu_count() or 1)
        with open(f"/proc/{proc.pid}/cmdline", "rb") as cmdline:
            assert b"serve" in cmdline.read()
        response = requests.get(base + "/sparql", params={"query": COUNT_TECHNOLOGIES}, timeout=10)
        assert response.status_code == 200
    finally:
        _stop(proc)


def test_production_options_use_one_sync_worker_per_core_by_default():
    options = gunicorn_options(load_settings({}, port=9999))
    assert options["bind"] == "127.0.0.1:9999"
    assert options["workers"] == (os.cpu_count() or 1)
    assert options["worker_class"] == "sync"
    assert options["timeout"] > load_settings({}).query_timeout


def test_serve_answers_recommend_and_metrics(served):
    response = requests.get(served + "/api/recommend", params={"isolation": "hardware"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["results"]
    head = requests.head(served + "/api/recommend", params={"isolation": "hardware"}, timeout=10)
    assert head.status_code == 200 and head.content == b""
    metrics = requests.get(served + "/metrics", timeout=5).text
    assert "# TYPE virtkg_http_request_duration_seconds histogram" in metrics  # per process


@pytest.mark.parametrize("server", sorted(PRODUCTION))
def test_production_timeout_kills_the_query_worker(server, tmp_path):
    """Under either server a runaway query is answered 503 near the timeout, the query worker
    that ran it is killed and replaced, and the service keeps answering."""
    base, proc = _start([*PRODUCTION[server], "--query-timeout", "1"], tmp_path)
    try:
        url = base + "/sparql"
        deadline = time.monotonic() + 15
        while len(_query_workers(proc.pid)) < 4 and time.monotonic() < deadline:
            # each HTTP worker forks its 2 query workers on its own first query
            assert requests.get(url, params={"query": COUNT_TECHNOLOGIES}, timeout=10).ok
        before = _query_workers(proc.pid)
        assert len(before) in (2, 4)  # (the load balancing may leave one HTTP worker idle)
        answered: list[float] = []

        def query_meanwhile() -> None:
            time.sleep(0.3)
            for _ in range(3):  # whichever process takes them, they do not wait for SLOW
                began = time.monotonic()
                light = requests.get(url, params={"query": COUNT_TECHNOLOGIES}, timeout=10)
                assert light.ok
                answered.append(time.monotonic() - began)

        other = threading.Thread(target=query_meanwhile)
        other.start()
        start = time.monotonic()
        response = requests.get(url, params={"query": SLOW}, timeout=30)
        elapsed = time.monotonic() - start
        other.join()
        assert len(answered) == 3 and max(answered) < 0.5, answered
        assert response.status_code == 503 and "query_timeout" in response.text
        assert 0.9 <= elapsed < 3.0
        after = _query_workers(proc.pid)
        gone = before - after
        assert len(gone) == 1 and not any(_alive(pid) for pid in gone)
        assert len(after) == len(before)  # replaced
        assert requests.get(url, params={"query": COUNT_TECHNOLOGIES}, timeout=10).ok
    finally:
        _stop(proc)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(pid) for pid in after):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in after)  # no query worker outlives the server


def test_granian_options_use_wsgi_workers_that_build_the_app_themselves():
    options = granian_options(load_settings({}, port=9999, server="granian"))
    assert options["address"] == "127.0.0.1" and options["port"] == 9999
    assert options["workers"] == (os.cpu_count() or 1)
    assert str(options["interface"]) == "wsgi"
    assert options["factory"] is True  # the app (and its executor) is built in each worker


def test_unknown_production_server_is_refused(tmp_path):
    result = subprocess.run(
        [VIRTKG, "serve", "--server", "nginx", "--port", str(_free_port())],
        env={**os.environ, "VIRTKG_CACHE_DIR": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "nginx" in result.stderr


# --- several serving processes and the embedded store ---------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"workers": 1, "update_token": "t"},
        {"workers": 1, "store_path": "/srv/kb"},
        {"workers": 2},  # in memory, read-only: every process holds the same data
        {"workers": 2, "update_token": "t", "endpoint": "http://127.0.0.1:1/sparql"},
    ],
)
def test_serving_processes_that_can_share_the_store_are_accepted(overrides):
    check_serving_processes(load_settings({}, **overrides))


@pytest.mark.parametrize(
    "overrides, says",
    [
        ({"workers": 2, "update_token": "t"}, "reach only the one that took it"),
        ({"workers": 3, "store_path": "/srv/kb"}, "one process only"),
        ({"workers": 2, "store_path": "/srv/kb", "update_token": "t"}, "one process only"),
    ],
)
def test_serving_processes_that_cannot_share_the_store_are_refused(overrides, says):
    with pytest.raises(ConfigurationError) as caught:
        check_serving_processes(load_settings({}, **overrides))
    assert says in caught.value.message
    assert "--workers 1" in caught.value.message and "--endpoint" in caught.value.message


def test_default_workers_count_the_cores_unless_the_store_cannot_be_shared(monkeypatch):
    """workers=0 means one per core, or one process when the embedded store cannot be shared:
    only an explicit --workers N > 1 is refused."""
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert granian_options(load_settings({}))["workers"] == 4
    for unshared in ({"update_token": "t"}, {"store_path": "/srv/kb"}):
        settings = load_settings({}, **unshared)
        assert granian_options(settings)["workers"] == 1
        assert gunicorn_options(settings)["workers"] == 1
        check_serving_processes(settings)
    remote = load_settings(
        {}, update_token="t", endpoint="http://127.0.0.1:1/sparql", store="remote"
    )
    assert granian_options(remote)["workers"] == 4
    with pytest.raises(ConfigurationError, match="4 serving processes"):
        check_serving_processes(load_settings({}, update_token="t", workers=4))


@pytest.mark.parametrize("server", sorted(PRODUCTION))
@pytest.mark.parametrize("store", ["in-memory", "on-disk"])
def test_production_refuses_to_start_with_a_store_it_cannot_share(server, store, tmp_path):
    """Before: the update reached one process only (in memory), or gunicorn's second worker
    crashed on RocksDB's lock and the whole server stopped ("Worker failed to boot")."""
    extra = (
        ["--update-token", "t"] if store == "in-memory" else ["--store-path", str(tmp_path / "db")]
    )
    result = subprocess.run(
        [VIRTKG, "serve", *PRODUCTION[server], "--port", str(_free_port()), *extra],
        env={**os.environ, "VIRTKG_CACHE_DIR": str(tmp_path / "cache")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "virtkg: error:" in result.stderr and "--workers 1" in result.stderr
    assert not (tmp_path / "db").exists()  # refused before anything was opened


@pytest.mark.parametrize("server", sorted(PRODUCTION))
def test_production_update_is_dry_run_under_the_timeout(server, tmp_path):
    """One serving process with updates: a runaway update is stopped (503) with nothing applied
    and nothing left running; a good one is applied and visible."""
    args = [arg if arg != "2" else "1" for arg in PRODUCTION[server]]  # --workers 1
    base, proc = _start([*args, "--update-token", "t", "--query-timeout", "1"], tmp_path)
    url = base + "/sparql"
    headers = {"Authorization": "Bearer t", "Content-Type": "application/sparql-update"}
    marker = "ASK { <urn:x:s> <urn:x:p> <urn:x:o> }"
    try:
        (worker,) = _children(proc.pid)
        before = _children(worker)
        start = time.monotonic()
        # ~30 million solutions over the KB's graphs (an update's WHERE has no union default)
        slow = "INSERT { GRAPH <urn:x:g> { ?a <urn:x:p> ?f } } WHERE { GRAPH ?g { ?a ?b ?c } GRAPH ?h { ?d ?e ?f } }"  # noqa: E501
        response = requests.post(url, data=slow, headers=headers, timeout=30)
        assert response.status_code == 503 and "query_timeout" in response.text
        assert time.monotonic() - start < 3.0
        assert _children(worker) <= before  # the dry-run child is gone
        assert requests.get(url, params={"query": COUNT_TECHNOLOGIES}, timeout=10).ok
        good = "INSERT DATA { GRAPH <urn:x:g> { <urn:x:s> <urn:x:p> <urn:x:o> } }"
        assert requests.post(url, data=good, headers=headers, timeout=30).status_code == 204
        answer = requests.get(url, params={"query": marker, "format": "json"}, timeout=10)
        assert answer.json()["boolean"] is True
    finally:
        _stop(proc)
