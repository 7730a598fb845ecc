"""Content-addressed file storage behind one small interface (:class:`Store`), in two implementations.

* :class:`LocalStore` (the default): a folder, a file lives at ``<media_dir>/ab/cd/<sha256>``. A file is
  written to a temporary name and renamed, so a reader (an rq worker in another process) never sees half a
  file.
* :class:`S3Store` (``MEDIA_STORAGE=s3``): an S3-compatible object store (the 政务云's object storage speaks
  S3), the object key ``<MEDIA_S3_PREFIX>ab/cd/<sha256>``. An object appears whole when its PUT ends.

The same bytes are stored once in either. ``MEDIA_DIR`` stays a local (or shared) working folder in both:
unfinished resumable uploads (``uploads/``, docs/decisions.md "Files past one machine") and temporary files
(``tmp/``). Code that has a ``media_dir`` asks :func:`get` for its store: the app registers the store its
settings describe for its ``MEDIA_DIR`` (:func:`configure`), and a folder nobody registered is a local store.

The module-level helpers (``path_for``, ``store_bytes`` …) are the local store's, kept for tests and tools
that work on a folder.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import io
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, Iterator, Mapping, Protocol, runtime_checkable

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
log = logging.getLogger(__name__)
CHUNK = 1024 * 1024


class TooLarge(Exception):
    """The stream is longer than the limit given to ``put_stream``."""


def _checked(sha256: str) -> str:
    sha256 = sha256.lower() if isinstance(sha256, str) else ""
    if not SHA256_RE.match(sha256):
        raise ValueError("not a SHA-256 hex digest")
    return sha256


def relative_key(sha256: str) -> str:
    """``ab/cd/<sha256>`` (the hash is checked: no path tricks)."""
    sha256 = _checked(sha256)
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


@runtime_checkable
class Store(Protocol):
    """A content-addressed file store. Every method takes a SHA-256 hex digest (``ValueError`` otherwise)."""

    kind: str           # "local" or "s3"
    work_dir: Path      # local folder for temporary files (``MEDIA_DIR``)

    def put_file(self, source: str | os.PathLike, sha256: str, *, move: bool = False) -> None:
        """Store the file at ``source``, whose SHA-256 the caller has just computed (moved when ``move``)."""

    def put_stream(self, stream: BinaryIO, max_bytes: int | None = None) -> tuple[str, int]:
        """Copy ``stream`` into the store; return (sha256, size). ``TooLarge`` past ``max_bytes``."""

    def spool(self, stream: BinaryIO, max_bytes: int | None = None
              ) -> contextlib.AbstractContextManager[tuple[str, str, int]]:
        """``stream`` in a temporary file, hashed, not yet stored: (path, SHA-256, size); removed on exit."""

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; return its SHA-256."""

    def exists(self, sha256: str) -> bool: ...

    def size(self, sha256: str) -> int | None:
        """The stored file's length, None when it is not there."""

    def open(self, sha256: str) -> BinaryIO:
        """A seekable binary reader (``FileNotFoundError`` when the file is not there); close it."""

    def read_bytes(self, sha256: str) -> bytes: ...

    def local_file(self, sha256: str) -> contextlib.AbstractContextManager[Path]:
        """The file on local disk for code that needs a path (Pillow, readers): the file itself, or a
        temporary copy removed on exit. ``FileNotFoundError`` when it is not there."""

    def direct_path(self, sha256: str) -> Path | None:
        """The file's own path when the store is a local folder (served with ``sendfile``), else None."""

    def remove(self, sha256: str) -> int:
        """Delete the file; return the bytes freed (0 when it was not there)."""

    def list(self) -> Iterator[tuple[str, int]]:
        """Every stored file as (sha256, size), in no promised order (the clean-up's inventory)."""

    def remove_stale_partials(self, before: float) -> int:
        """What a writer that died left half-written, begun before ``before`` (a POSIX time): the temporary files
        of ``work_dir/tmp`` and, in a bucket, the unfinished multipart uploads (invisible, and stored, until
        aborted). Return how many were removed (the scheduled clean-up)."""


def hash_file(path: str | os.PathLike) -> tuple[str, int]:
    """(SHA-256, size) of the file at ``path``."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class _Spooling:
    """Shared by both stores: a stream is spooled to ``work_dir/tmp`` while it is hashed, then put by hash."""

    work_dir: Path

    def temporary(self) -> tuple[int, str]:
        tmp_dir = self.work_dir / "tmp"
        try:   # the folder is made once, not asked for at every file
            return tempfile.mkstemp(dir=tmp_dir, prefix="up-")
        except FileNotFoundError:
            tmp_dir.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(dir=tmp_dir, prefix="up-")

    @contextlib.contextmanager
    def spool(self, stream: BinaryIO, max_bytes: int | None = None) -> Iterator[tuple[str, str, int]]:
        """``stream`` copied to a temporary file of ``work_dir/tmp`` and hashed: (its path, SHA-256, size), removed
        on exit unless moved into the store (``put_file(path, sha256, move=True)``). ``TooLarge`` past ``max_bytes``."""
        fd, tmp_path = self.temporary()
        h, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise TooLarge()
                    h.update(chunk)
                    out.write(chunk)
            yield tmp_path, h.hexdigest(), size
        finally:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)

    def put_stream(self, stream: BinaryIO, max_bytes: int | None = None) -> tuple[str, int]:
        with self.spool(stream, max_bytes) as (tmp_path, sha256, size):
            self.put_file(tmp_path, sha256, move=True)
            return sha256, size

    def put_path(self, source: str | os.PathLike, *, move: bool = False) -> tuple[str, int]:
        """Hash the file at ``source`` and store it; return (sha256, size)."""
        sha256, size = hash_file(source)
        self.put_file(source, sha256, move=move)
        return sha256, size

    def read_bytes(self, sha256: str) -> bytes:
        with self.open(sha256) as f:
            return f.read()

    def remove_stale_partials(self, before: float) -> int:
        folder, removed = self.work_dir / "tmp", 0
        if not folder.is_dir():
            return 0
        for entry in os.scandir(folder):
            try:
                if entry.is_file() and entry.stat().st_mtime < before:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                pass
        return removed


class LocalStore(_Spooling):
    """Files in a folder: ``<root>/ab/cd/<sha256>``."""

    kind = "local"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.work_dir = self.root

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def path(self, sha256: str) -> Path:
        return self.root / relative_key(sha256)

    def direct_path(self, sha256: str) -> Path | None:
        return self.path(sha256)

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def size(self, sha256: str) -> int | None:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def put_file(self, source: str | os.PathLike, sha256: str, *, move: bool = False) -> None:
        final = self.path(sha256)
        if final.exists():
            if move:
                os.unlink(source)
            return
        if move and _same_device(source, self.root):
            try:
                os.replace(source, final)   # atomic: a reader sees no file or the whole file
            except FileNotFoundError:       # the first file of its folder (or no source: raised again)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, final)
            return
        fd, tmp_path = self.temporary()
        os.close(fd)
        try:
            if move:
                shutil.move(os.fspath(source), tmp_path)
            else:
                shutil.copyfile(source, tmp_path)
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.exists():
                os.unlink(tmp_path)
            else:
                os.replace(tmp_path, final)
        finally:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)

    def put_bytes(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        if self.exists(sha256):
            return sha256
        fd, tmp_path = self.temporary()
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            self.put_file(tmp_path, sha256, move=True)
        finally:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)
        return sha256

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")  # noqa: SIM115 - the caller closes it

    @contextlib.contextmanager
    def local_file(self, sha256: str) -> Iterator[Path]:
        path = self.path(sha256)
        if not path.is_file():
            raise FileNotFoundError(sha256)
        yield path

    def remove(self, sha256: str) -> int:
        path = self.path(sha256)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def list(self) -> Iterator[tuple[str, int]]:
        if not self.root.is_dir():
            return
        for first in sorted(os.scandir(self.root), key=lambda e: e.name):
            if len(first.name) != 2 or not first.is_dir():
                continue
            for second in os.scandir(first.path):
                if len(second.name) != 2 or not second.is_dir():
                    continue
                for entry in os.scandir(second.path):
                    if SHA256_RE.match(entry.name) and entry.is_file():
                        yield entry.name, entry.stat().st_size


def _same_device(source: str | os.PathLike, root: Path) -> bool:
    try:
        return os.stat(source).st_dev == os.stat(root).st_dev
    except FileNotFoundError:
        return False


class S3Store(_Spooling):
    """Objects in an S3-compatible bucket, keyed ``<prefix>ab/cd/<sha256>`` (boto3)."""

    kind = "s3"

    def __init__(self, work_dir: str | os.PathLike, *, bucket: str, endpoint_url: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None, region: str | None = None,
                 prefix: str = "", addressing_style: str = "path", client=None):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.work_dir = Path(work_dir)
        self.bucket, self.prefix = bucket, prefix
        self.endpoint_url = endpoint_url
        # S3-compatible stores other than AWS often refuse the CRC checksums newer boto3 sends by default
        config = Config(s3={"addressing_style": addressing_style}, retries={"max_attempts": 5, "mode": "standard"},
                        max_pool_connections=32, connect_timeout=5, read_timeout=60,
                        request_checksum_calculation="when_required", response_checksum_validation="when_required")
        self.client = client or boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url or None, aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None, region_name=region or None, config=config)
        self.transfer = TransferConfig(multipart_threshold=64 * CHUNK, multipart_chunksize=16 * CHUNK, use_threads=False)

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, endpoint={self.endpoint_url!r}, prefix={self.prefix!r})"

    def key(self, sha256: str) -> str:
        return self.prefix + relative_key(sha256)

    def direct_path(self, sha256: str) -> Path | None:
        _checked(sha256)
        return None

    def _head(self, sha256: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise

    def exists(self, sha256: str) -> bool:
        return self._head(sha256) is not None

    def size(self, sha256: str) -> int | None:
        head = self._head(sha256)
        return None if head is None else int(head["ContentLength"])

    def put_file(self, source: str | os.PathLike, sha256: str, *, move: bool = False) -> None:
        if not self.exists(sha256):
            self.client.upload_file(os.fspath(source), self.bucket, self.key(sha256),
                                    ExtraArgs={"ContentType": "application/octet-stream"}, Config=self.transfer)
        if move:
            os.unlink(source)

    def put_bytes(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.exists(sha256):
            self.client.put_object(Bucket=self.bucket, Key=self.key(sha256), Body=data,
                                   ContentType="application/octet-stream")
        return sha256

    def open(self, sha256: str) -> BinaryIO:
        head = self._head(sha256)
        if head is None:
            raise FileNotFoundError(sha256)
        reader = io.BufferedReader(_ObjectReader(self.client, self.bucket, self.key(sha256), int(head["ContentLength"])),
                                   buffer_size=256 * 1024)
        reader.size = int(head["ContentLength"])   # known from the HEAD: no second one to serve it
        return reader

    def read_bytes(self, sha256: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(sha256))["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise FileNotFoundError(sha256) from None
            raise
        with contextlib.closing(body):
            return body.read()

    @contextlib.contextmanager
    def local_file(self, sha256: str) -> Iterator[Path]:
        from botocore.exceptions import ClientError

        fd, tmp_path = self.temporary()
        os.close(fd)
        try:
            try:
                self.client.download_file(self.bucket, self.key(sha256), tmp_path, Config=self.transfer)
            except ClientError as exc:
                if _missing(exc):
                    raise FileNotFoundError(sha256) from None
                raise
            yield Path(tmp_path)
        finally:
            if os.path.exists(tmp_path):
                os.unlink(tmp_path)

    def remove(self, sha256: str) -> int:
        size = self.size(sha256)
        if size is None:
            return 0
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha256))
        return size

    def remove_stale_partials(self, before: float) -> int:
        """The temporary files, and the multipart uploads under this prefix begun before ``before``: a writer
        killed in the middle of one (boto3 aborts it only when it sees the failure) leaves its parts stored in the
        bucket, listed nowhere but here. A live upload is minutes old; ``before`` is hours ago."""
        from botocore.exceptions import ClientError

        removed = super().remove_stale_partials(before)
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=self.prefix)
        try:
            for page in pages:
                for upload in page.get("Uploads", ()):
                    if upload["Initiated"].timestamp() >= before:
                        continue
                    try:
                        self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"],
                                                           UploadId=upload["UploadId"])
                        removed += 1
                    except ClientError as exc:   # finished or aborted meanwhile: nothing left
                        if not _missing(exc) and exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                            raise
        except ClientError as exc:   # keys without the two rights: the rest of the clean-up still runs
            log.warning("未能清理对象存储中未完成的分段上传（需要 ListBucketMultipartUploads 与 AbortMultipartUpload 权限）：%s",
                        exc)
        return removed

    def list(self) -> Iterator[tuple[str, int]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                name = item["Key"][len(self.prefix):]
                sha256 = name.rsplit("/", 1)[-1]
                if SHA256_RE.match(sha256) and name == relative_key(sha256):
                    yield sha256, int(item["Size"])


def _missing(exc) -> bool:
    error = exc.response.get("Error", {})
    return str(error.get("Code")) in ("404", "NoSuchKey", "NotFound") or \
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404


class _ObjectReader(io.RawIOBase):
    """A seekable reader of one object: each read continues one ranged GET from the position; a seek
    elsewhere starts another (so an HTTP Range request reads only its range)."""

    def __init__(self, client, bucket: str, key: str, size: int):
        self.client, self.bucket, self.key, self.length = client, bucket, key, size
        self.pos, self.body, self.body_pos = 0, None, None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.length}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer) -> int:
        if self.pos >= self.length:
            return 0
        if self.body is None or self.body_pos != self.pos:
            self._drop()
            self.body = self.client.get_object(Bucket=self.bucket, Key=self.key, Range=f"bytes={self.pos}-")["Body"]
            self.body_pos = self.pos
        data = self.body.read(len(buffer))
        if not data:
            raise OSError(f"S3 object {self.key} ended at {self.pos} of {self.length} bytes")
        n = len(data)
        buffer[:n] = data
        self.pos += n
        self.body_pos = self.pos
        return n

    def _drop(self) -> None:
        if self.body is not None:
            self.body.close()
            self.body = None

    def close(self) -> None:
        self._drop()
        super().close()


# --- which store: settings, and the registry by MEDIA_DIR ------------------------------------------------

_registry: dict[str, Store] = {}
_lock = threading.Lock()


def from_config(config: Mapping, media_dir: str | os.PathLike | None = None) -> Store:
    """The store the settings describe: ``MEDIA_STORAGE`` ``local`` (default) or ``s3`` with ``MEDIA_S3_*``."""
    work_dir = str(media_dir or config["MEDIA_DIR"])
    kind = str(config.get("MEDIA_STORAGE") or "local").lower()
    if kind == "local":
        return LocalStore(work_dir)
    if kind != "s3":
        raise ValueError(f"MEDIA_STORAGE 应为 local 或 s3，而不是 {kind!r}")
    bucket = config.get("MEDIA_S3_BUCKET")
    if not bucket:
        raise ValueError("MEDIA_STORAGE=s3 需要设置 MEDIA_S3_BUCKET")
    return S3Store(work_dir, bucket=bucket, endpoint_url=config.get("MEDIA_S3_ENDPOINT_URL") or None,
                   access_key=config.get("MEDIA_S3_ACCESS_KEY_ID") or None,
                   secret_key=config.get("MEDIA_S3_SECRET_ACCESS_KEY") or None,
                   region=config.get("MEDIA_S3_REGION") or None, prefix=config.get("MEDIA_S3_PREFIX") or "",
                   addressing_style=config.get("MEDIA_S3_ADDRESSING_STYLE") or "path")


def configure(config: Mapping) -> Store:
    """Build the store for an app's settings and register it for its ``MEDIA_DIR`` (see :func:`get`)."""
    store = from_config(config)
    with _lock:
        _registry[os.path.abspath(str(config["MEDIA_DIR"]))] = store
    return store


def get(media_dir: str | os.PathLike | Store) -> Store:
    """The store registered for ``media_dir`` (a local store of that folder when none was)."""
    if isinstance(media_dir, (LocalStore, S3Store)):
        return media_dir
    key = os.path.abspath(os.fspath(media_dir))
    store = _registry.get(key)
    if store is None:
        with _lock:
            store = _registry.setdefault(key, LocalStore(key))
    return store


# --- the local store's helpers on a folder (tests, tools) -------------------------------------------------

def path_for(media_dir: str | os.PathLike, sha256: str) -> Path:
    """Where the file with this hash lives in a local folder (the hash is checked: no path tricks)."""
    return Path(media_dir) / relative_key(sha256)


def exists(media_dir: str | os.PathLike, sha256: str) -> bool:
    return get(media_dir).exists(sha256)


def store_stream(media_dir: str | os.PathLike, stream: BinaryIO, max_bytes: int | None = None) -> tuple[str, int]:
    return get(media_dir).put_stream(stream, max_bytes)


def store_bytes(media_dir: str | os.PathLike, data: bytes) -> str:
    return get(media_dir).put_bytes(data)


def store_file(media_dir: str | os.PathLike, source: str | os.PathLike, *, move: bool = False) -> tuple[str, int]:
    return get(media_dir).put_path(source, move=move)


def file_sha256(path: str | os.PathLike) -> str:
    return hash_file(path)[0]


def remove(media_dir: str | os.PathLike, sha256: str) -> int:
    return get(media_dir).remove(sha256)
