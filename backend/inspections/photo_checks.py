"""Flags for the camera's own evidence in photo entries (issue 11 §1.8): the phone reads the original's EXIF
before it makes its copy and sends it in the entry (``exif``: capture time, offset, GPS, device;
docs/sync.md §5); each entry newly written is checked against the check point's fix and the time the
photo was saved (``geo.check_photo``). A photo is flagged once per code, however often its list is
written again."""
from __future__ import annotations

from sqlalchemy import select

from backend.inspections import geo
from backend.inspections.models import Flag
from sync.protocol import parse_time

PHOTO_CODES = ("gps.photo_far", "gps.photo_time_skew")


def _time(value):
    try:
        return parse_time(value)
    except ValueError:
        return None


def _entries(path: str, value, values: dict) -> tuple[list, dict | None, object]:
    """(photo entries, the fix they are compared with, the check point's device_time) of one write."""
    if path == "outcome" and isinstance(value, dict):
        return value.get("photos") or [], value.get("gps"), None
    if path.startswith("points.") and path.endswith(".photos") and isinstance(value, list):
        prefix = path[: -len("photos")]
        return value, values.get(prefix + "gps"), values.get(prefix + "device_time")
    return [], None, None


def _seen(batch, state) -> set[tuple[str, str, str]]:
    """(path, code, photo id) of the photo flags this inspection already has (stored, or raised in this push)."""
    cache = batch.photo_flags_seen
    iid = state.inspection.id
    if iid not in cache:
        rows = batch.session.execute(select(Flag.path, Flag.code, Flag.detail).where(
            Flag.inspection_id == iid, Flag.code.in_(PHOTO_CODES)))
        cache[iid] = {(p, c, str((d or {}).get("photo_id"))) for p, c, d in rows}
    return cache[iid]


def flags_for_writes(batch, state, department_id, writes, plan, revs) -> list[Flag]:
    """Flags for the photos with EXIF that this mutation wrote (paths ``points.<cp>.photos`` and ``outcome``)."""
    values = (state.sections[department_id].values if department_id is not None
              else batch.record(state).values)
    zone = str(batch.settings.get("TIMEZONE", "Asia/Shanghai"))
    out: list[Flag] = []
    for w in writes:
        if w.path not in plan.changes or w.value is None:
            continue
        entries, fix, device_time = _entries(w.path, w.value, values)
        entries = [e for e in entries if isinstance(e, dict) and isinstance(e.get("exif"), dict)]
        if not entries:
            continue
        seen = _seen(batch, state)
        for entry in entries:
            reference = _time(entry.get("taken_at")) or _time(device_time)
            against = fix if isinstance(fix, dict) else entry.get("gps")
            for f in geo.check_photo(entry, against, reference_time=reference, settings=batch.settings,
                                     default_zone=zone):
                key = (w.path, f.code, str(entry.get("id")))
                if key in seen:
                    continue
                seen.add(key)
                out.append(Flag(inspection_id=state.inspection.id, department_id=department_id, path=w.path,
                                code=f.code, message=f.message[:300], detail=f.detail, rev=revs.get(w.path)))
    return out
