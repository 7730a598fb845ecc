"""Files refused for what they are: bombs, truncated and fake images, non-PDFs, clips over their limit."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.media import storage
from tests.api.media import files


def _refused(uploader, media_dir, data, media_type, code, status=422, **extra):
    r = uploader.upload(data, media_type, **extra)
    assert (r.status_code, r.json["code"]) == (status, code), r.json
    assert r.json["message"] and r.json["status"] == status
    assert not storage.exists(media_dir, files.sha(data))
    assert uploader.head_media(files.sha(data)).status_code == 404
    return r


def test_a_decompression_bomb_is_refused_before_decoding(uploader, media_dir, db_session):
    r = _refused(uploader, media_dir, files.jpeg_bomb(), "image/jpeg", "media.too_many_pixels")
    assert "解压炸弹" in r.json["message"]
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "upload.refused")).one()
    assert entry.detail["code"] == "media.too_many_pixels"


def test_a_png_bomb_is_refused(uploader, media_dir):
    bomb = files.png_bomb(20000)
    assert len(bomb) < 200_000  # small on the wire, 400 MP decoded
    _refused(uploader, media_dir, bomb, "image/png", "media.too_many_pixels")


def test_an_image_just_over_the_pixel_limit_is_refused(app, uploader, media_dir):
    import dataclasses

    from backend.media.services import MediaSettings

    settings = app.extensions.setdefault("shuangsui.media", MediaSettings.from_config(app.config))
    limits = dataclasses.replace(settings.limits, max_pixels={**settings.limits.max_pixels, "photo": 640 * 480 - 1})
    app.extensions["shuangsui.media"] = dataclasses.replace(settings, limits=limits)
    try:  # between the limit and twice the limit Pillow only warns: the warning is an error here
        _refused(uploader, media_dir, files.photo(640, 480, seed=7103), "image/jpeg", "media.too_many_pixels")
    finally:
        app.extensions["shuangsui.media"] = settings


def test_a_truncated_jpeg_is_refused(uploader, media_dir):
    whole = files.photo(seed=21)
    r = _refused(uploader, media_dir, whole[: len(whole) * 2 // 3], "image/jpeg", "media.truncated")
    assert "截断" in r.json["message"]


def test_a_photo_sent_whole_and_cut_short_is_refused_though_its_header_is_whole(uploader, media_dir):
    """The check decodes every scan (at 1/8 scale): a header parse and Pillow's ``verify()``, which reads no
    scan of a JPEG, would let these pass; a plain photo's facts come from its header alone, and are not enough."""
    import io

    from PIL import Image

    whole = files.photo(1920, 1440, seed=22, exif=files.camera_exif(orientation=1))
    for cut in (whole[: len(whole) // 2], whole[:-200]):
        with Image.open(io.BytesIO(cut)) as im:
            im.verify()                                   # says nothing of the missing bytes
        r = uploader.create_tus(cut, body=cut)            # HEAD, then one POST: the app's fast path
        assert r.status_code == 422 and r.json["code"] == "media.truncated", r.json
        assert not storage.exists(str(media_dir), files.sha(cut))


def test_random_bytes_named_jpg_are_refused(uploader, media_dir):
    r = _refused(uploader, media_dir, files.random_bytes(), "image/jpeg", "media.not_an_image",
                 filename="IMG_0001.jpg")
    assert "图片" in r.json["message"]


def test_an_image_of_another_format_than_declared_is_refused(uploader, media_dir):
    _refused(uploader, media_dir, files.png(), "image/jpeg", "media.type_mismatch")
    _refused(uploader, media_dir, files.photo(320, 240, seed=22), "image/png", "media.type_mismatch")


def test_a_gif_or_bmp_declared_as_jpeg_is_not_an_image_we_take(uploader, media_dir):
    import io

    from PIL import Image

    for fmt in ("GIF", "BMP", "TIFF"):
        out = io.BytesIO()
        Image.new("RGB", (50, 50), (1, 2, 3)).save(out, fmt)
        _refused(uploader, media_dir, out.getvalue(), "image/jpeg", "media.not_an_image")


def test_an_oversize_pdf_is_refused_before_any_byte(uploader):
    r = uploader.create(b"%PDF-", "application/pdf", length=20 * 1024 * 1024 + 1)
    assert r.status_code == 413 and r.json["code"] == "media.too_large"
    assert "20.0 MB" in r.json["message"] and r.json["details"]["limit"] == 20 * 1024 * 1024


def test_a_pdf_that_is_not_one_is_refused(uploader, media_dir):
    _refused(uploader, media_dir, files.photo(320, 240, seed=23), "application/pdf", "media.not_pdf")
    _refused(uploader, media_dir, files.pdf()[:-8], "application/pdf", "media.not_pdf")  # no %%EOF: cut short


def test_a_scanned_notice_as_pdf_is_stored_ready(uploader):
    data = files.pdf(pad=3000)
    r = uploader.upload(data, "application/pdf", filename="责令整改通知书.pdf")
    assert r.status_code == 200 and r.json["media"]["kind"] == "pdf" and r.json["media"]["status"] == "ready"


@pytest.mark.parametrize("media_type,kind,limit", [("audio/mp4", "audio", 30), ("video/mp4", "video", 200)])
def test_a_clip_over_its_limit_is_refused(uploader, media_type, kind, limit):
    r = uploader.create(b"", media_type, sha256="e" * 64, length=limit * 1024 * 1024 + 1)
    assert r.status_code == 413 and r.json["code"] == "media.too_large"
    assert f"{limit}.0 MB" in r.json["message"]


def test_clips_are_checked_by_their_container(uploader, media_dir):
    for data, media_type in ((files.mp4(), "video/mp4"), (files.webm(), "video/webm"), (files.amr(), "audio/amr"),
                             (files.mp4(5000), "audio/mp4"), (files.webm(5000), "audio/webm; codecs=opus")):
        r = uploader.upload(data, media_type)
        assert r.status_code == 200, (media_type, r.json)
        assert r.json["media"]["status"] == "ready"
    _refused(uploader, media_dir, files.random_bytes(8000, seed=3), "video/mp4", "media.bad_container")
    _refused(uploader, media_dir, files.mp4(6000), "audio/mpeg", "media.bad_container")
    _refused(uploader, media_dir, files.amr(3000), "video/webm", "media.bad_container")


def test_a_signature_is_a_small_png(uploader, media_dir):
    data = files.png()
    r = uploader.upload(data, "image/png", kind="signature")
    assert r.status_code == 200 and r.json["media"]["kind"] == "signature"
    assert r.json["media"]["status"] == "ready" and r.json["media"]["width"] == 300
    r = uploader.create(b"x", "image/png", sha256="d" * 64, length=1024 * 1024 + 1, kind="signature")
    assert r.status_code == 413 and r.json["code"] == "media.too_large"


def test_an_oversize_photo_is_refused(uploader):
    r = uploader.create(b"x", "image/jpeg", sha256="f" * 64, length=15 * 1024 * 1024 + 1)
    assert r.status_code == 413 and r.json["code"] == "media.too_large"


def test_a_signature_checked_first_does_not_lower_the_limit_for_photos(app, uploader, db_session):
    import io

    from PIL import Image

    from backend.actor import Actor
    from backend.media import services

    big = io.BytesIO()
    Image.new("RGB", (3000, 3000), (90, 120, 30)).save(big, "JPEG", quality=50)  # 9 MP: over twice a signature's
    assert uploader.upload(big.getvalue(), "image/jpeg").status_code == 200
    # a signature is checked (another request) before the photo's processing job runs
    assert uploader.upload(files.png(), "image/png", kind="signature").status_code == 200
    services.process(db_session, services.MediaSettings.from_config(app.config), files.sha(big.getvalue()),
                     Actor.system())
    assert services.info(db_session, files.sha(big.getvalue())).status == "ready"
