"""The plain-HTTP side of the server: static files of clients/web, /status, the Origin check.

    response = static_response(web_root, "/")          # clients/web/index.html
    response = json_response(200, {"listeners": 3})
    origin_allowed(request.headers, ("https://example.org",), loopback_only=True)
    is_loopback("127.0.0.1"), is_loopback("0.0.0.0")   # True, False

websockets answers every HTTP request on the port through `process_request`; these
build its Response objects. Only files directly inside the web root (or below it) are
served; anything that resolves outside it is a 404.
"""

from __future__ import annotations

import ipaddress
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
    try:
        target = (root / name).resolve()
        found = target.is_relative_to(root) and target.is_file()
    except (ValueError, OSError):  # a NUL byte, a name too long for the filesystem, ...
        found = False
    if not found:
        shown = "".join(c if c.isprintable() else "?" for c in name[:200])
        return text_response(404, f"not found: /{shown}")
    kind = TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
    return response(200, target.read_bytes(), kind or "application/octet-stream")


def is_loopback(host: str) -> bool:
    """Whether a host name or address (without port) is this machine's loopback."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def origin_allowed(headers: Headers, allowed: Iterable[str], loopback_only: bool = False) -> bool:
    """No Origin (not a browser), a configured origin, or the page's own host.

    loopback_only (a server bound to loopback): the page's own host counts only when it
    is a loopback name. A page of another site whose name was made to resolve to 127.0.0.1
    (DNS rebinding) sends its own name as both Origin and Host; it is refused."""
    origin = headers.get("Origin")
    if origin is None:
        return True
    if origin in set(allowed):
        return True
    host = headers.get("Host", "")
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not host or parts.netloc != host:
        return False
    return not loopback_only or is_loopback(parts.hostname or "")
