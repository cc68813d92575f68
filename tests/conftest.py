"""Shared fixtures. ``oxigraph_server`` is a real Oxigraph SPARQL server (the `oxigraph` CLI)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

#: How long a server may take to answer after it is started.
SERVER_START_SECONDS = 15.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def oxigraph_binary() -> str:
    """The `oxigraph` server CLI installed next to this Python (PyPI package `oxigraph`)."""
    found = shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which(
        "oxigraph"
    )
    if not found:
        pytest.fail("the `oxigraph` CLI is missing: pip install 'virtkg[test]'")
    return found


class OxigraphServer:
    """One `oxigraph serve` process; ``url`` is its base (``/query``, ``/update``, ``/store``)."""

    def __init__(self, location: Path, port: int | None = None) -> None:
        self.location = location
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def query_url(self) -> str:
        return self.url + "/query"

    @property
    def update_url(self) -> str:
        return self.url + "/update"

    @property
    def store_url(self) -> str:
        return self.url + "/store"

    def start(self) -> OxigraphServer:
        """Start the server and wait (at most SERVER_START_SECONDS) until it answers."""
        command = [oxigraph_binary(), "serve", "--location", str(self.location)]
        command += ["--bind", f"127.0.0.1:{self.port}", "--union-default-graph"]
        log = self.location.with_name(self.location.name + f"-{self.port}.log")
        with log.open("ab") as log_file:  # a file, not a pipe: a full pipe would block the server
            self.process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + SERVER_START_SECONDS
        probe = self.query_url + "?query=ASK%7B%7D"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = log.read_text(errors="replace")
                pytest.fail(f"oxigraph exited with {self.process.returncode}: {output}")
            try:
                with urllib.request.urlopen(probe, timeout=1) as response:
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"oxigraph did not answer within {SERVER_START_SECONDS} s")

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop within 5 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of an Oxigraph server for the whole session (union default graph on).

    Endpoints: ``{url}/query``, ``{url}/update``, ``{url}/store`` (Graph Store Protocol).
    Tests share its data: clear what you rely on (e.g. ``DROP ALL``) before using it.
    """
    server = OxigraphServer(tmp_path_factory.mktemp("oxigraph")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def spawn_oxigraph(tmp_path: Path) -> Iterator[Callable[..., OxigraphServer]]:
    """Start extra Oxigraph servers (e.g. to stop and restart one); all are stopped at the end."""
    servers: list[OxigraphServer] = []

    def spawn(port: int | None = None, location: Path | None = None) -> OxigraphServer:
        server = OxigraphServer(location or tmp_path / f"oxigraph-{len(servers)}", port)
        servers.append(server)
        return server.start()

    yield spawn
    for server in servers:
        server.stop()
