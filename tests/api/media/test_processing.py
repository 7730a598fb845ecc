"""The processing job: EXIF orientation, GPS and time; thumbnail; a copy stripped of metadata; original kept."""
from __future__ import annotations

import datetime as dt
import io

from PIL import Image, ImageCms
from sqlalchemy import select

from backend.media import processing, storage
from tests.api.media import files


def test_a_camera_photo_is_turned_upright_and_its_facts_read(uploader, media_dir, db_session):
    from backend.media import services

    data = files.photo(1200, 800, seed=31, exif=files.camera_exif(orientation=6))
    sha = files.sha(data)
    assert uploader.upload(data).status_code == 200
    media = services.info(db_session, sha)
    assert media.status == "ready" and media.orientation_fixed is True
    assert media.exif_gps == {"lat": 34.7751389, "lon": 111.2009028, "datum": "WGS-84", "source": "exif",
                              "time": "2026-11-20T02:31:05Z"}
    assert media.exif_time == dt.datetime(2026, 11, 20, 2, 31, 5, tzinfo=dt.timezone.utc)
    assert media.exif_offset == "+08:00"

    # the original is unchanged evidence: same bytes, EXIF and all
    assert storage.path_for(media_dir, sha).read_bytes() == data
    thumb = Image.open(storage.path_for(media_dir, media.thumb_sha256))
    assert thumb.format == "JPEG" and thumb.size == (213, 320)   # rotated: portrait now
    public_bytes = storage.path_for(media_dir, media.public_sha256).read_bytes()
    public = Image.open(io.BytesIO(public_bytes))
    assert public.size == (800, 1200)
    assert not public.getexif() and "icc_profile" not in public.info and "exif" not in public.info
    assert b"TestCam" not in public_bytes and b"GPS" not in public_bytes


def test_the_copies_are_served_stripped_and_immutable(uploader, officer):
    data = files.photo(800, 600, seed=32, exif=files.camera_exif(orientation=1))
    sha = files.sha(data)
    uploader.upload(data)
    client, headers = uploader.client, uploader.headers
    for suffix in ("/thumb", "/public"):
        r = client.get(f"/api/media/{sha}{suffix}", headers=headers)
        assert r.status_code == 200 and r.mimetype == "image/jpeg"
        assert r.headers["Cache-Control"] == "private, max-age=31536000, immutable"
        image = Image.open(io.BytesIO(r.data))
        assert not image.getexif() and "icc_profile" not in image.info
    original = client.get(f"/api/media/{sha}", headers=headers)
    assert original.data == data and original.headers["ETag"] == f'"{sha}"'
    again = client.get(f"/api/media/{sha}", headers={**headers, "If-None-Match": f'"{sha}"'})
    assert again.status_code == 304


def test_an_icc_profile_is_converted_to_srgb_then_dropped(uploader, media_dir, db_session):
    from backend.media import services

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()  # any non-sRGB profile
    data = files.photo(400, 300, seed=33, icc=icc)
    uploader.upload(data)
    media = services.info(db_session, files.sha(data))
    public = Image.open(storage.path_for(media_dir, media.public_sha256))
    assert "icc_profile" not in public.info
    assert Image.open(storage.path_for(media_dir, files.sha(data))).info["icc_profile"] == icc


def test_southern_western_fixes_and_a_photo_without_a_time_zone():
    exif = files.camera_exif(lat=(33.0, 51.0, 0.0), lat_ref="S", lon=(151.0, 12.0, 36.0), lon_ref="W", datum=None,
                             offset=None, taken="2026:02:14 08:00:00")
    image = Image.open(io.BytesIO(files.photo(64, 48, exif=exif)))
    facts = processing.read_facts(image, "Asia/Shanghai")
    assert facts.gps["lat"] == -33.85 and facts.gps["lon"] == -151.21 and facts.gps["datum"] == "WGS-84"
    assert facts.time == dt.datetime(2026, 2, 14, 0, 0, tzinfo=dt.timezone.utc) and facts.offset is None


def test_nonsense_gps_values_give_no_fix():
    for lat in ((0.0, 0.0, 0.0), (95.0, 0.0, 0.0)):
        exif = files.camera_exif(lat=lat, lon=(0.0, 0.0, 0.0) if lat[0] == 0 else (111.0, 0.0, 0.0))
        assert processing.read_facts(Image.open(io.BytesIO(files.photo(64, 48, exif=exif))), "UTC").gps is None
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", "garbage"
    assert processing.read_gps(exif) is None
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "not a date"
    assert processing.read_time(exif, "UTC") == (None, None)


def test_a_png_with_transparency_gets_a_white_thumbnail(uploader, media_dir, db_session):
    from backend.media import services

    data = files.png(600, 400)
    uploader.upload(data, "image/png")
    media = services.info(db_session, files.sha(data))
    assert media.status == "ready" and media.exif_gps is None and media.orientation_fixed is False
    thumb = Image.open(storage.path_for(media_dir, media.thumb_sha256))
    assert thumb.mode == "RGB" and thumb.getpixel((0, 0)) == (255, 255, 255)


def test_a_failed_processing_keeps_the_original_and_says_so(uploader, media_dir, db_session, monkeypatch):
    from backend.jobs.models import Job
    from backend.media import services

    def broken(*_args, **_kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr(processing, "derive", broken)
    data = files.photo(320, 240, seed=34)
    assert uploader.upload(data).status_code == 200
    media = services.info(db_session, files.sha(data))
    assert media.status == "failed" and "disk on fire" in media.error
    assert storage.path_for(media_dir, media.sha256).read_bytes() == data
    assert uploader.head_media(media.sha256).headers["X-Media-Status"] == "failed"
    r = uploader.client.get(f"/api/media/{media.sha256}/thumb", headers=uploader.headers)
    assert r.status_code == 404 and r.json["code"] == "media.no_derived"
    job = db_session.query(Job).filter(Job.name == "media.process").one()
    assert job.status == "failed" and job.error_code == "media.process_failed"


def test_a_thumbnail_asked_for_while_processing_answers_409(uploader, db_session):
    from backend.media.models import Media

    data = files.pdf()
    uploader.upload(data, "application/pdf")
    media = db_session.get(Media, files.sha(data))
    media.status = "processing"
    db_session.flush()
    r = uploader.client.get(f"/api/media/{media.sha256}/public", headers=uploader.headers)
    assert r.status_code == 409 and r.json["code"] == "media.processing"


def _pixels_equal(a: bytes, b: bytes) -> bool:
    from PIL import ImageChops

    first, second = Image.open(io.BytesIO(a)).convert("RGB"), Image.open(io.BytesIO(b)).convert("RGB")
    return first.size == second.size and ImageChops.difference(first, second).getbbox() is None


def test_a_phones_copy_is_its_own_public_copy(uploader, media_dir, db_session):
    """Upright, no metadata, within the size (what the app uploads): nothing to remove, nothing re-encoded."""
    from backend.media import services

    data = files.photo(1200, 900, seed=35)
    uploader.upload(data)
    media = services.info(db_session, files.sha(data))
    assert media.status == "ready" and media.public_sha256 == media.sha256   # stored once
    thumb = Image.open(storage.path_for(media_dir, media.thumb_sha256))
    assert thumb.format == "JPEG" and thumb.size == (320, 240) and not thumb.getexif()


def test_an_upright_camera_photo_keeps_its_pixels_and_loses_its_metadata(uploader, media_dir, db_session):
    """EXIF (GPS, camera), a comment, XMP, and a video appended after the image (a "motion photo") are
    dropped from the public copy; its compressed picture is the original's, byte for byte (no re-encoding)."""
    from backend.media import services

    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description GPSLatitude="34,46.5N"/></x:xmpmeta>'
    out = io.BytesIO()
    Image.open(io.BytesIO(files.photo(1200, 800, seed=36))).save(
        out, "JPEG", quality=85, exif=files.camera_exif(orientation=1), comment=b"TestCam secret", xmp=xmp)
    data = out.getvalue() + b"\x00\x00\x00\x18ftypmp42 GPS video of the scene"
    uploader.upload(data)
    media = services.info(db_session, files.sha(data))
    assert media.status == "ready" and media.exif_gps["lat"] == 34.7751389 and media.orientation_fixed is False
    public = storage.path_for(media_dir, media.public_sha256).read_bytes()
    processing.strip_check(public)
    for secret in (b"TestCam", b"GPS", b"Exif", b"xmpmeta", b"ftyp", b"secret"):
        assert secret not in public
    assert _pixels_equal(public, data)
    assert len(public) < len(data)


def _jpeg(mode: str = "RGB", **options) -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(files.photo(160, 120, seed=37))).convert(mode).save(out, "JPEG", **options)
    return out.getvalue()


def test_a_clean_copy_keeps_the_picture_of_any_plain_jpeg():
    for data in (_jpeg(), _jpeg(progressive=True), _jpeg(restart_marker_blocks=2), _jpeg(subsampling=0),
                 _jpeg(exif=files.camera_exif(orientation=1), comment=b"x", icc_profile=b"")):
        clean = processing.clean_jpeg(data)
        assert clean is not None and _pixels_equal(clean, data)
        assert clean.startswith(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00") and clean.endswith(b"\xff\xd9")
        assert clean.count(b"\xff\xe1") == 0 and clean.count(b"\xff\xfe") == 0


def test_no_clean_copy_when_the_picture_could_change_or_the_file_does_not_parse():
    rgb = _jpeg()
    soi_less = rgb[2:]
    truncated = rgb[: len(rgb) // 2]
    no_end = rgb[:-2]
    adobe = _jpeg("CMYK")                                  # four components and an Adobe segment
    gray = _jpeg("L")
    # RGB component ids and no JFIF header: libjpeg reads the pixels as RGB, not YCbCr
    no_jfif = bytearray(rgb[:2] + rgb[2 + 18:])
    sof = no_jfif.find(b"\xff\xc0")
    no_jfif[sof + 10], no_jfif[sof + 13], no_jfif[sof + 16] = 82, 71, 66
    # an unknown marker between segments
    odd = rgb[:2] + b"\xff\xf7\x00\x04ab" + rgb[2:]
    for data in (soi_less, truncated, no_end, adobe, gray, bytes(no_jfif), odd, b"", b"\xff\xd8\xff\xd9"):
        assert processing.clean_jpeg(data) is None


def test_the_thumbnail_has_the_size_pillow_s_thumbnail_gives():
    for size in ((1920, 1440), (1440, 1920), (1201, 799), (799, 1201), (4000, 3), (3, 4000), (320, 100), (300, 200),
                 (641, 641), (333, 1000)):
        expected = Image.new("1", size)
        expected.thumbnail((320, 320))
        assert processing._thumbnail(Image.new("1", size), 320).size == expected.size, size


def test_a_whole_phone_copy_is_ready_in_its_upload_request(uploader, media_dir, db_session):
    """Sent whole (HEAD, then one POST) and cheap to process (upright JPEG, no colour profile): thumbnail and
    public copy are made in the request, no job; the upload's audit entry says what the job's would have."""
    from backend.audit.models import AuditEntry
    from backend.jobs.models import Job
    from backend.media import services

    data = files.photo(1200, 900, seed=38, exif=files.camera_exif(orientation=1))
    sha = files.sha(data)
    r = uploader.create_tus(data, body=data)
    assert r.status_code == 201 and r.json["media"]["status"] == "ready", r.json
    media = services.info(db_session, sha)
    assert media.processed_at is not None and media.exif_gps["lat"] == 34.7751389
    assert media.exif_offset == "+08:00" and media.orientation_fixed is False
    assert Image.open(storage.path_for(media_dir, media.thumb_sha256)).size == (320, 240)
    public = storage.path_for(media_dir, media.public_sha256).read_bytes()
    assert b"GPS" not in public and b"TestCam" not in public and _pixels_equal(public, data)
    assert db_session.query(Job).filter(Job.name == "media.process").count() == 0
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "media.upload",
                                                        AuditEntry.entity_id == sha)).one()
    assert entry.detail["job"] is None and entry.detail["processed"] == {
        "thumb_sha256": media.thumb_sha256, "public_sha256": media.public_sha256, "gps": True,
        "exif_time": "2026-11-20T02:31:05Z", "orientation_fixed": False}


def test_a_whole_photo_that_needs_turning_is_left_to_the_job(uploader, db_session):
    from backend.jobs.models import Job

    data = files.photo(1200, 800, seed=39, exif=files.camera_exif(orientation=6))
    r = uploader.create_tus(data, body=data)
    assert r.status_code == 201 and r.json["media"]["status"] == "processing", r.json
    assert db_session.query(Job).filter(Job.name == "media.process").count() == 1


def test_a_failure_in_the_request_is_left_to_the_job(uploader, db_session, monkeypatch):
    from backend.media import services

    calls = []

    def broken(*args, **kwargs):
        calls.append(kwargs.get("clean_only", False))
        raise OSError("disk on fire")

    monkeypatch.setattr(processing, "derive", broken)
    data = files.photo(640, 480, seed=40)
    r = uploader.create_tus(data, body=data)
    assert r.status_code == 201 and r.json["media"]["status"] == "processing"
    media = services.info(db_session, files.sha(data))
    assert calls[0] is True and media.status in ("processing", "failed")


def test_no_clean_copy_beyond_the_public_size():
    data = _jpeg()                      # 160 × 120
    assert processing.clean_jpeg(data, max_edge=160) is not None
    assert processing.clean_jpeg(data, max_edge=159) is None


def test_the_upload_check_can_keep_its_decoded_picture_for_the_thumbnail(tmp_path):
    from backend.media import checks

    path = tmp_path / "photo.jpg"
    path.write_bytes(files.photo(1920, 1440, seed=41, exif=files.camera_exif(orientation=1)))
    limits = checks.Limits.from_config({})
    assert checks.check_file(path, "photo", "image/jpeg", limits).image is None
    facts = checks.check_file(path, "photo", "image/jpeg", limits, keep_edge=320)
    assert (facts.width, facts.height) == (1920, 1440) and facts.image.size == (480, 360)   # 1/4 scale
    derived = processing.derive(path, thumb_edge=320, public_max_edge=2560, default_zone="UTC", clean_only=True,
                                decoded=facts.image)
    again = processing.derive(path, thumb_edge=320, public_max_edge=2560, default_zone="UTC")
    assert derived.public == again.public and derived.facts == again.facts
    assert Image.open(io.BytesIO(derived.thumb)).size == (320, 240)
    assert processing.derive(path, thumb_edge=320, public_max_edge=1000, default_zone="UTC", clean_only=True,
                             decoded=facts.image) is None
