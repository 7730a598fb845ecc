"""GPS and time flags: computed from each fix against the registered location, kept, shown to the lead."""
from __future__ import annotations

import hashlib

from backend.inspections.geo import wgs84_to_gcj02

HERE = (34.7700, 111.1900)          # WGS-84, where the business really is


def _place(field, db_session):
    lat, lon = wgs84_to_gcj02(*HERE)   # registered from a Chinese map: GCJ-02
    target = field.inspection.target
    target.latitude, target.longitude, target.datum = lat, lon, "GCJ-02"
    db_session.flush()


def _fix(lat=HERE[0], lon=HERE[1], accuracy=10, time="2026-04-08T09:30:00+08:00"):
    return {"lat": lat, "lon": lon, "accuracy": accuracy, "datum": "WGS-84", "time": time, "source": "gps"}


def _flags(field):
    lead = field.phone(field.lead_user)
    lead.pull()
    return lead.docs["inspection"][field.inspection.id]["flags"]


def test_a_fix_at_the_business_raises_nothing_far_coarse_or_late_ones_do(field, db_session):
    _place(field, db_session)
    cps = field.points(field.other_item)
    phone = field.phone(field.other_officer)
    phone.set_section(field.inspection.id, field.other_dept.id, {
        f"points.{cps[0]}.gps": _fix(), f"points.{cps[0]}.device_time": "2026-04-08T09:31:00+08:00",
        f"points.{cps[1]}.gps": _fix(lat=HERE[0] + 0.05), f"points.{cps[1]}.device_time": "2026-04-08T09:31:00+08:00",
        f"points.{cps[2]}.gps": _fix(accuracy=800, time="2026-04-08T07:00:00+08:00"),
        f"points.{cps[2]}.device_time": "2026-04-08T09:31:00+08:00"})
    assert phone.push()[0]["status"] == "applied"
    flags = _flags(field)
    by_path = {}
    for f in flags:
        by_path.setdefault(f["path"], set()).add(f["code"])
    assert f"points.{cps[0]}.gps" not in by_path                       # GCJ-02 offset taken out: no flag
    assert by_path[f"points.{cps[1]}.gps"] == {"gps.far"}
    assert {"gps.coarse", "gps.time_skew"} <= by_path[f"points.{cps[2]}.gps"]
    far = next(f for f in flags if f["code"] == "gps.far")
    assert far["detail"]["distance_m"] > 5000 and far["message"] and far["current"]
    # the officer moves the fix: the old flag is kept, no longer current
    phone.set_section(field.inspection.id, field.other_dept.id, {f"points.{cps[1]}.gps": _fix()})
    phone.push()
    again = [f for f in _flags(field) if f["path"] == f"points.{cps[1]}.gps"]
    assert [f["code"] for f in again] == ["gps.far"] and again[0]["current"] is False


def test_flags_are_the_leads_and_the_departments_own(field, db_session):
    _place(field, db_session)
    cp = field.points(field.lead_item)[0]
    phone = field.phone(field.lead_officer)
    phone.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.gps": _fix(lat=HERE[0] + 1)})
    phone.push()
    other = field.phone(field.other_officer)
    other.pull()
    assert other.docs["inspection"][field.inspection.id]["flags"] == []
    phone.pull()
    assert [f["code"] for f in phone.docs["inspection"][field.inspection.id]["flags"]] == ["gps.far"]
    assert [f["code"] for f in _flags(field)] == ["gps.far"]


def test_signing_without_fixes_is_flagged(field, db_session):
    _place(field, db_session)
    phone = field.phone(field.other_officer)
    phone.set_section(field.inspection.id, field.other_dept.id, field.full_section(field.other_item))
    phone.push()
    phone.pull()
    phone.sign_section(field.inspection.id, field.other_dept.id)
    assert phone.push()[0]["status"] == "applied"
    [flag] = _flags(field)
    assert flag["code"] == "gps.missing" and flag["detail"]["points"] == sorted(field.points(field.other_item))


def test_the_record_shows_what_the_server_knows_of_each_photo(field):
    import io
    import uuid

    from PIL import Image

    phone = field.phone(field.other_officer)
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(buf, "JPEG")
    sha = phone.upload(buf.getvalue(), "image/jpeg")
    cp = field.points(field.other_item)[0]
    phone.set_section(field.inspection.id, field.other_dept.id, {f"points.{cp}.photos": [
        {"id": str(uuid.uuid4()), "sha256": sha}, {"id": str(uuid.uuid4()), "sha256": "ef" * 32}]})
    phone.push()
    phone.pull()
    media = phone.docs["inspection"][field.inspection.id]["media"]
    assert media["ef" * 32] is None                       # named, not uploaded yet
    assert media[sha]["kind"] == "photo" and media[sha]["status"] in ("processing", "ready")


def test_the_pull_names_the_thumbnail_made_when_its_copy_of_the_inspection_was_sent(field):
    """A plain photo's thumbnail is made on first need (docs/sync.md §7): a pull sent before says
    ``thumb_sha256: null`` (not made yet). Making it is no change of the inspection: the pulls from that cursor
    do not bring it again; its hash is the ``ETag`` of ``GET …/thumb`` (how a phone checks a thumbnail it keeps),
    and every copy of the inspection sent from then on names it."""
    import io
    import uuid

    from PIL import Image

    phone = field.phone(field.other_officer)
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 10)).save(buf, "JPEG")
    sha = phone.upload(buf.getvalue(), "image/jpeg")
    cp = field.points(field.other_item)[0]
    phone.set_section(field.inspection.id, field.other_dept.id, {
        f"points.{cp}.photos": [{"id": str(uuid.uuid4()), "sha256": sha}]})
    assert phone.push()[0]["status"] == "applied"
    phone.pull()
    media = phone.docs["inspection"][field.inspection.id]["media"]
    assert media[sha]["status"] == "ready" and media[sha]["thumb_sha256"] is None     # not made yet

    thumb = phone._send("GET", f"/api/media/{sha}/thumb")
    assert thumb.status == 200 and Image.open(io.BytesIO(thumb.content)).size == (320, 240)
    made = {k.lower(): v for k, v in thumb.headers.items()}["etag"].strip('"')
    assert made == hashlib.sha256(thumb.content).hexdigest()
    assert phone.pull() == 0                           # making a copy changed nothing the phone was sent
    assert phone.docs["inspection"][field.inspection.id]["media"][sha]["thumb_sha256"] is None

    fresh = field.phone(field.other_officer)           # a copy sent now (a first pull, or any later change)
    fresh.pull()
    assert fresh.docs["inspection"][field.inspection.id]["media"][sha]["thumb_sha256"] == made
    phone.set_section(field.inspection.id, field.other_dept.id, {f"points.{cp}.note": "门头照片"})
    phone.push()
    phone.pull()
    assert phone.docs["inspection"][field.inspection.id]["media"][sha]["thumb_sha256"] == made
