"""Static files are sent compressed as the client accepts (Brotli, gzip, as they are), each coding with its own
type, length and validator, ranges of the plain file, and cache lifetimes by name: a year for hashed files,
revalidated for the page, the service worker, the manifest and the public pages."""
from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest

from backend.static_files import accepted_coding
from tests.conftest import make_test_app

ROOT = Path(__file__).resolve().parents[2]
JS = ("export function f(){return 'a sample module, long enough to be worth compressing';}\n" * 40).encode()
PAGE = ("<!doctype html><html lang=zh-CN><title>掌上执法</title><div id=app></div>" + "<!-- -->" * 100).encode()
IMMUTABLE = "public, max-age=31536000, immutable"
# stand-ins for the Brotli copies (Python has no Brotli): the server sends the file beside the original as it
# is, so any distinct bytes show which copy went out; the build's real copies are checked further down
BR_JS, BR_PAGE = b"\x1b-brotli-js-", b"\x1b-brotli-page-"


@pytest.fixture()
def dist(tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "icons").mkdir()
    files = {"index.html": PAGE, "sw.js": b"self.addEventListener('fetch', () => {});" * 10,
             "manifest.webmanifest": json.dumps({"name": "掌上执法", "pad": "x" * 400}).encode(),
             "workbox-abeb32eb.js": JS, "assets/index-C_MXrlqv.js": JS, "assets/index-CwTbfllI.css": b"a{b:c}" * 100,
             "icons/icon-192.png": b"\x89PNG\r\n\x1a\n" + bytes(300)}
    for name, data in files.items():
        (dist / name).write_bytes(data)
        if not name.endswith(".png"):
            (dist / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
    (dist / "assets" / "index-C_MXrlqv.js.br").write_bytes(BR_JS)
    (dist / "index.html.br").write_bytes(BR_PAGE)
    return dist


@pytest.fixture()
def client(database, tmp_path, dist):
    return make_test_app(database, tmp_path, PWA_APP_DIR=str(dist)).test_client()


def get(client, url, encoding=None, method="GET", **headers):
    if encoding is not None:
        headers["Accept-Encoding"] = encoding
    return client.open(url, method=method, headers=headers)


@pytest.mark.parametrize("header, coding", [
    ("gzip, deflate, br, zstd", "br"), ("br", "br"), ("gzip", "gzip"), ("GZIP", "gzip"), ("x-gzip", "gzip"),
    ("br;q=0, gzip", "gzip"), ("gzip;q=1, br;q=0.5", "gzip"), ("gzip;q=0.5, br;q=0.5", "br"), ("*", "br"),
    ("*;q=0.2, gzip", "gzip"), ("identity", None), ("", None), (None, None), ("br;q=0, gzip;q=0", None),
    ("*;q=0", None), ("br;q=nonsense, gzip", "gzip"), ("br;q=2", None), ("deflate", None), (" , ;q=1", None),
])
def test_the_coding_is_the_clients_best_brotli_first(header, coding):
    assert accepted_coding(header, ("br", "gzip")) == coding


def test_a_coding_without_a_copy_is_never_chosen():
    assert accepted_coding("br, gzip", ("gzip",)) == "gzip"
    assert accepted_coding("br", ("gzip",)) is None


def test_hashed_files_go_out_in_brotli_or_gzip_with_their_type_length_and_a_year_of_cache(client, dist):
    r = get(client, "/app/assets/index-C_MXrlqv.js", "gzip, deflate, br")
    assert r.status_code == 200 and r.data == BR_JS
    assert r.headers["Content-Encoding"] == "br" and r.headers["Content-Length"] == str(len(BR_JS))
    assert r.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "Accept-Encoding" in r.headers["Vary"] and r.headers["Cache-Control"] == IMMUTABLE
    assert "Expires" not in r.headers and "Content-Disposition" not in r.headers
    assert "'wasm-unsafe-eval'" in r.headers["Content-Security-Policy"]
    r = get(client, "/app/assets/index-C_MXrlqv.js", "gzip")
    assert r.headers["Content-Encoding"] == "gzip" and gzip.decompress(r.data) == JS
    assert r.headers["Content-Length"] == str(len(r.data)) and r.headers["Cache-Control"] == IMMUTABLE
    r = get(client, "/app/assets/index-C_MXrlqv.js")
    assert r.data == JS and "Content-Encoding" not in r.headers and "Accept-Encoding" in r.headers["Vary"]
    assert r.headers["Content-Length"] == str(len(JS)) and r.headers["Cache-Control"] == IMMUTABLE
    # gzip only where no Brotli copy was made (a copy not smaller than the file is not written)
    r = get(client, "/app/assets/index-CwTbfllI.css", "br, gzip")
    assert r.headers["Content-Encoding"] == "gzip" and r.headers["Content-Type"] == "text/css; charset=utf-8"
    assert gzip.decompress(r.data) == (dist / "assets" / "index-CwTbfllI.css").read_bytes()
    r = get(client, "/app/workbox-abeb32eb.js", "gzip")   # Workbox's runtime, named by its hash too
    assert r.headers["Cache-Control"] == IMMUTABLE and gzip.decompress(r.data) == JS


@pytest.mark.parametrize("url", ["/app/", "/app/index.html", "/app/i/12/inspect", "/app/sync"])
def test_the_page_is_compressed_and_revalidated(client, url):
    r = get(client, url, "br, gzip", Accept="text/html")
    assert r.status_code == 200 and r.data == BR_PAGE and r.headers["Content-Encoding"] == "br"
    assert r.headers["Cache-Control"] == "no-cache" and "Accept-Encoding" in r.headers["Vary"]
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    r = get(client, url, "gzip", Accept="text/html")
    assert gzip.decompress(r.data) == PAGE and r.headers["Cache-Control"] == "no-cache"


def test_the_worker_and_the_manifest_are_revalidated_never_kept(client):
    r = get(client, "/app/sw.js", "gzip, br")
    assert r.headers["Content-Encoding"] == "gzip" and r.headers["Cache-Control"] == "no-cache"
    assert r.headers["Service-Worker-Allowed"] == "/app/" and r.headers["Content-Type"].startswith("text/javascript")
    r = get(client, "/app/manifest.webmanifest", "gzip")
    assert r.headers["Cache-Control"] == "no-cache" and r.headers["Content-Type"] == "application/manifest+json"
    assert json.loads(gzip.decompress(r.data))["name"] == "掌上执法"


def test_images_are_sent_as_they_are(client):
    r = get(client, "/app/icons/icon-192.png", "br, gzip")
    assert r.status_code == 200 and "Content-Encoding" not in r.headers and r.mimetype == "image/png"
    assert r.headers["Cache-Control"] == "no-cache"          # no hash in its name (the manifest names it)
    assert "Accept-Encoding" not in r.headers.get("Vary", "")


def test_head_gives_the_headers_of_the_same_coding_without_a_body(client):
    for encoding, length in (("br", len(BR_JS)), (None, len(JS))):
        r = get(client, "/app/assets/index-C_MXrlqv.js", encoding, method="HEAD")
        assert r.status_code == 200 and r.data == b"" and r.headers["Content-Length"] == str(length)
        assert r.headers.get("Content-Encoding") == encoding and r.headers["Cache-Control"] == IMMUTABLE


def test_each_coding_has_its_own_validator(client):
    br, gz, plain = (get(client, "/app/assets/index-C_MXrlqv.js", e) for e in ("br", "gzip", None))
    tags = {br.headers["ETag"], gz.headers["ETag"], plain.headers["ETag"]}
    assert len(tags) == 3
    r = get(client, "/app/assets/index-C_MXrlqv.js", "br", **{"If-None-Match": br.headers["ETag"]})
    assert r.status_code == 304 and r.data == b"" and r.headers["ETag"] == br.headers["ETag"]
    assert "Accept-Encoding" in r.headers["Vary"] and r.headers["Cache-Control"] == IMMUTABLE
    # a validator of another coding does not match: the whole answer, in the coding asked for now
    r = get(client, "/app/assets/index-C_MXrlqv.js", "br", **{"If-None-Match": gz.headers["ETag"]})
    assert r.status_code == 200 and r.data == BR_JS
    r = get(client, "/app/", "gzip", Accept="text/html")
    again = get(client, "/app/", "gzip", Accept="text/html", **{"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.headers["Cache-Control"] == "no-cache"


def test_a_range_counts_bytes_of_the_file_itself(client):
    r = get(client, "/app/assets/index-C_MXrlqv.js", "gzip, br", Range="bytes=10-29")
    assert r.status_code == 206 and r.data == JS[10:30] and "Content-Encoding" not in r.headers
    assert r.headers["Content-Range"] == f"bytes 10-29/{len(JS)}" and r.headers["Content-Length"] == "20"
    assert "Accept-Encoding" in r.headers["Vary"]
    assert get(client, "/app/assets/index-C_MXrlqv.js", "br", Range=f"bytes={len(JS) + 5}-").status_code == 416


def test_the_compressed_copies_are_not_files_of_the_app(client):
    assert get(client, "/app/assets/index-C_MXrlqv.js.br").status_code == 404
    assert get(client, "/app/assets/index-C_MXrlqv.js.gz", "gzip").status_code == 404
    assert get(client, "/app/sw.js.gz").status_code == 404
    assert get(client, "/app/assets/index-missing1.js", "br").status_code == 404
    r = get(client, "/app/assets/../sw.js", "gzip")           # a path that leaves assets/ is not a hashed file
    assert r.status_code in (200, 404) and r.headers.get("Cache-Control") != IMMUTABLE


def test_the_public_pages_are_gzipped_and_revalidated(client):
    """The draw verifier (pwa/public, no build step): gzipped by the server, once per version."""
    public = ROOT / "pwa" / "public"
    for url, name, mime in (("/draw/verify.html", "draw/verify.html", "text/html"),
                            ("/draw/dsr.js", "draw/dsr.js", "text/javascript"),
                            ("/draw/verify.css", "draw/verify.css", "text/css"),
                            ("/draw/verifier.js", "draw/verifier.js", "text/javascript")):
        original = (public / name).read_bytes()
        r = get(client, url, "gzip, deflate, br")
        assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip", url
        assert gzip.decompress(r.data) == original and r.headers["Content-Length"] == str(len(r.data))
        assert r.mimetype == mime and r.headers["Cache-Control"] == "no-cache"
        assert "Accept-Encoding" in r.headers["Vary"] and "Content-Security-Policy" in r.headers
        again = get(client, url, "gzip", **{"If-None-Match": r.headers["ETag"]})
        assert again.status_code == 304, url
        plain = get(client, url)
        assert plain.data == original and "Content-Encoding" not in plain.headers
        assert plain.headers["ETag"] != r.headers["ETag"]
        head = get(client, url, "gzip", method="HEAD")
        assert head.data == b"" and head.headers["Content-Length"] == r.headers["Content-Length"]
        ranged = get(client, url, "gzip", Range="bytes=0-9")
        assert ranged.status_code == 206 and ranged.data == original[:10] and "Content-Encoding" not in ranged.headers
    assert get(client, "/draw/no-such.js", "gzip").status_code == 404


def test_swagger_ui_files_are_gzipped(client):
    r = get(client, "/api/docs/static/swagger-ui-bundle.js", "gzip")
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    assert len(gzip.decompress(r.data)) > 2 * len(r.data) and r.mimetype == "text/javascript"


def test_the_build_writes_brotli_and_gzip_copies_that_decode_to_the_file(tmp_path):
    out = tmp_path / "dist"
    (out / "assets").mkdir(parents=True)
    files = {"index.html": PAGE, "assets/app-12345678.js": JS, "assets/tiny-12345678.js": b"x()",
             "assets/logo-12345678.png": bytes(5000), "sw.js": JS}
    for name, data in files.items():
        (out / name).write_bytes(data)
    (out / "assets" / "old-12345678.js.br").write_bytes(b"stale")     # a copy left from another build
    subprocess.run(["node", str(ROOT / "pwa" / "scripts" / "precompress.mjs"), str(out)], check=True,
                   capture_output=True, timeout=120)
    for name in ("index.html", "assets/app-12345678.js", "sw.js"):
        assert gzip.decompress((out / f"{name}.gz").read_bytes()) == files[name]
        decoded = subprocess.run(["node", "-e", "process.stdout.write(require('zlib').brotliDecompressSync("
                                  "require('fs').readFileSync(process.argv[1])))", str(out / f"{name}.br")],
                                 check=True, capture_output=True, timeout=60).stdout
        assert decoded == files[name] and (out / f"{name}.br").stat().st_size < (out / f"{name}.gz").stat().st_size
    # too small to gain, or compressed already: no copies; stale copies gone
    assert not list(out.glob("assets/tiny-*.js.*")) and not list(out.glob("assets/logo-*.png.*"))
    assert not (out / "assets" / "old-12345678.js.br").exists()
