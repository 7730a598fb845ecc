"""A photo entry's camera evidence (issue 11 §1.8): the keys the phone sends (backend/inspections/fields.py)
and the check of its EXIF against the fix and the time it was saved (geo.check_photo), at each boundary."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from geopy.distance import geodesic

from backend.inspections import fields
from backend.inspections.geo import GpsSettings, check_photo, wgs84_to_gcj02

HERE = (34.7700, 111.1900)
SAVED = "2026-04-08T09:31:30+08:00"
SHA = "ab" * 32


def entry(**exif) -> dict:
    e = {"id": str(uuid.uuid4()), "sha256": SHA, "taken_at": SAVED,
         "original": {"sha256": "cd" * 32, "size": 4_812_345, "width": 4000, "height": 3000}}
    if exif:
        e["exif"] = exif
    return e


def fix(lat=HERE[0], lon=HERE[1], accuracy=10.0, datum="WGS-84") -> dict:
    return {"lat": lat, "lon": lon, "accuracy": accuracy, "datum": datum, "time": "2026-04-08T09:00:00+08:00",
            "source": "gps"}


def north(metres: float) -> float:
    """The latitude ``metres`` north of HERE."""
    return geodesic(meters=metres).destination(HERE, 0).latitude


# --- the entry's keys ------------------------------------------------------------------------------

def test_an_entry_with_the_original_and_its_exif_is_accepted():
    e = entry(time="2026-04-08T09:31:02", offset="+08:00", make="HUAWEI", model="NOH-AN00",
              gps={"lat": 34.7703, "lon": 111.1938, "datum": "WGS-84", "alt": 312.5, "accuracy": 12,
                   "time": "2026-04-08T01:31:02Z"})
    assert fields.photos([e]) is None
    assert fields.photos([entry()]) is None                        # both keys optional (older phones)
    assert fields.photos([{"id": str(uuid.uuid4()), "sha256": SHA}]) is None


@pytest.mark.parametrize("bad, words", [
    ({"exif": {"time": "2026-04-08 09:31:02"}}, "不带时区的时间"),
    ({"exif": {"time": "2026-04-08T09:31:02+08:00"}}, "不带时区的时间"),
    ({"exif": {"time": "2026-02-30T09:31:02"}}, "有效的日期"),
    ({"exif": {"time": "2026-04-08T09:31:02\n"}}, "不带时区的时间"),
    ({"exif": {"offset": "+8:00"}}, "时区偏移"),
    ({"exif": {"offset": "+15:00"}}, "时区偏移"),
    ({"exif": {"gps": {"lat": 91, "lon": 0, "datum": "WGS-84"}}}, "纬度"),
    ({"exif": {"gps": {"lat": 1, "lon": 2, "datum": "TOKYO"}}}, "datum"),
    ({"exif": {"gps": {"lat": 1, "lon": 2}}}, "datum"),
    ({"exif": {"make": "x" * 65}}, "64"),
    ({"exif": {"orientation": 6}}, "未知字段"),
    ({"original": {"sha256": SHA, "size": 0}}, "size"),
    ({"original": {"sha256": SHA, "size": True}}, "size"),
    ({"original": {"size": 10}}, "sha256"),
    ({"original": {"sha256": SHA + "\n", "size": 10}}, "SHA-256"),
])
def test_a_malformed_entry_is_refused_naming_the_key(bad, words):
    e = {"id": str(uuid.uuid4()), "sha256": SHA, **bad}
    problem = fields.photos([e])
    assert problem and words in problem, problem


def test_hashes_and_ids_with_a_trailing_newline_are_refused():
    assert fields.photos([{"id": str(uuid.uuid4()) + "\n", "sha256": SHA}])
    assert fields.photos([{"id": str(uuid.uuid4()), "sha256": SHA + "\n"}])


# --- the check ---------------------------------------------------------------------------------------

def codes(flags) -> list[str]:
    return [f.code for f in flags]


def test_exif_that_agrees_raises_nothing_and_no_exif_says_nothing():
    e = entry(time="2026-04-08T09:31:02", offset="+08:00", gps={"lat": HERE[0], "lon": HERE[1], "datum": "WGS-84"})
    assert check_photo(e, fix(), reference_time=SAVED) == []
    assert check_photo(entry(), fix(), reference_time=SAVED) == []
    assert check_photo(e, None, reference_time=None) == []           # nothing to compare with


def test_far_is_beyond_the_radius_plus_both_accuracies():
    settings = GpsSettings(radius_m=300)
    at = lambda m, acc=None: entry(gps={"lat": north(m), "lon": HERE[1], "datum": "WGS-84",  # noqa: E731
                                        **({"accuracy": acc} if acc is not None else {})})
    assert check_photo(at(309), fix(accuracy=10), reference_time=None, settings=settings) == []
    [far] = check_photo(at(311), fix(accuracy=10), reference_time=None, settings=settings)
    assert far.code == "gps.photo_far" and far.detail["allowed_m"] == 310 and 310 < far.detail["distance_m"] < 312
    assert far.detail["photo_id"] and far.detail["sha256"] == SHA and "米" in far.message
    assert check_photo(at(355, acc=50), fix(accuracy=10), reference_time=None, settings=settings) == []


def test_datums_are_brought_to_wgs84_before_measuring():
    gcj = wgs84_to_gcj02(*HERE)
    e = entry(gps={"lat": HERE[0], "lon": HERE[1], "datum": "WGS-84"})
    assert check_photo(e, fix(lat=gcj[0], lon=gcj[1], datum="GCJ-02"), reference_time=None) == []
    assert codes(check_photo(e, fix(lat=gcj[0], lon=gcj[1], datum="WGS-84"), reference_time=None)) == ["gps.photo_far"]


def test_time_skew_against_when_the_photo_was_saved():
    s = GpsSettings(max_skew_minutes=30)
    on = lambda t, **kw: check_photo(entry(time=t, **kw), None, reference_time=SAVED, settings=s)  # noqa: E731
    assert on("2026-04-08T09:01:30", offset="+08:00") == []            # exactly 30 minutes: not flagged
    [old] = on("2026-04-08T09:01:29", offset="+08:00")
    assert old.code == "gps.photo_time_skew" and old.detail["skew_minutes"] <= -30 and "早于" in old.message
    assert old.detail["exif_time"] == "2026-04-08T01:01:29Z" and old.detail["zone_assumed"] is False
    [late] = on("2026-04-08T03:31:30", offset="-05:00")                 # 08:31:30 UTC: 7 h after
    assert "晚于" in late.message
    assert on("2026-04-08T01:31:30", offset="+00:00") == []             # the same instant in another zone


def test_a_capture_time_without_offset_is_read_in_the_servers_zone():
    s = GpsSettings(max_skew_minutes=30)
    e = entry(time="2026-04-08T09:31:02")
    assert check_photo(e, None, reference_time=SAVED, settings=s, default_zone="Asia/Shanghai") == []
    [f] = check_photo(e, None, reference_time=SAVED, settings=s, default_zone="UTC")
    assert f.detail["zone_assumed"] is True and "未记录时区" in f.message


def test_the_reference_falls_back_to_the_fix_time_and_the_gps_clock_stands_in_for_the_camera():
    e = entry(gps={"lat": HERE[0], "lon": HERE[1], "datum": "WGS-84", "time": "2026-04-07T01:00:00Z"})
    [f] = check_photo(e, fix(), reference_time=None)
    assert f.code == "gps.photo_time_skew" and f.detail["reference_time"].startswith("2026-04-08T09:00:00")
    when = dt.datetime(2026, 4, 7, 9, 5, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert check_photo(e, fix(), reference_time=when) == []
