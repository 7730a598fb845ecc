"""Which files a person sees in an inspection: exactly those the inspection names where they can read it.

The rules are the pull's and the office view's, not a copy of them: the inspection is cut for the reader
by ``bundle.inspection_changes`` (an officer of the group: their own department's section, every part
once they lead or the record is finalised; staff of a department taking part, system administrators and
supervisors: the office view), and a file is seen when that document names it (a photo, an attachment,
an outcome photo, a signature image, the record's PDF). ``backend.media.services`` asks this for every
file read by someone who did not send its bytes.
"""
from __future__ import annotations

import weakref

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.inspections import bundle
from backend.inspections.access import participation
from backend.inspections.models import Inspection


def visible_media(session: Session, actor: Actor, inspection_ids: list[int]) -> dict[int, set[str]]:
    """For each inspection, the hashes of the files ``actor`` sees named in it (none where they see nothing)."""
    from backend.inspections.office import _staff_may_read

    inspections = list(session.scalars(select(Inspection).where(Inspection.id.in_(inspection_ids))))
    if not inspections:
        return {}
    mine, office = [], []
    parts = participation(session, inspections) if actor.inspector_id is not None else {}
    for inspection in inspections:
        if actor.inspector_id is not None and parts[inspection.id].of(actor.inspector_id):
            mine.append(inspection.id)
        elif _staff_may_read(session, actor, inspection):
            office.append(inspection.id)
    out: dict[int, set[str]] = {}
    for ids, lead_view in ((mine, False), (office, True)):
        for change in bundle.inspection_changes(session, actor, ids, lead_view=lead_view) if ids else []:
            if change["op"] != "put":
                continue
            doc = change["data"]
            named = bundle._named_media(doc)
            if doc["record"] and doc["record"].get("pdf_sha256"):
                named.add(doc["record"]["pdf_sha256"])
            out[doc["id"]] = named
    return out


def sees(session: Session, actor: Actor, sha256: str, inspection_ids: list[int]) -> bool:
    """Whether ``actor`` sees the file ``sha256`` named in one of these inspections."""
    return any(sha256 in named for named in visible_media(session, actor, inspection_ids).values())


# --- how many files one inspection may name ------------------------------------------------------------

MAX_FILES_PER_INSPECTION = 600       # MEDIA_MAX_FILES_PER_INSPECTION
_known: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()   # batch → {inspection id: hashes referenced}


def named_in(args: dict) -> set[str]:
    """The files a mutation's arguments name: photos and attachments in its fields, a signature image."""
    from backend.inspections.fields import SCALARS, SHA256_RE, media_hashes

    out: set[str] = set()
    fields = args.get("fields")
    if isinstance(fields, dict):   # (a section's hundred writes: texts and flags skipped at once)
        out |= media_hashes([v for w in fields.values() if (w.__class__ is dict or isinstance(w, dict))
                             and (v := w.get("value")).__class__ not in SCALARS])
    image = args.get("image_sha256")
    if isinstance(image, str):
        out.add(image)
    return {h for h in out if isinstance(h, str) and SHA256_RE.match(h)}


def check_files(batch, state, args: dict) -> None:
    """Refuse a mutation that would make one inspection refer to more files than the limit (the files
    already referenced, those of this push so far, and the new ones)."""
    from backend.media.models import MediaRef
    from sync.engine import Refused

    named = named_in(args)
    if not named:
        return
    limit = int((batch.settings or {}).get("MEDIA_MAX_FILES_PER_INSPECTION") or MAX_FILES_PER_INSPECTION)
    inspection_id = state.inspection.id
    known = _known.setdefault(batch, {})
    if inspection_id not in known:
        known[inspection_id] = set(batch.session.scalars(select(MediaRef.sha256)
                                                         .where(MediaRef.inspection_id == inspection_id)))
    referenced = known[inspection_id] | batch.media.get(inspection_id, set())
    total = len(referenced | named)
    if total > limit:
        raise Refused("media.inspection_full",
                      f"一户检查最多引用 {limit} 个照片和附件，本次将达 {total} 个；请删去不需要的照片后再添加",
                      details={"limit": limit, "referenced": len(referenced), "adding": len(named - referenced)})
