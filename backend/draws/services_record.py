"""Reading a task's draws: the groups of the current draw, the public list of draws and the published record
(DRAW.md's record, streamed as JSON with the app's further facts: names, replacements, the audit anchor)."""
from __future__ import annotations

from typing import Any, Iterator

from sqlalchemy import func, select
from sqlalchemy.orm import Load, Session, selectinload

from backend.actor import Actor
from backend.directory.models import Department, Expert, Inspector, Target
from backend.draws import experts, lists
from backend.draws.eligibility import EXCLUSION_REASONS
from backend.draws.models import DRAW_STATUSES, Draw, InspectionGroup, TargetReplacement
from backend.draws.services import REPLACE_REASONS, current_draw
from backend.errors import NotFound
from backend.inspections.models import Inspection
from backend.plans import services as plans
from backend.plans.models import Task

_CHUNK = 5000


def task_by_code(session: Session, code: str) -> Task:
    task = session.scalar(select(Task).where(Task.code == code))
    if task is None:
        raise NotFound("任务不存在", code="task.not_found")
    return task


def groups_query(session: Session, actor: Actor, task_id: Any):
    """The groups of the task's current draw, by number (none before the draw)."""
    task = plans.read_task(session, actor, task_id)
    draw = current_draw(session, task, ("drawn",))
    return (select(InspectionGroup).options(selectinload(InspectionGroup.members))
            .where(InspectionGroup.draw_id == (draw.id if draw else None),
                   InspectionGroup.id.not_in(select(Inspection.group_id).where(Inspection.followup_id.is_not(None))))
            .order_by(InspectionGroup.number))


def group_rows(session: Session, groups: list[InspectionGroup]) -> list[dict]:
    """Groups as published: leader (row id and certificate number), members, inspections in S order."""
    by_group: dict[int, list] = {g.id: [] for g in groups}
    if by_group:
        for inspection in session.scalars(select(Inspection).where(Inspection.group_id.in_(list(by_group)))
                                          .order_by(Inspection.position)):
            by_group[inspection.group_id].append(inspection)
    return [{"id": g.id, "number": g.number, "leader_id": g.leader_id, "leader_cert_no": g.leader.cert_no,
             "leader_name": g.leader.name, "members": g.members, "inspections": by_group[g.id]} for g in groups]


def public_draws_query(session: Session, task_code: str):
    """Every draw of the task, oldest first; 404 when the task has none yet."""
    task, _ = public_draws(session, task_code)
    return select(Draw).where(Draw.task_id == task.id).order_by(Draw.seq)


PUBLIC_LIST_STATUSES = ("committed", "drawn")


def public_draw_list_query(args: dict):
    """The public list of draws (GET /api/public/draws): every committed or drawn draw, newest first, with its
    task and lead department; ``q`` a part of the task's name or code, ``department_id`` the lead department,
    ``year`` the plan's year, ``status`` committed | drawn. No person is named (a row is counts and links)."""
    from backend.plans.models import Plan

    # the three rows as selected and nothing else: their eager relationships (Draw.task, the task's department and
    # plan, …) joined the task a second time and a plan and departments the row never reads
    stmt = (select(Draw, Task, Department)
            .join(Task, Task.id == Draw.task_id)
            .join(Department, Department.id == Task.lead_department_id)
            .where(Draw.status.in_(PUBLIC_LIST_STATUSES))
            .options(*(Load(entity).lazyload("*") for entity in (Draw, Task, Department)),
                     # a draw's columns the row reads: not its plan and result (a drawn result names every pick)
                     Load(Draw).load_only(Draw.seq, Draw.status, Draw.committed_at, Draw.drawn_at, Draw.counts,
                                          Draw.task_id)))
    if args.get("status"):
        stmt = stmt.where(Draw.status == args["status"])
    if args.get("department_id") is not None:
        stmt = stmt.where(Task.lead_department_id == args["department_id"])
    if args.get("year") is not None:
        stmt = stmt.where(Task.plan_id.in_(select(Plan.id).where(Plan.year == args["year"])))
    q = (args.get("q") or "").strip()
    if q:
        stmt = stmt.where((Task.name.icontains(q, autoescape=True)) | (Task.code.icontains(q, autoescape=True)))
    return stmt.order_by(func.coalesce(Draw.drawn_at, Draw.committed_at).desc(), Draw.id.desc())


def _count_sum(counts: dict | None, key: str) -> int:
    value = (counts or {}).get(key)
    return sum(v for v in value.values() if isinstance(v, int)) if isinstance(value, dict) else 0


def public_draw_row(draw: Draw, task: Task, department: Department) -> dict:
    """One row of the public list: the task, its lead department, when, how many candidates and drawn, links."""
    from backend.publication.calendar import beijing_date

    seq = draw.seq
    return {"task_code": task.code, "task_name": task.name, "seq": seq, "status": draw.status,
            "status_label": DRAW_STATUSES.get(draw.status, draw.status),
            "department": {"id": department.id, "code": department.code, "name": department.name},
            "committed_at": draw.committed_at, "drawn_at": draw.drawn_at,
            "date": beijing_date(draw.drawn_at or draw.committed_at),
            "candidates": _count_sum(draw.counts, "targets"), "drawn": _count_sum(draw.counts, "selected"),
            "url": f"/tasks/{task.code}?seq={seq}",
            "record_url": f"/api/public/draws/{task.code}/record?seq={seq}",
            "verify_url": f"/draw/verify.html?record=/api/public/draws/{task.code}/record%3Fseq%3D{seq}"}


def public_draws(session: Session, task_code: str) -> tuple[Task, list[Draw]]:
    task = task_by_code(session, task_code)
    draws = session.scalars(select(Draw).where(Draw.task_id == task.id).order_by(Draw.seq)).all()
    if not draws:
        raise NotFound("该任务尚未公布摇号信息", code="draw.not_found")
    return task, draws


def get_public_draw(session: Session, task_code: str, seq: int | None = None) -> Draw:
    task, draws = public_draws(session, task_code)
    if seq is None:
        live = [d for d in draws if d.status in ("committed", "drawn")]
        return (live or draws)[-1]
    for d in draws:
        if d.seq == seq:
            return d
    raise NotFound(f"该任务没有第 {seq} 次摇号", code="draw.not_found")


def record_header(session: Session, draw: Draw) -> dict:
    """Everything of the published record but the long lists."""
    task = draw.task
    users = _user_labels(session, [draw.committed_by, draw.drawn_by, draw.abandoned_by])
    departments = dict(session.execute(select(Department.code, Department.name)
                                       .where(Department.code.in_(list(draw.plan["members"])))).all())
    names: dict[str, dict[str, str]] = {"targets": {}, "inspectors": {}}
    if draw.result:
        codes = [c for g in draw.result["groups"] for c in g["targets"]]
        replaced = session.scalars(select(TargetReplacement).where(TargetReplacement.draw_id == draw.id)
                                   .order_by(TargetReplacement.id)).all()
        codes += [r.in_code for r in replaced]
        for i in range(0, len(codes), _CHUNK):
            names["targets"].update(session.execute(select(Target.code, Target.name)
                                                    .where(Target.code.in_(codes[i:i + _CHUNK]))).all())
        certs = sorted({c for g in draw.result["groups"] for ms in g["members"].values() for c in ms}
                       | {r["in"] for r in draw.result["replacements"]})
        for i in range(0, len(certs), _CHUNK):
            names["inspectors"].update(session.execute(select(Inspector.cert_no, Inspector.name)
                                                       .where(Inspector.cert_no.in_(certs[i:i + _CHUNK]))).all())
        # DRAW.md's shape {stratum, out, in, reason}, in the order they happened, plus label, note and time
        target_replacements = [{"stratum": r.stratum, "out": r.out_code, "in": r.in_code, "reason": r.reason_code,
                                "reason_label": REPLACE_REASONS.get(r.reason_code, r.reason_code), "note": r.note,
                                "at": r.replaced_at.isoformat()} for r in replaced]
    else:
        target_replacements = []
    return {
        "algorithm": draw.algorithm, "task": task.code, "plan": draw.plan,
        "commitment": draw.commitment, "dice": draw.dice, "seed": draw.seed, "result": draw.result,
        "draw": {"seq": draw.seq, "status": draw.status, "status_label": DRAW_STATUSES.get(draw.status, draw.status),
                 "committed_at": draw.committed_at.isoformat(),
                 "committed_by": users.get(draw.committed_by), "drawn_at": draw.drawn_at.isoformat() if draw.drawn_at else None,
                 "drawn_by": users.get(draw.drawn_by), "seed_source": draw.seed_source,
                 "dice_entered": draw.dice_entered, "witnesses": draw.witnesses,
                 "reason": draw.reason, "superseded_reason": draw.superseded_reason, "counts": draw.counts,
                 "plan_hash": draw.plan_hash, "targets_hash": draw.targets_hash,
                 "inspectors_hash": draw.inspectors_hash,
                 # seeds that could not complete this draw, and why it was given up (every seed is public)
                 "failed_attempts": list(draw.failed_attempts or []),
                 "abandoned_reason": draw.abandoned_reason,
                 "abandoned_at": draw.abandoned_at.isoformat() if draw.abandoned_at else None,
                 "abandoned_by": users.get(draw.abandoned_by)},
        "task_info": {"name": task.name, "plan_code": task.plan.code, "plan_name": task.plan.name,
                      "lead_department": task.lead_department.name, "start_date": _iso(task.start_date),
                      "end_date": _iso(task.end_date), "draw_date": _iso(task.draw_date),
                      "experts": _expert_facts(session, draw.plan)},
        "expert_conflicts": [list(p) for p in lists.pairs(lists.load(session, draw.id, "expert_conflicts"))],
        "expert_recusals": experts.draw_recusals(session, draw),
        "departments": departments,
        "names": names,
        "target_replacements": target_replacements,
        "exclusion_reasons": EXCLUSION_REASONS,
        "audit_anchor": _audit_anchor(session, task, draw),
    }


def _audit_anchor(session: Session, task: Task, draw: Draw) -> dict:
    """The audit chain's head when the draw was committed and when it was drawn (not part of dsr/v1):
    anyone keeping the record holds a point of the chain that its keepers cannot move later."""
    from backend.audit.models import AuditEntry

    out: dict[str, dict | None] = {"commit": None, "seed": None}
    for moment, action in (("commit", "draw.commit"), ("seed", "draw.result")):
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == action,
                                                         AuditEntry.entity_id == f"{task.code}#{draw.seq}")
                                .order_by(AuditEntry.id.desc()).limit(1)).first()
        if entry is not None:
            out[moment] = {"seq": entry.id, "hash": entry.hash, "at": _iso(entry.at)}
    return out


def _expert_facts(session: Session, plan: dict) -> list[dict]:
    """The experts the committed plan names, with their names and organisations."""
    entries = plan.get("experts") or []
    if not entries:
        return []
    known = {e.code: e for e in session.scalars(select(Expert).where(Expert.code.in_({x["id"] for x in entries})))}
    return [{"group": x["group"], "id": x["id"], "name": known[x["id"]].name if x["id"] in known else None,
             "organization": known[x["id"]].organization if x["id"] in known else None,
             "title": known[x["id"]].title if x["id"] in known else None} for x in entries]


def _iso(value):
    return value.isoformat() if value else None


def _user_labels(session: Session, ids: list[int | None]) -> dict[int, str]:
    from backend.auth.models import User

    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    return {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(wanted)))}


def record_json_chunks(session: Session, draw: Draw) -> Iterator[str]:
    """The published record as JSON text, streamed. Reads the database now; the returned
    iterator only decompresses and formats, so it may run after the session is gone."""
    import json

    header = record_header(session, draw)
    blobs = {kind: lists.raw(session, draw.id, kind) for kind in ("targets", "inspectors", "conflicts", "excluded")}
    dump = lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":"))  # noqa: E731

    def chunks() -> Iterator[str]:
        yield "{" + dump(header)[1:-1]
        for key, make in (
            ("targets", lambda a, b: {"id": b, "stratum": a}),
            ("inspectors", lambda a, b: {"id": b, "dept": a}),
            ("conflicts", lambda a, b: [a, b]),
            ("excluded", lambda a, b: {"id": b, "reason": a}),
        ):
            yield f',"{key}":['
            rows = lists.pairs(lists.unpack(blobs[key]))
            for i in range(0, len(rows), 20000):
                yield ("," if i else "") + ",".join(dump(make(a, b)) for a, b in rows[i:i + 20000])
            yield "]"
        yield "}"

    return chunks()
