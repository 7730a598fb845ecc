"""Files for the media tests, made on the spot: photos with EXIF, bombs, broken and fake files."""
from __future__ import annotations

import hashlib
import io
import random
import struct
import zlib

from PIL import ExifTags, Image, ImageDraw, ImageFilter


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def photo(width: int = 1920, height: int = 1440, *, quality: int = 60, seed: int = 1, exif=None,
          icc: bytes | None = None) -> bytes:
    """A photo-like JPEG (blurred shapes: compresses like a real scene; 1920×1440 at q60 ≈ 200 KB)."""
    rng = random.Random(seed)
    im = Image.new("RGB", (width, height), (rng.randrange(256), 120, 80))
    draw = ImageDraw.Draw(im)
    for _ in range(width * height // 900):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.ellipse((x, y, x + rng.randrange(5, 80), y + rng.randrange(5, 80)),
                     fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    im = im.filter(ImageFilter.GaussianBlur(2))
    out = io.BytesIO()
    kwargs = {"quality": quality}
    if exif is not None:
        kwargs["exif"] = exif
    if icc is not None:
        kwargs["icc_profile"] = icc
    im.save(out, "JPEG", **kwargs)
    return out.getvalue()


def camera_exif(*, orientation: int = 6, lat=(34.0, 46.0, 30.5), lat_ref="N", lon=(111.0, 12.0, 3.25),
                lon_ref="E", datum: str | None = "WGS-84", taken: str = "2026:11:20 10:31:05",
                offset: str | None = "+08:00") -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[1], gps[2], gps[3], gps[4] = lat_ref, lat, lon_ref, lon
    if datum:
        gps[18] = datum
    gps[29], gps[7] = "2026:11:20", (2.0, 31.0, 5.0)
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[0x9003] = taken
    if offset:
        sub[0x9011] = offset
    return exif


def png(width: int = 300, height: int = 120, mode: str = "RGBA") -> bytes:
    im = Image.new(mode, (width, height), (0, 0, 0, 0) if mode == "RGBA" else 255)
    ImageDraw.Draw(im).line((10, 60, 290, 40), fill=(0, 0, 0, 255) if mode == "RGBA" else 0, width=4)
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side: int = 20000) -> bytes:
    """A valid PNG of side×side black pixels (1-bit): a few KB on disk, 400 MP when decoded."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")


def jpeg_bomb() -> bytes:
    """A JPEG whose header claims 60000×60000 pixels (3.6 GP) though it holds a tiny image."""
    small = io.BytesIO()
    Image.new("L", (8, 8), 128).save(small, "JPEG")
    data = bytearray(small.getvalue())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 60000, 60000)
    return bytes(data)


def random_bytes(n: int = 50_000, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(n)


def pdf(pages: int = 1, pad: int = 0) -> bytes:
    body = b"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\n" + b"%" + b"x" * pad + b"\n"
    return body + b"trailer <</Root 1 0 R>>\nstartxref\n0\n%%EOF\n"


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def mp4(size: int = 4096, brand: bytes = b"isom") -> bytes:
    """A well-formed ISO media file: ftyp, moov (with mvhd), and an mdat filling the rest."""
    head = _box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand + b"iso2") + _box(b"moov", _box(b"mvhd", b"\x00" * 100))
    return head + _box(b"mdat", b"\x00" * (size - len(head) - 8))


def _vint(n: int) -> bytes:
    return bytes([0x80 | n]) if n < 0x7F else (0x4000 | n).to_bytes(2, "big") if n < 0x3FFF else \
        (0x10000000 | n).to_bytes(4, "big")


def webm(size: int = 4096, doctype: bytes = b"webm") -> bytes:
    """A well-formed EBML file: the header with its DocType, then one Segment filling the rest."""
    header_body = b"\x42\x82" + _vint(len(doctype)) + doctype
    header = b"\x1a\x45\xdf\xa3" + _vint(len(header_body)) + header_body
    room = size - len(header) - 4 - 4
    return header + b"\x18\x53\x80\x67" + (0x10000000 | room).to_bytes(4, "big") + b"\x00" * room


def amr(size: int = 2054) -> bytes:
    """AMR narrow band: the magic line, then whole 12.2 kbit/s frames (32 bytes, header byte 0x3c)."""
    frames = (size - 6) // 32
    return b"#!AMR\n" + (b"\x3c" + b"\x00" * 31) * frames
