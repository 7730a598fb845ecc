"""A real S3-compatible HTTP server for the tests: moto's ``ThreadedMotoServer`` on loopback, on a free port.

boto3 talks HTTP to it as to any object store (path-style addressing, as MinIO and the 政务云 stores take).
Its buckets live in this test process's memory; each bucket made here has a fresh name.
"""
from __future__ import annotations

import dataclasses
import uuid

import pytest

ACCESS_KEY, SECRET_KEY, REGION = "test-access-key", "test-secret-key", "cn-north-1"


@dataclasses.dataclass
class S3Server:
    endpoint_url: str

    def client(self):
        import boto3

        return boto3.session.Session().client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=ACCESS_KEY,
                                              aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def new_bucket(self) -> str:
        name = f"media-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def settings(self, bucket: str, prefix: str = "") -> dict:
        """The app's settings for this bucket (``MEDIA_STORAGE=s3``)."""
        return {"MEDIA_STORAGE": "s3", "MEDIA_S3_ENDPOINT_URL": self.endpoint_url, "MEDIA_S3_BUCKET": bucket,
                "MEDIA_S3_ACCESS_KEY_ID": ACCESS_KEY, "MEDIA_S3_SECRET_ACCESS_KEY": SECRET_KEY,
                "MEDIA_S3_REGION": REGION, "MEDIA_S3_PREFIX": prefix}

    def objects(self, bucket: str) -> dict[str, int]:
        out = {}
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket):
            out.update({item["Key"]: item["Size"] for item in page.get("Contents", ())})
        return out


@pytest.fixture(scope="session")
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
