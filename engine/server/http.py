"""The plain-HTTP side of the server: static files of clients/web, /status, the Origin check.

    response = static_response(web_root, "/")          # clients/web/index.html
    response = json_response(200, {"listeners": 3})
    origin_allowed(request.headers, ("https://example.org",))

websockets answers every HTTP request on the port through `process_request`; these
build its Response objects. Only files directly inside the web root (or below it) are
served; anything that resolves outside it is a 404.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterable
from http import HTTPStatus
from pathlib import Path
from urllib.parse import unquote, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Response

TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".json": "application/json",
         ".svg": "image/svg+xml", ".wasm": "application/wasm"}


def response(status: int, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-cache"), ("X-Content-Type-Options", "nosniff")])
    return Response(status, HTTPStatus(status).phrase, headers, body)


def json_response(status: int, obj: object) -> Response:
    return response(status, (json.dumps(obj, indent=1) + "\n").encode(), "application/json")


def text_response(status: int, text: str) -> Response:
    return response(status, (text + "\n").encode(), "text/plain; charset=utf-8")


def static_response(web_root: Path, path: str) -> Response:
    """The file of clients/web that `path` names ("/" = index.html), or a 404."""
    name = unquote(urlsplit(path).path).lstrip("/") or "index.html"
    root = web_root.resolve()
    target = (root / name).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        return text_response(404, f"not found: /{name[:200]}")
    kind = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
    return response(200, target.read_bytes(), kind or "application/octet-stream")


def origin_allowed(headers: Headers, allowed: Iterable[str]) -> bool:
    """No Origin (not a browser), the page's own host, or a configured origin."""
    origin = headers.get("Origin")
    if origin is None:
        return True
    if origin in set(allowed):
        return True
    host = headers.get("Host", "")
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc == host
