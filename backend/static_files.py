"""Static files (the officers' app, the public pages, Swagger UI's files), compressed as the client accepts.

``send_static(directory, filename)`` answers one file the way a static server (nginx's ``gzip_static``)
would:

* **Content coding** negotiated from ``Accept-Encoding``: Brotli, then gzip, then the file as it is. The
  compressed copies are files beside the original (``x.js.br``, ``x.js.gz``) made when the app is built
  (``pwa/scripts/precompress.mjs``); a text file without them (the public pages, Swagger UI) is gzipped
  here once and kept in memory (Python has no Brotli). Every answer that could have been coded otherwise
  says ``Vary: Accept-Encoding``, so no shared cache hands Brotli to a client that cannot read it.
* **Type and length**: ``Content-Type`` is the original's (never ``application/gzip``), ``Content-Length``
  the bytes sent, and each coding has its own ``ETag`` (a strong validator names one representation).
* **Conditional requests and ranges** through Werkzeug: ``If-None-Match``/``If-Modified-Since`` give 304,
  ``HEAD`` the same headers without a body. A ``Range`` request always gets the file as it is: a range
  counts bytes of the file, whatever a previous answer was coded with (a download resumed after a
  change of ``Accept-Encoding`` must not splice Brotli onto plain bytes).

No Flask here beyond the request being answered; the caller sets ``Cache-Control``.
"""
from __future__ import annotations

import gzip
import io
import os
import zlib
from functools import lru_cache
from pathlib import Path

from flask import Response, abort, request
from werkzeug.security import safe_join
from werkzeug.utils import send_file

# MIME types by suffix, whatever the system's table says (the service worker, the manifest and the QR
# decoder need these exact ones)
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html",
         ".webmanifest": "application/manifest+json", ".wasm": "application/wasm", ".json": "application/json",
         ".png": "image/png", ".svg": "image/svg+xml", ".txt": "text/plain", ".map": "application/json",
         ".ico": "image/x-icon", ".woff2": "font/woff2"}
# worth compressing (images and fonts are compressed already)
COMPRESSIBLE = frozenset({".js", ".mjs", ".css", ".html", ".webmanifest", ".wasm", ".json", ".svg", ".txt",
                          ".map", ".ico"})
CODINGS = (("br", ".br"), ("gzip", ".gz"))        # in order of preference when the client takes both alike
PRECOMPRESSED = tuple(suffix for _, suffix in CODINGS)
# gzip made here (files without a precompressed copy): only files up to this size, a few dozen kept
MEMORY_GZIP_MAX_BYTES = 8 * 1024 * 1024
MIN_COMPRESS_BYTES = 256


def content_type(filename: str) -> str | None:
    return TYPES.get(Path(filename).suffix.lower())


def resolve(directory: str | os.PathLike, filename: str) -> Path | None:
    """The file ``filename`` under ``directory``, or None (outside it, missing, a folder, or one of the
    precompressed copies, which are never answered as files of their own)."""
    joined = safe_join(str(directory), filename) if filename else None
    if not joined or filename.endswith(PRECOMPRESSED) and Path(joined[:-3]).is_file():
        return None
    path = Path(joined)
    return path if path.is_file() else None


def accepted_coding(accept_encoding: str | None, available: tuple[str, ...]) -> str | None:
    """The content coding to send among ``available`` (``"br"``, ``"gzip"``), or None for the file as it
    is. The client's highest q-value wins, Brotli before gzip on a tie; ``q=0`` refuses a coding, ``*``
    stands for any not named. No header: the file as it is."""
    if not accept_encoding:
        return None
    named: dict[str, float] = {}
    for part in accept_encoding.split(","):
        token, _, params = part.strip().partition(";")
        token = token.strip().lower()
        if not token:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
                q = q if 0.0 <= q <= 1.0 else 0.0
        named[token] = max(q, named.get(token, 0.0))
    if "x-gzip" in named and "gzip" not in named:
        named["gzip"] = named["x-gzip"]
    best, best_q = None, 0.0
    for coding in available:
        q = named.get(coding, named.get("*", 0.0))
        if q > best_q:
            best, best_q = coding, q
    return best


@lru_cache(maxsize=48)
def _memory_gzip(path: str, mtime_ns: int, size: int) -> bytes | None:
    """gzip of a file without a precompressed copy, once per version of the file (mtime, size)."""
    data = Path(path).read_bytes()
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    return packed if len(packed) < len(data) else None


def send_static(directory: str | os.PathLike, filename: str, *, mimetype: str | None = None) -> Response:
    """Answer ``filename`` from ``directory`` (404 if it is not a file there), compressed as negotiated,
    with ``Cache-Control: no-cache`` (the caller may allow more)."""
    path = resolve(directory, filename)
    if path is None:
        abort(404)
    mimetype = mimetype or content_type(path.name)
    stat = path.stat()
    variants: dict[str, Path | bytes] = {}
    for coding, suffix in CODINGS:
        sibling = path.with_name(path.name + suffix)
        if sibling.is_file():
            variants[coding] = sibling
    compressible = path.suffix.lower() in COMPRESSIBLE
    if not variants and compressible and MIN_COMPRESS_BYTES <= stat.st_size <= MEMORY_GZIP_MAX_BYTES:
        packed = _memory_gzip(str(path), stat.st_mtime_ns, stat.st_size)
        if packed is not None:
            variants["gzip"] = packed
    ranged = "Range" in request.headers
    coding = None if ranged else accepted_coding(request.headers.get("Accept-Encoding"), tuple(variants))
    if coding is None:
        response = send_file(path, request.environ, mimetype=mimetype)
    else:
        chosen = variants[coding]
        if isinstance(chosen, Path):
            response = send_file(chosen, request.environ, mimetype=mimetype)
        else:
            tag = f"{stat.st_mtime}-{len(chosen)}-{zlib.adler32(str(path).encode() + b'.gz') & 0xFFFFFFFF}"
            response = send_file(io.BytesIO(chosen), request.environ, mimetype=mimetype, etag=tag,
                                 last_modified=stat.st_mtime)
        if response.status_code != 304:
            response.headers["Content-Encoding"] = coding
    if variants or compressible:
        response.vary.add("Accept-Encoding")
    response.headers.pop("Content-Disposition", None)   # a page or a script shown, never a download name
    return response
