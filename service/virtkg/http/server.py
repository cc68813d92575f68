"""Running the app under ``Settings.server``: granian (the default: a Rust HTTP front over the
WSGI app), gunicorn (sync workers), or Werkzeug's threaded development server (one process).

In both production servers each worker process builds the app itself (loads the KB, which the
reasoning cache makes fast) and forks its own query worker processes on its first query; nothing
is preloaded in the master, so no executor is ever shared between processes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from typing import Any

from virtkg.config import Settings
from virtkg.errors import ConfigurationError

log = logging.getLogger("virtkg.http")

#: Servers ``Settings.server`` can name; all but ``werkzeug`` run ``--workers`` processes.
SERVERS = ("granian", "gunicorn", "werkzeug")
#: Environment variable that hands the settings to granian's worker processes (which may be
#: spawned rather than forked, so a module global would not reach them).
_SETTINGS_ENV = "VIRTKG_SERVE_SETTINGS_JSON"
#: Python threads per granian worker that run WSGI calls. Two, so that a slow query (its thread
#: waits on a query worker's socket, the GIL free) never holds up the process's cheap requests;
#: more cost CPU per request (bench_http, 2 cores: 62 us of server CPU per small lookup with 2
#: threads, 69 with 4; at one connection 82 vs 108 us, as every request wakes another thread).
GRANIAN_BLOCKING_THREADS = 2


def run_server(settings: Settings) -> None:
    """Serve the app on ``settings.host:settings.port`` under ``settings.server``."""
    if settings.server not in SERVERS:
        from virtkg.errors import InvalidParameter

        raise InvalidParameter(
            f"server={settings.server!r} is not known; use {', '.join(SERVERS)}",
            details={"allowed": list(SERVERS)},
        )
    if settings.server == "werkzeug":
        run_development_server(settings)
        return
    check_serving_processes(settings)
    if settings.server == "granian":
        run_granian(settings)
    else:
        run_gunicorn(settings)


def run_development_server(settings: Settings) -> None:
    """Werkzeug's threaded server in this process (for development and debugging)."""
    from werkzeug.serving import run_simple

    from virtkg.http import create_app

    app = create_app(settings)
    log.info("virtkg serving on http://%s:%s/ (development server)", settings.host, settings.port)
    run_simple(settings.host, settings.port, app, threaded=True, use_reloader=False)


def _workers(settings: Settings) -> int:
    """Serving processes: ``settings.workers``, else one when the store cannot be shared
    (on disk, or in memory with updates on: see :func:`check_serving_processes`), else one per
    core."""
    if settings.workers:
        return settings.workers
    if settings.store == "embedded" and (settings.store_path or settings.update_token):
        return 1
    return os.cpu_count() or 1


def check_serving_processes(settings: Settings) -> None:
    """Refuse (:class:`~virtkg.errors.ConfigurationError`) an embedded store that several serving
    processes cannot share the way the settings need.

    Only an explicit ``--workers N`` can ask for this (the default is then one process). Each
    production worker opens the store itself. On disk, RocksDB lets only one process open it
    for writing, so the other workers would fail to start. In memory, each worker holds its own
    copy, so an update would change only the process that took it and later requests would get
    different answers depending on the process that serves them.
    """
    workers = _workers(settings)
    if settings.store != "embedded" or workers <= 1:
        return
    if settings.store_path:
        raise ConfigurationError(
            f"--store-path with {workers} serving processes: a store on disk can be opened by one "
            "process only (RocksDB's lock). Use --workers 1, or a remote store (--endpoint) "
            "that several processes share",
            details={"workers": workers, "store_path": settings.store_path},
        )
    if settings.update_token:
        raise ConfigurationError(
            f"SPARQL Update (update_token) with the in-memory store and {workers} serving "
            "processes: each process holds its own copy, so an update would reach only the one "
            "that took it. Use --workers 1 (add --store-path to keep updates across restarts), or "
            "a remote store (--endpoint) that every process shares",
            details={"workers": workers},
        )


# --- gunicorn -------------------------------------------------------------------------------


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """gunicorn settings for production mode: sync workers, one per core by default."""
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": _workers(settings),
        "worker_class": "sync",
        # Each worker loads the KB itself (the reasoning cache makes that fast) and forks its own
        # query workers; preloading would share one executor between processes.
        "preload_app": False,
        "timeout": int(settings.query_timeout) + 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
    }


def run_gunicorn(settings: Settings) -> None:
    """Run the app under gunicorn with the options from :func:`gunicorn_options`."""
    from gunicorn.app.base import BaseApplication

    class VirtkgApplication(BaseApplication):
        def load_config(self) -> None:
            for key, value in gunicorn_options(settings).items():
                self.cfg.set(key, value)

        def load(self):  # noqa: ANN202 - a WSGI app
            from virtkg.http import create_app

            return create_app(settings)

    VirtkgApplication().run()


# --- granian --------------------------------------------------------------------------------


def granian_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``granian.Granian``: WSGI, one worker process per core by default."""
    from granian.constants import HTTPModes, Interfaces
    from granian.log import LogLevels

    level = settings.log_level.lower()
    return {
        "target": f"{__name__}:granian_app",
        "factory": True,  # granian_app() runs in each worker process, after it started
        "address": settings.host,
        "port": settings.port,
        "interface": Interfaces.WSGI,
        "http": HTTPModes.http1,
        "workers": _workers(settings),
        "blocking_threads": GRANIAN_BLOCKING_THREADS,
        "respawn_failed_workers": True,
        "workers_kill_timeout": 10,
        "log_level": LogLevels(level) if level in LogLevels.__members__ else LogLevels.info,
        "log_access": False,  # virtkg writes its own JSON access log
    }


def granian_app():  # noqa: ANN201 - a WSGI app
    """granian's app factory, called in each worker process with the settings of the master."""
    from virtkg.http import create_app

    raw = json.loads(os.environ[_SETTINGS_ENV])
    settings = Settings(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
    return create_app(settings)


def run_granian(settings: Settings) -> None:
    """Run the app under granian (Rust HTTP front, WSGI) with :func:`granian_options`."""
    from granian import Granian

    os.environ[_SETTINGS_ENV] = json.dumps(dataclasses.asdict(settings))
    Granian(**granian_options(settings)).serve()
