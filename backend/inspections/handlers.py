"""The mutations a phone pushes (``docs/sync.md`` §Mutations): section writes and signatures, the lead's merge.

Each handler checks everything first and raises :class:`sync.engine.Refused` with a stable code and
a Chinese message; only then does it set ``ctx.applying`` and change the batch's state.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from backend.inspections import checks, media_access, signers
from backend.inspections.access import GONE_REASONS, Participant
from backend.inspections.batch import FieldBatch, InspectionState
from sync.canonical import record_hash, section_hash
from backend.inspections.fields import SCALARS, SHA256_RE, UUID_RE, media_hashes, parse_writes, person, record_check
from backend.inspections.models import Conflict, Signature
from sync.engine import Context, Refused
from sync.fields import FieldWrite, plan_merge

MAX_STROKES_POINTS = 20000
MAX_OPEN_CONFLICTS = 500          # per inspection (SYNC_MAX_OPEN_CONFLICTS)
MAX_BULK_CONFLICTS = 500          # conflict.resolve_many


# --- common checks ----------------------------------------------------------------------------------

def _int_arg(args: dict, name: str) -> int:
    value = args.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**31:
        raise Refused("validation_error", f"{name} 须为正整数", errors={name: ["须为正整数"]})
    return value


def _only(args: dict, *allowed: str) -> None:
    extra = set(args) - set(allowed)
    if extra:
        raise Refused("validation_error", f"未知参数：{', '.join(sorted(extra))}",
                      errors={k: ["未知参数"] for k in sorted(extra)})


def _reason(args: dict, name: str = "reason", minimum: int = 4) -> str:
    value = args.get(name)
    if not isinstance(value, str) or len(value.strip()) < minimum or len(value) > 500:
        raise Refused("validation_error", f"须说明理由（{minimum}–500 个字）", errors={name: ["请填写理由"]})
    return value.strip()


def _state(ctx: Context, args: dict, *, writable: bool = True) -> tuple[InspectionState, Participant]:
    """The inspection the mutation names, and the pushing officer's part in it."""
    batch: FieldBatch = ctx.batch
    state = batch.inspection(_int_arg(args, "inspection_id"))
    if state is None:
        raise Refused("inspection.not_found", "检查记录不存在")
    me = state.part.by_user(ctx.user_id)
    if me is None:
        mine = ctx.batch.actor.inspector_id
        if mine in state.part.declared:       # a conflict of interest declared after the draw (access.py)
            reason = state.part.declared[mine]
            raise Refused("sync.recused", f"你已申报与该检查对象存在利害关系（{reason}），已回避该检查，不能再修改它",
                          details={"reason": reason})
        if mine in state.part.recused:
            raise Refused("sync.recused", "你已对该检查对象回避（由备选人员替你检查），不能修改该检查")
        raise Refused("sync.not_participant", "你不是该检查的检查组成员，不能修改该检查")
    status = state.inspection.status
    if status in GONE_REASONS:
        raise Refused("inspection.gone", GONE_REASONS[status][1])
    if writable and status == "completed":
        raise Refused("inspection.completed", "该检查已提交完成，内容不能再修改")
    media_access.check_files(ctx.batch, state, args)   # files one inspection may name (issue 11 §4.4)
    return state, me


def _lead(ctx: Context, args: dict) -> tuple[InspectionState, Participant]:
    state, me = _state(ctx, args)
    if not me.is_lead:
        raise Refused("record.lead_only", "只有检查组组长可以汇总、处理冲突和提交检查记录")
    return state, me


def _record_state(ctx: Context, state: InspectionState, *wanted: str) -> None:
    record = ctx.batch.record(state)
    if record.state not in wanted:
        messages = {"draft": "检查记录尚在组长汇总中", "signing": "检查记录已定稿待会签，内容不能修改（组长可退回修改）",
                    "submitted": "检查记录已提交"}
        raise Refused(f"record.{record.state}", messages[record.state])


def _signer(ctx: Context, args: dict, state: InspectionState, me: Participant,
            department_id: int | None = None) -> tuple[Participant, str]:
    """Who signs: the pushing officer, or a member who entered their own password on this phone (checked before
    the push's transaction, ``signers.check_push``). Every failure of a co-signer answers the same."""
    if "signer" not in args or args["signer"] is None:
        return me, "own"
    verified = ctx.extra.get("signers", {}).get(ctx.mutation_id)
    if isinstance(verified, Refused):
        raise verified
    person = state.part.by_user(verified) if verified is not None else None
    if person is None or (department_id is not None and person.department_id != department_id):
        raise signers.invalid()
    return person, ("own" if person.user_id == ctx.user_id else "lead_device")


def _signature_id(args: dict) -> str:
    sid = args.get("signature_id")
    if not isinstance(sid, str) or not UUID_RE.match(sid):
        raise Refused("validation_error", "signature_id 须为小写 UUID", errors={"signature_id": ["须为小写 UUID"]})
    return sid


def _marks(args: dict, *, required: bool = True) -> tuple[list | None, str | None]:
    """A signature's strokes (signature_pad's ``toData()``, bounded) and/or the SHA-256 of its uploaded image."""
    strokes, image = args.get("strokes"), args.get("image_sha256")
    points = 0
    if strokes is not None:
        if not isinstance(strokes, list) or any(
                isinstance(s, dict) and not isinstance(s.get("points", []), list) for s in strokes):
            raise Refused("validation_error", "签名笔迹格式有误", errors={"strokes": ["格式有误"]})
        points = sum(len(s.get("points", [])) if isinstance(s, dict) else 1 for s in strokes)
        if points > MAX_STROKES_POINTS:
            raise Refused("validation_error", f"签名笔迹过大（最多 {MAX_STROKES_POINTS} 个点）",
                          errors={"strokes": ["格式有误"]})
    if image is not None and (not isinstance(image, str) or not SHA256_RE.match(image)):
        raise Refused("validation_error", "image_sha256 须为签名图片的 SHA-256", errors={"image_sha256": ["格式有误"]})
    if required and not points and image is None:   # strokes without a point are no signature either
        raise Refused("signature.empty", "签名为空：须有笔迹（strokes）或签名图片（image_sha256）")
    return strokes, image


def _signature_common(args: dict) -> tuple[str, str, list | None, str | None]:
    sid, content_hash = _signature_id(args), args.get("content_hash")
    if not isinstance(content_hash, str) or not SHA256_RE.match(content_hash):
        raise Refused("validation_error", "content_hash 须为所签内容的 SHA-256",
                      errors={"content_hash": ["须为 64 位小写十六进制"]})
    strokes, image = _marks(args)
    return sid, content_hash, strokes, image


def _new_signature(ctx: Context, state: InspectionState, sid: str) -> None:
    if any(s.id == sid for s in ctx.batch.signatures(state)) or ctx.batch.session.get(Signature, sid) is not None:
        raise Refused("signature.duplicate_id", "该签名编号已使用过")


def _signature(ctx: Context, state: InspectionState, sid: str, content_hash: str, strokes: list | None,
               image: str | None, **fields) -> Signature:
    """A signature pushed by this mutation (``fields``: scope, role, who signs)."""
    return Signature(id=sid, inspection_id=state.inspection.id, content_hash=content_hash, strokes=strokes,
                     image_sha256=image, device_time=ctx.device_time, client_id=ctx.client_id,
                     mutation_id=ctx.mutation_id, **fields)


def _officer(signer: Participant, via: str) -> dict:
    """A member of the group signing: who they are, and on whose phone (``via``)."""
    return {"role": "officer", "signer_user_id": signer.user_id, "signer_inspector_id": signer.inspector_id,
            "signer_name": signer.name, "signer_cert_no": signer.cert_no, "via": via}


def _void(ctx: Context, signatures: list[Signature], reason: str) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    for s in signatures:
        s.void_at, s.void_reason, s.void_by = now, reason, ctx.user_id


def _ensure_no_representative(batch: FieldBatch, state: InspectionState) -> None:
    if any(s.role in ("representative", "witness") for s in batch.live_signatures(state, "record")):
        raise Refused("signature.duplicate", "被检查对象代表已签名或已记录拒签")


def _open_conflicts(ctx: Context, state: InspectionState, department_id: int | None = None) -> list[Conflict]:
    stmt = select(Conflict).where(Conflict.inspection_id == state.inspection.id, Conflict.status == "open")
    if department_id is not None:
        stmt = stmt.where(Conflict.scope == "section", Conflict.department_id == department_id)
    stored = list(ctx.batch.session.scalars(stmt))
    fresh = [c for c in ctx.batch.new_conflicts if c.inspection_id == state.inspection.id
             and (department_id is None or (c.scope == "section" and c.department_id == department_id))]
    return stored + fresh


def _plan_conflicts(ctx: Context, state: InspectionState, scope: str, department_id: int | None, plan
                    ) -> list[tuple[Any, Conflict | None]]:
    """Where each stale write of the plan goes, checked before anything is applied: onto the open conflict the
    same officer already has on that path (a repeat replaces it: the lead sees their latest value), or a new
    one. Refused whole (``conflict.limit``) when the new ones would pass the inspection's cap of open conflicts."""
    if not plan.conflicts:
        return []
    open_now = _open_conflicts(ctx, state)
    mine = {(c.scope, c.department_id, c.path): c for c in open_now if c.client_user_id == ctx.user_id}
    out = [(c, mine.get((scope, department_id, c.path))) for c in plan.conflicts]
    new = sum(1 for _c, existing in out if existing is None)
    limit = int(ctx.batch.settings.get("SYNC_MAX_OPEN_CONFLICTS") or MAX_OPEN_CONFLICTS)
    if new and len(open_now) + new > limit:
        raise Refused("conflict.limit", f"该检查未处理的冲突已达上限（{limit} 个），这条修改未保存到服务器（仍在手机上）；"
                                        f"请组长先处理冲突，同步后再修改", details={"limit": limit, "new": new})
    return out


def _conflict_rows(ctx: Context, state: InspectionState, scope: str, department_id: int | None, planned: list
                   ) -> list[dict]:
    out = []
    for c, existing in planned:
        values = dict(base_rev=c.base_rev, server_value=c.server_value, server_rev=c.server_rev,
                      server_client=c.server_client, client_value=c.client_value, client_id=ctx.client_id,
                      mutation_id=ctx.mutation_id, device_time=ctx.device_time)
        if existing is not None:
            for key, value in values.items():
                setattr(existing, key, value)
        else:
            ctx.batch.new_conflicts.append(Conflict(
                inspection_id=state.inspection.id, scope=scope, department_id=department_id, path=c.path,
                client_user_id=ctx.user_id, **values))
        out.append({"path": c.path, "server_rev": c.server_rev})
    return out


# --- sections ---------------------------------------------------------------------------------------

def section_set(ctx: Context, args: dict) -> dict:
    _only(args, "inspection_id", "department_id", "fields")
    state, me = _state(ctx, args)
    department_id = _int_arg(args, "department_id")
    if department_id != me.department_id:
        raise Refused("section.other_department", "只能填写本部门的检查内容（每个部门只写自己的部分）")
    _record_state(ctx, state, "draft")
    batch: FieldBatch = ctx.batch
    section = batch.section(state, department_id)
    if section.status == "signed":
        raise Refused("section.signed", "本部门的检查内容已签名，不能再修改；如需修改，请先撤回签名")
    writes, errors = parse_writes(args.get("fields"), batch.section_checker(state.inspection.task_id, department_id))
    return _write(ctx, state, section, "section", department_id, writes, errors, "检查内容有误")


def _write(ctx: Context, state: InspectionState, target, scope: str, department_id: int | None, writes: list,
           errors: dict, what: str) -> dict:
    """Merge checked writes into a section or the record (per-field revisions); conflicts kept for the lead."""
    if errors:
        raise Refused("validation_error", f"{what}：" + "；".join(f"{k}：{v[0]}" for k, v in list(errors.items())[:3]),
                      errors=errors)
    batch: FieldBatch = ctx.batch
    plan = plan_merge(target.values, target.revs, writes, ctx.client_id)
    planned = _plan_conflicts(ctx, state, scope, department_id, plan)
    ctx.applying = True
    revs = target.apply(plan, ctx.client_id, ctx.user_id)
    revs.update({p: (target.revs.get(p) or [0])[0] for p in plan.unchanged})
    conflicts = _conflict_rows(ctx, state, scope, department_id, planned)
    # files and GPS fixes are objects and lists: a write of a text, a number, a flag or null names no file and
    # raises no flag (a section's push is mostly those: they are not looked at three more times)
    structured = [w for w in writes if w.value.__class__ not in SCALARS]
    if structured:
        batch.add_media(state.inspection.id, media_hashes([w.value for w in structured]))
        batch.new_flags.extend(checks.flags_for_writes(batch, state, department_id, structured, plan, revs))
    batch.touched(state)
    result: dict[str, Any] = {"status": "conflict" if conflicts else "applied", "inspection_id": state.inspection.id,
                              "revs": revs}
    if conflicts:
        result["conflicts"] = conflicts
        result["message"] = f"{len(conflicts)} 个字段与他人修改冲突，已保留服务器上的值并交组长处理"
    return result


def section_sign(ctx: Context, args: dict) -> dict:
    _only(args, "inspection_id", "department_id", "signature_id", "content_hash", "strokes", "image_sha256",
          "signer")
    state, me = _state(ctx, args)
    department_id = _int_arg(args, "department_id")
    sid, content_hash, strokes, image = _signature_common(args)
    signer, via = _signer(ctx, args, state, me, department_id)
    if signer.department_id != department_id:
        raise Refused("section.other_department", "只能为本部门的检查内容签名")
    _record_state(ctx, state, "draft")
    batch: FieldBatch = ctx.batch
    section = batch.section(state, department_id)
    if section.row is None and not section.dirty:
        raise Refused("section.empty", "本部门尚未填写任何检查内容，不能签名")
    dept_code = signer.department_code
    server_hash = section_hash(state.inspection.id, dept_code, section.values)
    if content_hash != server_hash:
        raise Refused("signature.content_changed", "签名时看到的内容与服务器上的不一致（可能有同事刚修改过）；请同步后核对再签名",
                      details={"server_hash": server_hash})
    if _open_conflicts(ctx, state, department_id):
        raise Refused("section.conflicts_open", "本部门的检查内容有未处理的冲突，须由组长处理后再签名")
    problems = checks.section_problems(batch.catalogue(state.inspection.task_id, department_id), section.values)
    if problems:
        raise Refused("section.incomplete", "检查内容不完整：" + "；".join(problems[:3]), details={"problems": problems})
    if any(s.signer_inspector_id == signer.inspector_id
           for s in batch.live_signatures(state, "section", department_id)):
        raise Refused("signature.duplicate", f"{signer.name} 已为本部门的检查内容签过名")
    _new_signature(ctx, state, sid)
    ctx.applying = True
    batch.add_signature(state, _signature(ctx, state, sid, content_hash, strokes, image, scope="section",
                                          department_id=department_id, **_officer(signer, via)))
    section.status, section.signed_hash, section.dirty = "signed", content_hash, True
    batch.new_flags.extend(checks.missing_fix_flags(state, department_id, section.values, section.revs))
    return {"status": "applied", "inspection_id": state.inspection.id, "content_hash": content_hash}


def section_unsign(ctx: Context, args: dict) -> dict:
    _only(args, "inspection_id", "department_id", "reason")
    state, me = _state(ctx, args)
    department_id = _int_arg(args, "department_id")
    reason = _reason(args)
    if not me.is_lead and me.department_id != department_id:
        raise Refused("section.other_department", "只有本部门检查人员或组长可以撤回该部分的签名")
    _record_state(ctx, state, "draft")
    batch: FieldBatch = ctx.batch
    section = batch.section(state, department_id)
    if section.status != "signed":
        raise Refused("section.not_signed", "该部分尚未签名")
    ctx.applying = True
    _void(ctx, batch.live_signatures(state, "section", department_id), reason)
    section.status, section.signed_hash, section.dirty = "open", None, True
    batch.touched(state)
    return {"status": "applied", "inspection_id": state.inspection.id}


# --- the merged record -------------------------------------------------------------------------------

def record_set(ctx: Context, args: dict) -> dict:
    _only(args, "inspection_id", "fields")
    state, _me = _lead(ctx, args)
    _record_state(ctx, state, "draft")
    batch: FieldBatch = ctx.batch
    record = batch.record(state)
    writes, errors = parse_writes(args.get("fields"), record_check)
    departments = set(state.part.departments())
    for w in writes:
        if w.path == "followups" and w.value:
            bad = [f["department_id"] for f in w.value if f["department_id"] not in departments]
            if bad:
                errors["followups"] = [f"后续处置须由参与本次检查的部门负责（部门 {bad[0]} 未参与）"]
    return _write(ctx, state, record, "record", None, writes, errors, "汇总内容有误")


def current_record_hash(batch: FieldBatch, state: InspectionState) -> str:
    sections = {}
    for p in state.part.participants:
        if p.department_code in sections:
            continue
        s = state.sections.get(p.department_id)
        sections[p.department_code] = s.signed_hash if s is not None and s.status == "signed" else None
    return record_hash(state.inspection.id, state.task.code, state.target.code, sections,
                       batch.record(state).values)


def conflict_resolve(ctx: Context, args: dict) -> dict:
    _only(args, "inspection_id", "conflict_id", "choice", "note")
    state, _me = _lead(ctx, args)
    _record_state(ctx, state, "draft")
    conflict_id = _int_arg(args, "conflict_id")
    choice = args.get("choice")
    if choice not in ("server", "client"):
        raise Refused("validation_error", "choice 须为 server（保留服务器上的值）或 client（采用冲突提交的值）",
                      errors={"choice": ["取值无效"]})
    note = args.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise Refused("validation_error", "note 须为 500 字以内的文字", errors={"note": ["格式有误"]})
    batch: FieldBatch = ctx.batch
    conflict = batch.session.get(Conflict, conflict_id)
    if conflict is None or conflict.inspection_id != state.inspection.id:
        raise Refused("conflict.not_found", "冲突记录不存在")
    if conflict.status != "open":
        raise Refused("conflict.resolved", "该冲突已处理过")
    target = batch.section(state, conflict.department_id) if conflict.scope == "section" else batch.record(state)
    if conflict.scope == "section" and target.status == "signed":
        raise Refused("section.signed", "该部分已签名，须先撤回签名才能处理冲突")
    ctx.applying = True
    revs = {}
    if choice == "client":
        plan = plan_merge(target.values, target.revs, [FieldWrite(conflict.path, conflict.client_value, 0)],
                          ctx.client_id)
        plan.changes.update({c.path: c.client_value for c in plan.conflicts})
        plan.conflicts.clear()
        revs = target.apply(plan, ctx.client_id, ctx.user_id)
    conflict.status, conflict.choice, conflict.note = "resolved", choice, note
    conflict.resolved_by, conflict.resolved_at = ctx.user_id, dt.datetime.now(dt.timezone.utc)
    batch.resolutions.append(
        {"conflict_id": conflict.id, "inspection_id": state.inspection.id, "path": conflict.path, "choice": choice,
         "note": note})
    batch.touched(state)
    return {"status": "applied", "inspection_id": state.inspection.id, "revs": revs}


def conflict_resolve_many(ctx: Context, args: dict) -> dict:
    """The lead decides many conflicts at once, the same way (one audit entry): the ones named, or every open one
    (of one department's section with ``department_id``)."""
    _only(args, "inspection_id", "choice", "conflict_ids", "department_id", "note")
    state, _me = _lead(ctx, args)
    _record_state(ctx, state, "draft")
    choice, note = args.get("choice"), args.get("note")
    if choice not in ("server", "client"):
        raise Refused("validation_error", "choice 须为 server（保留服务器上的值）或 client（采用冲突提交的值）",
                      errors={"choice": ["取值无效"]})
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise Refused("validation_error", "note 须为 500 字以内的文字", errors={"note": ["格式有误"]})
    ids = args.get("conflict_ids")
    if ids is not None and (not isinstance(ids, list) or not 0 < len(ids) <= MAX_BULK_CONFLICTS
                            or any(not isinstance(i, int) or isinstance(i, bool) or not 0 < i < 2**31 for i in ids)
                            or len(set(ids)) != len(ids)):
        raise Refused("validation_error", f"conflict_ids 须为 1–{MAX_BULK_CONFLICTS} 个不重复的冲突编号",
                      errors={"conflict_ids": ["格式有误"]})
    department_id = _int_arg(args, "department_id") if args.get("department_id") is not None else None
    batch: FieldBatch = ctx.batch
    stmt = select(Conflict).where(Conflict.inspection_id == state.inspection.id)
    if ids is not None:
        stmt = stmt.where(Conflict.id.in_(ids))
    else:
        stmt = stmt.where(Conflict.status == "open")
    if department_id is not None:
        stmt = stmt.where(Conflict.scope == "section", Conflict.department_id == department_id)
    rows = list(batch.session.scalars(stmt.order_by(Conflict.id)))
    if ids is not None and len(rows) != len(ids):
        missing = sorted(set(ids) - {c.id for c in rows})
        raise Refused("conflict.not_found", f"冲突记录不存在：{'、'.join(map(str, missing[:10]))}",
                      details={"missing": missing[:100]})
    rows = [c for c in rows if c.status == "open"][:MAX_BULK_CONFLICTS]   # already resolved: nothing to do
    signed = sorted({c.department_id for c in rows if c.scope == "section"
                     and batch.section(state, c.department_id).status == "signed"})
    if signed:
        raise Refused("section.signed", "有冲突所在的部分已签名，须先撤回签名才能处理", details={"departments": signed})
    ctx.applying = True
    if choice == "client":   # one revision per section or record; on one path the latest conflict's value stays
        targets: dict[Any, tuple[Any, dict]] = {}
        for c in rows:
            key = ("section", c.department_id) if c.scope == "section" else ("record", None)
            if key not in targets:
                targets[key] = (batch.section(state, c.department_id) if c.scope == "section" else batch.record(state),
                                {})
            targets[key][1][c.path] = c.client_value
        for target, values in targets.values():
            plan = plan_merge(target.values, target.revs, [FieldWrite(p, v, 0) for p, v in values.items()],
                              ctx.client_id)
            plan.changes.update({c.path: c.client_value for c in plan.conflicts})
            plan.conflicts.clear()
            target.apply(plan, ctx.client_id, ctx.user_id)
    now = dt.datetime.now(dt.timezone.utc)
    for c in rows:
        c.status, c.choice, c.note, c.resolved_by, c.resolved_at = "resolved", choice, note, ctx.user_id, now
    if rows:
        batch.resolutions.append({"inspection_id": state.inspection.id, "choice": choice, "note": note,
                                  "conflict_ids": [c.id for c in rows]})
        batch.touched(state)
    return {"status": "applied", "inspection_id": state.inspection.id, "resolved": [c.id for c in rows]}


def record_finalize(ctx: Context, args: dict) -> dict:
    _only(args, "inspection_id", "content_hash")
    state, _me = _lead(ctx, args)
    _record_state(ctx, state, "draft")
    batch: FieldBatch = ctx.batch
    expected = args.get("content_hash")
    if not isinstance(expected, str) or not SHA256_RE.match(expected):
        raise Refused("validation_error", "content_hash 须为组长核对过的汇总记录的 SHA-256",
                      errors={"content_hash": ["格式有误"]})
    if _open_conflicts(ctx, state):
        raise Refused("record.conflicts_open", "还有未处理的冲突，处理完才能定稿")
    problems = checks.record_problems(batch, state)
    if problems:
        raise Refused("record.incomplete", "检查记录不完整：" + "；".join(problems[:3]), details={"problems": problems})
    server_hash = current_record_hash(batch, state)
    if expected != server_hash:
        raise Refused("record.content_changed", "组长核对的内容与服务器上的不一致（可能有部门刚更新）；请同步后再定稿",
                      details={"server_hash": server_hash})
    ctx.applying = True
    record = batch.record(state)
    record.state, record.content_hash, record.dirty = "signing", server_hash, True
    batch.touched(state)
    return {"status": "applied", "inspection_id": state.inspection.id, "content_hash": server_hash}


def record_reopen(ctx: Context, args: dict) -> dict:
    _only(args, "inspection_id", "reason")
    state, _me = _lead(ctx, args)
    reason = _reason(args)
    _record_state(ctx, state, "signing")
    ctx.applying = True
    batch: FieldBatch = ctx.batch
    _void(ctx, batch.live_signatures(state, "record"), reason)
    record = batch.record(state)
    record.state, record.content_hash, record.dirty = "draft", None, True
    batch.touched(state)
    return {"status": "applied", "inspection_id": state.inspection.id}


def _record_signature_checks(ctx: Context, args: dict, state: InspectionState) -> str:
    _record_state(ctx, state, "signing")
    content_hash = args.get("content_hash")
    if content_hash != ctx.batch.record(state).content_hash:
        raise Refused("signature.content_changed", "签名时看到的汇总记录与服务器上定稿的不一致；请同步后核对再签名",
                      details={"server_hash": ctx.batch.record(state).content_hash})
    return content_hash


def record_sign(ctx: Context, args: dict) -> dict:
    _only(args, "inspection_id", "signature_id", "content_hash", "strokes", "image_sha256", "signer")
    state, me = _state(ctx, args)
    sid, content_hash, strokes, image = _signature_common(args)
    signer, via = _signer(ctx, args, state, me)
    _record_signature_checks(ctx, args, state)
    batch: FieldBatch = ctx.batch
    if any(s.role == "officer" and s.signer_inspector_id == signer.inspector_id
           for s in batch.live_signatures(state, "record")):
        raise Refused("signature.duplicate", f"{signer.name} 已在汇总记录上签过名")
    _new_signature(ctx, state, sid)
    ctx.applying = True
    batch.add_signature(state, _signature(ctx, state, sid, content_hash, strokes, image, scope="record",
                                          **_officer(signer, via)))
    return {"status": "applied", "inspection_id": state.inspection.id}


def record_representative(ctx: Context, args: dict) -> dict:
    _only(args, "inspection_id", "signature_id", "content_hash", "strokes", "image_sha256")
    state, _me = _lead(ctx, args)
    sid, content_hash, strokes, image = _signature_common(args)
    _record_signature_checks(ctx, args, state)
    batch: FieldBatch = ctx.batch
    rep = batch.record(state).values.get("representative")
    if not rep:
        raise Refused("record.no_representative", "汇总记录中没有被检查对象代表的姓名，不能签名")
    _ensure_no_representative(batch, state)
    _new_signature(ctx, state, sid)
    ctx.applying = True
    batch.add_signature(state, _signature(
        ctx, state, sid, content_hash, strokes, image, scope="record", role="representative",
        signer_name=rep["name"], signer_detail={k: rep.get(k) for k in ("position", "phone") if rep.get(k)},
        via="lead_device"))
    return {"status": "applied", "inspection_id": state.inspection.id}


def record_refusal(ctx: Context, args: dict) -> dict:
    """The representative refuses to sign: recorded with a witness (who may sign)."""
    _only(args, "inspection_id", "signature_id", "content_hash", "reason", "witness", "strokes", "image_sha256")
    state, _me = _lead(ctx, args)
    reason = _reason(args, minimum=2)
    sid = _signature_id(args)
    witness = args.get("witness")
    problem = person(witness) if witness is not None else "必填项"
    if problem:
        raise Refused("validation_error", f"见证人：{problem}", errors={"witness": [problem]})
    strokes, image = _marks(args, required=False)   # the witness may sign, or not
    content_hash = _record_signature_checks(ctx, args, state)
    batch: FieldBatch = ctx.batch
    _ensure_no_representative(batch, state)
    _new_signature(ctx, state, sid)
    ctx.applying = True
    batch.add_signature(state, _signature(
        ctx, state, sid, content_hash, strokes, image, scope="record", role="witness", signer_name=witness["name"],
        signer_detail={"refusal_reason": reason, **{k: v for k, v in witness.items() if k != "name" and v}},
        via="lead_device"))
    return {"status": "applied", "inspection_id": state.inspection.id}


def record_submit(ctx: Context, args: dict) -> dict:
    _only(args, "inspection_id", "content_hash")
    state, _me = _lead(ctx, args)
    content_hash = _record_signature_checks(ctx, args, state)
    batch: FieldBatch = ctx.batch
    problems = checks.submit_problems(batch, state)
    if problems:
        raise Refused("record.unsigned", "还不能提交：" + "；".join(problems[:3]), details={"problems": problems})
    missing = checks.missing_media(batch, state)
    if missing:
        raise Refused("record.media_missing", f"还有 {len(missing)} 个照片或附件没有上传到服务器，请先同步照片",
                      details={"missing": sorted(missing)[:50]})
    from backend.followups import reinspections
    from backend.followups import services as followups
    from backend.inspections import deadlines

    record = batch.record(state)
    state.make_objects()          # the deadlines, the follow-ups and the PDF's job read the task and the business
    if state.inspection.followup_id is not None:      # a 复查: it closes its follow-up (or sends it on)
        sections = [s.values for s in state.sections.values()]
        photos = reinspections.photos_of(sections, record.values)
        refusal = reinspections.check_submittable(batch.session, state.inspection, photos)
        if refusal:
            raise Refused(*refusal)
    ctx.applying = True
    record.state, record.dirty = "submitted", True
    record.submitted_by, record.submitted_at = ctx.user_id, dt.datetime.now(dt.timezone.utc)
    deadlines.complete(batch.session, state.inspection, user_id=ctx.user_id, device_time=ctx.device_time,
                       record_values=record.values)
    batch.touched(state)
    ctx.extra.setdefault("submitted", []).append(state.inspection.id)
    if state.inspection.followup_id is not None:      # no publication clock, no follow-ups of its own
        state.inspection.publication_due_on, state.inspection.due_provisional = None, False
        row = reinspections.on_submitted(batch.session, batch.actor, state.inspection,
                                         failed=reinspections.found_problem(sections), photos=photos,
                                         findings=record.values.get("opinion"))
        return {"status": "applied", "inspection_id": state.inspection.id, "content_hash": content_hash,
                "completed_on": state.inspection.completed_on.isoformat(),
                "followup": {"id": row.id, "state": row.state, "state_label": reinspections.FOLLOWUP_STATES[row.state]}}
    followups.open_from_record(batch.session, state.inspection, state.task, record.values.get("followups"),
                               user_id=ctx.user_id)
    return {"status": "applied", "inspection_id": state.inspection.id, "content_hash": content_hash,
            **deadlines.due_of(batch.session, state.inspection)}


HANDLERS = {
    "section.set": section_set,
    "section.sign": section_sign,
    "section.unsign": section_unsign,
    "record.set": record_set,
    "conflict.resolve": conflict_resolve,
    "conflict.resolve_many": conflict_resolve_many,
    "record.finalize": record_finalize,
    "record.reopen": record_reopen,
    "record.sign": record_sign,
    "record.representative": record_representative,
    "record.refusal": record_refusal,
    "record.submit": record_submit,
}
