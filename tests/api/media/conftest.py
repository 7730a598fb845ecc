"""Helpers of the media tests: a logged-in officer and the upload protocol in a few calls."""
from __future__ import annotations

import base64

import pytest

from backend.auth.roles import Role
from tests.api.media import files

OCTETS = "application/offset+octet-stream"


class Uploader:
    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def create(self, data: bytes, media_type: str = "image/jpeg", *, sha256: str | None = None,
               length: int | None = None, **extra):
        body = {"sha256": sha256 or files.sha(data), "length": len(data) if length is None else length,
                "media_type": media_type, **extra}
        return self.client.post("/api/uploads", json=body, headers=self.headers)

    def create_tus(self, data: bytes, media_type: str = "image/jpeg", *, body: bytes | None = None,
                   sha256: str | None = None, **meta):
        pairs = {"sha256": sha256 or files.sha(data), "filetype": media_type, **meta}
        header = ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in pairs.items())
        headers = {**self.headers, "Upload-Length": str(len(data)), "Upload-Metadata": header,
                   "Tus-Resumable": "1.0.0"}
        if body is None:
            return self.client.post("/api/uploads", headers=headers)
        return self.client.post("/api/uploads", data=body, headers={**headers, "Content-Type": OCTETS})

    def patch(self, location: str, offset: int, chunk: bytes, **headers):
        return self.client.patch(location, data=chunk, headers={**self.headers, "Upload-Offset": str(offset),
                                                                "Content-Type": OCTETS, **headers})

    def offset(self, location: str) -> int:
        r = self.client.head(location, headers=self.headers)
        assert r.status_code == 200, r.status_code
        return int(r.headers["Upload-Offset"])

    def upload(self, data: bytes, media_type: str = "image/jpeg", chunk: int = 1 << 20, **extra):
        """The whole protocol: create, then PATCH chunk by chunk; returns the last answer."""
        r = self.create(data, media_type, **extra)
        if r.status_code != 201:
            return r
        location, offset = r.headers["Location"], 0
        while True:
            r = self.patch(location, offset, data[offset:offset + chunk])
            if r.status_code != 204:
                return r
            offset = int(r.headers["Upload-Offset"])

    def head_media(self, sha256: str):
        return self.client.head(f"/api/media/{sha256}", headers=self.headers)


@pytest.fixture()
def officer(auth):
    return auth.as_role(Role.INSPECTOR)


@pytest.fixture()
def uploader(client, officer):
    return Uploader(client, officer[1])


@pytest.fixture()
def media_dir(app):
    return app.config["MEDIA_DIR"]
