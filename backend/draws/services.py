"""A task's draw (DRAW.md): commit, seed and draw, re-draw, reopen, replace a target.

Every step is one transaction and one or more audit entries. Two draws of one task at the
same time: the first to change the task's status wins (a conditional UPDATE that takes the
row lock); the other finds the status changed and is refused.

A task that cannot be drawn (``feasibility.assess``: too few inspectors, an expert attached to
a group that will not exist, …) is refused at the commit, which then freezes nothing. A seed
whose draw cannot complete (recusal finds no replacement: it depends on the seed) rolls back
everything the draw did; the attempt, with its seed, is then logged on its own and published
with the draw, which becomes ``failed``: its commitment is spent, so no second seed is taken
for it. The planner reopens the task with a reason (``reopen``): the draw stays public,
marked ``abandoned``, and the task is ``confirmed`` again, editable and ready to commit anew.

Saving the assignments and telling the phones: ``services_save``; reading the groups and the
published record: ``services_record``.
"""
from __future__ import annotations

import dataclasses
import secrets
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.db import analyze_grown, utcnow
from backend.directory.models import Inspector, Target
from backend.draws import algorithm, experts, feasibility, lists, services_save
from backend.draws.eligibility import collector_paused, freeze
from backend.draws.models import Draw, InspectionGroup, TargetReplacement
from backend.errors import Conflict, DomainError, InvalidInput, NotFound
from backend.inspections.models import Inspection, InspectionMember
from backend.plans import services as plans
from backend.plans.models import Task
from sync.canonical import sha256_hex

DICE_MIN, DICE_MAX = 20, 200
DICE_SEPARATORS = " \t\r\n\u3000"  # spaces (also full-width) and line breaks between digits are dropped
DICE_RULE = f"须为 {DICE_MIN} 至 {DICE_MAX} 位 0–9 的半角数字，数字之间可用空格或换行分隔（分隔符不计入）"
REPLACE_REASONS = algorithm.TARGET_REPLACEMENT_REASONS  # closed, deregistered, revoked


@dataclasses.dataclass
class DrawSettings:
    max_visits: int | None = None
    processes: int | None = None     # ticket ranking in forked processes (jobs, CLI, bench only)


class DrawFailed(DomainError):
    status = 422
    code = "draw.failed"


class CannotDraw(DomainError):
    """The task cannot be drawn now; ``details.reasons`` says why (the preview's reasons)."""

    status = 422
    code = "draw.cannot_draw"


# --- helpers -------------------------------------------------------------------------------

def _editable_task(session: Session, actor: Actor, task_id: Any) -> Task:
    task = plans.get_task(session, task_id)
    plans.ensure_task_editor(actor, task)
    return task


def _claim(session: Session, task: Task, from_statuses: tuple[str, ...], to_status: str) -> Task:
    """Move the task's status atomically; the loser of a race gets 409."""
    claim = (update(Task).where(Task.id == task.id, Task.status.in_(from_statuses))
             .values(status=to_status, draw_seq=Task.draw_seq + 1).execution_options(synchronize_session=False))
    try:
        result = session.execute(claim)
    except OperationalError as exc:
        # SQLite: our read snapshot is older than another writer's commit. Start afresh: the
        # claim then waits for that writer and sees what it did.
        if session.get_bind().dialect.name != "sqlite" or "locked" not in str(exc.orig).lower():
            raise
        session.rollback()
        result = session.execute(claim)
    if result.rowcount != 1:
        session.rollback()
        raise Conflict("该任务正在摇号或已经摇号，请刷新后查看结果", code="draw.concurrent")
    return session.get(Task, task.id, populate_existing=True)


def _department_codes(task: Task) -> list[str]:
    return sorted(r.department.code for r in task.departments if r.members_per_group >= 1)


def current_draw(session: Session, task: Task, statuses=("committed", "drawn")) -> Draw | None:
    return session.scalar(select(Draw).where(Draw.task_id == task.id, Draw.status.in_(statuses))
                          .order_by(Draw.seq.desc()).limit(1))


# --- step 1: freeze and commit -------------------------------------------------------------

def commitment_of_lines(task_code: str, plan: dict, target_lines: list[str],
                        inspector_lines: list[str]) -> algorithm.Commitment:
    """DRAW.md step 1 from lines already sorted in code point order (no list is rebuilt)."""
    return commitment_of_hashes(task_code, plan, sha256_hex("\n".join(target_lines)),
                                sha256_hex("\n".join(inspector_lines)))


def commitment_of_hashes(task_code: str, plan: dict, targets_hash: str, inspectors_hash: str) -> algorithm.Commitment:
    """DRAW.md step 1 from the SHA-256 hex of the sorted lines joined by "\n" (``lists.pack``'s)."""
    plan_hash = sha256_hex(algorithm.canonical_json(plan))
    text = f"{algorithm.ALGORITHM}|commit|{task_code}\n{plan_hash}\n{targets_hash}\n{inspectors_hash}"
    return algorithm.Commitment(plan_hash, targets_hash, inspectors_hash, sha256_hex(text))


def preview(session: Session, actor: Actor, task_id: Any, settings: DrawSettings) -> dict:
    """What a draw would take now (nothing frozen, no randomness): eligible and excluded per stratum,
    k per stratum, per department inspectors available and needed, whether the draw can run
    (``can_draw``) and if not why (``reasons``), and what might still make it fail (``warnings``)."""
    task = _editable_task(session, actor, task_id)
    plan = experts.draw_plan(session, task)
    with collector_paused():
        eligible = freeze(session, task, _department_codes(task), max_visits=settings.max_visits)
        return feasibility.assess(task, plan, eligible, experts.attached(session, task))


def commit(session: Session, actor: Actor, task_id: Any, settings: DrawSettings, *, reason: str | None = None,
           replacing: Draw | None = None) -> Draw:
    """Freeze the eligible lists and publish the commitment, before any randomness exists."""
    task = _editable_task(session, actor, task_id)
    if replacing is None:
        if task.status != "confirmed":
            if task.status in ("committed", "drawn"):
                raise Conflict("该任务已冻结名单或已摇号；如需重新抽取，请填写理由后申请重新抽取",
                               code="draw.already_committed")
            plans.ensure_drawable(task)
        task = _claim(session, task, ("confirmed",), "committed")
    plan = experts.draw_plan(session, task)
    attached = experts.attached(session, task)
    with collector_paused():
        eligible = freeze(session, task, _department_codes(task), max_visits=settings.max_visits)
        verdict = feasibility.assess(task, plan, eligible, attached)
        reasons = [r for r in verdict["reasons"] if r["code"] != "draw.already_committed"]  # we moved the status
        if reasons:
            session.rollback()   # the status claim, and a re-draw's superseding: nothing is frozen
            raise CannotDraw("不能摇号：" + "；".join(r["message"] for r in reasons),
                             details={"reasons": reasons, "warnings": verdict["warnings"]})
        texts = {"targets": lists.join(eligible.target_lines), "inspectors": lists.join(eligible.inspector_lines)}
        frozen = {"conflicts": [f"{i}|{e}" for i, e in eligible.conflicts], "excluded": eligible.excluded_lines}
        if plan.get("experts"):
            frozen["expert_conflicts"] = experts.frozen_conflicts(
                session, sorted({e["id"] for e in plan["experts"]}), eligible.target_lines)
        del eligible   # the million target lines, before the collector runs again (and before compressing)
        frozen.update({kind: lists.seal(*texts.pop(kind)) for kind in ("targets", "inspectors")})
    c = commitment_of_hashes(task.code, plan, frozen["targets"].sha256, frozen["inspectors"].sha256)
    seq = (session.scalar(select(func.max(Draw.seq)).where(Draw.task_id == task.id)) or 0) + 1
    draw = Draw(task_id=task.id, seq=seq, status="committed", algorithm=algorithm.ALGORITHM, plan=plan,
                plan_hash=c.plan_hash, targets_hash=c.targets_hash, inspectors_hash=c.inspectors_hash,
                commitment=c.commitment, counts=_stored_counts(verdict), committed_by=actor.user_id,
                reason=reason)
    session.add(draw)
    session.flush()
    for kind in ("targets", "inspectors", "conflicts", "excluded", "expert_conflicts"):
        if kind in frozen:
            lists.store(session, draw.id, kind, frozen.pop(kind))
    audit.record(session, actor, "draw.commit", "draw", f"{task.code}#{seq}",
                 after={"commitment": c.commitment, "plan_hash": c.plan_hash, "targets_hash": c.targets_hash,
                        "inspectors_hash": c.inspectors_hash},
                 detail={"task": task.code, "seq": seq, "counts": draw.counts, "reason": reason,
                         "experts": plan.get("experts", []), "warnings": verdict["warnings"]},
                 department_id=task.lead_department_id)
    session.commit()
    return draw


def _stored_counts(verdict: dict) -> dict:
    """The preview's figures kept with the draw (and published with it), without the verdict."""
    return {k: v for k, v in verdict.items() if k not in ("reasons", "warnings", "can_draw")}


# --- steps 2-7: seed and draw --------------------------------------------------------------

def dice_digits(entered: str | None) -> str:
    """The digits used from dice as entered: every 0–9 in order; separators dropped; anything else refused."""
    def bad(problem: str, **details) -> InvalidInput:
        return InvalidInput(f"骰子数字有误：{problem}。{DICE_RULE}", code="draw.bad_dice",
                            errors={"dice": [f"{problem}；{DICE_RULE}"]}, details=details)

    digits = []
    for position, char in enumerate(entered or "", 1):
        if "0" <= char <= "9":
            digits.append(char)
        elif char not in DICE_SEPARATORS:
            shown = char if char.isprintable() else f"U+{ord(char):04X}"
            raise bad(f"第 {position} 个字符“{shown}”不是 0–9 的数字", position=position, char=char)
    if not digits:
        raise bad("未填写", digits=0)
    if len(digits) < DICE_MIN:
        raise bad(f"只有 {len(digits)} 位数字，至少需要 {DICE_MIN} 位", digits=len(digits))
    if len(digits) > DICE_MAX:
        raise bad(f"有 {len(digits)} 位数字，最多 {DICE_MAX} 位", digits=len(digits))
    return "".join(digits)


def _digits(source: str, dice: str | None) -> str:
    if source == "dice":
        return dice_digits(dice)
    if source == "csprng":
        return "".join(str(secrets.randbelow(10)) for _ in range(20))
    raise InvalidInput("随机数来源须为 dice（现场掷骰）或 csprng（系统随机数）", code="draw.bad_source")


def seed_and_draw(session: Session, actor: Actor, task_id: Any, settings: DrawSettings, *, source: str,
                  dice: str | None = None, witnesses: list[str] | None = None) -> Draw:
    task = _editable_task(session, actor, task_id)
    if task.status != "committed":
        if task.status == "drawn":
            raise Conflict("该任务已经摇号", code="draw.already_drawn")
        raise Conflict("请先冻结抽取名单并公布承诺值，再录入随机数", code="draw.not_committed")
    spent = current_draw(session, task, ("committed", "failed"))
    if spent is not None and spent.status == "failed":
        raise Conflict("本次摇号未能完成，其承诺值已使用（失败的随机数已公开）；请说明理由重新开放任务后重新冻结名单，"
                       "或申请重新抽取", code="draw.seed_failed", details={"seq": spent.seq})
    digits = _digits(source, dice)
    if source == "dice" and not witnesses:
        raise InvalidInput("现场摇号须登记见证人姓名", code="draw.no_witnesses", errors={"witnesses": ["必填项"]})
    task = _claim(session, task, ("committed",), "drawn")
    draw = current_draw(session, task, ("committed",))
    seed = algorithm.seed_from(draw.commitment, digits)
    # the collector paused while the lists of a million lines are held (eligibility.collector_paused: at a
    # million candidates about 180 collections walked them, 0.19 s of CPU a draw)
    with collector_paused():
        stored = lists.raw_all(session, draw.id, ("targets", "inspectors", "conflicts"))   # one read
        targets = lists.unpack_grouped(stored.pop("targets"), as_bytes=True)   # hashed as they are
        inspectors = lists.unpack_grouped(stored.pop("inspectors"))
        conflicts = lists.pairs(lists.unpack(stored.pop("conflicts")))
        # the groups, members and drawn businesses' rows sent while the rest is ranked (services_save.Saver);
        # with forked rankers, in this thread (no fork while a thread holds the connection)
        saver = services_save.Saver(session, task, draw, overlap=not settings.processes or settings.processes <= 1)
        try:
            # one line per row of ``target``, whose code is unique (uq_target_code): no id can repeat
            result = algorithm.draw(task.code, draw.plan, targets, inspectors, conflicts, seed,
                                    processes=settings.processes, targets_unique=True,
                                    on_crew=saver.crew, on_selected=saver.selected)
        except algorithm.DrawError as exc:
            saver.close()   # what it sent goes with the rollback
            session.rollback()
            _log_failure(session, actor, task, draw, source, (digits, dice if source == "dice" else None), seed,
                         witnesses, exc)
            raise DrawFailed(exc.message + "。该随机数与失败原因已公开记录；请说明理由重新开放任务后重新冻结名单",
                             code=exc.code, details=exc.details)
        finally:
            saver.close()
        saver.wait()   # before the session is used again
        draw.status, draw.seed_source, draw.dice, draw.seed = "drawn", source, digits, seed
        draw.dice_entered = dice if source == "dice" else None
        draw.witnesses = list(witnesses or [])
        draw.drawn_by, draw.drawn_at = actor.user_id, utcnow()
        draw.result = result.to_record_result()
        lists.store(session, draw.id, "reserve",
                    [f"{s}|{code}" for s in sorted(result.target_reserve) for code in result.target_reserve[s]])
        lists.store(session, draw.id, "insp_reserve",
                    [f"{d}|{c}" for d in sorted(result.inspector_reserve) for c in result.inspector_reserve[d]])
        ids = saver.finish(result)
        audit.record(session, actor, "draw.seed", "draw", f"{task.code}#{draw.seq}",
                     after={"seed": seed, "dice": digits, "dice_entered": draw.dice_entered, "source": source},
                     detail={"task": task.code, "seq": draw.seq, "commitment": draw.commitment,
                             "witnesses": draw.witnesses, "pressed_by": actor.label if source == "csprng" else None},
                     department_id=task.lead_department_id)
        audit.record(session, actor, "draw.result", "draw", f"{task.code}#{draw.seq}", after=draw.result,
                     detail={"task": task.code, "seq": draw.seq, "groups": len(result.groups),
                             "selected": {s: len(v) for s, v in result.selected.items()},
                             "replacements": len(result.replacements)},
                     department_id=task.lead_department_id)
        # the ids saved (PostgreSQL), or by the task's index (draw_id has none of its own; a province's are millions)
        services_save.announce_inspections(session, task.id,
                                           (Inspection.task_id == task.id) & (Inspection.draw_id == draw.id), "draw",
                                           ids=ids)
        session.commit()
    written = len(ids) if ids is not None else sum(len(g.targets) for g in result.groups)
    analyze_after_draw(session, {"inspection": written, "sync_change": written, "inspection_group": len(result.groups),
                                 "group_member": sum(len(m) for g in result.groups for m in g.members.values()),
                                 "inspection_member_override": len(result.replacements)})
    return draw


def analyze_after_draw(session: Session, written: dict[str, int]) -> list[str]:
    """Thousands of rows just written: where they are many beside what the table held, the planner needs
    statistics now (autovacuum may be off); where the table held many more, the old statistics still hold."""
    return analyze_grown(session, written)


def _log_failure(session, actor, task, draw, source, dice: tuple[str, str | None], seed, witnesses, exc) -> None:
    """Every seed ever generated is logged, also when the draw could not complete: in the audit
    log, and with the draw (public), which is ``failed`` from now on."""
    draw = session.get(Draw, draw.id, populate_existing=True)
    digits, entered = dice
    attempt = {"at": utcnow().isoformat(), "source": source, "dice": digits, "dice_entered": entered, "seed": seed,
               "witnesses": list(witnesses or []), "pressed_by": actor.label if source == "csprng" else None,
               "error": exc.code, "message": exc.message, "details": exc.details}
    draw.failed_attempts = [*(draw.failed_attempts or []), attempt]
    draw.status = "failed"
    audit.record(session, actor, "draw.failed", "draw", f"{task.code}#{draw.seq}",
                 detail={"task": task.code, "seq": draw.seq, "seed": seed, "dice": digits, "source": source,
                         "witnesses": list(witnesses or []), "error": exc.code, "message": exc.message,
                         "details": exc.details},
                 department_id=task.lead_department_id)
    session.commit()


# --- re-draw and target replacement --------------------------------------------------------

def redraw(session: Session, actor: Actor, task_id: Any, settings: DrawSettings, *, reason: str) -> Draw:
    """A new draw with a reason. The earlier one stays, public, marked superseded; never silently replaced."""
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise InvalidInput("重新抽取须说明理由（至少 4 个字）", code="draw.reason_required",
                           errors={"reason": ["请填写理由"]})
    task = _editable_task(session, actor, task_id)
    if task.status not in ("committed", "drawn"):
        raise Conflict("该任务尚未摇号，无需重新抽取", code="draw.nothing_to_redraw")
    previous = current_draw(session, task, ("committed", "drawn", "failed"))
    started = session.scalar(select(func.count()).select_from(Inspection).where(
        Inspection.draw_id == previous.id, Inspection.status.in_(("in_progress", "completed"))))
    if started:
        raise Conflict(f"已有 {started} 户检查已经开始或完成，不能重新抽取", code="draw.inspections_started")
    task = _claim(session, task, ("committed", "drawn"), "committed")
    previous.status, previous.superseded_reason = "superseded", reason
    session.execute(update(Inspection).where(Inspection.draw_id == previous.id, Inspection.status == "assigned")
                    .values(status="superseded", updated_at=utcnow()).execution_options(synchronize_session=False))
    audit.record(session, actor, "draw.supersede", "draw", f"{task.code}#{previous.seq}",
                 detail={"task": task.code, "seq": previous.seq, "reason": reason},
                 department_id=task.lead_department_id)
    services_save.announce_inspections(session, task.id, Inspection.draw_id == previous.id, "superseded")
    return commit(session, actor, task.id, settings, reason=reason, replacing=previous)


def reopen(session: Session, actor: Actor, task_id: Any, *, reason: str) -> Draw:
    """A committed task whose draw cannot or did not complete goes back to ``confirmed``; returns the draw.

    The draw stays public, marked ``abandoned`` with the reason, who and when; its failed seeds
    stay with it. The task may then be edited (which returns it to draft and to the 会审) or
    committed again (a new commitment, ``seq`` + 1). A drawn task is redrawn instead.
    """
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise InvalidInput("重新开放任务须说明理由（至少 4 个字）", code="draw.reason_required",
                           errors={"reason": ["请填写理由"]})
    task = _editable_task(session, actor, task_id)
    if task.status != "committed":
        if task.status == "drawn":
            raise Conflict("该任务已完成摇号；如需重新抽取，请说明理由申请重新抽取", code="draw.not_reopenable")
        raise Conflict("只有已冻结名单、尚未完成摇号的任务可以重新开放", code="draw.not_reopenable")
    before = plans.task_snapshot(task)
    task = _claim(session, task, ("committed",), "confirmed")
    draw = current_draw(session, task, ("committed", "failed"))
    was = draw.status
    draw.status, draw.abandoned_reason = "abandoned", reason
    draw.abandoned_at, draw.abandoned_by = utcnow(), actor.user_id
    audit.record(session, actor, "draw.abandon", "draw", f"{task.code}#{draw.seq}",
                 before={"status": was}, after={"status": "abandoned"},
                 detail={"task": task.code, "seq": draw.seq, "reason": reason, "commitment": draw.commitment,
                         "failed_attempts": len(draw.failed_attempts or [])},
                 department_id=task.lead_department_id)
    audit.record(session, actor, "task.reopen", "task", task.id, before=before, after=plans.task_snapshot(task),
                 detail={"reason": reason, "draw_seq": draw.seq}, department_id=task.lead_department_id)
    session.commit()
    return draw


def replace_target(session: Session, actor: Actor, inspection_id: Any, *, reason_code: str,
                   note: str | None = None) -> Inspection:
    """A drawn target found closed, deregistered or revoked before the visit (DRAW.md step 3).

    The n-th replacement of a stratum brings in the n-th target of its reserve, strictly in order.
    A reserve target the directory already shows closed, deregistered or revoked is itself replaced
    the same way at once; each replacement is logged and published. A business unreachable at its
    registered address is not replaced: that is a result of the inspection, published as such.
    Returns the inspection of the target finally brought in."""
    if reason_code == "unreachable":
        raise InvalidInput("通过登记的住所（经营场所）无法联系的对象不替换：这是检查结果，应在检查记录中如实记录并公示",
                           code="draw.unreachable_is_a_result",
                           errors={"reason_code": ["无法联系不是替换理由，应作为检查结果记录"]})
    if reason_code not in REPLACE_REASONS:
        raise InvalidInput("替换原因须为：" + "、".join(f"{k}（{v}）" for k, v in REPLACE_REASONS.items()),
                           code="draw.bad_replace_reason", errors={"reason_code": ["取值无效"]})
    inspection = session.get(Inspection, inspection_id) if isinstance(inspection_id, int) else None
    if inspection is None:
        raise NotFound("检查记录不存在", code="inspection.not_found")
    task = _editable_task(session, actor, inspection.task_id)
    draw = session.get(Draw, inspection.draw_id)
    if draw.status != "drawn" or inspection.status != "assigned":
        raise Conflict("只有已抽取、尚未开始检查的对象可以替换", code="draw.not_replaceable")
    stratum = inspection.stratum
    reserve = [code for s, code in lists.pairs(lists.load(session, draw.id, "reserve")) if s == stratum]
    used = session.scalar(select(func.count()).select_from(TargetReplacement)
                          .where(TargetReplacement.draw_id == draw.id, TargetReplacement.stratum == stratum))
    touched = [inspection.id]  # every inspection replaced or brought in, for the phones
    while True:
        if used >= len(reserve):
            raise Conflict(f"分层 {stratum} 的备选名单已用完（共 {len(reserve)} 个），无法替换",
                           code="draw.reserve_exhausted", details={"stratum": stratum, "reserve": len(reserve)})
        out_code, in_code = inspection.target.code, reserve[used]
        used += 1
        target = session.scalar(select(Target).where(Target.code == in_code))
        inspection.status = "replaced"
        new = Inspection(task_id=task.id, draw_id=draw.id, group_id=inspection.group_id, target_id=target.id,
                         stratum=stratum, position=inspection.position, status="assigned")
        session.add(new)
        session.add(TargetReplacement(draw_id=draw.id, stratum=stratum, out_code=out_code, in_code=in_code,
                                      reason_code=reason_code, note=note, replaced_by=actor.user_id))
        session.flush()
        touched.append(new.id)
        audit.record(session, actor, "draw.replace_target", "draw", f"{task.code}#{draw.seq}",
                     detail={"task": task.code, "stratum": stratum, "out": out_code, "in": in_code,
                             "reason": reason_code, "note": note, "reserve_position": used},
                     department_id=task.lead_department_id)
        if target.status not in REPLACE_REASONS:
            break
        # the reserve target is itself unusable: replaced the same way, by the next one
        inspection, reason_code = new, target.status
        note = f"名录库显示备选对象 {in_code} {REPLACE_REASONS[target.status]}，按备选名单顺序继续替换"
    recusals = _recuse_for_new_target(session, draw, new, in_code)
    if recusals:
        audit.record(session, actor, "draw.recuse_for_replacement", "draw", f"{task.code}#{draw.seq}",
                     detail={"task": task.code, "target": in_code, "recusals": recusals},
                     department_id=task.lead_department_id)
    services_save.announce_inspections(session, task.id, Inspection.id.in_(touched), "replaced")
    session.commit()
    return new


def _recuse_for_new_target(session: Session, draw: Draw, inspection: Inspection, code: str) -> list[dict]:
    """Step 6 for a target that came from the reserve: same rule, continuing the departments' reserves."""
    conflicted = {i for i, e in lists.pairs(lists.load(session, draw.id, "conflicts")) if e == code}
    if not conflicted:
        return []
    group = session.get(InspectionGroup, inspection.group_id)
    members = sorted(group.members, key=lambda m: (m.inspector.department.code, m.position))
    used_in = set(session.scalars(select(Inspector.cert_no).join(
        InspectionMember, InspectionMember.in_inspector_id == Inspector.id).join(
        Inspection, Inspection.id == InspectionMember.inspection_id).where(Inspection.draw_id == draw.id)))
    reserve = lists.grouped(lists.load(session, draw.id, "insp_reserve"))
    done = []
    for member in members:
        cert, dept = member.inspector.cert_no, member.inspector.department.code
        if cert not in conflicted:
            continue
        choice = next((c for c in reserve.get(dept, []) if c not in used_in and c not in conflicted), None)
        if choice is None:
            raise Conflict(f"部门 {dept} 的备选检查人员中没有可替换 {cert} 回避的人员", code="draw.no_replacement")
        used_in.add(choice)
        in_id = session.scalar(select(Inspector.id).where(Inspector.cert_no == choice))
        session.add(InspectionMember(inspection_id=inspection.id, department_id=member.department_id,
                                     out_inspector_id=member.inspector_id, in_inspector_id=in_id))
        done.append({"dept": dept, "out": cert, "in": choice})
    return done
