"""No input gives a 500 on the upload endpoints: hostile tus headers, bodies and ids (JSON bodies: test_no_500)."""
from __future__ import annotations

import base64

from tests.api.media import files
from tests.api.media.conftest import OCTETS

HOSTILE_HEADER_VALUES = ["", " ", "-1", "abc", "1" * 30, "1.5", "0x10", "１２", "9007199254740993", "\t7",
                         "%00", "../../etc/passwd"]


def _ok(r):
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    if r.status_code >= 400 and r.data:
        body = r.get_json()
        assert body["status"] == r.status_code and body["code"] and body["message"]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8", "surrogatepass")).decode()


def test_hostile_tus_headers_never_give_a_500(uploader):
    client, headers = uploader.client, uploader.headers
    data = files.photo(64, 48, seed=71)
    surrogate, nul = _b64("\ud800"), _b64("a\x00b")
    good_meta = f"sha256 {_b64(files.sha(data))},filetype {_b64('image/jpeg')}"
    for value in HOSTILE_HEADER_VALUES:
        _ok(client.post("/api/uploads", headers={**headers, "Upload-Length": value, "Upload-Metadata": good_meta}))
        _ok(client.post("/api/uploads", headers={**headers, "Upload-Length": str(len(data)), "Upload-Metadata": value}))
    for meta in ["sha256", "sha256 ,filetype", ",,,", "sha256 " + _b64("x" * 5000), "filetype " + _b64("image/jpeg"),
                 f"sha256 {_b64(files.sha(data))},filetype {_b64('image/jpeg')},filename {_b64('a' * 5000)}",
                 f"sha256 {_b64(files.sha(data))},filetype {_b64('image/jpeg')},kind {_b64('rocket')}",
                 f"sha256 {surrogate},filetype {_b64('image/jpeg')}",
                 f"sha256 {_b64(files.sha(data))},filetype {_b64('x' * 300)}",
                 f"sha256 {_b64(files.sha(data))},filetype {_b64('image/jpeg')},filename {nul}"]:
        r = client.post("/api/uploads", headers={**headers, "Upload-Length": str(len(data)), "Upload-Metadata": meta},
                        data=data, content_type=OCTETS)
        _ok(r)

    data = files.photo(64, 48, seed=73)
    location = uploader.create(data).headers["Location"]
    for value in HOSTILE_HEADER_VALUES:
        _ok(uploader.patch(location, 0, data[:10], **{"Upload-Offset": value}))
    for content_type in ("", "application/json", "multipart/form-data; boundary=x", OCTETS + "; charset=utf-8"):
        _ok(client.patch(location, data=b"\x00" * 10, headers={**headers, "Upload-Offset": "0",
                                                               "Content-Type": content_type}))
    _ok(client.patch(location, data=b"", headers={**headers, "Upload-Offset": "0", "Content-Type": OCTETS}))
    assert uploader.offset(location) == 10  # only the offset stream (a charset parameter is harmless) appended
    for bad_id in ("0", "x" * 32, "0" * 32, "../../etc", "%00", "A" * 500):
        for method in ("HEAD", "PATCH", "DELETE"):
            r = client.open(f"/api/uploads/{bad_id}", method=method, data=b"x",
                            headers={**headers, "Upload-Offset": "0", "Content-Type": OCTETS})
            _ok(r)
            assert r.status_code in (404, 405), (method, bad_id, r.status_code)


def test_a_chunk_over_the_request_limit_is_refused(app, uploader):
    data = files.photo(64, 48, seed=72)
    location = uploader.create(data).headers["Location"]
    limit = app.config["MAX_CONTENT_LENGTH"]
    r = uploader.client.patch(location, data=b"", headers={**uploader.headers, "Upload-Offset": "0",
                                                           "Content-Type": OCTETS},
                              environ_overrides={"CONTENT_LENGTH": str(limit + 1)})
    _ok(r)
    assert r.status_code in (413, 422)
