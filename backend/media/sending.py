"""Sending a stored file over HTTP, whichever store holds it (``backend.media.storage``).

A local store's file goes out as Flask's ``send_file`` sends a path (``sendfile``, Range, conditional
requests), exactly as before. A file in S3 is streamed through the app (same origin: the CSP and the
access checks stay ours; no presigned URL leaves the server): its length comes from a HEAD, the bytes
from a ranged GET that starts only when the body is read, so a ``304`` reads nothing and a ``206`` reads
only its range.
"""
from __future__ import annotations

from flask import request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import FileWrapper

from backend.media.storage import Store


def send_stored_file(store: Store, sha256: str, *, mimetype: str, as_attachment: bool = False,
                     download_name: str | None = None, conditional: bool = True, etag: bool | str = True,
                     max_age=None, last_modified=None):
    """A response with the stored file ``sha256``; ``FileNotFoundError`` when the store has no such file.
    The keywords are ``flask.send_file``'s (``etag=True`` names the file by its hash)."""
    path = store.direct_path(sha256)
    tag = sha256 if etag is True else etag
    if path is not None:
        if not path.is_file():
            raise FileNotFoundError(sha256)
        return send_file(path, mimetype=mimetype, as_attachment=as_attachment, download_name=download_name,
                         conditional=conditional, etag=tag, max_age=max_age, last_modified=last_modified)
    reader = store.open(sha256)          # FileNotFoundError when it is not there
    size = getattr(reader, "size", None)
    if size is None:
        size = store.size(sha256)
    rv = send_file(reader, mimetype=mimetype, as_attachment=as_attachment, download_name=download_name,
                   conditional=False, etag=tag, max_age=max_age, last_modified=last_modified)
    # werkzeug's wrapper, not the server's (gunicorn's cannot seek): a range then seeks the reader, which
    # starts its GET at the range's first byte instead of reading the object up to it
    rv.response = FileWrapper(reader, 256 * 1024)
    rv.content_length = size
    if conditional:
        try:
            rv = rv.make_conditional(request.environ, accept_ranges=True, complete_length=size)
        except RequestedRangeNotSatisfiable:
            reader.close()
            raise
        if rv.status_code == 304:
            reader.close()
    return rv
