"""Rules the record must meet before signing, finalising and submitting; GPS and time flags."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from backend.inspections import geo
from backend.inspections.fields import Catalogue, media_hashes
from backend.inspections.models import Flag
from backend.inspections.rules import OUTCOME_CATEGORY, OUTCOMES, PENDING_CHILDREN, RESULT_CATEGORIES
from backend.media import services as media
from sync.protocol import parse_time

log = logging.getLogger(__name__)

NO_REPRESENTATIVE_OUTCOMES = ("unreachable", "closed")


def _evidence_problem(method: str, evidence: dict | None) -> str | None:
    evidence = evidence or {}
    if method == "documents" and not evidence.get("documents"):
        return "书面检查须列出审查的材料"
    if method == "online" and not evidence.get("sites"):
        return "网络监测须列出监测的网站或页面"
    if method in ("testing", "agency", "adopt"):
        missing = [label for key, label in (("body", "机构"), ("report_no", "报告编号"), ("conclusion", "采信的结论"))
                   if not evidence.get(key)]
        if missing:
            return f"须填写{'、'.join(missing)}"
    return None


def outcome_problem(outcome: dict | None) -> str | None:
    if not outcome:
        return None
    label = OUTCOMES[outcome["code"]]
    if not outcome.get("photos"):
        return f"“{label}”须有照片作为证据"
    if not outcome.get("gps"):
        return f"“{label}”须有定位作为证据"
    return None


def section_problems(catalogue: Catalogue, values: dict) -> list[str]:
    """Why a department's section cannot be signed yet (empty when it can)."""
    outcome = values.get("outcome")
    if outcome:
        problem = outcome_problem(outcome)
        return [problem] if problem else []
    problems = []
    for item_id in sorted(catalogue.item_ids):
        name = catalogue.item_names.get(item_id, str(item_id))
        method = values.get(f"items.{item_id}.method")
        if not method:
            problems.append(f"事项“{name}”未选择检查方式")
            continue
        problem = _evidence_problem(method, values.get(f"items.{item_id}.evidence"))
        if problem:
            problems.append(f"事项“{name}”：{problem}")
    for cp, spec in sorted(catalogue.points.items()):
        text = catalogue.point_texts.get(cp, str(cp))[:30]
        result = values.get(f"points.{cp}.result")
        if result is None:
            if spec.required:
                problems.append(f"检查内容“{text}”未填写结果")
            continue
        photos = values.get(f"points.{cp}.photos") or []
        if spec.answer_type == "photo" and result != "na" and not photos:
            problems.append(f"检查内容“{text}”须拍照")
        if result == "fail":
            if not (values.get(f"points.{cp}.problem") or values.get(f"points.{cp}.note")):
                problems.append(f"检查内容“{text}”不符合，须写明发现的问题")
            if not photos:
                problems.append(f"检查内容“{text}”不符合，须有照片")
            if not values.get(f"points.{cp}.handling"):
                problems.append(f"检查内容“{text}”不符合，须选择处置情况")
    return problems


def _has_fail(state) -> bool:
    return any(k.endswith(".result") and v == "fail" for s in state.sections.values() for k, v in s.values.items())


def record_problems(batch, state) -> list[str]:
    """Why the lead cannot finalise the record yet."""
    values = batch.record(state).values
    problems = []
    outcome = values.get("outcome")
    categories = values.get("result_categories") or []
    if outcome:
        problem = outcome_problem(outcome)
        if problem:
            problems.append(problem)
        implied = OUTCOME_CATEGORY[outcome["code"]]
        if implied not in categories:
            problems.append(f"检查结果须包含“{OUTCOMES[outcome['code']]}”")
    else:
        if not values.get("arrived_at") or not values.get("departed_at"):
            problems.append("须记录到达和离开时间")
        for dept_id in state.part.departments():
            people = state.part.of_department(dept_id)
            section = state.sections.get(dept_id)
            name = people[0].department_name
            if section is None or section.status != "signed":
                problems.append(f"{name}的检查内容尚未签名")
                continue
            signed = {s.signer_inspector_id for s in batch.live_signatures(state, "section", dept_id)}
            for p in people:
                if p.inspector_id not in signed:
                    problems.append(f"{p.name}（{name}）尚未在本部门的检查内容上签名")
    if not categories:
        problems.append("须选择检查结果")
    if "pending_followup" in categories and not set(categories) & set(PENDING_CHILDREN):
        problems.append("“发现问题待后续处理”须同时选择具体问题：" + "、".join(RESULT_CATEGORIES[c] for c in PENDING_CHILDREN))
    if _has_fail(state):
        if "no_problem" in categories:
            problems.append("有检查内容不符合，检查结果不能是“未发现问题”")
        if not values.get("followups"):
            problems.append("有检查内容不符合，须列出后续处置")
    if (not outcome or outcome["code"] not in NO_REPRESENTATIVE_OUTCOMES) and not values.get("representative"):
        problems.append("须填写被检查对象代表（姓名、职务、电话）")
    return problems


def submit_problems(batch, state) -> list[str]:
    """Who still has to sign the finalised record."""
    problems = []
    signatures = batch.live_signatures(state, "record")
    signed = {s.signer_inspector_id for s in signatures if s.role == "officer"}
    for p in state.part.participants:
        if p.inspector_id not in signed:
            problems.append(f"{p.name}（{p.department_name}）尚未在汇总记录上签名")
    outcome = batch.record(state).values.get("outcome")
    if not (outcome and outcome["code"] in NO_REPRESENTATIVE_OUTCOMES):
        if not any(s.role in ("representative", "witness") for s in signatures):
            problems.append("被检查对象代表尚未签名，也未记录拒签及见证人")
    return problems


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
    return out


def missing_fix_flags(state, department_id: int, values: dict, revs: dict) -> list[Flag]:
    """At signing: the answered check points that carry no GPS fix (one flag for the section, naming them)."""
    answered = sorted({int(k.split(".")[1]) for k in values if k.startswith("points.") and k.endswith(".result")})
    missing = [cp for cp in answered if not values.get(f"points.{cp}.gps")]
    if not missing or values.get("outcome"):
        return []
    return [Flag(inspection_id=state.inspection.id, department_id=department_id, path="points", code="gps.missing",
                 message=f"{len(missing)} 个检查内容没有定位（签名时）", detail={"points": missing}, rev=None)]


def flags_of(session, inspection_ids: list[int]) -> dict[int, list[Flag]]:
    out: dict[int, list[Flag]] = {}
    for f in session.scalars(select(Flag).where(Flag.inspection_id.in_(inspection_ids)).order_by(Flag.id)):
        out.setdefault(f.inspection_id, []).append(f)
    return out


def today_shanghai(now: dt.datetime | None = None) -> dt.date:
    from zoneinfo import ZoneInfo

    return (now or dt.datetime.now(dt.timezone.utc)).astimezone(ZoneInfo("Asia/Shanghai")).date()
