"""The file store's contract (``backend.media.storage.Store``), run against both implementations: a local
folder, and S3 through boto3 talking HTTP to a real S3-compatible server on loopback (moto's)."""
from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import io
import os

import pytest

from backend.media import storage
from tests.s3server import s3_server  # noqa: F401 - the session's S3 server

BIG = 6 * 1024 * 1024 + 123     # past the lowered multipart threshold below: an S3 multipart upload


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return storage.LocalStore(tmp_path / "media")
    server = request.getfixturevalue("s3_server")
    config = {"MEDIA_DIR": str(tmp_path / "media"), **server.settings(server.new_bucket(), prefix="media/")}
    made = storage.from_config(config)
    from boto3.s3.transfer import TransferConfig

    made.transfer = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024,
                                   use_threads=False)
    return made


def _leftovers(store) -> list[str]:
    tmp = store.work_dir / "tmp"
    return sorted(os.listdir(tmp)) if tmp.is_dir() else []


def test_bytes_put_are_found_read_and_listed_under_their_hash(store):
    data = b"evidence " * 1000
    digest = store.put_bytes(data)
    assert digest == sha(data)
    assert store.exists(digest) and store.size(digest) == len(data)
    assert store.read_bytes(digest) == data
    with store.local_file(digest) as path:
        assert path.read_bytes() == data
    assert list(store.list()) == [(digest, len(data))]
    assert _leftovers(store) == []


def test_the_same_bytes_are_stored_once(store):
    data = os.urandom(5000)
    assert store.put_bytes(data) == store.put_bytes(data) == store.put_stream(io.BytesIO(data))[0]
    assert list(store.list()) == [(sha(data), 5000)]


def test_a_stream_is_hashed_as_it_is_stored_and_refused_past_its_limit(store):
    data = os.urandom(3 * storage.CHUNK + 17)
    assert store.put_stream(io.BytesIO(data)) == (sha(data), len(data))
    assert store.read_bytes(sha(data)) == data
    other = os.urandom(2 * storage.CHUNK)
    with pytest.raises(storage.TooLarge):
        store.put_stream(io.BytesIO(other), max_bytes=storage.CHUNK + 1)
    assert not store.exists(sha(other)) and _leftovers(store) == []


def test_a_file_is_copied_or_moved_in(store, tmp_path):
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(b"copied")
    second.write_bytes(b"moved")
    store.put_file(first, sha(b"copied"))
    assert first.exists() and store.read_bytes(sha(b"copied")) == b"copied"
    assert store.put_path(second, move=True) == (sha(b"moved"), 5)
    assert not second.exists() and store.read_bytes(sha(b"moved")) == b"moved"
    # moving in bytes already stored only removes the source
    second.write_bytes(b"moved")
    store.put_file(second, sha(b"moved"), move=True)
    assert not second.exists() and sorted(store.list()) == sorted([(sha(b"copied"), 6), (sha(b"moved"), 5)])


def test_a_big_file_goes_in_whole_and_is_read_by_ranges(store, tmp_path):
    data = os.urandom(BIG)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    assert store.put_path(source) == (sha(data), BIG)
    assert store.size(sha(data)) == BIG
    with store.open(sha(data)) as f:
        assert f.seekable()
        assert f.read(10) == data[:10]
        f.seek(BIG - 100)
        assert f.read() == data[-100:]
        f.seek(4_000_000)
        assert f.read(1_000_000) == data[4_000_000:5_000_000]
        assert f.read(0) == b"" and f.tell() == 5_000_000
        f.seek(BIG + 5)
        assert f.read(10) == b""
    with store.open(sha(data)) as f:
        assert hashlib.sha256(f.read()).hexdigest() == sha(data)


def test_a_missing_file_is_not_found_everywhere(store):
    absent = sha(b"never stored")
    assert not store.exists(absent) and store.size(absent) is None
    with pytest.raises(FileNotFoundError):
        store.open(absent)
    with pytest.raises(FileNotFoundError):
        store.read_bytes(absent)
    with pytest.raises(FileNotFoundError):
        with store.local_file(absent):
            pass
    assert store.remove(absent) == 0
    assert _leftovers(store) == []


def test_remove_frees_the_bytes_once(store):
    digest = store.put_bytes(b"x" * 321)
    assert store.remove(digest) == 321
    assert not store.exists(digest) and store.remove(digest) == 0 and list(store.list()) == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ab" * 31, "g" * 64, "", None])
def test_anything_but_a_hash_is_refused(store, bad):
    for call in (store.exists, store.size, store.open, store.read_bytes, store.remove, store.direct_path):
        with pytest.raises(ValueError):
            call(bad)
    with pytest.raises(ValueError):
        with store.local_file(bad):
            pass


def test_the_listing_names_only_stored_files(store):
    digest = store.put_bytes(b"kept")
    store.put_stream(io.BytesIO(b"also kept"))
    (store.work_dir / "uploads").mkdir(parents=True, exist_ok=True)
    (store.work_dir / "uploads" / ("a" * 32)).write_bytes(b"part of an upload")   # not a stored file
    if store.kind == "s3":   # a foreign object beside ours in the bucket, and one under another prefix
        store.client.put_object(Bucket=store.bucket, Key="media/readme.txt", Body=b"x")
        store.client.put_object(Bucket=store.bucket, Key=f"elsewhere/{digest[:2]}/{digest[2:4]}/{sha(b'x')}", Body=b"x")
    assert sorted(store.list()) == sorted([(digest, 4), (sha(b"also kept"), 9)])


def test_writers_racing_with_the_same_bytes_leave_one_whole_file(store):
    data = os.urandom(300_000)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _i: store.put_stream(io.BytesIO(data)), range(12)))
    assert set(results) == {(sha(data), len(data))}
    assert store.read_bytes(sha(data)) == data and list(store.list()) == [(sha(data), len(data))]
    assert _leftovers(store) == []


def test_only_a_local_file_has_a_path_of_its_own(store):
    digest = store.put_bytes(b"where")
    path = store.direct_path(digest)
    if store.kind == "local":
        assert path == store.work_dir / digest[:2] / digest[2:4] / digest and path.read_bytes() == b"where"
    else:
        assert path is None and not (store.work_dir / digest[:2]).exists()
        assert store.client.get_object(Bucket=store.bucket, Key=f"media/{digest[:2]}/{digest[2:4]}/{digest}")[
            "Body"].read() == b"where"


def test_the_settings_choose_the_store_and_the_app_registers_it(tmp_path, s3_server):  # noqa: F811
    assert isinstance(storage.from_config({"MEDIA_DIR": str(tmp_path)}), storage.LocalStore)
    with pytest.raises(ValueError, match="MEDIA_S3_BUCKET"):
        storage.from_config({"MEDIA_DIR": str(tmp_path), "MEDIA_STORAGE": "s3"})
    with pytest.raises(ValueError, match="local 或 s3"):
        storage.from_config({"MEDIA_DIR": str(tmp_path), "MEDIA_STORAGE": "ftp"})
    folder = tmp_path / "registered"
    registered = storage.configure({"MEDIA_DIR": str(folder), **s3_server.settings(s3_server.new_bucket())})
    assert storage.get(str(folder)) is registered and storage.get(folder / ".") is registered
    assert isinstance(storage.get(tmp_path / "unregistered"), storage.LocalStore)


def test_an_app_with_a_wrong_store_setting_does_not_start(tmp_path):
    from backend import create_app

    with pytest.raises(RuntimeError, match="MEDIA_S3_BUCKET"):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "MEDIA_DIR": str(tmp_path / "m"),
                    "SECRET_KEY": "k" * 40, "MEDIA_STORAGE": "s3"})


@contextlib.contextmanager
def _begun_now(store):
    """moto dates every multipart upload 2010-11-10 in its listing: the listing as S3 gives it, begun now."""
    if store.kind != "s3":
        yield
        return
    import datetime as dt

    real = store.client.get_paginator

    def get_paginator(name):
        paginator = real(name)
        if name != "list_multipart_uploads":
            return paginator

        class Now:
            def paginate(self, **kw):
                for page in paginator.paginate(**kw):
                    for u in page.get("Uploads", ()):
                        u["Initiated"] = dt.datetime.now(dt.timezone.utc)
                    yield page
        return Now()
    store.client.get_paginator = get_paginator
    try:
        yield
    finally:
        store.client.get_paginator = real


def test_what_a_dead_writer_left_half_written_is_removed_once_old(store):
    """``remove_stale_partials``: the temporary files of ``work_dir/tmp`` and, in a bucket, an unfinished multipart
    upload (a writer killed mid-PUT: its parts stay stored, listed nowhere else) — only those begun before the
    limit; stored files are never touched."""
    import time

    kept = store.put_bytes(b"a stored file")
    fd, tmp_path = store.temporary()
    os.write(fd, b"half a spool")
    os.close(fd)
    os.utime(tmp_path, (time.time() - 7200, time.time() - 7200))
    fd, fresh_tmp = store.temporary()
    os.close(fd)
    if store.kind == "s3":
        key = store.key(sha(b"never finished"))
        upload = store.client.create_multipart_upload(Bucket=store.bucket, Key=key)["UploadId"]
        store.client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * 1024)

        def unfinished():
            return [u["UploadId"] for u in store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", ())]
        assert unfinished() == [upload]
    with _begun_now(store):
        assert store.remove_stale_partials(time.time() - 3600) == 1      # the old spool only
    assert not os.path.exists(tmp_path) and os.path.exists(fresh_tmp)
    if store.kind == "s3":
        assert unfinished() == [upload]                                   # begun a moment ago: a live upload
    assert store.remove_stale_partials(time.time() + 60) == (3 if store.kind == "s3" else 2) - 1
    assert not os.path.exists(fresh_tmp)
    if store.kind == "s3":
        assert unfinished() == []
    assert list(store.list()) == [(kept, 13)] and store.read_bytes(kept) == b"a stored file"
    assert store.remove_stale_partials(time.time() + 60) == 0
