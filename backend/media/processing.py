"""Photo processing (no Flask, no database): EXIF facts, a thumbnail, a copy for publication.

The original file is only read. Both derived copies are upright (EXIF orientation applied),
re-encoded as JPEG and carry no metadata at all (no EXIF, ICC profile, XMP or comments); the
copy for publication is converted to sRGB first so that stripping the profile keeps the colours.
``strip_check`` reads a copy back to prove nothing survived.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import math
from zoneinfo import ZoneInfo

from PIL import ExifTags, Image, ImageCms, ImageOps

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


def _encode(im: Image.Image, quality: int) -> bytes:
    clean = _rgb(im)
    clean.info = {}
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality, optimize=True)
    data = out.getvalue()
    strip_check(data)
    return data


def derive(path, *, thumb_edge: int, public_max_edge: int, default_zone: str) -> Derived:
    """Read the facts of the photo at ``path`` and make its thumbnail and its copy for publication."""
    with Image.open(path) as original:
        facts = read_facts(original, default_zone)
    fixed = facts.orientation not in (None, 1)

    with Image.open(path) as im:
        if im.format == "JPEG":
            im.draft("RGB", (thumb_edge, thumb_edge))
        thumb = ImageOps.exif_transpose(im)
        thumb.thumbnail((thumb_edge, thumb_edge), Image.Resampling.LANCZOS)
        thumb_bytes = _encode(thumb, 80)

    with Image.open(path) as im:
        if im.format == "JPEG":
            im.draft("RGB", (public_max_edge, public_max_edge))
        public = _to_srgb(ImageOps.exif_transpose(im))
        if max(public.size) > public_max_edge:
            public.thumbnail((public_max_edge, public_max_edge), Image.Resampling.LANCZOS)
        public_bytes = _encode(public, 90)
    return Derived(facts, thumb_bytes, public_bytes, fixed)


def strip_check(data: bytes) -> None:
    """Read an encoded copy back: it must carry no metadata. Raises ValueError otherwise."""
    with Image.open(io.BytesIO(data)) as im:
        left = [key for key in METADATA_KEYS if im.info.get(key)]
        if len(im.getexif()):
            left.append("exif")
        if left:
            raise ValueError(f"metadata survived re-encoding: {sorted(set(left))}")
