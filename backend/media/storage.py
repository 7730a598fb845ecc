"""Content-addressed file storage in a folder: a file lives at ``<media_dir>/ab/cd/<sha256>``.

The same bytes are stored once; a file is written to a temporary name and renamed, so a
reader (an rq worker in another process) never sees half a file. The interface is small
so that an S3-compatible store can stand behind it later.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1024 * 1024


class TooLarge(Exception):
    """The stream is longer than the limit given to :func:`store_stream`."""


def path_for(media_dir: str | os.PathLike, sha256: str) -> Path:
    """Where the file with this hash lives (the hash is checked: no path tricks)."""
    sha256 = sha256.lower()
    if not SHA256_RE.match(sha256):
        raise ValueError("not a SHA-256 hex digest")
    return Path(media_dir) / sha256[:2] / sha256[2:4] / sha256


def exists(media_dir: str | os.PathLike, sha256: str) -> bool:
    return path_for(media_dir, sha256).is_file()


def _temporary(media_dir: str | os.PathLike) -> tuple[int, str]:
    tmp_dir = Path(media_dir) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return tempfile.mkstemp(dir=tmp_dir, prefix="up-")


def _place(media_dir: str | os.PathLike, tmp_path: str, sha256: str) -> None:
    final = path_for(media_dir, sha256)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        os.unlink(tmp_path)
    else:
        os.replace(tmp_path, final)


def store_stream(media_dir: str | os.PathLike, stream: BinaryIO, max_bytes: int | None = None) -> tuple[str, int]:
    """Copy ``stream`` into the store; return (sha256, size). Raises TooLarge past ``max_bytes``."""
    fd, tmp_path = _temporary(media_dir)
    h, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLarge()
                h.update(chunk)
                out.write(chunk)
        sha256 = h.hexdigest()
        _place(media_dir, tmp_path, sha256)
        return sha256, size
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise


def store_bytes(media_dir: str | os.PathLike, data: bytes) -> str:
    """Store ``data``; return its SHA-256 hex digest."""
    import io

    return store_stream(media_dir, io.BytesIO(data))[0]


def store_file(media_dir: str | os.PathLike, source: str | os.PathLike, *, move: bool = False) -> tuple[str, int]:
    """Store the file at ``source`` (moved when ``move``, else copied); return (sha256, size)."""
    h, size = hashlib.sha256(), 0
    with open(source, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    sha256 = h.hexdigest()
    final = path_for(media_dir, sha256)
    if final.exists():
        if move:
            os.unlink(source)
        return sha256, size
    fd, tmp_path = _temporary(media_dir)
    os.close(fd)
    try:
        if move:
            shutil.move(os.fspath(source), tmp_path)
        else:
            shutil.copyfile(source, tmp_path)
        _place(media_dir, tmp_path, sha256)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise
    return sha256, size


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def place_file(media_dir: str | os.PathLike, source: str | os.PathLike, sha256: str) -> Path:
    """Move ``source``, whose SHA-256 the caller has just computed, into the store (atomic rename)."""
    final = path_for(media_dir, sha256)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        os.unlink(source)
    else:
        os.replace(source, final)
    return final


def remove(media_dir: str | os.PathLike, sha256: str) -> int:
    """Delete the stored file with this hash; return the bytes freed (0 when it was not there)."""
    path = path_for(media_dir, sha256)
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return 0
    return size
