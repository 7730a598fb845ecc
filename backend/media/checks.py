"""What may be uploaded, and the checks a file passes before it is stored (no Flask, no database).

Each accepted media type belongs to a kind (photo, signature, pdf, audio, video) with its own
byte limit; images also have a pixel limit. The checks read the file's content, never trust its
name or declared type: an image is decoded in full (truncation shows), its format must be the
declared one, its size within the pixel limit and plausible for its bytes (decompression bombs are
refused from the header, before any pixel is decoded); a PDF must start with ``%PDF-`` and end with
``%%EOF`` after a ``startxref``; a clip must be a well-formed container its declared type allows,
walked from its first byte to its last (boxes, elements, chunks, pages or frames that fit exactly):
a container's magic number followed by anything else is refused.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Any, Callable, Mapping

from PIL import Image, ImageFile

from backend.errors import DomainError
from backend.media import containers

# media type → kind; images: the Pillow format it must decode as; clips: the containers allowed
IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
CLIP_TYPES = {
    "audio/mp4": ("audio", {"ftyp"}), "audio/x-m4a": ("audio", {"ftyp"}), "audio/m4a": ("audio", {"ftyp"}),
    "audio/3gpp": ("audio", {"ftyp"}), "audio/amr": ("audio", {"amr"}), "audio/mpeg": ("audio", {"mp3"}),
    "audio/wav": ("audio", {"wav"}), "audio/x-wav": ("audio", {"wav"}), "audio/wave": ("audio", {"wav"}),
    "audio/webm": ("audio", {"ebml"}), "audio/ogg": ("audio", {"ogg"}),
    "video/mp4": ("video", {"ftyp"}), "video/3gpp": ("video", {"ftyp"}), "video/quicktime": ("video", {"ftyp"}),
    "video/webm": ("video", {"ebml"}), "video/x-matroska": ("video", {"ebml"}),
}
ACCEPTED_TYPES = sorted([*IMAGE_TYPES, "application/pdf", *CLIP_TYPES])
KIND_LABELS = {"photo": "照片", "signature": "签名图片", "pdf": "PDF 文件", "audio": "录音", "video": "视频"}


# the file name extension a stored file is served under (GET /api/media/<sha256>), by media type
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf",
              "audio/mp4": "m4a", "audio/x-m4a": "m4a", "audio/m4a": "m4a", "audio/3gpp": "3gp", "audio/amr": "amr",
              "audio/mpeg": "mp3", "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/webm": "weba",
              "audio/ogg": "ogg", "video/mp4": "mp4", "video/3gpp": "3gp", "video/quicktime": "mov",
              "video/webm": "webm", "video/x-matroska": "mkv"}
FORMAT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def extension_of(media_type: str) -> str:
    return EXTENSIONS.get(media_type, "bin")


class MediaRefused(DomainError):
    """A file (or its declaration) that is not accepted: the upload is discarded."""

    status = 422
    code = "media.refused"
    message = "文件未被接受"


@dataclasses.dataclass(frozen=True)
class Limits:
    max_bytes: dict            # kind → bytes
    max_pixels: dict           # kind → pixels (images)
    max_pixels_per_byte: int = 5000   # an image claiming more pixels than this per byte of file is a bomb

    @classmethod
    def from_config(cls, config: Mapping) -> "Limits":
        return cls(
            max_pixels_per_byte=int(config.get("MEDIA_MAX_PIXELS_PER_BYTE", 5000)),
            max_bytes={"photo": int(config.get("MEDIA_PHOTO_MAX_BYTES", 15 << 20)),
                       "signature": int(config.get("MEDIA_SIGNATURE_MAX_BYTES", 1 << 20)),
                       "pdf": int(config.get("MEDIA_PDF_MAX_BYTES", 20 << 20)),
                       "audio": int(config.get("MEDIA_AUDIO_MAX_BYTES", 30 << 20)),
                       "video": int(config.get("MEDIA_VIDEO_MAX_BYTES", 200 << 20))},
            max_pixels={"photo": int(config.get("MEDIA_PHOTO_MAX_PIXELS", 50_000_000)),
                        "signature": int(config.get("MEDIA_SIGNATURE_MAX_PIXELS", 4_000_000))})


def normalise_type(media_type: str | None) -> str:
    """``Audio/WebM; codecs=opus`` → ``audio/webm``."""
    return (media_type or "").split(";", 1)[0].strip().lower()


def kind_for(media_type: str, declared_kind: str | None = None) -> str:
    """The kind of a declared media type; refuses types outside the whitelist."""
    if declared_kind not in (None, "", "photo", "signature", "pdf", "audio", "video"):
        raise MediaRefused(f"未知的文件类别：{declared_kind}", code="media.bad_kind")
    if media_type in IMAGE_TYPES:
        kind = "photo"
    elif media_type == "application/pdf":
        kind = "pdf"
    elif media_type in CLIP_TYPES:
        kind = CLIP_TYPES[media_type][0]
    else:
        raise MediaRefused(f"不支持的文件类型：{media_type or '（未声明）'}。可上传：{'、'.join(ACCEPTED_TYPES)}",
                           code="media.type_not_allowed", status=415)
    if declared_kind == "signature":
        if media_type != "image/png":
            raise MediaRefused("签名图片必须是 PNG 格式", code="media.type_not_allowed", status=415)
        return "signature"
    if declared_kind and declared_kind != kind:
        raise MediaRefused(f"文件类别 {declared_kind} 与文件类型 {media_type} 不符", code="media.bad_kind")
    return kind


def check_length(kind: str, length: int, limits: Limits) -> None:
    limit = limits.max_bytes[kind]
    if length > limit:
        raise MediaRefused(f"{KIND_LABELS[kind]}不能超过 {_size_text(limit)}（本文件 {_size_text(length)}）",
                           code="media.too_large", status=413, details={"limit": limit, "length": length})


def _size_text(n: int) -> str:
    return f"{n / (1 << 20):.1f} MB" if n >= (1 << 20) else f"{n / 1024:.0f} KB"


@dataclasses.dataclass(frozen=True)
class Facts:
    width: int | None = None
    height: int | None = None
    media_type: str | None = None      # the type found in the file (served with it)
    looked: Any = dataclasses.field(default=None, compare=False)   # what ``look`` said (see check_file)


def check_file(path, kind: str, media_type: str, limits: Limits, *,
               look: Callable[[Image.Image], Any] | None = None) -> Facts:
    """Check a complete file by its content; raise MediaRefused with a Chinese reason.

    ``look``: called with an image once its header passed (open, not decoded; its EXIF readable), before
    the decode; what it returns is ``Facts.looked`` (the upload reads a photo's EXIF facts so, without
    opening the file again).
    """
    if kind in ("photo", "signature"):
        return _check_image(path, media_type, limits.max_pixels[kind], max(limits.max_pixels.values()),
                            limits.max_pixels_per_byte, look)
    if kind == "pdf":
        _check_pdf(path)
    else:
        _check_clip(path, media_type)
    return Facts(media_type=media_type)


def _check_image(path, media_type: str, max_pixels: int, process_limit: int, per_byte: int = 5000,
                 look: Callable[[Image.Image], Any] | None = None) -> Facts:
    expected = IMAGE_TYPES[media_type]
    label = expected.replace("WEBP", "WebP")
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    # Pillow's own guard, one value for the whole process (the processing job opens photos too): above it
    # Pillow warns (made an error here), above twice it refuses; the kind's own limit is checked below
    Image.MAX_IMAGE_PIXELS = process_limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=list(IMAGE_TYPES.values())) as im:
                width, height = im.size
                if width * height > max_pixels:
                    raise _bomb(width, height, max_pixels)
                size = os.path.getsize(path)
                if width * height > 1_000_000 and width * height > size * per_byte:
                    raise MediaRefused(
                        f"图片声明的尺寸（{width}×{height}）与文件大小（{size} 字节）不符，疑似解压炸弹，已拒收",
                        code="media.too_many_pixels", details={"width": width, "height": height, "size": size})
                if im.format != expected:
                    found = (im.format or "?").replace("WEBP", "WebP")
                    raise MediaRefused(f"文件内容是 {found} 图片，与声明的类型 {media_type} 不符",
                                       code="media.type_mismatch")
                looked = look(im) if look is not None else None
                # a JPEG decoded at 1/8 scale (DCT scaling): every byte is still read and every block's
                # entropy-coded data decoded, so truncation and corruption show, 3× faster than full size
                # (2.4 against 6.5 ms for a 1920 px photo); ``verify()`` reads no scan of a JPEG (0.03 ms)
                # and would let a truncated file pass (tests/api/media/test_file_checks.py)
                if im.format == "JPEG":
                    im.draft(None, (1, 1))
                im.load()
    except MediaRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaRefused(f"图片像素过多（超过 {max_pixels:,} 像素），疑似解压炸弹，已拒收",
                           code="media.too_many_pixels") from None
    except Image.UnidentifiedImageError:
        raise MediaRefused(f"文件不是可识别的图片（应为 {label}）", code="media.not_an_image") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure is the file's fault
        text = str(exc)
        if "truncated" in text or isinstance(exc, EOFError):
            raise MediaRefused("图片文件不完整（被截断），请重新拍摄或上传", code="media.truncated") from None
        if "decompressed data too large" in text.lower():   # Pillow's words for a text chunk that inflates too far
            raise MediaRefused("图片中的附加数据解压后过大，疑似解压炸弹，已拒收", code="media.too_many_pixels") from None
        raise MediaRefused(f"图片文件已损坏，无法解码（{type(exc).__name__}）", code="media.corrupt") from None
    return Facts(width, height, FORMAT_TYPES[expected], looked)


def _bomb(width: int, height: int, max_pixels: int) -> MediaRefused:
    return MediaRefused(f"图片像素过多（{width}×{height}，上限 {max_pixels:,} 像素），疑似解压炸弹，已拒收",
                        code="media.too_many_pixels", details={"width": width, "height": height})


def _check_pdf(path) -> None:
    with open(path, "rb") as f:
        head = f.read(1024)
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 1024))
        tail = f.read()
    if not head.startswith(b"%PDF-"):
        raise MediaRefused("文件不是 PDF（缺少 %PDF- 文件头）", code="media.not_pdf")
    if b"%%EOF" not in tail or b"startxref" not in tail:
        raise MediaRefused("PDF 文件不完整（缺少 startxref 与 %%EOF 结尾），请重新扫描或上传", code="media.not_pdf")


def container_of(head: bytes) -> str | None:
    """The container a clip's first bytes announce (magic numbers), or None."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "ftyp"                               # MP4, M4A, 3GP, QuickTime
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "ebml"                               # WebM, Matroska
    if head.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        return "amr"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def _check_clip(path, media_type: str) -> None:
    with open(path, "rb") as f:
        head = f.read(16)
    found = container_of(head)
    kind = KIND_LABELS[CLIP_TYPES[media_type][0]]
    if found not in CLIP_TYPES[media_type][1]:
        raise MediaRefused(f"文件内容不是声明的{kind}格式（{media_type}），已拒收", code="media.bad_container",
                           details={"container": found})
    problem = containers.problem(path, found, media_type)
    if problem:
        raise MediaRefused(f"文件不是完整的{kind}（{media_type}）：{problem}，已拒收", code="media.bad_container",
                           details={"container": found})
