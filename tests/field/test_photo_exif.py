"""The camera's evidence in photo entries through a real push (issue 11 §1.8): the entry keeps the original's
hash and size and the EXIF the phone read; an EXIF position or capture time that disagrees with the check
point's fix or with when the photo was saved is flagged for the lead, once per photo; bad keys are refused."""
from __future__ import annotations

import uuid

from geopy.distance import geodesic

from backend.inspections.geo import wgs84_to_gcj02

HERE = (34.7700, 111.1900)
SAVED = "2026-04-08T09:31:30+08:00"


def _place(field, db_session):
    lat, lon = wgs84_to_gcj02(*HERE)
    target = field.inspection.target
    target.latitude, target.longitude, target.datum = lat, lon, "GCJ-02"
    db_session.flush()


def _fix():
    return {"lat": HERE[0], "lon": HERE[1], "accuracy": 8, "datum": "WGS-84", "time": "2026-04-08T09:30:00+08:00",
            "source": "gps"}


def _photo(*, metres_away: float = 0, time: str = "2026-04-08T09:31:02", offset: str | None = "+08:00") -> dict:
    lat = geodesic(meters=metres_away).destination(HERE, 90).latitude if metres_away else HERE[0]
    lon = geodesic(meters=metres_away).destination(HERE, 90).longitude if metres_away else HERE[1]
    exif = {"time": time, "gps": {"lat": round(lat, 7), "lon": round(lon, 7), "datum": "WGS-84", "accuracy": 5},
            "make": "HUAWEI", "model": "NOH-AN00"}
    if offset:
        exif["offset"] = offset
    return {"id": str(uuid.uuid4()), "sha256": uuid.uuid4().hex * 2, "taken_at": SAVED, "gps": _fix(),
            "original": {"sha256": uuid.uuid4().hex * 2, "size": 4_812_345, "width": 4000, "height": 3000},
            "exif": exif}


def _lead_flags(field):
    lead = field.phone(field.lead_user)
    lead.pull()
    return lead.docs["inspection"][field.inspection.id]["flags"]


def test_exif_is_kept_and_disagreeing_photos_are_flagged_once(field, db_session):
    _place(field, db_session)
    cp = field.points(field.other_item)[0]
    iid, dept = field.inspection.id, field.other_dept.id
    phone = field.phone(field.other_officer)
    here, far, old = _photo(), _photo(metres_away=2000), _photo(time="2026-04-07T16:00:00")
    phone.set_section(iid, dept, {f"points.{cp}.gps": _fix(), f"points.{cp}.device_time": SAVED,
                                  f"points.{cp}.photos": [here, far, old]})
    assert phone.push()[0]["status"] == "applied"
    phone.pull()
    kept = phone.docs["inspection"][iid]["sections"][0]["content"][f"points.{cp}.photos"]
    assert kept == [here, far, old]                                   # every key as the phone sent it
    flags = [f for f in _lead_flags(field) if f["code"].startswith("gps.photo")]
    assert sorted((f["code"], f["detail"]["photo_id"]) for f in flags) == sorted(
        [("gps.photo_far", far["id"]), ("gps.photo_time_skew", old["id"])])
    assert all(f["path"] == f"points.{cp}.photos" and f["message"] and f["current"] for f in flags)
    far_flag = next(f for f in flags if f["code"] == "gps.photo_far")
    assert 1900 < far_flag["detail"]["distance_m"] < 2100
    # another photo added: the list is written again, the flags are not raised again
    phone.set_section(iid, dept, {f"points.{cp}.photos": [here, far, old, _photo()]})
    assert phone.push()[0]["status"] == "applied"
    again = [f for f in _lead_flags(field) if f["code"].startswith("gps.photo")]
    assert len(again) == 2


def test_an_outcome_photo_is_checked_against_the_outcome_fix(field, db_session):
    _place(field, db_session)
    phone = field.phone(field.other_officer)
    photo = _photo(metres_away=5000)
    phone.set_section(field.inspection.id, field.other_dept.id,
                      {"outcome": {"code": "unreachable", "photos": [photo], "gps": _fix()}})
    assert phone.push()[0]["status"] == "applied"
    assert [(f["path"], f["code"]) for f in _lead_flags(field) if f["code"].startswith("gps.photo")] == [
        ("outcome", "gps.photo_far")]


def test_a_malformed_exif_is_refused_and_nothing_is_written(field):
    cp = field.points(field.other_item)[0]
    phone = field.phone(field.other_officer)
    bad = _photo()
    bad["exif"]["time"] = "2026-04-08T09:31:02+08:00"                 # the zone belongs in "offset"
    phone.set_section(field.inspection.id, field.other_dept.id, {f"points.{cp}.photos": [bad]})
    [result] = phone.push()
    assert result["status"] == "rejected" and result["code"] == "validation_error"
    assert "exif" in result["errors"][f"points.{cp}.photos"][0]


def test_without_a_fix_on_the_check_point_the_entrys_own_fix_is_used(field, db_session):
    _place(field, db_session)
    cp = field.points(field.other_item)[1]
    phone = field.phone(field.other_officer)
    photo = _photo(metres_away=3000)                                   # its own gps is HERE
    phone.set_section(field.inspection.id, field.other_dept.id, {f"points.{cp}.photos": [photo]})
    assert phone.push()[0]["status"] == "applied"
    assert [f["code"] for f in _lead_flags(field) if f["code"].startswith("gps.photo")] == ["gps.photo_far"]
