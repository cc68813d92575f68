"""Running the app: Werkzeug's threaded server for `virtkg serve`, gunicorn for `--production`."""

from __future__ import annotations

import logging
import os
from typing import Any

from virtkg.config import Settings

log = logging.getLogger("virtkg.http")


def run_server(settings: Settings, *, production: bool = False) -> None:
    """Serve the app on ``settings.host:settings.port`` until interrupted."""
    if production:
        run_gunicorn(settings)
        return
    from werkzeug.serving import run_simple

    from virtkg.http import create_app

    app = create_app(settings)
    log.info("virtkg serving on http://%s:%s/", settings.host, settings.port)
    run_simple(settings.host, settings.port, app, threaded=True, use_reloader=False)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """gunicorn settings for production mode: sync workers, one per core by default."""
    workers = settings.workers or (os.cpu_count() or 1)
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": workers,
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
