"""The browser UI: recommendation wizard (``/``), comparison (``/compare``), SPARQL editor.

The pages are static shells (Jinja templates in ``templates/ui/``) whose scripts
(``static/ui/*.js``) read everything from the REST API and ``/sparql``: no number shown in a page
is typed into it. Browser libraries come from npm (``package.json``, installed with ``npm ci``)
and are served by ``/vendor/<path>`` from ``node_modules`` — only the files listed in
:data:`VENDOR_FILES`, never anything else from that folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, Response, abort, render_template, send_file

bp = Blueprint("ui", __name__)

#: URL path under /vendor/ -> file under node_modules. The only files /vendor/ serves.
VENDOR_FILES: dict[str, str] = {
    "codemirror/codemirror.js": "codemirror/lib/codemirror.js",
    "codemirror/codemirror.css": "codemirror/lib/codemirror.css",
    "codemirror/sparql.js": "codemirror/mode/sparql/sparql.js",
    "codemirror/matchbrackets.js": "codemirror/addon/edit/matchbrackets.js",
    "codemirror/LICENSE": "codemirror/LICENSE",
}

_MEDIA = {".js": "text/javascript", ".css": "text/css"}


def node_modules() -> Path:
    """Where ``npm ci`` put the browser libraries (``VIRTKG_NODE_MODULES`` overrides)."""
    configured = os.environ.get("VIRTKG_NODE_MODULES")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "node_modules"


@bp.get("/")
def wizard() -> str:
    """The recommendation wizard; its state lives in the query string."""
    return render_template("ui/wizard.html", page="wizard")


@bp.get("/compare")
def compare() -> str:
    """Side-by-side comparison of 2 to 6 technologies (``?ids=a,b``)."""
    return render_template("ui/compare.html", page="compare")


@bp.get("/sparql-editor")
def sparql_editor() -> str:
    """A SPARQL editor over ``/sparql`` with the saved queries."""
    return render_template("ui/sparql.html", page="sparql")


@bp.get("/vendor/<path:name>")
def vendor(name: str) -> Response:
    """One allow-listed file from node_modules (404 for anything else)."""
    relative = VENDOR_FILES.get(name)
    if relative is None:
        abort(404)
    path = node_modules() / relative
    if not path.is_file():
        return Response(
            f"/vendor/{name} is missing: run `npm ci` in the project root to install it\n",
            status=404,
            mimetype="text/plain",
        )
    media = _MEDIA.get(path.suffix, "text/plain")
    resp = send_file(path, mimetype=media, max_age=3600)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
