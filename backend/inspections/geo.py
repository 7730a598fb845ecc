"""The GPS check of an inspection record (issue 7 §5). Pure: no database, no Flask.

A fix (where the phone says the officer was) is compared with the target's registered location:

* both are brought to WGS-84 first: most Chinese map data (Amap/Gaode, Tencent, the directory's
  geocoded addresses) is in GCJ-02, the state's obfuscated datum, which is offset by a few hundred
  metres from the GPS coordinates a phone's receiver reports;
* the distance is the geodesic on the WGS-84 ellipsoid (geopy);
* the check returns flags with a stable code, a Chinese message and the figures behind it. The
  caller keeps every flag with the record and shows them to the team lead and supervisors; a flag
  is never dropped, only explained.

GCJ-02: the forward offset (WGS-84 → GCJ-02) is the published polynomial approximation; it has no
closed-form inverse, so GCJ-02 → WGS-84 is solved by fixed-point iteration on the forward offset
until the forward image of the estimate is within 1e-9 degrees (about 0.1 mm) of the input.
Outside the rough bounding box of China the offset is not applied (identity), as map vendors do.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from geopy.distance import geodesic

WGS84 = "WGS-84"
GCJ02 = "GCJ-02"
DATUMS = (WGS84, GCJ02)
SOURCES = ("gps", "network", "manual", "exif")
SOURCE_LABELS = {"gps": "卫星定位", "network": "网络定位", "manual": "手工标注", "exif": "照片位置信息"}

# the Krasovsky 1940 ellipsoid the offset formula is written for
_A = 6378245.0
_EE = 0.00669342162296594323
# the rough bounding box of China within which map vendors apply the offset
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
_INVERSE_TOLERANCE_DEG = 1e-9
_INVERSE_MAX_STEPS = 30


# --- datums ----------------------------------------------------------------------------------

def in_china_box(lat: float, lon: float) -> bool:
    """True inside the bounding box where GCJ-02 differs from WGS-84."""
    return _CHINA_LAT[0] <= lat <= _CHINA_LAT[1] and _CHINA_LON[0] <= lon <= _CHINA_LON[1]


def _offset_lat(x: float, y: float) -> float:
    # x: longitude − 105°, y: latitude − 35°
    s = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    s += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    s += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    s += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return s


def _offset_lon(x: float, y: float) -> float:
    s = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    s += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    s += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    s += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return s


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) in WGS-84 → (lat, lon) in GCJ-02; unchanged outside China's bounding box."""
    if not in_china_box(lat, lon):
        return lat, lon
    d_lat = _offset_lat(lon - 105.0, lat - 35.0)
    d_lon = _offset_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return lat + d_lat, lon + d_lon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) in GCJ-02 → (lat, lon) in WGS-84, iterated to about 0.1 mm; identity outside China."""
    if not in_china_box(lat, lon):
        return lat, lon
    w_lat, w_lon = lat, lon
    for _ in range(_INVERSE_MAX_STEPS):
        g_lat, g_lon = wgs84_to_gcj02(w_lat, w_lon)
        e_lat, e_lon = g_lat - lat, g_lon - lon
        if abs(e_lat) < _INVERSE_TOLERANCE_DEG and abs(e_lon) < _INVERSE_TOLERANCE_DEG:
            break
        w_lat, w_lon = w_lat - e_lat, w_lon - e_lon
    return w_lat, w_lon


def to_wgs84(lat: float, lon: float, datum: str) -> tuple[float, float]:
    if datum == GCJ02:
        return gcj02_to_wgs84(lat, lon)
    if datum == WGS84:
        return lat, lon
    raise ValueError(f"unknown datum {datum!r}")


# --- inputs ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class GpsSettings:
    """The configurable limits (``GPS_*`` in backend/config.py)."""

    radius_m: float = 300.0             # GPS_RADIUS_M
    coarse_accuracy_m: float = 100.0    # GPS_COARSE_ACCURACY_M
    max_skew_minutes: float = 30.0      # GPS_MAX_SKEW_MINUTES

    @classmethod
    def from_config(cls, config: Mapping) -> "GpsSettings":
        return cls(radius_m=float(config.get("GPS_RADIUS_M", cls.radius_m)),
                   coarse_accuracy_m=float(config.get("GPS_COARSE_ACCURACY_M", cls.coarse_accuracy_m)),
                   max_skew_minutes=float(config.get("GPS_MAX_SKEW_MINUTES", cls.max_skew_minutes)))


@dataclasses.dataclass(frozen=True)
class Flag:
    """One finding of the GPS check. ``code`` is stable; ``message`` is for people."""

    code: str
    message: str
    detail: dict = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "detail": dict(self.detail)}


def _number(value: Any) -> float | None:
    """A finite real number, or None (booleans and text are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:  # an int beyond any float
        return None
    return value if math.isfinite(value) else None


def _aware_time(value: Any) -> dt.datetime | None:
    """An aware datetime from a datetime or an ISO 8601 text with an offset; None otherwise."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, dt.datetime) and value.tzinfo is not None and value.utcoffset() is not None:
        return value
    return None


def _coordinates(lat: Any, lon: Any, problems: dict, prefix: str, label: str) -> tuple[float, float] | None:
    lat_n, lon_n = _number(lat), _number(lon)
    ok = True
    if lat_n is None or not -90.0 <= lat_n <= 90.0:
        problems[prefix + "latitude"] = f"{label}纬度应为 −90 到 90 之间的数值"
        ok = False
    if lon_n is None or not -180.0 <= lon_n <= 180.0:
        problems[prefix + "longitude"] = f"{label}经度应为 −180 到 180 之间的数值"
        ok = False
    return (lat_n, lon_n) if ok else None


@dataclasses.dataclass(frozen=True)
class _Fix:
    lat: float | None
    lon: float | None
    datum: str | None
    accuracy: float | None      # None: not reported
    time: dt.datetime | None
    source: str | None

    @property
    def located(self) -> bool:
        return self.lat is not None and self.datum is not None


def _read_fix(fix: Mapping, problems: dict) -> _Fix:
    lat = fix.get("lat", fix.get("latitude"))
    lon = fix.get("lon", fix.get("longitude"))
    point = _coordinates(lat, lon, problems, "fix.", "定位")
    datum = fix.get("datum")
    if datum not in DATUMS:
        problems["fix.datum"] = "定位坐标系应为 WGS-84 或 GCJ-02"
        datum = None
    accuracy = fix.get("accuracy")
    if accuracy is not None:
        accuracy = _number(accuracy)
        if accuracy is None or accuracy < 0:
            problems["fix.accuracy"] = "定位精度应为不小于 0 的有限数值（米）"
            accuracy = None
    time = _aware_time(fix.get("time"))
    if time is None:
        problems["fix.time"] = "定位时间应为带时区的 ISO 8601 时间"
    source = fix.get("source")
    if source not in SOURCES:
        problems["fix.source"] = "定位来源应为 gps、network、manual 或 exif"
        source = None
    lat_n, lon_n = point if point else (None, None)
    return _Fix(lat_n, lon_n, datum, accuracy, time, source)


def _read_place(place: Mapping, problems: dict) -> tuple[float, float] | None:
    """The registered location in WGS-84, or None when it is unusable (recorded in ``problems``)."""
    own: dict = {}
    point = _coordinates(place.get("latitude", place.get("lat")), place.get("longitude", place.get("lon")),
                         own, "place.", "登记位置的")
    datum = place.get("datum") or GCJ02
    if datum not in DATUMS:
        own["place.datum"] = "登记位置的坐标系应为 WGS-84 或 GCJ-02"
    problems.update(own)
    if own or point is None:
        return None
    return to_wgs84(point[0], point[1], datum)


def _no_position(value: Any) -> bool:
    """None, {} or a mapping whose latitude and longitude are both absent."""
    if not value:
        return True
    if not isinstance(value, Mapping):
        return False
    lat = value.get("latitude", value.get("lat"))
    lon = value.get("longitude", value.get("lon"))
    return lat is None and lon is None


# --- distance and the check -----------------------------------------------------------------------

def distance_m(fix: Mapping, place: Mapping) -> float:
    """Geodesic metres between a fix ({lat, lon, datum}) and a place ({latitude, longitude, datum}).

    Both are converted to WGS-84 first; a place without a datum is taken as GCJ-02 (map data), a
    fix without one as WGS-84 (a phone's receiver). Raises ValueError on unusable coordinates.
    """
    problems: dict = {}
    point = _coordinates(fix.get("lat", fix.get("latitude")), fix.get("lon", fix.get("longitude")), problems,
                         "fix.", "定位")
    fix_datum = fix.get("datum") or WGS84
    target = _read_place(place, problems)
    if point is None or target is None or fix_datum not in DATUMS:
        raise ValueError(f"unusable coordinates: {problems or {'datum': fix_datum}}")
    return geodesic(to_wgs84(point[0], point[1], fix_datum), target).meters


def _round(value: float, places: int = 1) -> float:
    return round(value, places)


def check_fix(fix: Mapping | None, place: Mapping | None, *, record_time: dt.datetime | str | None,
              settings: GpsSettings | Mapping | None = None) -> list[Flag]:
    """The GPS flags of one fix against the target's registered location; [] when all is well.

    ``fix``: {lat, lon, accuracy (metres, may be None), datum 'WGS-84'|'GCJ-02', time (ISO 8601 with
    offset, or an aware datetime), source 'gps'|'network'|'manual'|'exif'}, or None when there is none.
    ``place``: the target's registered {latitude, longitude, datum} (datum defaults to GCJ-02), or None.
    ``record_time``: the record's own time (aware) that the fix's time is compared with; None skips that.
    Rules (each at its boundary: equal is not flagged):
      gps.missing                 no fix
      gps.no_registered_location  the target has no registered location (no distance is possible)
      gps.invalid                 a value of the fix, the place or the record time is unusable
      gps.coarse                  accuracy > coarse threshold, accuracy not reported, or a manual position
      gps.far                     distance > radius + accuracy (accuracy 0 when not reported)
      gps.time_skew               |fix time − record time| > max skew
    """
    if settings is None:
        settings = GpsSettings()
    elif not isinstance(settings, GpsSettings):
        settings = GpsSettings.from_config(settings)
    flags: list[Flag] = []
    problems: dict[str, str] = {}

    place_wgs: tuple[float, float] | None = None
    if _no_position(place):
        flags.append(Flag("gps.no_registered_location", "检查对象没有登记位置，无法核对检查地点", {}))
    elif isinstance(place, Mapping):
        place_wgs = _read_place(place, problems)
    else:
        problems["place"] = "登记位置格式有误"

    reference = None
    if record_time is not None:
        reference = _aware_time(record_time)
        if reference is None:
            problems["record_time"] = "记录时间应为带时区的时间"

    if _no_position(fix):
        flags.insert(0, Flag("gps.missing", "没有定位信息，无法证明到场检查", {}))
        if problems:
            flags.append(_invalid(problems))
        return flags
    if not isinstance(fix, Mapping):
        problems["fix"] = "定位信息格式有误"
        flags.append(_invalid(problems))
        return flags

    f = _read_fix(fix, problems)
    if problems:
        flags.append(_invalid(problems))

    # coarse: a manual position proves nothing; an accuracy not reported or above the threshold is weak
    if "fix.accuracy" not in problems:
        if f.source == "manual":
            flags.append(Flag("gps.coarse", "位置为手工标注，不能证明到场检查",
                              {"source": "manual", "accuracy_m": f.accuracy,
                               "threshold_m": settings.coarse_accuracy_m}))
        elif f.accuracy is None:
            flags.append(Flag("gps.coarse", "定位未报告精度，无法判断是否可靠",
                              {"accuracy_m": None, "threshold_m": settings.coarse_accuracy_m}))
        elif f.accuracy > settings.coarse_accuracy_m:
            flags.append(Flag("gps.coarse",
                              f"定位精度较差：误差约 {_round(f.accuracy)} 米，超过 {settings.coarse_accuracy_m:g} 米",
                              {"accuracy_m": _round(f.accuracy), "threshold_m": settings.coarse_accuracy_m,
                               "source": f.source}))

    if f.located and place_wgs is not None and "fix.accuracy" not in problems:
        distance = geodesic(to_wgs84(f.lat, f.lon, f.datum), place_wgs).meters
        allowed = settings.radius_m + (f.accuracy or 0.0)
        if distance > allowed:
            flags.append(Flag(
                "gps.far",
                f"定位点距登记位置约 {distance:,.0f} 米，超出允许范围 {allowed:,.0f} 米"
                f"（半径 {settings.radius_m:g} 米 + 定位精度 {f.accuracy or 0:g} 米）",
                {"distance_m": _round(distance), "radius_m": settings.radius_m,
                 "accuracy_m": f.accuracy, "allowed_m": _round(allowed), "fix_datum": f.datum,
                 "place_datum": (place or {}).get("datum") or GCJ02}))

    if f.time is not None and reference is not None:
        skew = (f.time - reference).total_seconds() / 60.0
        if abs(skew) > settings.max_skew_minutes:
            when = "早于" if skew < 0 else "晚于"
            flags.append(Flag(
                "gps.time_skew",
                f"定位时间{when}记录时间 {abs(skew):,.0f} 分钟，超过允许的 {settings.max_skew_minutes:g} 分钟",
                {"skew_minutes": _round(skew), "max_skew_minutes": settings.max_skew_minutes,
                 "fix_time": f.time.isoformat(), "record_time": reference.isoformat()}))
    return flags


def _invalid(problems: dict[str, str]) -> Flag:
    first = next(iter(problems.values()))
    more = f"等 {len(problems)} 处" if len(problems) > 1 else ""
    return Flag("gps.invalid", f"定位数据有误：{first}{more}", {"fields": dict(problems)})


# --- a photo's own EXIF against the fix ---------------------------------------------------------------

def _exif_time(exif: Mapping, default_zone: str) -> tuple[dt.datetime | None, bool]:
    """The camera's capture time (aware) and whether its zone was assumed: ``time`` with ``offset``, else in
    ``default_zone`` (as the server's own EXIF reader does, backend/media/processing.py); the GPS clock
    (``gps.time``, UTC) when the camera gave no time."""
    local = exif.get("time")
    if isinstance(local, str):
        try:
            naive = dt.datetime.fromisoformat(local)
        except ValueError:
            naive = None
        if naive is not None and naive.tzinfo is None:
            offset = exif.get("offset")
            if isinstance(offset, str):
                zoned = _aware_time(local + offset)
                if zoned is not None:
                    return zoned, False
            return naive.replace(tzinfo=ZoneInfo(default_zone)), True
    gps = exif.get("gps")
    if isinstance(gps, Mapping):
        return _aware_time(str(gps.get("time", "")).replace("Z", "+00:00")), False
    return None, False


def check_photo(entry: Mapping, fix: Mapping | None, *, reference_time: dt.datetime | str | None,
                settings: GpsSettings | Mapping | None = None, default_zone: str = "Asia/Shanghai") -> list[Flag]:
    """The flags of one photo entry whose ``exif`` (read by the phone from the camera's original) disagrees
    with the check point's fix or with when the photo was saved; [] when it agrees or says nothing.

    ``fix``: the check point's (or outcome's) fix, else None. ``reference_time``: when the phone saved the
    photo (the entry's ``taken_at``), else the check point's ``device_time``, else the fix's time.
    Rules (equal is not flagged):
      gps.photo_far        the EXIF position is farther from the fix than the radius plus both accuracies
      gps.photo_time_skew  the EXIF capture time is more than the allowed skew from the reference time
    """
    if settings is None:
        settings = GpsSettings()
    elif not isinstance(settings, GpsSettings):
        settings = GpsSettings.from_config(settings)
    exif = entry.get("exif")
    if not isinstance(exif, Mapping):
        return []
    flags: list[Flag] = []
    who = {"photo_id": entry.get("id"), "sha256": entry.get("sha256")}

    shot = exif.get("gps")
    if isinstance(shot, Mapping) and isinstance(fix, Mapping) and not _no_position(fix):
        problems: dict = {}
        at = _coordinates(shot.get("lat"), shot.get("lon"), problems, "exif.", "照片")
        here = _coordinates(fix.get("lat"), fix.get("lon"), problems, "fix.", "定位")
        shot_datum, fix_datum = shot.get("datum") or WGS84, fix.get("datum") or WGS84
        if at and here and shot_datum in DATUMS and fix_datum in DATUMS:
            distance = geodesic(to_wgs84(*at, shot_datum), to_wgs84(*here, fix_datum)).meters
            fix_acc, shot_acc = _number(fix.get("accuracy")) or 0.0, _number(shot.get("accuracy")) or 0.0
            allowed = settings.radius_m + max(fix_acc, 0.0) + max(shot_acc, 0.0)
            if distance > allowed:
                flags.append(Flag(
                    "gps.photo_far",
                    f"照片记录的拍摄位置距本项定位约 {distance:,.0f} 米，超出允许范围 {allowed:,.0f} 米：可能不是在现场拍摄的",
                    {**who, "distance_m": _round(distance), "allowed_m": _round(allowed), "radius_m": settings.radius_m,
                     "fix_accuracy_m": fix_acc, "exif_accuracy_m": shot_acc or None,
                     "exif_lat": at[0], "exif_lon": at[1], "exif_datum": shot_datum}))

    taken, assumed = _exif_time(exif, default_zone)
    reference = _aware_time(reference_time) if reference_time is not None else None
    if reference is None and isinstance(fix, Mapping):
        reference = _aware_time(fix.get("time"))
    if taken is not None and reference is not None:
        skew = (taken - reference).total_seconds() / 60.0
        if abs(skew) > settings.max_skew_minutes:
            when = "早于" if skew < 0 else "晚于"
            flags.append(Flag(
                "gps.photo_time_skew",
                f"照片记录的拍摄时间{when}保存照片的时间 {abs(skew):,.0f} 分钟，超过允许的 {settings.max_skew_minutes:g} 分钟"
                + ("（照片未记录时区，按本地时间计）" if assumed else ""),
                {**who, "skew_minutes": _round(skew), "max_skew_minutes": settings.max_skew_minutes,
                 "exif_time": taken.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
                 "zone_assumed": assumed, "reference_time": reference.isoformat()}))
    return flags
