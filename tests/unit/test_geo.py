"""The GPS check (backend/inspections/geo.py): datums, distances and every flag at its boundary."""
from __future__ import annotations

import datetime as dt
import math

import pytest
from geopy.distance import geodesic

from backend.directory import rules
from backend.inspections import geo
from backend.inspections.geo import Flag, GpsSettings, check_fix, distance_m, gcj02_to_wgs84, wgs84_to_gcj02

# Beijing, Tiananmen area: a published WGS-84 → GCJ-02 pair of the standard offset formula
BJ_WGS = (39.915, 116.404)
BJ_GCJ = (39.91640428150164, 116.41024449916938)
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def metres(a, b) -> float:
    return geodesic(a, b).meters


def fix_at(lat, lon, *, accuracy=10.0, datum="WGS-84", time=T0, source="gps") -> dict:
    return {"lat": lat, "lon": lon, "accuracy": accuracy, "datum": datum,
            "time": time.isoformat() if isinstance(time, dt.datetime) else time, "source": source}


def place_at(lat, lon, datum="WGS-84") -> dict:
    return {"latitude": lat, "longitude": lon, "datum": datum}


def codes(flags: list[Flag]) -> list[str]:
    return [f.code for f in flags]


# --- datums --------------------------------------------------------------------------------------

def test_forward_offset_matches_the_published_beijing_pair():
    lat, lon = wgs84_to_gcj02(*BJ_WGS)
    assert lat == pytest.approx(BJ_GCJ[0], abs=1e-12) and lon == pytest.approx(BJ_GCJ[1], abs=1e-12)
    assert 500 < metres(BJ_WGS, BJ_GCJ) < 600  # the offset is larger than the default radius


def test_inverse_of_the_beijing_point_round_trips_within_half_a_metre():
    back = gcj02_to_wgs84(*BJ_GCJ)
    assert metres(back, BJ_WGS) < 0.5
    assert metres(back, BJ_WGS) < 0.001  # in fact the iteration reaches about 0.1 mm


@pytest.mark.parametrize("lat", [18.25, 22.54, 30.66, 39.9, 45.75, 53.0])
@pytest.mark.parametrize("lon", [75.99, 87.6, 104.07, 113.26, 121.47, 126.53, 134.0])
def test_round_trips_across_china(lat, lon):
    g = wgs84_to_gcj02(lat, lon)
    assert metres(gcj02_to_wgs84(*g), (lat, lon)) < 0.01
    w = gcj02_to_wgs84(lat, lon)
    assert metres(wgs84_to_gcj02(*w), (lat, lon)) < 0.01


def test_inverse_agrees_with_an_independent_reference_value():
    # GCJ-02 (45, 123) → WGS-84 (44.99804071, 122.99395597), as another maintained library computes it
    lat, lon = gcj02_to_wgs84(45.0, 123.0)
    assert metres((lat, lon), (44.99804071, 122.99395597)) < 0.05


@pytest.mark.parametrize("point", [(48.8566, 2.3522), (-33.8688, 151.2093), (40.7128, -74.0060), (0.5, 100.0),
                                   (56.0, 120.0), (30.0, 140.0)])
def test_outside_china_the_offset_is_not_applied(point):
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point


def test_datum_names_are_the_directorys():
    assert set(geo.DATUMS) == set(rules.DATUMS)


# --- distance ------------------------------------------------------------------------------------

def test_distance_of_known_pairs_on_the_wgs84_ellipsoid():
    # one degree of longitude on the equator and one of latitude from the equator (WGS-84)
    assert distance_m({"lat": 0.0, "lon": 0.0}, place_at(0.0, 1.0)) == pytest.approx(111319.491, abs=0.01)
    assert distance_m({"lat": 0.0, "lon": 0.0}, place_at(1.0, 0.0)) == pytest.approx(110574.389, abs=0.01)
    # Beijing (Tiananmen) to Shanghai (People's Square), both WGS-84: about 1,067 km
    assert distance_m({"lat": 39.9042, "lon": 116.4074}, place_at(31.2304, 121.4737)) == pytest.approx(1067e3, rel=0.01)


def test_distance_converts_gcj02_before_measuring():
    # the same spot, once as a phone reports it and once as map data stores it
    assert distance_m({"lat": BJ_WGS[0], "lon": BJ_WGS[1], "datum": "WGS-84"}, place_at(*BJ_GCJ, "GCJ-02")) < 0.01
    assert distance_m({"lat": BJ_GCJ[0], "lon": BJ_GCJ[1], "datum": "GCJ-02"}, place_at(*BJ_WGS, "WGS-84")) < 0.01
    # a place without a datum is map data (GCJ-02)
    assert distance_m({"lat": BJ_WGS[0], "lon": BJ_WGS[1]}, {"latitude": BJ_GCJ[0], "longitude": BJ_GCJ[1]}) < 0.01
    with pytest.raises(ValueError):
        distance_m({"lat": 95.0, "lon": 116.0}, place_at(*BJ_WGS))


# --- the check -----------------------------------------------------------------------------------

def test_a_good_fix_at_a_gcj02_registered_location_has_no_flag():
    assert check_fix(fix_at(*BJ_WGS), place_at(*BJ_GCJ, "GCJ-02"), record_time=T0) == []


def test_without_the_conversion_the_same_fix_would_be_far():
    # the registered location wrongly declared WGS-84: the ~556 m offset shows up as distance
    flags = check_fix(fix_at(*BJ_WGS), place_at(*BJ_GCJ, "WGS-84"), record_time=T0)
    assert codes(flags) == ["gps.far"]
    assert flags[0].detail["distance_m"] == pytest.approx(556.2, abs=0.5)


def _point_at(distance: float, origin=BJ_WGS, bearing=60.0) -> tuple[float, float]:
    p = geodesic(meters=distance).destination(origin, bearing)
    return p.latitude, p.longitude


@pytest.mark.parametrize("accuracy", [0.0, 10.0, 99.5])
def test_far_at_its_boundary_radius_plus_accuracy(accuracy):
    settings = GpsSettings(radius_m=300)
    place = place_at(*BJ_WGS)
    allowed = 300 + accuracy
    inside = check_fix(fix_at(*_point_at(allowed - 0.01), accuracy=accuracy), place, record_time=T0,
                       settings=settings)
    assert "gps.far" not in codes(inside)
    outside = check_fix(fix_at(*_point_at(allowed + 0.01), accuracy=accuracy), place, record_time=T0,
                        settings=settings)
    assert codes(outside) == ["gps.far"]
    flag = outside[0]
    assert flag.detail["radius_m"] == 300 and flag.detail["accuracy_m"] == accuracy
    assert flag.detail["allowed_m"] == pytest.approx(allowed, abs=0.05)
    assert flag.detail["distance_m"] == pytest.approx(allowed, abs=0.05)
    assert "超出允许范围" in flag.message and "米" in flag.message


def test_far_uses_the_configured_radius():
    point = _point_at(450)
    assert codes(check_fix(fix_at(*point, accuracy=0), place_at(*BJ_WGS), record_time=T0)) == ["gps.far"]
    assert check_fix(fix_at(*point, accuracy=0), place_at(*BJ_WGS), record_time=T0,
                     settings={"GPS_RADIUS_M": 500}) == []


def test_coarse_at_its_boundary_and_for_unreported_or_manual_positions():
    place = place_at(*BJ_WGS)
    assert check_fix(fix_at(*BJ_WGS, accuracy=100), place, record_time=T0) == []
    flags = check_fix(fix_at(*BJ_WGS, accuracy=100.01), place, record_time=T0)
    assert codes(flags) == ["gps.coarse"]
    assert flags[0].detail == {"accuracy_m": 100.0, "threshold_m": 100.0, "source": "gps"}
    assert "定位精度较差" in flags[0].message
    assert codes(check_fix(fix_at(*BJ_WGS, accuracy=None), place, record_time=T0)) == ["gps.coarse"]
    manual = check_fix(fix_at(*BJ_WGS, accuracy=5, source="manual"), place, record_time=T0)
    assert codes(manual) == ["gps.coarse"] and manual[0].detail["source"] == "manual"
    assert check_fix(fix_at(*BJ_WGS, accuracy=150), place, record_time=T0,
                     settings=GpsSettings(coarse_accuracy_m=200)) == []


def test_a_coarse_fix_far_away_gets_both_flags():
    flags = check_fix(fix_at(*_point_at(2000), accuracy=500, source="network"), place_at(*BJ_WGS), record_time=T0)
    assert codes(flags) == ["gps.coarse", "gps.far"]


@pytest.mark.parametrize("sign", [1, -1])
def test_time_skew_at_its_boundary_both_ways(sign):
    place = place_at(*BJ_WGS)
    exactly = T0 + sign * dt.timedelta(minutes=30)
    assert check_fix(fix_at(*BJ_WGS, time=exactly), place, record_time=T0) == []
    beyond = T0 + sign * dt.timedelta(minutes=30, seconds=1)
    flags = check_fix(fix_at(*BJ_WGS, time=beyond), place, record_time=T0)
    assert codes(flags) == ["gps.time_skew"]
    assert flags[0].detail["skew_minutes"] == pytest.approx(sign * 30.0, abs=0.1)
    assert flags[0].detail["max_skew_minutes"] == 30
    assert ("晚于" if sign > 0 else "早于") in flags[0].message


def test_time_skew_compares_instants_not_clock_readings():
    # 10:00 in Beijing is 02:00 UTC: the same instant, no skew
    utc = (T0 - dt.timedelta(hours=8)).replace(tzinfo=dt.timezone.utc)
    assert check_fix(fix_at(*BJ_WGS, time="2026-03-02T02:00:00Z"), place_at(*BJ_WGS), record_time=T0) == []
    assert check_fix(fix_at(*BJ_WGS), place_at(*BJ_WGS), record_time=utc.isoformat()) == []
    # no record time: nothing to compare with
    assert check_fix(fix_at(*BJ_WGS, time=T0 + dt.timedelta(days=3)), place_at(*BJ_WGS), record_time=None) == []


@pytest.mark.parametrize("fix", [None, {}, {"lat": None, "lon": None, "accuracy": 5, "datum": "WGS-84",
                                            "time": T0.isoformat(), "source": "gps"}])
def test_missing_fix(fix):
    flags = check_fix(fix, place_at(*BJ_WGS), record_time=T0)
    assert codes(flags) == ["gps.missing"]
    assert flags[0].message == "没有定位信息，无法证明到场检查"


@pytest.mark.parametrize("place", [None, {}, {"latitude": None, "longitude": None, "datum": None}])
def test_no_registered_location(place):
    assert codes(check_fix(fix_at(*BJ_WGS), place, record_time=T0)) == ["gps.no_registered_location"]
    assert codes(check_fix(None, place, record_time=T0)) == ["gps.missing", "gps.no_registered_location"]


@pytest.mark.parametrize("field,value,key", [
    ("lat", 90.0001, "fix.latitude"), ("lat", -91, "fix.latitude"), ("lat", "39.9", "fix.latitude"),
    ("lat", math.nan, "fix.latitude"), ("lat", True, "fix.latitude"), ("lat", None, "fix.latitude"),
    ("lon", 180.5, "fix.longitude"), ("lon", -math.inf, "fix.longitude"), ("lon", 2**2000, "fix.longitude"),
    ("accuracy", -0.1, "fix.accuracy"), ("accuracy", math.inf, "fix.accuracy"), ("accuracy", math.nan, "fix.accuracy"),
    ("accuracy", "10", "fix.accuracy"),
    ("datum", "BD-09", "fix.datum"), ("datum", None, "fix.datum"),
    ("time", "2026-03-02T10:00:00", "fix.time"), ("time", "yesterday", "fix.time"), ("time", None, "fix.time"),
    ("time", 1700000000, "fix.time"),
    ("source", "bluetooth", "fix.source"), ("source", None, "fix.source"),
])
def test_invalid_fix_values(field, value, key):
    fix = fix_at(*BJ_WGS)
    fix[field] = value
    flags = check_fix(fix, place_at(*BJ_WGS), record_time=T0)
    assert flags[0].code == "gps.invalid", flags
    assert key in flags[0].detail["fields"] and flags[0].message.startswith("定位数据有误：")
    # no figure is computed from a bad value: a bad position is never reported as far
    assert "gps.far" not in codes(flags)


def test_boundaries_of_valid_values_are_accepted():
    for lat, lon in [(90.0, 180.0), (-90.0, -180.0)]:
        flags = check_fix(fix_at(lat, lon, accuracy=0), place_at(lat, lon), record_time=T0)
        assert flags == []


def test_invalid_place_and_record_time_are_flagged_not_raised():
    flags = check_fix(fix_at(*BJ_WGS), {"latitude": 95, "longitude": 116.4, "datum": "GCJ-02"}, record_time=T0)
    assert codes(flags) == ["gps.invalid"] and "place.latitude" in flags[0].detail["fields"]
    assert "登记位置" in flags[0].message
    flags = check_fix(fix_at(*BJ_WGS), place_at(*BJ_WGS, datum="BD-09"), record_time=T0)
    assert codes(flags) == ["gps.invalid"] and "place.datum" in flags[0].detail["fields"]
    flags = check_fix(fix_at(*BJ_WGS), place_at(*BJ_WGS), record_time="2026-03-02 10:00")
    assert codes(flags) == ["gps.invalid"] and "record_time" in flags[0].detail["fields"]
    assert codes(check_fix("here", place_at(*BJ_WGS), record_time=T0)) == ["gps.invalid"]
    assert codes(check_fix(fix_at(*BJ_WGS), ["x"], record_time=T0)) == ["gps.invalid"]


def test_several_problems_make_one_invalid_flag_listing_them_all():
    fix = fix_at(91, 200, accuracy=-1, datum="x", time="bad", source="y")
    flags = check_fix(fix, place_at(*BJ_WGS), record_time=T0)
    assert codes(flags) == ["gps.invalid"]
    assert set(flags[0].detail["fields"]) == {"fix.latitude", "fix.longitude", "fix.accuracy", "fix.datum",
                                              "fix.time", "fix.source"}
    assert "等 6 处" in flags[0].message


def test_settings_from_the_app_config_and_flags_as_dicts(app):
    settings = GpsSettings.from_config(app.config)
    assert settings == GpsSettings(radius_m=300, coarse_accuracy_m=100, max_skew_minutes=30)
    flag = check_fix(None, None, record_time=None)[0]
    assert flag.to_dict() == {"code": "gps.missing", "message": "没有定位信息，无法证明到场检查", "detail": {}}
