"""Rules the record must meet before signing, finalising and submitting; GPS and time flags."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import bindparam, select

from backend.inspections import geo, photo_checks, rulebook
from backend.inspections.fields import Catalogue, media_hashes
from backend.inspections.models import Flag
from backend.media import services as media
from sync.protocol import parse_time

log = logging.getLogger(__name__)


# --- the rules before signing, finalising and submitting (schemas/field_rules.json, via rulebook) ------

def section_items(catalogue: Catalogue) -> list[dict]:
    """A department's catalogue as the rules read it (the phone reads the task's items the same way)."""
    points: dict[int, list[dict]] = {}
    for cp, spec in catalogue.points.items():
        points.setdefault(spec.item_id, []).append({"id": cp, "text": catalogue.point_texts.get(cp, str(cp)),
                                                    "required": spec.required, "answer_type": spec.answer_type})
    return [{"id": item_id, "name": catalogue.item_names.get(item_id, str(item_id)), "check_points": points.get(item_id, [])}
            for item_id in catalogue.item_ids]


def section_problems(catalogue: Catalogue, values: dict) -> list[str]:
    """Why a department's section cannot be signed yet (empty when it can)."""
    return [p.message for p in rulebook.section_problems(section_items(catalogue), values)]


def record_departments(batch, state) -> list[dict]:
    """The group's departments, each with its section and who signed it, as the rules read them."""
    out = []
    for dept_id in state.part.departments():
        people = state.part.of_department(dept_id)
        section = state.sections.get(dept_id)
        out.append({"id": dept_id, "name": people[0].department_name,
                    "status": section.status if section is not None else None,
                    "values": section.values if section is not None else {},
                    "signed_by": [s.signer_inspector_id for s in batch.live_signatures(state, "section", dept_id)],
                    "members": [{"inspector_id": p.inspector_id, "name": p.name} for p in people]})
    return out


def record_problems(batch, state) -> list[str]:
    """Why the lead cannot finalise the record yet."""
    return [p.message for p in rulebook.record_problems(batch.record(state).values, record_departments(batch, state))]


def submit_problems(batch, state) -> list[str]:
    """Who still has to sign the finalised record."""
    signatures = batch.live_signatures(state, "record")
    members = [{"inspector_id": p.inspector_id, "name": p.name, "department": p.department_name}
               for p in state.part.participants]
    problems = rulebook.submit_problems(
        batch.record(state).values, members, [s.signer_inspector_id for s in signatures if s.role == "officer"],
        any(s.role in ("representative", "witness") for s in signatures))
    return [p.message for p in problems]


def referenced_media(batch, state) -> set[str]:
    out: set[str] = set()
    for s in state.sections.values():
        out |= media_hashes([v for k, v in s.values.items() if k.endswith((".photos", ".attachments"))
                             or k == "outcome"])
    values = batch.record(state).values
    out |= media_hashes([values.get("outcome")])
    out |= {s.image_sha256 for s in batch.signatures(state) if s.image_sha256 and s.void_at is None}
    return out


def missing_media(batch, state) -> set[str]:
    """The files the record names that the server cannot use yet: not uploaded, or named by someone who has
    not sent their bytes (a hash is not a permission: ``backend.media.services.add_references``)."""
    hashes = referenced_media(batch, state)
    if not hashes:
        return set()
    return media.unusable(batch.session, sorted(hashes), state.inspection.id, batch.actor,
                          pending=batch.media.get(state.inspection.id, ()))


# --- flags ---------------------------------------------------------------------------------------------

def flags_for_writes(batch, state, department_id, writes, plan, revs) -> list[Flag]:
    """Flags for GPS fixes this mutation wrote (far from the registered address, coarse, off in time)."""
    out = []
    place = batch.target_place(state)
    values = (state.sections[department_id].values if department_id is not None
              else batch.record(state).values)
    for w in writes:
        if w.path not in plan.changes or w.value is None:
            continue
        fix, record_time = None, None
        if w.path.endswith(".gps"):
            fix = w.value
            record_time = values.get(w.path[:-4] + ".device_time")
        elif w.path == "outcome":
            fix = w.value.get("gps")
        else:
            continue
        if fix is None:
            continue
        when = None
        if record_time:
            try:
                when = parse_time(record_time)
            except ValueError:
                when = None
        for f in geo.check_fix(fix, place, record_time=when, settings=batch.settings):
            out.append(Flag(inspection_id=state.inspection.id, department_id=department_id, path=w.path, code=f.code,
                            message=f.message[:300], detail=f.detail, rev=revs.get(w.path)))
    out.extend(photo_checks.flags_for_writes(batch, state, department_id, writes, plan, revs))
    return out


def missing_fix_flags(state, department_id: int, values: dict, revs: dict) -> list[Flag]:
    """At signing: the answered check points that carry no GPS fix (one flag for the section, naming them)."""
    answered = sorted({int(k.split(".")[1]) for k in values if k.startswith("points.") and k.endswith(".result")})
    missing = [cp for cp in answered if not values.get(f"points.{cp}.gps")]
    if not missing or values.get("outcome"):
        return []
    return [Flag(inspection_id=state.inspection.id, department_id=department_id, path="points", code="gps.missing",
                 message=f"{len(missing)} 个检查内容没有定位（签名时）", detail={"points": missing}, rev=None)]


_FLAGS_OF = (select(*Flag.__table__.c).where(Flag.inspection_id.in_(bindparam("ids", expanding=True)))
             .order_by(Flag.id))


def flags_of(session, inspection_ids: list[int]) -> dict[int, list]:
    """The flags of these inspections by inspection, as rows (``Flag``'s columns; nothing here changes them)."""
    out: dict[int, list] = {}
    for f in session.execute(_FLAGS_OF, {"ids": list(inspection_ids)}):
        out.setdefault(f.inspection_id, []).append(f)
    return out


def today_shanghai(now: dt.datetime | None = None) -> dt.date:
    from zoneinfo import ZoneInfo

    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(ZoneInfo("Asia/Shanghai")).date()
