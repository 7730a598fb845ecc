"""Photo processing (no Flask, no database): EXIF facts, a thumbnail, a copy for publication.

The original file is only read. Both derived copies are upright (EXIF orientation applied), JPEG,
and carry no metadata at all (no EXIF, ICC profile, XMP or comments; nothing after the image); the
copy for publication is converted to sRGB first so that stripping the profile keeps the colours.
The thumbnail is re-encoded; the public copy too, unless the original is a JPEG already upright,
without a colour profile and within the public size: then it is the original's compressed picture
with every metadata segment removed (``clean_jpeg``), the same pixels, no re-encoding.
``strip_check`` reads a copy back to prove nothing survived.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image, ImageCms

GPS = ExifTags.IFD.GPSInfo
EXIF = ExifTags.IFD.Exif
ORIENTATION = 0x0112
DATETIME_ORIGINAL, DATETIME_DIGITIZED = 0x9003, 0x9004
OFFSET_ORIGINAL, OFFSET_DIGITIZED = 0x9011, 0x9012
METADATA_KEYS = ("exif", "icc_profile", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "adobe", "iptc")


@dataclasses.dataclass
class PhotoFacts:
    gps: dict | None = None
    time: dt.datetime | None = None      # UTC
    offset: str | None = None            # "+08:00" when the photo said so; None: the zone was assumed
    orientation: int | None = None


@dataclasses.dataclass
class Derived:
    facts: PhotoFacts
    thumb: bytes
    public: bytes
    orientation_fixed: bool
    public_is_original: bool = False   # the public copy is the original's bytes (nothing to strip): stored already


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).strip("\x00 ").strip()


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if math.isfinite(number) else None


def _degrees(dms) -> float | None:
    """(degrees, minutes, seconds) rationals → decimal degrees."""
    if not isinstance(dms, (tuple, list)) or not dms:
        return _number(dms)
    parts = [_number(v) for v in tuple(dms)[:3]]
    if any(p is None or p < 0 for p in parts):
        return None
    while len(parts) < 3:
        parts.append(0.0)
    return parts[0] + parts[1] / 60 + parts[2] / 3600


def read_gps(exif: Image.Exif) -> dict | None:
    """The GPS fix of a photo from its GPSInfo IFD, or None when it has none (or nonsense)."""
    try:
        ifd = exif.get_ifd(GPS)
    except Exception:  # noqa: BLE001 - a broken IFD is no fix
        return None
    if not ifd:
        return None
    lat, lon = _degrees(ifd.get(2)), _degrees(ifd.get(4))
    if lat is None or lon is None:
        return None
    if _text(ifd.get(1, "N")).upper().startswith("S"):
        lat = -lat
    if _text(ifd.get(3, "E")).upper().startswith("W"):
        lon = -lon
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None
    fix: dict = {"lat": round(lat, 7), "lon": round(lon, 7), "datum": _text(ifd.get(18, "")) or "WGS-84",
                 "source": "exif"}
    altitude = _number(ifd.get(6))
    if altitude is not None:
        fix["alt"] = round(-altitude if ifd.get(5) in (1, b"\x01") else altitude, 2)
    accuracy = _number(ifd.get(31))  # GPSHPositioningError, metres
    if accuracy is not None and accuracy >= 0:
        fix["accuracy"] = round(accuracy, 2)
    when = _gps_time(ifd.get(29), ifd.get(7))
    if when is not None:
        fix["time"] = when.isoformat().replace("+00:00", "Z")
    return fix


def _gps_time(date_stamp, time_stamp) -> dt.datetime | None:
    try:
        day = dt.datetime.strptime(_text(date_stamp), "%Y:%m:%d")
        h, m, s = (_number(v) for v in tuple(time_stamp)[:3])
        return day.replace(tzinfo=dt.timezone.utc) + dt.timedelta(hours=h, minutes=m, seconds=s)
    except Exception:  # noqa: BLE001 - missing or malformed: no GPS time
        return None


def read_time(exif: Image.Exif, default_zone: str) -> tuple[dt.datetime | None, str | None]:
    """DateTimeOriginal (else DateTimeDigitized) in UTC, with the offset the photo gave (or None)."""
    try:
        ifd = exif.get_ifd(EXIF)
    except Exception:  # noqa: BLE001
        return None, None
    for stamp_tag, offset_tag in ((DATETIME_ORIGINAL, OFFSET_ORIGINAL), (DATETIME_DIGITIZED, OFFSET_DIGITIZED)):
        stamp = _text(ifd.get(stamp_tag, ""))
        if not stamp:
            continue
        try:
            local = dt.datetime.strptime(stamp[:19], "%Y:%m:%d %H:%M:%S")
        except ValueError:
            continue
        offset = _text(ifd.get(offset_tag, ""))
        try:
            zone = dt.datetime.strptime(offset, "%z").tzinfo if offset else None
        except ValueError:
            zone = None
        if zone is None:
            offset = None
            zone = ZoneInfo(default_zone)
        return local.replace(tzinfo=zone).astimezone(dt.timezone.utc), offset
    return None, None


def read_facts(im: Image.Image, default_zone: str) -> PhotoFacts:
    exif = im.getexif()
    when, offset = read_time(exif, default_zone)
    orientation = exif.get(ORIENTATION)
    return PhotoFacts(gps=read_gps(exif), time=when, offset=offset,
                      orientation=orientation if isinstance(orientation, int) else None)


def _rgb(im: Image.Image) -> Image.Image:
    """An RGB image for JPEG: transparency flattened on white, other modes converted."""
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        base = Image.new("RGB", im.size, (255, 255, 255))
        base.paste(im, mask=im.getchannel("A"))
        return base
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        im = im.point(lambda v: v / 256).convert("L")
    return im if im.mode == "RGB" else im.convert("RGB")


def _to_srgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if not icc or im.mode not in ("RGB", "RGBA"):
        return im
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode=im.mode)
    except Exception:  # noqa: BLE001 - an unreadable profile: keep the pixels as they are
        return im


def _encode(im: Image.Image, quality: int, optimize: bool = True) -> bytes:
    clean = _rgb(im)
    clean.info = {}
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality, optimize=optimize)
    data = out.getvalue()
    strip_check(data)
    return data


TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
             5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}   # what ImageOps.exif_transpose does for each orientation


def _transposition(exif: Image.Exif):
    """The transposition that makes the photo upright (None: it is), as ``ImageOps.exif_transpose`` finds it."""
    try:
        return TRANSPOSE.get(exif.get(ORIENTATION, 1))
    except TypeError:   # an unhashable value: exif_transpose would not turn it either
        return None


def _fit(size: tuple[int, int], edge: int) -> tuple[int, int] | None:
    """The size ``Image.thumbnail((edge, edge))`` gives an image of ``size`` (None: it fits already)."""
    width, height = size
    if edge >= width and edge >= height:
        return None
    aspect = width / height

    def round_aspect(number: float, key) -> int:
        return max(min(math.floor(number), math.ceil(number), key=key), 1)

    if 1 >= aspect:     # x / y >= aspect with x == y == edge
        return round_aspect(edge * aspect, key=lambda n: abs(aspect - n / edge)), edge
    return edge, round_aspect(edge / aspect, key=lambda n: 0 if n == 0 else abs(aspect - edge / n))


def _thumbnail(im: Image.Image, edge: int, resample=Image.Resampling.LANCZOS) -> Image.Image:
    """A new image at most ``edge`` on its long side (``thumbnail``'s size and two-step resampling)."""
    size = _fit(im.size, edge)
    return im.copy() if size is None else im.resize(size, resample, reducing_gap=2.0)


# The thumbnail: bicubic, not Lanczos (0.9 of 2.8 ms less for a 1/4-scale 1920 px photo; 40.5 dB PSNR against
# Lanczos from the full-size picture, above what its JPEG quality 80 keeps), and without ``optimize``
# (the same pixels, 3.8% more bytes, 0.5 ms less; with both, 31.4 KB instead of 31.1 for the bench's
# photo): made in the upload request of every app photo.
THUMB_RESAMPLE = Image.Resampling.BICUBIC
THUMB_QUALITY = 80


def _thumb_bytes(im: Image.Image, edge: int) -> bytes:
    return _encode(_thumbnail(im, edge, THUMB_RESAMPLE), THUMB_QUALITY, optimize=False)


def plain_facts(im: Image.Image, *, public_max_edge: int, default_zone: str) -> PhotoFacts | None:
    """The EXIF facts of an open photo whose derived copies are cheap, read from its header (nothing decoded);
    None for any other. Cheap: a JPEG already upright, without a colour profile, within the public size (the
    app's copies) — its thumbnail is a decode at 1/4 scale and its public copy, most likely, its own picture
    without metadata (``clean_jpeg``), made on first need (``upkeep.derived``). Never raises."""
    try:
        if im.format != "JPEG" or im.info.get("icc_profile") or max(im.size) > public_max_edge:
            return None
        if _transposition(im.getexif()) is not None:
            return None
        return read_facts(im, default_zone)
    except Exception:  # noqa: BLE001 - unreadable EXIF: the job reads it and records why it fails
        return None


def derive(path, *, thumb_edge: int, public_max_edge: int, default_zone: str) -> Derived:
    """Read the facts of the photo at ``path`` and make its thumbnail and its copy for publication.

    The file is opened once and decoded once. A JPEG that is already upright, carries no colour profile
    and fits the public size (the phones' copies: upright, no metadata, at most 1920 px) keeps its
    compressed picture in the public copy (``clean_jpeg``: every metadata segment and anything after the
    image dropped, nothing re-encoded), and is decoded only at the thumbnail's scale (JPEG DCT scaling,
    ``draft``). Any other photo is decoded once at the public copy's scale, turned upright, converted to
    sRGB and re-encoded; its thumbnail is reduced from that same decoded picture. The same file always
    gives the same bytes (a reader that makes the thumbnail itself gets the one stored later).
    """
    with Image.open(path) as im:
        facts = read_facts(im, default_zone)
        exif = im.getexif()
        turn = _transposition(exif)
        public_bytes, original = None, False
        if turn is None and im.format == "JPEG" and not im.info.get("icc_profile"):
            with open(path, "rb") as f:
                data = f.read()
            public_bytes = clean_jpeg(data, max_edge=public_max_edge)
            original = public_bytes == data
        if public_bytes is not None:
            if im.format == "JPEG":
                im.draft("RGB", (thumb_edge, thumb_edge))
            im.load()
            thumb_bytes = _thumb_bytes(im, thumb_edge)
        else:
            if im.format == "JPEG":
                im.draft("RGB", (public_max_edge, public_max_edge))
            im.load()
            upright = im.transpose(turn) if turn is not None else im
            public = _to_srgb(upright)
            thumb_bytes = _thumb_bytes(public, thumb_edge)
            if max(public.size) > public_max_edge:
                public = _thumbnail(public, public_max_edge)
            public_bytes = _encode(public, 90)
    return Derived(facts, thumb_bytes, public_bytes, facts.orientation not in (None, 1), original)


# JPEG markers a clean copy keeps: the frame header (SOFn), tables (DHT, DAC, DQT), the restart interval
# (DRI), DNL and the scans (SOS and their entropy-coded data). Dropped: APPn (JFIF, EXIF, XMP, ICC, MPF,
# IPTC …) and COM. Any other marker (hierarchical, extensions, a second SOI …) gets no clean copy.
_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_TABLES = {0xC4, 0xCC, 0xDB, 0xDD, 0xDC}
_DROPPED = {*range(0xE0, 0xF0), 0xFE}
_JFIF = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"   # 1.01, no units, 1:1, no thumbnail


def clean_jpeg(data: bytes, max_edge: int | None = None) -> bytes | None:
    """The JPEG ``data`` with its picture only, not re-encoded; None when that cannot be said safely.

    Kept: the frame, its tables and scans, byte for byte, behind a bare JFIF header (version, square
    pixels, no thumbnail). Dropped: every APPn segment (EXIF with its GPS and thumbnail, XMP, ICC, MPF,
    IPTC …), comments, and anything after the end of the image (appended pictures, videos, trailers).
    None (the caller re-encodes) for a file that does not parse as one plain image, or whose colours
    would be read differently without its APPn segments (an Adobe segment, RGB component ids without JFIF),
    or that is not 3 components of 8 bits, or larger than ``max_edge`` on a side. The copy is read back by
    ``strip_check``.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    out = [b"\xff\xd8", _JFIF]
    pos, size, jfif, frame = 2, len(data), False, None
    while True:
        while pos < size and data[pos] == 0xFF and pos + 1 < size and data[pos + 1] == 0xFF:
            pos += 1                                    # fill bytes before a marker
        if pos + 1 >= size or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xD9:                              # EOI: the image ends here; anything after is dropped
            break
        if pos + 3 >= size:
            return None
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > size:
            return None
        segment = data[pos:end]
        if marker == 0xE0 and segment[4:9] == b"JFIF\x00":
            jfif = True
        elif marker == 0xEE and segment[4:9] == b"Adobe":
            return None                                 # its transform flag decides the colours
        if marker in _DROPPED:
            pos = end
            continue
        if marker in _FRAMES:
            if frame is not None or length != 8 + 3 * 3 or segment[4] != 8 or segment[9] != 3:
                return None                             # one frame of 3 components of 8 bits
            frame = tuple(segment[10 + 3 * i] for i in range(3))
            if max_edge is not None and max(int.from_bytes(segment[5:7], "big"),
                                            int.from_bytes(segment[7:9], "big")) > max_edge:
                return None
        elif marker not in _TABLES and marker != 0xDA:
            return None
        if marker == 0xDA:                              # a scan: its header, then entropy-coded data to the next marker
            if frame is None:
                return None
            scan = end
            while True:
                scan = data.find(b"\xff", scan)
                if scan < 0 or scan + 1 >= size:
                    return None                         # no end of image
                following = data[scan + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
                    scan += 1 if following == 0xFF else 2
                    continue
                break
            end = scan
            segment = data[pos:end]
        out.append(segment)
        pos = end
    if frame is None or (not jfif and frame == (82, 71, 66)):   # "RGB" ids: libjpeg would read RGB, not YCbCr
        return None
    out.append(b"\xff\xd9")
    clean = b"".join(out)
    strip_check(clean)
    return clean


def strip_check(data: bytes) -> None:
    """Read an encoded copy back: it must carry no metadata. Raises ValueError otherwise."""
    with Image.open(io.BytesIO(data)) as im:
        left = [key for key in METADATA_KEYS if im.info.get(key)]
        if len(im.getexif()):
            left.append("exif")
        if left:
            raise ValueError(f"metadata survived re-encoding: {sorted(set(left))}")
