"""The upload protocol (tus 1.0 core + creation + creation-with-upload + termination) and its faults."""
from __future__ import annotations

import datetime as dt
import fcntl
import io

from sqlalchemy import select, update

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.media import storage
from backend.media.models import Media, Upload
from tests.api.media import files
from tests.statements import sent_statements
from tests.api.media.conftest import OCTETS, Uploader, on_duty


def test_head_first_then_upload_in_chunks_then_head_finds_it(uploader, media_dir, db_session):
    data = files.photo()
    sha = files.sha(data)
    assert uploader.head_media(sha).status_code == 404

    r = uploader.create(data, filename="现场照片.jpg")
    assert r.status_code == 201, r.json
    assert r.headers["Location"] == f"/api/uploads/{r.json['id']}" and r.headers["Upload-Offset"] == "0"
    assert r.headers["Tus-Resumable"] == "1.0.0" and r.headers["Upload-Expires"]
    location = r.headers["Location"]
    r = uploader.patch(location, 0, data[:70_000])
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "70000"
    assert uploader.offset(location) == 70_000
    r = uploader.patch(location, 70_000, data[70_000:])
    assert r.status_code == 200, r.json
    assert r.json["complete"] is True and r.json["media"]["sha256"] == sha
    assert r.json["media"]["kind"] == "photo" and (r.json["media"]["width"], r.json["media"]["height"]) == (1920, 1440)
    assert r.headers["Content-Location"] == f"/api/media/{sha}"

    head = uploader.head_media(sha)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data)) and head.headers["Content-Type"] == "image/jpeg"
    assert head.headers["X-Media-Status"] == "ready" and head.headers["X-Media-Kind"] == "photo"
    assert storage.path_for(media_dir, sha).read_bytes() == data
    assert uploader.client.head(location, headers=uploader.headers).status_code == 404  # session ended
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "media.upload",
                                                        AuditEntry.entity_id == sha)).one()
    assert entry.detail["filename"] == "现场照片.jpg" and entry.detail["size"] == len(data)


def test_an_upload_cut_mid_chunk_keeps_what_arrived_and_resumes(uploader, media_dir):
    data = files.photo(seed=2)
    location = uploader.create(data).headers["Location"]
    # the connection drops after 90,000 of the 150,000 bytes announced by Content-Length
    cut = uploader.client.patch(location, input_stream=io.BytesIO(data[:90_000]),
                                headers={**uploader.headers, "Upload-Offset": "0", "Content-Type": OCTETS},
                                environ_overrides={"CONTENT_LENGTH": "150000"})
    assert cut.status_code == 400 and cut.json["code"] == "upload.incomplete_chunk"
    offset = uploader.offset(location)
    assert offset == 90_000
    r = uploader.patch(location, offset, data[offset:])
    assert r.status_code == 200 and r.json["media"]["sha256"] == files.sha(data)
    assert storage.path_for(media_dir, files.sha(data)).read_bytes() == data


def test_offsets_that_disagree_get_409_with_the_servers_offset(uploader):
    data = files.photo(seed=3)
    location = uploader.create(data).headers["Location"]
    assert uploader.patch(location, 0, data[:1000]).status_code == 204
    for wrong in (0, 500, 2000):  # a resend of the first chunk, a gap, a jump ahead
        r = uploader.patch(location, wrong, data[wrong:wrong + 1000])
        assert r.status_code == 409 and r.json["code"] == "upload.offset_mismatch"
        assert r.json["details"]["offset"] == 1000
    assert uploader.offset(location) == 1000


def test_a_wrong_hash_is_refused_discarded_and_audited(uploader, media_dir, db_session):
    data = files.photo(seed=4)
    declared = files.sha(b"something else")
    r = uploader.create(data, sha256=declared)
    location = r.headers["Location"]
    part = uploader_part(media_dir, r.json["id"])
    assert part.exists()
    r = uploader.patch(location, 0, data)
    assert r.status_code == 422 and r.json["code"] == "upload.hash_mismatch"
    assert r.json["details"] == {"declared": declared, "actual": files.sha(data)}
    assert "SHA-256" in r.json["message"]
    assert not part.exists() and not storage.exists(media_dir, files.sha(data))
    assert uploader.head_media(files.sha(data)).status_code == 404 and uploader.head_media(declared).status_code == 404
    assert uploader.client.head(location, headers=uploader.headers).status_code == 404
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "upload.refused")).one()
    assert entry.detail["code"] == "upload.hash_mismatch" and entry.detail["actual_sha256"] == files.sha(data)


def uploader_part(media_dir, upload_id):
    from pathlib import Path

    return Path(media_dir) / "uploads" / upload_id


def test_a_stored_file_needs_no_upload(uploader, auth, client, factory, db_session, duty):
    """…for one who may read it; anyone else sends the bytes (a hash is not a permission)."""
    data = files.photo(seed=5, width=640, height=480)
    assert uploader.upload(data).status_code == 200
    r = uploader.create(data)
    assert r.status_code == 200 and r.json["complete"] is True and r.json["id"] is None
    assert r.json["media"]["sha256"] == files.sha(data) and "Location" not in r.headers
    other = Uploader(client, auth.headers(on_duty(factory, db_session, duty[2][1])))
    r = other.create(data)
    assert r.status_code == 201 and r.json["complete"] is False and r.json["media"] is None


def test_creation_with_upload_stores_a_photo_in_one_request(uploader):
    data = files.photo(seed=6)
    r = uploader.create_tus(data, body=data, filename="门头.jpg")
    assert r.status_code == 201, r.json
    assert r.json["complete"] is True and "filename" not in r.json["media"]   # kept in the audit entry only
    assert r.headers["Upload-Offset"] == str(len(data))
    assert uploader.head_media(files.sha(data)).status_code == 200


def test_a_whole_file_in_one_request_that_is_cut_keeps_nothing(uploader, app):
    data = files.photo(seed=18)
    meta = {"Upload-Length": str(len(data)), "Content-Type": OCTETS}
    import base64

    meta["Upload-Metadata"] = (f"sha256 {base64.b64encode(files.sha(data).encode()).decode()},"
                               f"filetype {base64.b64encode(b'image/jpeg').decode()}")
    r = uploader.client.post("/api/uploads", input_stream=io.BytesIO(data[:50_000]), headers={**uploader.headers, **meta},
                             environ_overrides={"CONTENT_LENGTH": str(len(data))})
    assert r.status_code == 400 and r.json["code"] == "upload.incomplete_chunk"
    from pathlib import Path

    assert not list((Path(app.config["MEDIA_DIR"]) / "uploads").glob("whole-*"))
    assert uploader.create_tus(data, body=data).status_code == 201   # sent again: stored
    assert uploader.create_tus(data, body=data).status_code == 200   # and again: already there


def test_a_wrong_hash_in_one_request_is_refused(uploader, media_dir):
    data = files.photo(seed=19)
    r = uploader.create_tus(data, body=data, sha256=files.sha(b"other"))
    assert r.status_code == 422 and r.json["code"] == "upload.hash_mismatch"
    assert not storage.exists(media_dir, files.sha(data))


def test_tus_creation_then_patch_and_partial_first_bytes(uploader):
    data = files.photo(seed=7)
    r = uploader.create_tus(data, body=data[:5000])
    assert r.status_code == 201 and r.headers["Upload-Offset"] == "5000" and r.json["complete"] is False
    r = uploader.patch(r.headers["Location"], 5000, data[5000:])
    assert r.status_code == 200 and r.json["complete"] is True


def test_asking_again_for_the_same_file_resumes_the_same_session(uploader):
    data = files.photo(seed=8)
    first = uploader.create(data)
    uploader.patch(first.headers["Location"], 0, data[:4096])
    again = uploader.create(data)  # the client lost the first answer
    assert again.status_code == 201 and again.json["id"] == first.json["id"]
    assert again.headers["Upload-Offset"] == "4096"
    # creation-with-upload of a part again: the body is not applied at the wrong place
    tus = uploader.create_tus(data, body=data[:1000])
    assert tus.json["id"] == first.json["id"] and tus.headers["Upload-Offset"] == "4096"
    # the whole (small) file in one request is simply stored
    whole = uploader.create_tus(data, body=data)
    assert whole.status_code == 201 and whole.json["complete"] is True and whole.json["id"] is None


def test_an_upload_of_someone_else_is_refused(uploader, auth, client):
    data = files.photo(seed=9, width=320, height=240)
    location = uploader.create(data).headers["Location"]
    _, stranger_headers = auth.as_role(Role.INSPECTOR)
    stranger = Uploader(client, stranger_headers)
    assert client.head(location, headers=stranger_headers).status_code == 404
    r = stranger.patch(location, 0, data)
    assert r.status_code == 404 and r.json["code"] == "upload.not_found"
    assert client.delete(location, headers=stranger_headers).status_code == 404
    _, supervisor = auth.as_role(Role.SUPERVISOR)
    assert client.head(location, headers=supervisor).status_code == 403
    assert uploader.offset(location) == 0  # untouched
    assert uploader.patch(location, 0, data).status_code == 200


def test_abort_deletes_the_session_and_its_bytes(uploader, media_dir):
    data = files.photo(seed=10, width=320, height=240)
    r = uploader.create(data)
    location, part = r.headers["Location"], uploader_part(media_dir, r.json["id"])
    uploader.patch(location, 0, data[:100])
    assert uploader.client.delete(location, headers=uploader.headers).status_code == 204
    assert not part.exists()
    assert uploader.client.head(location, headers=uploader.headers).status_code == 404
    assert uploader.patch(location, 100, data[100:]).status_code == 404


def test_an_expired_session_answers_410(uploader, db_session):
    data = files.photo(seed=11, width=320, height=240)
    r = uploader.create(data)
    db_session.execute(update(Upload).where(Upload.id == r.json["id"])
                       .values(expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)))
    r = uploader.patch(r.headers["Location"], 0, data)
    assert r.status_code == 410 and r.json["code"] == "upload.expired"


def test_bytes_beyond_the_declared_length_are_refused(uploader):
    data = files.photo(seed=12, width=320, height=240)
    location = uploader.create(data).headers["Location"]
    r = uploader.patch(location, 0, data + b"extra")
    assert r.status_code == 422 and r.json["code"] == "upload.beyond_length"
    assert uploader.offset(location) == 0


def test_patch_needs_the_offset_stream_type_and_an_offset(uploader):
    data = files.photo(seed=13, width=320, height=240)
    location = uploader.create(data).headers["Location"]
    r = uploader.client.patch(location, data=data, headers={**uploader.headers, "Upload-Offset": "0",
                                                             "Content-Type": "image/jpeg"})
    assert r.status_code == 415 and r.json["code"] == "upload.bad_content_type"
    for bad in ("", "-1", "abc", "1e3", "9" * 40):
        r = uploader.patch(location, 0, data, **{"Upload-Offset": bad})
        assert r.status_code == 400 and r.json["code"] == "upload.bad_offset", bad
    assert uploader.offset(location) == 0


def test_a_second_writer_of_the_same_session_waits_its_turn(uploader, media_dir):
    data = files.photo(seed=14, width=320, height=240)
    r = uploader.create(data)
    with open(uploader_part(media_dir, r.json["id"]), "r+b") as held:  # another request is writing
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        busy = uploader.patch(r.headers["Location"], 0, data)
    assert busy.status_code == 409 and busy.json["code"] == "upload.locked"
    assert uploader.patch(r.headers["Location"], 0, data).status_code == 200


def test_a_complete_part_file_left_by_a_crash_is_finished_by_an_empty_patch(uploader, media_dir):
    data = files.photo(seed=15, width=320, height=240)
    r = uploader.create(data)
    uploader_part(media_dir, r.json["id"]).write_bytes(data)  # all bytes arrived, the finish did not run
    assert uploader.offset(r.headers["Location"]) == len(data)
    done = uploader.patch(r.headers["Location"], len(data), b"")
    assert done.status_code == 200 and done.json["media"]["sha256"] == files.sha(data)


def test_too_many_open_sessions_are_refused(app, uploader, db_session):
    from backend.media.services import MediaSettings

    settings = app.extensions.setdefault("shuangsui.media", MediaSettings.from_config(app.config))
    import dataclasses

    app.extensions["shuangsui.media"] = dataclasses.replace(settings, max_open_uploads=2)
    try:
        assert uploader.create(b"a" * 10, sha256="a" * 64).status_code == 201
        assert uploader.create(b"b" * 10, sha256="b" * 64).status_code == 201
        r = uploader.create(b"c" * 10, sha256="c" * 64)
        assert r.status_code == 429 and r.json["code"] == "upload.too_many"
    finally:
        app.extensions["shuangsui.media"] = settings


def test_declarations_that_cannot_be_right_are_refused(uploader):
    data = files.photo(seed=16, width=320, height=240)
    cases = [
        ({"sha256": "xyz"}, 422, "validation_error"),
        ({"length": 0}, 422, "validation_error"),
        ({"media_type": "application/x-msdownload"}, 415, "media.type_not_allowed"),
        ({"media_type": "image/gif"}, 415, "media.type_not_allowed"),
        ({"media_type": "text/html"}, 415, "media.type_not_allowed"),
        ({"kind": "signature"}, 415, "media.type_not_allowed"),   # a signature is a PNG
        ({"kind": "video"}, 422, "media.bad_kind"),
    ]
    for change, status, code in cases:
        body = {"sha256": files.sha(data), "length": len(data), "media_type": "image/jpeg", **change}
        r = uploader.client.post("/api/uploads", json=body, headers=uploader.headers)
        assert (r.status_code, r.json["code"]) == (status, code), (change, r.json)
    r = uploader.client.post("/api/uploads", headers={**uploader.headers, "Upload-Length": "100",
                                                      "Upload-Metadata": "sha256 !!!notbase64"})
    assert r.status_code == 422 and r.json["code"] == "upload.bad_metadata"
    r = uploader.client.post("/api/uploads", headers={**uploader.headers, "Upload-Defer-Length": "1"})
    assert r.status_code == 422 and r.json["code"] == "upload.bad_length"


def test_two_uploads_of_the_same_bytes_store_one_file(uploader, auth, client, db_session, factory, duty):
    data = files.photo(seed=17, width=320, height=240)
    second = Uploader(client, auth.headers(on_duty(factory, db_session, duty[2][1])))
    a, b = uploader.create(data), second.create(data)
    assert a.status_code == b.status_code == 201 and a.json["id"] != b.json["id"]
    assert uploader.patch(a.headers["Location"], 0, data).status_code == 200
    r = second.patch(b.headers["Location"], 0, data)   # finished after the first: same file, no error
    assert r.status_code == 200 and r.json["media"]["sha256"] == files.sha(data)
    assert len(db_session.scalars(select(Media).where(Media.sha256 == files.sha(data))).all()) == 1


def test_a_whole_photo_is_written_in_five_statements_on_postgresql(uploader, database, db_session):
    """The account, the officer's open inspection with their unreferenced files, then on PostgreSQL the store's
    lock (shared: the bytes are put while no clean-up removes them, ``media.holders``), the file's row, its
    holder, the references bound and the audit head's lock in one statement, the entry and the head's move in
    the next (SQLite: the ORM's writes, one by one; its write lock is the store's); the chain stays whole."""
    from backend.audit import services as audit

    data = files.photo(seed=61)
    with sent_statements(database.engine, width=80) as seen:
        r = uploader.create_tus(data, body=data)
    assert r.status_code == 201, r.json
    assert len(seen) == (5 if database.dialect == "postgresql" else 8), seen
    if database.dialect == "postgresql":
        assert "pg_advisory_xact_lock_shared" in seen[2], seen
    media = db_session.get(Media, files.sha(data))
    assert media.status == "ready" and media.thumb_sha256 is None and media.public_sha256 is None  # first need
    assert media.orientation_fixed is False and media.touched_at == media.created_at
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "media.upload",
                                                        AuditEntry.entity_id == media.sha256)).one()
    assert entry.detail["processed"]["gps"] is False and entry.detail["job"] is None
    assert audit.verify_chain(db_session).ok


def test_head_asks_one_statement_after_the_account(uploader, database, db_session):
    """``HEAD /api/media/<sha256>`` before every upload: the account, then one indexed look-up of the file with
    its holder, for a file not stored (404) as for one the caller holds (200)."""
    data = files.photo(seed=62)
    for expected in (404, 200):
        with sent_statements(database.engine, width=80) as seen:
            r = uploader.head_media(files.sha(data))
        assert r.status_code == expected and len(seen) == 2 and seen[1].startswith("SELECT media.kind"), seen
        if expected == 200:
            assert r.headers["X-Media-Status"] == "ready" and r.headers["Content-Length"] == str(len(data))
            assert r.headers["ETag"] == f'"{files.sha(data)}"' and r.headers["X-Media-Kind"] == "photo"
        assert uploader.create_tus(data, body=data).status_code in (200, 201)
