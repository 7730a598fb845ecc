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
    data = files.photo(320, 240, seed=34, exif=files.camera_exif(orientation=6))   # to be turned: the job's
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
    uploader.derive(files.sha(data))
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
    uploader.derive(files.sha(data))
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


def test_a_phone_copy_is_ready_in_its_upload_request_and_its_copies_made_when_first_asked_for(
        uploader, media_dir, db_session):
    """Sent whole or in chunks, a plain photo (upright JPEG, no colour profile: the app's copies) needs no job:
    its EXIF facts are read in the request from the header the check opens, and it is ready; its thumbnail
    and public copy are made by the first reader that asks (not in the upload request). The upload's audit
    entry says what the job's would have."""
    from backend.audit.models import AuditEntry
    from backend.jobs.models import Job
    from backend.media import services

    for n, whole in enumerate((True, False)):
        data = files.photo(1200, 900, seed=(38, 46)[n], exif=files.camera_exif(orientation=1))
        sha = files.sha(data)
        r = uploader.create_tus(data, body=data) if whole else uploader.upload(data, chunk=50_000)
        assert r.status_code in (200, 201) and r.json["media"]["status"] == "ready", r.json
        assert r.json["media"]["thumb_sha256"] is None and r.json["media"]["public_sha256"] is None
        media = services.info(db_session, sha)
        assert media.processed_at is not None and media.exif_gps["lat"] == 34.7751389
        assert media.exif_offset == "+08:00" and media.orientation_fixed is False
        assert media.thumb_sha256 is None and media.public_sha256 is None
        entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "media.upload",
                                                            AuditEntry.entity_id == sha)).one()
        assert entry.detail["job"] is None and entry.detail["processed"] == {
            "thumb_sha256": None, "public_sha256": None, "gps": True,
            "exif_time": "2026-11-20T02:31:05Z", "orientation_fixed": False}

        thumb = uploader.client.get(f"/api/media/{sha}/thumb", headers=uploader.headers)
        assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.data)).size == (320, 240)
        db_session.expire_all()
        media = services.info(db_session, sha)
        assert Image.open(storage.path_for(media_dir, media.thumb_sha256)).size == (320, 240)
        public = uploader.client.get(f"/api/media/{sha}/public", headers=uploader.headers).data
        assert public == storage.path_for(media_dir, media.public_sha256).read_bytes()
        assert b"GPS" not in public and b"TestCam" not in public and _pixels_equal(public, data)
    assert db_session.query(Job).filter(Job.name == "media.process").count() == 0


def test_the_copies_made_on_first_need_are_made_once(uploader, media_dir, db_session, monkeypatch):
    """The row is locked and read again before the copies are made: a second reader finds them made."""
    from backend.media import services

    made = []
    real = processing.derive

    def counted(*args, **kwargs):
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(processing, "derive", counted)
    data = files.photo(640, 480, seed=57)
    uploader.upload(data)
    for suffix in ("thumb", "public", "thumb"):
        assert uploader.client.get(f"/api/media/{files.sha(data)}/{suffix}", headers=uploader.headers).status_code == 200
    assert made == [1]
    settings = services.MediaSettings.from_config(uploader.client.application.config)
    assert services.derived(db_session, settings, files.sha(data)).thumb_sha256 and made == [1]   # already made
    assert services.derived(db_session, settings, "0" * 64) is None


def test_a_whole_photo_that_needs_turning_is_left_to_the_job(uploader, db_session):
    from backend.jobs.models import Job

    data = files.photo(1200, 800, seed=39, exif=files.camera_exif(orientation=6))
    r = uploader.create_tus(data, body=data)
    assert r.status_code == 201 and r.json["media"]["status"] == "processing", r.json
    assert db_session.query(Job).filter(Job.name == "media.process").count() == 1


def test_copies_that_cannot_be_made_on_first_need_mark_the_photo_failed(uploader, media_dir, db_session,
                                                                        monkeypatch):
    from backend.media import services

    def broken(*_args, **_kwargs):
        raise OSError("disk on fire")

    data = files.photo(640, 480, seed=40)
    r = uploader.create_tus(data, body=data)
    assert r.status_code == 201 and r.json["media"]["status"] == "ready"
    monkeypatch.setattr(processing, "derive", broken)
    r = uploader.client.get(f"/api/media/{files.sha(data)}/thumb", headers=uploader.headers)
    assert r.status_code == 404 and r.json["code"] == "media.no_derived"
    db_session.expire_all()
    media = services.info(db_session, files.sha(data))
    assert media.status == "failed" and "disk on fire" in media.error
    assert storage.path_for(media_dir, media.sha256).read_bytes() == data      # the original stays


def test_no_clean_copy_beyond_the_public_size():
    data = _jpeg()                      # 160 × 120
    assert processing.clean_jpeg(data, max_edge=160) is not None
    assert processing.clean_jpeg(data, max_edge=159) is None


def test_the_upload_check_reads_a_plain_photo_s_facts_from_its_header(tmp_path):
    """What ``look`` returns comes back with the check's facts; ``plain_facts`` tells the app's copies (no job)
    from photos to turn, with a colour profile, or larger than the public size (the job's)."""
    import functools

    from backend.media import checks

    limits = checks.Limits.from_config({})
    look = functools.partial(processing.plain_facts, public_max_edge=2560, default_zone="UTC")
    cases = {"plain.jpg": (files.photo(1920, 1440, seed=41, exif=files.camera_exif(orientation=1)), True),
             "turned.jpg": (files.photo(640, 480, seed=42, exif=files.camera_exif(orientation=6)), False),
             "profile.jpg": (files.photo(640, 480, seed=43, icc=ImageCms.ImageCmsProfile(
                 ImageCms.createProfile("LAB")).tobytes()), False),
             "large.jpg": (files.photo(2600, 1000, seed=44), False)}
    for name, (data, plain) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert checks.check_file(path, "photo", "image/jpeg", limits).looked is None
        facts = checks.check_file(path, "photo", "image/jpeg", limits, look=look)
        assert (facts.looked is not None) is plain, name
    facts = checks.check_file(tmp_path / "plain.jpg", "photo", "image/jpeg", limits, look=look)
    assert (facts.width, facts.height) == (1920, 1440) and facts.looked.gps["lat"] == 34.7751389
    assert facts.looked == processing.derive(tmp_path / "plain.jpg", thumb_edge=320, public_max_edge=2560,
                                             default_zone="UTC").facts
