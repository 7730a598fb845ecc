"""backend/media/checks.py on its own (no app, no database): what may be uploaded and what a file must be.

The upload tests (tests/api/media) go through the API; these pin each rule of the module with files made on
the spot, at its boundaries: the whitelist and its kinds, the byte and pixel limits, the bomb checks, the
image, PDF and container checks, each refusal's code and message.
"""
from __future__ import annotations

import io
import struct
import wave
import zlib

import pytest
from PIL import Image

from backend.media import checks
from backend.media.checks import Facts, Limits, MediaRefused
from tests.api.media import files

MB = 1 << 20
DEFAULTS = Limits.from_config({})


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_sized(width: int, height: int, *, size: int | None = None) -> bytes:
    """A 1-bit black PNG, padded with a text chunk to exactly ``size`` bytes when asked."""
    out = io.BytesIO()
    Image.new("1", (width, height), 0).save(out, "PNG")
    data = out.getvalue()
    if size is None:
        return data
    pad = size - len(data) - 12 - len(b"Comment\x00")
    assert pad >= 0, len(data)
    return data[:-12] + _chunk(b"tEXt", b"Comment\x00" + b"x" * pad) + data[-12:]


def webp(width=30, height=20) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 20, 30)).save(out, "WEBP")
    return out.getvalue()


def wav(frames: int = 800) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * frames)
    return out.getvalue()


def ogg(pages: int = 2) -> bytes:
    page = b"OggS" + b"\x00" + b"\x02" + b"\x00" * 20 + b"\x01" + b"\x10" + b"\x00" * 16
    return page * pages


def mp3(frames: int = 4) -> bytes:
    frame = b"\xff\xfb\x90\x00" + b"\x00" * 413      # MPEG-1 layer III, 128 kbit/s, 44.1 kHz: 417 bytes
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + frame * frames


def check(tmp_path, data: bytes, media_type: str, kind: str | None = None, limits: Limits = DEFAULTS):
    path = tmp_path / "upload"
    path.write_bytes(data)
    return checks.check_file(path, kind or checks.kind_for(media_type), media_type, limits)


def refused(tmp_path, data, media_type, kind=None, limits=DEFAULTS) -> MediaRefused:
    with pytest.raises(MediaRefused) as caught:
        check(tmp_path, data, media_type, kind, limits)
    return caught.value


def limits(**over) -> Limits:
    return Limits(max_bytes=DEFAULTS.max_bytes, max_pixels={**DEFAULTS.max_pixels, **over.pop("max_pixels", {})},
                  **over)


# --- what may be uploaded ---------------------------------------------------------------------------------------

def test_types_are_normalised_before_the_whitelist():
    assert checks.normalise_type("Audio/WebM; codecs=opus") == "audio/webm"
    assert checks.normalise_type("  IMAGE/PNG ") == "image/png"
    assert checks.normalise_type(None) == "" and checks.normalise_type("") == ""


CLIP_KINDS = {"audio/mp4": "audio", "audio/x-m4a": "audio", "audio/m4a": "audio", "audio/3gpp": "audio",
              "audio/amr": "audio", "audio/mpeg": "audio", "audio/wav": "audio", "audio/x-wav": "audio",
              "audio/wave": "audio", "audio/webm": "audio", "audio/ogg": "audio", "video/mp4": "video",
              "video/3gpp": "video", "video/quicktime": "video", "video/webm": "video", "video/x-matroska": "video"}


def test_each_accepted_type_has_its_kind():
    for media_type in ("image/jpeg", "image/png", "image/webp"):
        assert checks.kind_for(media_type) == "photo" and checks.kind_for(media_type, "photo") == "photo"
    assert checks.kind_for("application/pdf") == "pdf" and checks.kind_for("application/pdf", "") == "pdf"
    assert checks.kind_for("application/pdf", "pdf") == "pdf"
    for media_type, kind in CLIP_KINDS.items():
        assert checks.kind_for(media_type) == kind and checks.kind_for(media_type, kind) == kind
    assert checks.ACCEPTED_TYPES == sorted(["image/jpeg", "image/png", "image/webp", "application/pdf", *CLIP_KINDS])


def test_a_type_outside_the_whitelist_is_refused_naming_what_is_accepted():
    for media_type, shown in (("image/gif", "image/gif"), ("", "（未声明）"), ("text/html", "text/html")):
        with pytest.raises(MediaRefused) as caught:
            checks.kind_for(media_type)
        e = caught.value
        assert (e.code, e.status) == ("media.type_not_allowed", 415)
        assert e.message == f"不支持的文件类型：{shown}。可上传：{'、'.join(checks.ACCEPTED_TYPES)}"


def test_a_declared_kind_must_be_known_and_match_the_type():
    with pytest.raises(MediaRefused) as caught:
        checks.kind_for("image/png", "sticker")
    assert (caught.value.code, caught.value.status, caught.value.message) == (
        "media.bad_kind", 422, "未知的文件类别：sticker")
    with pytest.raises(MediaRefused) as caught:
        checks.kind_for("video/mp4", "audio")
    assert (caught.value.code, caught.value.message) == ("media.bad_kind", "文件类别 audio 与文件类型 video/mp4 不符")
    with pytest.raises(MediaRefused) as caught:
        checks.kind_for("application/pdf", "photo")
    assert caught.value.code == "media.bad_kind"


def test_a_signature_is_a_png():
    assert checks.kind_for("image/png", "signature") == "signature"
    for media_type in ("image/jpeg", "image/webp"):
        with pytest.raises(MediaRefused) as caught:
            checks.kind_for(media_type, "signature")
        assert (caught.value.code, caught.value.status, caught.value.message) == (
            "media.type_not_allowed", 415, "签名图片必须是 PNG 格式")


def test_a_refusal_without_its_own_code_is_media_refused():
    e = MediaRefused()
    assert (e.status, e.code, e.message) == (422, "media.refused", "文件未被接受")


def test_each_type_is_served_under_its_extension():
    assert {t: checks.extension_of(t) for t in checks.ACCEPTED_TYPES} == {
        "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf",
        "audio/mp4": "m4a", "audio/x-m4a": "m4a", "audio/m4a": "m4a", "audio/3gpp": "3gp", "audio/amr": "amr",
        "audio/mpeg": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/webm": "weba",
        "audio/ogg": "ogg", "video/mp4": "mp4", "video/3gpp": "3gp", "video/quicktime": "mov",
        "video/webm": "webm", "video/x-matroska": "mkv"}
    assert checks.extension_of("text/html") == "bin"


# --- limits --------------------------------------------------------------------------------------------------

def test_the_default_limits():
    defaults = Limits.from_config({})        # not DEFAULTS: made when this module was imported
    assert defaults.max_bytes == {"photo": 15 * MB, "signature": MB, "pdf": 20 * MB, "audio": 30 * MB,
                                  "video": 200 * MB}
    assert defaults.max_pixels == {"photo": 50_000_000, "signature": 4_000_000}
    assert defaults.max_pixels_per_byte == 5000
    assert Limits(max_bytes={}, max_pixels={}).max_pixels_per_byte == 5000


def test_every_limit_comes_from_the_config():
    config = {"MEDIA_MAX_PIXELS_PER_BYTE": "7", "MEDIA_PHOTO_MAX_BYTES": "11", "MEDIA_SIGNATURE_MAX_BYTES": "12",
              "MEDIA_PDF_MAX_BYTES": "13", "MEDIA_AUDIO_MAX_BYTES": "14", "MEDIA_VIDEO_MAX_BYTES": "15",
              "MEDIA_PHOTO_MAX_PIXELS": "16", "MEDIA_SIGNATURE_MAX_PIXELS": "17"}
    got = Limits.from_config(config)
    assert got == Limits(max_bytes={"photo": 11, "signature": 12, "pdf": 13, "audio": 14, "video": 15},
                         max_pixels={"photo": 16, "signature": 17}, max_pixels_per_byte=7)


@pytest.mark.parametrize("kind,label,limit,text", [
    ("photo", "照片", 15 * MB, "15.0 MB"), ("signature", "签名图片", MB, "1.0 MB"), ("pdf", "PDF 文件", 20 * MB, "20.0 MB"),
    ("audio", "录音", 30 * MB, "30.0 MB"), ("video", "视频", 200 * MB, "200.0 MB")])
def test_each_kind_has_its_byte_limit(kind, label, limit, text):
    checks.check_length(kind, limit, DEFAULTS)
    with pytest.raises(MediaRefused) as caught:
        checks.check_length(kind, limit + 1, DEFAULTS)
    e = caught.value
    assert (e.code, e.status, e.details) == ("media.too_large", 413, {"limit": limit, "length": limit + 1})
    assert e.message == f"{label}不能超过 {text}（本文件 {text}）"


def test_sizes_under_a_megabyte_are_said_in_kilobytes():
    small = Limits(max_bytes={"signature": MB - 1}, max_pixels={})
    with pytest.raises(MediaRefused) as caught:
        checks.check_length("signature", MB, small)
    assert caught.value.message == "签名图片不能超过 1024 KB（本文件 1.0 MB）"
    with pytest.raises(MediaRefused) as caught:
        checks.check_length("signature", 3 * MB // 2, Limits(max_bytes={"signature": 1536}, max_pixels={}))
    assert caught.value.message == "签名图片不能超过 2 KB（本文件 1.5 MB）"


# --- images -------------------------------------------------------------------------------------------------

def test_images_of_each_type_pass_with_their_size_and_found_type(tmp_path):
    assert check(tmp_path, files.photo(64, 48), "image/jpeg") == Facts(64, 48, "image/jpeg")
    assert check(tmp_path, files.png(300, 120), "image/png") == Facts(300, 120, "image/png")
    assert check(tmp_path, webp(30, 20), "image/webp") == Facts(30, 20, "image/webp")
    assert check(tmp_path, files.png(), "image/png", "signature") == Facts(300, 120, "image/png")


def test_an_image_of_another_format_is_refused_naming_both(tmp_path):
    e = refused(tmp_path, files.png(), "image/jpeg")
    assert (e.code, e.message) == ("media.type_mismatch", "文件内容是 PNG 图片，与声明的类型 image/jpeg 不符")
    e = refused(tmp_path, webp(), "image/png")
    assert (e.code, e.message) == ("media.type_mismatch", "文件内容是 WebP 图片，与声明的类型 image/png 不符")


def test_bytes_that_are_no_image_name_the_expected_format(tmp_path):
    for media_type, label in (("image/jpeg", "JPEG"), ("image/webp", "WebP"), ("image/png", "PNG")):
        e = refused(tmp_path, files.random_bytes(2000), media_type)
        assert (e.code, e.message) == ("media.not_an_image", f"文件不是可识别的图片（应为 {label}）")
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, "GIF")
    assert refused(tmp_path, out.getvalue(), "image/png").code == "media.not_an_image"


def test_a_truncated_image_is_refused_as_truncated(tmp_path):
    e = refused(tmp_path, files.photo(64, 64)[:-300], "image/jpeg")
    assert (e.code, e.message) == ("media.truncated", "图片文件不完整（被截断），请重新拍摄或上传")
    png = files.png(300, 120)
    e = refused(tmp_path, png[:len(png) - 40], "image/png")
    assert e.code == "media.truncated"


def test_a_broken_image_is_refused_naming_the_error(tmp_path):
    png = bytearray(files.png(20, 20))
    png[png.find(b"IDAT") + 6] ^= 0xFF                    # the data no longer matches its checksum
    e = refused(tmp_path, bytes(png), "image/png")
    assert (e.code, e.message) == ("media.corrupt", "图片文件已损坏，无法解码（OSError）")


def test_a_text_chunk_that_inflates_beyond_bounds_is_a_bomb(tmp_path):
    png = files.png(20, 20)
    bomb = png[:33] + _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\x00" * (3 * MB))) + png[33:]
    e = refused(tmp_path, bomb, "image/png")
    assert (e.code, e.message) == ("media.too_many_pixels", "图片中的附加数据解压后过大，疑似解压炸弹，已拒收")


def test_the_pixel_limit_of_each_kind(tmp_path):
    small = limits(max_pixels={"photo": 120, "signature": 200})
    assert check(tmp_path, png_sized(12, 10), "image/png", "photo", small) == Facts(12, 10, "image/png")
    # over the kind's limit, under the process's (the largest kind's): refused from the header
    e = refused(tmp_path, png_sized(11, 11), "image/png", "photo", small)
    assert (e.code, e.message, e.details) == ("media.too_many_pixels",
                                              "图片像素过多（11×11，上限 120 像素），疑似解压炸弹，已拒收",
                                              {"width": 11, "height": 11})
    assert check(tmp_path, png_sized(20, 10), "image/png", "signature", small) == Facts(20, 10, "image/png")
    e = refused(tmp_path, png_sized(11, 10), "image/png", "signature", limits(max_pixels={"photo": 400, "signature": 100}))
    assert e.details == {"width": 11, "height": 10} and "上限 100 像素" in e.message
    # over the process's limit Pillow warns (an error here), over twice it refuses: the same answer
    for side in (15, 21):
        e = refused(tmp_path, png_sized(side, side), "image/png", "photo", small)
        assert (e.code, e.message) == ("media.too_many_pixels", "图片像素过多（超过 120 像素），疑似解压炸弹，已拒收")
    big = limits(max_pixels={"photo": 1_000_000, "signature": 1_000_000})
    e = refused(tmp_path, png_sized(1001, 1000), "image/png", "signature", big)
    assert e.message == "图片像素过多（超过 1,000,000 像素），疑似解压炸弹，已拒收"


def test_the_pixel_limit_is_the_kinds_own_after_a_smaller_kind(tmp_path):
    # the process-wide guard is the largest kind's limit, whichever kind was checked before
    small = limits(max_pixels={"photo": 400, "signature": 100})
    refused(tmp_path, png_sized(11, 10), "image/png", "signature", small)
    assert check(tmp_path, png_sized(20, 20), "image/png", "photo", small) == Facts(20, 20, "image/png")


def test_an_image_claiming_more_pixels_than_its_bytes_allow_is_a_bomb(tmp_path):
    # 2,000,000 pixels in exactly 1,000 bytes: 2,000 pixels a byte is allowed, 1,999 is not
    data = png_sized(2000, 1000, size=1000)
    assert check(tmp_path, data, "image/png", "photo", limits(max_pixels_per_byte=2000)) == Facts(2000, 1000, "image/png")
    e = refused(tmp_path, data, "image/png", "photo", limits(max_pixels_per_byte=1999))
    assert (e.code, e.details) == ("media.too_many_pixels", {"width": 2000, "height": 1000, "size": 1000})
    assert e.message == "图片声明的尺寸（2000×1000）与文件大小（1000 字节）不符，疑似解压炸弹，已拒收"
    # up to a million pixels, any file may be small
    assert check(tmp_path, png_sized(1000, 1000), "image/png", "photo", limits(max_pixels_per_byte=1)).width == 1000
    e = refused(tmp_path, png_sized(101, 9901), "image/png", "photo", limits(max_pixels_per_byte=1))  # 1,000,001
    assert e.code == "media.too_many_pixels" and "101×9901" in e.message


# --- PDF ----------------------------------------------------------------------------------------------------

def test_a_pdf_has_its_header_and_its_end(tmp_path):
    assert check(tmp_path, files.pdf(pad=3000), "application/pdf") == Facts(media_type="application/pdf")
    e = refused(tmp_path, b"%PDX-" + files.pdf()[5:], "application/pdf")
    assert (e.code, e.message) == ("media.not_pdf", "文件不是 PDF（缺少 %PDF- 文件头）")
    for data in (files.pdf()[:-7], files.pdf().replace(b"startxref", b"xref")):
        e = refused(tmp_path, data, "application/pdf")
        assert (e.code, e.message) == ("media.not_pdf", "PDF 文件不完整（缺少 startxref 与 %%EOF 结尾），请重新扫描或上传")


def test_the_end_of_a_pdf_is_looked_for_in_its_last_kilobyte(tmp_path):
    def ending(gap: int) -> bytes:          # "startxref" begins 9 + gap bytes before the end
        return b"%PDF-1.4\n" + b"%" + b"x" * 2000 + b"\nstartxref" + b"\n" * (gap - 6) + b"%%EOF\n"
    assert check(tmp_path, ending(1015), "application/pdf").media_type == "application/pdf"    # 1,024 from the end
    assert refused(tmp_path, ending(1016), "application/pdf").code == "media.not_pdf"          # 1,025


# --- clips -------------------------------------------------------------------------------------------------

SAMPLES = {"ftyp": files.mp4(), "ebml": files.webm(), "amr": files.amr(), "wav": wav(), "ogg": ogg(), "mp3": mp3()}


def test_the_container_a_clip_announces():
    for container, data in SAMPLES.items():
        assert checks.container_of(data[:16]) == container
    assert checks.container_of(b"#!AMR-WB\n" + b"\x00" * 7) == "amr"
    assert checks.container_of(files.mp4()[:12]) == "ftyp"
    assert checks.container_of(files.mp4()[:11]) is None
    assert checks.container_of(b"RIFF\x00\x00\x00\x00AVI LIST") is None
    assert checks.container_of(b"\xff\xfb") == "mp3" and checks.container_of(b"\xff") is None
    assert checks.container_of(b"\xff\xc0\x00\x00") is None and checks.container_of(b"\xfe\xfb\x00\x00") is None
    assert checks.container_of(b"") is None and checks.container_of(files.random_bytes(16, seed=2)) is None


@pytest.mark.parametrize("media_type", sorted(CLIP_KINDS))
def test_each_clip_type_takes_its_containers(tmp_path, media_type):
    container = {"audio/amr": "amr", "audio/mpeg": "mp3", "audio/ogg": "ogg", "audio/webm": "ebml",
                 "video/webm": "ebml", "video/x-matroska": "ebml"}.get(media_type, "wav" if "wav" in media_type
                                                                        else "ftyp")
    data = files.webm(doctype=b"matroska") if media_type == "video/x-matroska" else SAMPLES[container]
    assert check(tmp_path, data, media_type) == Facts(media_type=media_type)
    other = "ogg" if container != "ogg" else "wav"
    e = refused(tmp_path, SAMPLES[other], media_type)
    label = "录音" if CLIP_KINDS[media_type] == "audio" else "视频"
    assert (e.code, e.details) == ("media.bad_container", {"container": other})
    assert e.message == f"文件内容不是声明的{label}格式（{media_type}），已拒收"


def test_a_clip_with_the_right_magic_and_a_broken_body_is_refused(tmp_path):
    e = refused(tmp_path, files.mp4()[:-100], "video/mp4")
    assert e.code == "media.bad_container" and e.details == {"container": "ftyp"}
    assert e.message.startswith("文件不是完整的视频（video/mp4）：") and e.message.endswith("，已拒收")
    e = refused(tmp_path, wav() + b"\x00\x00", "audio/wav")
    assert e.message == "文件不是完整的录音（audio/wav）：结尾有多余的字节，已拒收"
