"""The signing rules of docs/sync.md §5 that nothing else pinned (issue 11 §6): each breaks a test here.

A department's section is written and signed by that department's officers only, once each; a signed section
is read-only (also for the lead, also for ``conflict.resolve``) until its signatures are withdrawn, which only
the department's officers or the lead may do; once the lead finalises the record nothing of it changes until
it is reopened. Every refusal answers with its stable code and its Chinese message.
"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.directory.models import Inspector
from backend.inspections.models import Conflict, Record, Section, Signature
from sync.canonical import section_hash
from tests.factories import PASSWORD
from tests.field.builders import led_inspection

STROKES = [{"points": [[0, 0, 0], [10, 12, 16]]}]

OTHER_DEPT_SET = ("section.other_department", "只能填写本部门的检查内容（每个部门只写自己的部分）")
OTHER_DEPT_SIGN = ("section.other_department", "只能为本部门的检查内容签名")
OTHER_DEPT_UNSIGN = ("section.other_department", "只有本部门检查人员或组长可以撤回该部分的签名")
SIGNED = ("section.signed", "本部门的检查内容已签名，不能再修改；如需修改，请先撤回签名")
SIGNED_CONFLICT = ("section.signed", "该部分已签名，须先撤回签名才能处理冲突")
NOT_SIGNED = ("section.not_signed", "该部分尚未签名")
SIGNING = ("record.signing", "检查记录已定稿待会签，内容不能修改（组长可退回修改）")
DRAFT = ("record.draft", "检查记录尚在组长汇总中")
LEAD_ONLY = ("record.lead_only", "只有检查组组长可以汇总、处理冲突和提交检查记录")


def answers(phone) -> list[tuple]:
    """Push the outbox: (code, message) of each refusal, "applied" / "conflict" for the others."""
    return [(r["code"], r["message"]) if r["status"] == "rejected" else r["status"] for r in phone.push()]


def sign(phone, inspection_id, department_id, content_hash, **extra):
    args = {"inspection_id": inspection_id, "department_id": department_id, "signature_id": str(uuid.uuid4()),
            "content_hash": content_hash, "strokes": STROKES, **extra}
    return phone.enqueue("section.sign", args)


def unsign(phone, inspection_id, department_id, reason="写错了，重新填写"):
    return phone.enqueue("section.unsign", {"inspection_id": inspection_id, "department_id": department_id,
                                            "reason": reason})


def live(db_session, inspection_id, scope, department_id=None) -> list[Signature]:
    stmt = select(Signature).where(Signature.inspection_id == inspection_id, Signature.scope == scope,
                                   Signature.void_at.is_(None))
    if department_id is not None:
        stmt = stmt.where(Signature.department_id == department_id)
    return list(db_session.scalars(stmt.execution_options(populate_existing=True)))


def section_row(db_session, inspection_id, department_id) -> Section:
    return db_session.scalars(select(Section).where(Section.inspection_id == inspection_id,
                                                    Section.department_id == department_id)
                              .execution_options(populate_existing=True)).one()


@pytest.fixture()
def filled(field):
    """Both departments wrote a complete section (the lead's phone the lead department's); nothing signed."""
    iid = field.inspection.id
    values = {field.lead_dept.id: field.full_section(field.lead_item),
              field.other_dept.id: field.full_section(field.other_item)}
    lead, other = field.phone(field.lead_user), field.phone(field.other_officer)
    lead.set_section(iid, field.lead_dept.id, values[field.lead_dept.id])
    other.set_section(iid, field.other_dept.id, values[field.other_dept.id])
    assert answers(lead) == ["applied"] and answers(other) == ["applied"]
    hashes = {d.id: section_hash(iid, d.code, values[d.id]) for d in (field.lead_dept, field.other_dept)}
    return lead, other, hashes


# --- arguments ------------------------------------------------------------------------------------------------

INT = "须为正整数"
REASON = "须说明理由（4–500 个字）"
CHOICE = "choice 须为 server（保留服务器上的值）或 client（采用冲突提交的值）"
NOTE = "note 须为 500 字以内的文字"
IDS = "conflict_ids 须为 1–500 个不重复的冲突编号"
STROKES_BAD = "签名笔迹格式有误"
STROKES_BIG = "签名笔迹过大（最多 20000 个点）"
EMPTY = ("signature.empty", "签名为空：须有笔迹（strokes）或签名图片（image_sha256）")
NOT_FOUND = ("inspection.not_found", "检查记录不存在")
SECTION_EMPTY = ("section.empty", "本部门尚未填写任何检查内容，不能签名")
BIG = 2**31 - 1
SIGNER_BAD = "signer 须为 {username, password}（各 1–256 个字符）"


def unknown(i: int) -> str:
    return f"未知路径“nope.{i}”"


def rejected(phone) -> list[tuple]:
    """(code, message, errors) of each answer of the push ("applied" for one that went through)."""
    return [(r["code"], r["message"], r.get("errors")) if r["status"] == "rejected" else r["status"]
            for r in phone.push()]


def test_bad_arguments_are_refused_with_their_code_and_message(field):
    iid, dept = field.inspection.id, field.lead_dept.id
    lead = field.phone(field.lead_user)
    good_sign = {"inspection_id": iid, "department_id": dept, "signature_id": str(uuid.uuid4()),
                 "content_hash": "a" * 64, "strokes": STROKES}
    cases = [
        ("section.set", {"inspection_id": iid, "department_id": dept, "fields": {}, "x": 1, "a": 2},
         ("validation_error", "未知参数：a, x", {"a": ["未知参数"], "x": ["未知参数"]})),
        *[("section.set", {"inspection_id": bad, "department_id": dept, "fields": {}},
           ("validation_error", f"inspection_id {INT}", {"inspection_id": [INT]})) for bad in (0, True, "1", 2**31, 1.5)],
        ("section.set", {"inspection_id": BIG, "department_id": dept, "fields": {}}, (*NOT_FOUND, None)),
        ("section.set", {"inspection_id": iid, "department_id": 0, "fields": {}},
         ("validation_error", f"department_id {INT}", {"department_id": [INT]})),
        ("section.sign", {**good_sign, "signature_id": str(uuid.uuid4()).upper()},
         ("validation_error", "signature_id 须为小写 UUID", {"signature_id": ["须为小写 UUID"]})),
        ("section.sign", {**good_sign, "content_hash": "A" * 64},
         ("validation_error", "content_hash 须为所签内容的 SHA-256", {"content_hash": ["须为 64 位小写十六进制"]})),
        ("section.sign", {**good_sign, "strokes": [{"points": [[0, 0, 0]] * 20001}]},
         ("validation_error", STROKES_BIG, {"strokes": ["格式有误"]})),
        ("section.sign", {**good_sign, "strokes": [1] * 20001}, ("validation_error", STROKES_BIG, {"strokes": ["格式有误"]})),
        ("section.sign", {**good_sign, "strokes": [1] * 10001}, (*SECTION_EMPTY, None)),
        ("section.sign", {**good_sign, "z": 1}, ("validation_error", "未知参数：z", {"z": ["未知参数"]})),
        ("section.sign", {**good_sign, "signer": {"username": "某人"}},
         ("validation_error", SIGNER_BAD, {"signer": [SIGNER_BAD]})),
        ("section.unsign", {"inspection_id": iid, "department_id": dept, "reason": "四个字呢", "w": 1},
         ("validation_error", "未知参数：w", {"w": ["未知参数"]})),
        ("section.set", {"inspection_id": iid, "department_id": dept,
                         "fields": {f"nope.{i}": {"value": 1, "base_rev": 0} for i in range(4)}},
         ("validation_error", "检查内容有误：" + "；".join(f"nope.{i}：{unknown(i)}" for i in range(3)),
          {f"nope.{i}": [unknown(i)] for i in range(4)})),
        ("section.sign", {**good_sign, "strokes": {"points": []}}, ("validation_error", STROKES_BAD, {"strokes": ["格式有误"]})),
        ("section.sign", {**good_sign, "strokes": [{"points": [[0, 0, 0]] * 20000}]}, (*SECTION_EMPTY, None)),
        ("section.sign", {**good_sign, "strokes": None, "image_sha256": "AB" * 32},
         ("validation_error", "image_sha256 须为签名图片的 SHA-256", {"image_sha256": ["格式有误"]})),
        ("section.sign", {**good_sign, "strokes": None, "image_sha256": 5},
         ("validation_error", "image_sha256 须为签名图片的 SHA-256", {"image_sha256": ["格式有误"]})),
        ("section.sign", {**good_sign, "strokes": None, "image_sha256": "ab" * 32}, (*SECTION_EMPTY, None)),
        ("section.sign", {**good_sign, "strokes": None}, (*EMPTY, None)),
        ("section.sign", {**good_sign, "signer": None}, (*SECTION_EMPTY, None)),
        *[("section.unsign", {"inspection_id": iid, "department_id": dept, "reason": bad},
           ("validation_error", REASON, {"reason": ["请填写理由"]})) for bad in ("三个字", "  两字  ", "长" * 501, None)],
        *[("section.unsign", {"inspection_id": iid, "department_id": dept, "reason": ok}, (*NOT_SIGNED, None))
          for ok in ("四个字呢", "长" * 500)],
        ("record.refusal", {"inspection_id": iid, "signature_id": str(uuid.uuid4()), "reason": "拒"},
         ("validation_error", "须说明理由（2–500 个字）", {"reason": ["请填写理由"]})),
        ("record.refusal", {"inspection_id": iid, "signature_id": str(uuid.uuid4()), "reason": "拒签"},
         ("validation_error", "见证人：必填项", {"witness": ["必填项"]})),
        *[(name, {"inspection_id": iid, "q": 1}, ("validation_error", "未知参数：q", {"q": ["未知参数"]}))
          for name in ("record.set", "record.finalize", "record.reopen", "record.sign", "record.representative",
                       "record.refusal", "record.submit")],
        ("record.reopen", {"inspection_id": iid, "reason": "短"}, ("validation_error", REASON, {"reason": ["请填写理由"]})),
        ("record.reopen", {"inspection_id": iid, "reason": "需要退回"}, (*DRAFT, None)),
        ("record.finalize", {"inspection_id": iid, "content_hash": "x"},
         ("validation_error", "content_hash 须为组长核对过的汇总记录的 SHA-256", {"content_hash": ["格式有误"]})),
        ("conflict.resolve", {"inspection_id": iid, "conflict_id": BIG, "choice": "maybe"},
         ("validation_error", CHOICE, {"choice": ["取值无效"]})),
        *[("conflict.resolve", {"inspection_id": iid, "conflict_id": BIG, "choice": "server", "note": bad},
           ("validation_error", NOTE, {"note": ["格式有误"]})) for bad in ("长" * 501, 5)],
        ("conflict.resolve", {"inspection_id": iid, "conflict_id": BIG, "choice": "server", "note": "长" * 500},
         ("conflict.not_found", "冲突记录不存在", None)),
        ("conflict.resolve", {"inspection_id": iid, "conflict_id": 2**31, "choice": "server"},
         ("validation_error", f"conflict_id {INT}", {"conflict_id": [INT]})),
        ("conflict.resolve", {"inspection_id": iid, "conflict_id": BIG, "choice": "server", "x": 1},
         ("validation_error", "未知参数：x", {"x": ["未知参数"]})),
        ("conflict.resolve_many", {"inspection_id": iid, "choice": "server", "y": 1},
         ("validation_error", "未知参数：y", {"y": ["未知参数"]})),
        ("conflict.resolve_many", {"inspection_id": iid, "choice": "server", "note": "长" * 500, "conflict_ids": [BIG]},
         ("conflict.not_found", f"冲突记录不存在：{BIG}", None)),
        ("conflict.resolve_many", {"inspection_id": iid, "choice": None}, ("validation_error", CHOICE, {"choice": ["取值无效"]})),
        ("conflict.resolve_many", {"inspection_id": iid, "choice": "server", "note": "长" * 501},
         ("validation_error", NOTE, {"note": ["格式有误"]})),
        *[("conflict.resolve_many", {"inspection_id": iid, "choice": "server", "conflict_ids": bad},
           ("validation_error", IDS, {"conflict_ids": ["格式有误"]}))
          for bad in ([], list(range(1, 502)), [True], [0], [2**31], [3, 3], "1", [1.5])],
        ("conflict.resolve_many", {"inspection_id": iid, "choice": "server", "department_id": 0},
         ("validation_error", f"department_id {INT}", {"department_id": [INT]})),
    ]
    for name, args, _expected in cases:
        lead.enqueue(name, args)
    got = rejected(lead)
    assert len(got) == len(cases)
    for (name, args, expected), answer in zip(cases, got):
        assert answer == expected, (name, args if len(str(args)) < 300 else name, answer)


def test_many_conflict_ids_name_the_missing_ones(field):
    lead = field.phone(field.lead_user)
    ids = list(range(BIG - 499, BIG + 1))
    lead.enqueue("conflict.resolve_many", {"inspection_id": field.inspection.id, "choice": "server",
                                           "conflict_ids": ids})
    [res] = lead.push()
    assert res["code"] == "conflict.not_found" and res["details"] == {"missing": ids[:100]}
    assert res["message"] == "冲突记录不存在：" + "、".join(map(str, ids[:10]))


# --- sections -------------------------------------------------------------------------------------------------

def test_a_section_is_signed_and_withdrawn_by_its_own_department_only(field, filled, db_session):
    iid, lead_dept, other_dept = field.inspection.id, field.lead_dept.id, field.other_dept.id
    lead, other, hashes = filled
    # the other department's officer: neither write, sign nor withdraw the lead department's section
    other.set_section(iid, lead_dept, {"note": "替别的部门写"})
    sign(other, iid, lead_dept, hashes[lead_dept])
    unsign(other, iid, lead_dept)
    unsign(other, iid, other_dept)
    assert answers(other) == [OTHER_DEPT_SET, OTHER_DEPT_SIGN, OTHER_DEPT_UNSIGN, NOT_SIGNED]
    assert live(db_session, iid, "section") == []
    # the lead signs the own department's section, once
    sign(lead, iid, lead_dept, hashes[lead_dept])
    sign(lead, iid, lead_dept, hashes[lead_dept])
    assert answers(lead) == ["applied", ("signature.duplicate", f"{_name(field, field.lead_user)} 已为本部门的检查内容签过名")]
    # signed: read-only, for the lead too
    lead.set_section(iid, lead_dept, {"note": "签名后再改"})
    assert answers(lead) == [SIGNED]
    # another officer of the department signs it too (each officer signs); the other department's withdrawal refused
    officer = field.phone(field.lead_officer)
    sign(officer, iid, lead_dept, hashes[lead_dept])
    assert answers(officer) == ["applied"]
    unsign(other, iid, lead_dept)
    assert answers(other) == [OTHER_DEPT_UNSIGN]
    signed = live(db_session, iid, "section", lead_dept)
    assert sorted(s.signer_inspector_id for s in signed) == sorted([field.lead_user.inspector_id,
                                                                   field.lead_officer.inspector_id])
    assert {(s.role, s.via, s.content_hash) for s in signed} == {("officer", "own", hashes[lead_dept])}
    row = section_row(db_session, iid, lead_dept)
    assert (row.status, row.signed_hash) == ("signed", hashes[lead_dept])
    # the other department signs its own; the lead may withdraw it (the lead may withdraw any section's)
    sign(other, iid, other_dept, hashes[other_dept])
    assert answers(other) == ["applied"]
    unsign(lead, iid, other_dept, reason="  请补充照片  ")
    assert answers(lead) == ["applied"]
    row = section_row(db_session, iid, other_dept)
    assert (row.status, row.signed_hash) == ("open", None)
    assert live(db_session, iid, "section", other_dept) == []
    [void] = db_session.scalars(select(Signature).where(Signature.department_id == other_dept))
    assert (void.void_reason, void.void_by) == ("请补充照片", field.lead_user.id) and void.void_at is not None
    # open again: the department writes and signs again; the lead department's signatures stayed
    other.set_section(iid, other_dept, {"note": "已补充"})
    assert answers(other) == ["applied"]
    assert len(live(db_session, iid, "section", lead_dept)) == 2
    # an officer withdraws the own department's section
    unsign(officer, iid, lead_dept, reason="需要修改")
    unsign(officer, iid, lead_dept, reason="需要修改")
    assert answers(officer) == ["applied", NOT_SIGNED]
    assert live(db_session, iid, "section", lead_dept) == []


def _name(field, user):
    return field.session.get(Inspector, user.inspector_id).name


# --- conflicts in a signed section ------------------------------------------------------------------------------

def _conflict(db_session, inspection_id, department_id=None, path="note", client_value="冲突提交的值", status="open"):
    c = Conflict(inspection_id=inspection_id, scope="section" if department_id else "record",
                 department_id=department_id, path=path, base_rev=0, server_value=None, server_rev=1,
                 client_value=client_value, status=status)
    db_session.add(c)
    db_session.flush()
    return c


def push_audit(db_session) -> dict:
    """The detail of the last push's audit entry."""
    return db_session.scalars(select(AuditEntry).where(AuditEntry.action == "sync.push")
                              .order_by(AuditEntry.id.desc())).first().detail


def resolve(phone, inspection_id, conflict_id, choice="client", **extra):
    return phone.enqueue("conflict.resolve", {"inspection_id": inspection_id, "conflict_id": conflict_id,
                                              "choice": choice, **extra})


def resolve_many(phone, inspection_id, choice="client", **extra):
    return phone.enqueue("conflict.resolve_many", {"inspection_id": inspection_id, "choice": choice, **extra})


def test_conflict_resolve_never_writes_into_a_signed_section(field, db_session):
    iid, lead_dept, other_dept = field.inspection.id, field.lead_dept.id, field.other_dept.id
    led_inspection(db_session, iid, db_session.get(Inspector, field.lead_user.inspector_id), "finalizable")
    in_signed = _conflict(db_session, iid, lead_dept, client_value="签名后才到的值")
    on_record = _conflict(db_session, iid, None, path="departed_at", client_value="2026-04-08T11:00:00+08:00")
    elsewhere = _conflict(db_session, field.inspections[1].id, lead_dept)
    lead = field.phone(field.lead_user)
    resolve(lead, iid, in_signed.id)
    resolve(lead, iid, in_signed.id, choice="server")
    resolve_many(lead, iid)
    resolve_many(lead, iid, conflict_ids=[in_signed.id])
    resolve(lead, iid, elsewhere.id)
    resolve_many(lead, iid, conflict_ids=[in_signed.id, elsewhere.id])
    got = answers(lead)
    assert got[:2] == [SIGNED_CONFLICT, SIGNED_CONFLICT]
    assert got[2:4] == [("section.signed", "有冲突所在的部分已签名，须先撤回签名才能处理")] * 2
    assert got[4] == ("conflict.not_found", "冲突记录不存在")
    assert got[5] == ("conflict.not_found", f"冲突记录不存在：{elsewhere.id}")
    assert [r.get("details") for r in lead.results.values()][2:4] == [{"departments": [lead_dept]}] * 2
    row = section_row(db_session, iid, lead_dept)
    assert row.status == "signed" and "note" not in row.data
    db_session.refresh(in_signed)
    assert in_signed.status == "open"
    # a member who is not the lead decides nothing
    officer = field.phone(field.lead_officer)
    resolve(officer, iid, on_record.id)
    resolve_many(officer, iid)
    assert answers(officer) == [LEAD_ONLY, LEAD_ONLY]
    # the other department's conflicts only: none in a signed section, nothing to do
    resolve_many(lead, iid, department_id=other_dept)
    [res] = lead.push()
    assert (res["status"], res["resolved"]) == ("applied", [])
    # the record's conflict is the lead's to decide (alone in its push: the resolution alone saves the record)
    resolve(lead, iid, on_record.id, note="以组长意见为准")
    [res] = lead.push()
    assert (res["status"], res["inspection_id"], list(res["revs"])) == ("applied", iid, ["departed_at"])
    record = db_session.get(Record, iid)
    db_session.refresh(record)
    assert record.data["departed_at"] == "2026-04-08T11:00:00+08:00" and record.revs["departed_at"][0] == res["revs"][
        "departed_at"]
    assert push_audit(db_session)["resolutions"] == [{"conflict_id": on_record.id, "inspection_id": iid,
                                                      "path": "departed_at", "choice": "client",
                                                      "note": "以组长意见为准"}]
    # once withdrawn, the section's too
    resolve(lead, iid, on_record.id)
    unsign(lead, iid, lead_dept)
    resolve(lead, iid, in_signed.id, choice="client")
    assert answers(lead) == [("conflict.resolved", "该冲突已处理过"), "applied", "applied"]
    assert section_row(db_session, iid, lead_dept).data["note"] == "签名后才到的值"
    db_session.refresh(on_record)
    assert (on_record.status, on_record.choice, on_record.note, on_record.resolved_by) == (
        "resolved", "client", "以组长意见为准", field.lead_user.id)


def test_resolving_many_keeps_the_latest_value_and_skips_decided_ones(field, db_session):
    iid, lead_dept = field.inspection.id, field.lead_dept.id
    # what the server holds, written by the officers' phones (the conflicts' values come later, stale)
    officer, other_phone = field.phone(field.lead_officer), field.phone(field.other_officer)
    officer.set_section(iid, lead_dept, {"note": "服务器上的值"})
    other_phone.set_section(iid, field.other_dept.id, {"note": "另一部门服务器上的值"})
    assert answers(officer) == ["applied"] and answers(other_phone) == ["applied"]
    other_first = _conflict(db_session, iid, field.other_dept.id, client_value="另一部门采用")
    first = _conflict(db_session, iid, lead_dept, client_value="第一次")
    second = _conflict(db_session, iid, lead_dept, client_value="第二次")
    record = _conflict(db_session, iid, None, path="opinion", client_value="汇总意见")
    done = _conflict(db_session, iid, lead_dept, path="other", status="resolved")
    lead = field.phone(field.lead_user)
    ids = [other_first.id, first.id, second.id, record.id, done.id]
    resolve_many(lead, iid, conflict_ids=ids, note="统一采用")
    [res] = lead.push()
    assert (res["status"], res["inspection_id"], res["resolved"]) == ("applied", iid, ids[:4])
    assert section_row(db_session, iid, lead_dept).data["note"] == "第二次"
    assert section_row(db_session, iid, field.other_dept.id).data["note"] == "另一部门采用"
    assert push_audit(db_session)["resolutions"] == [{"inspection_id": iid, "choice": "client", "note": "统一采用",
                                                      "conflict_ids": ids[:4]}]
    assert db_session.get(Record, iid).data["opinion"] == "汇总意见"
    for c in (first, second, record):
        db_session.refresh(c)
        assert (c.status, c.choice, c.note, c.resolved_by) == ("resolved", "client", "统一采用", field.lead_user.id)
    # every open one of one department's section, kept as the server has it
    left = _conflict(db_session, iid, lead_dept, client_value="不采用")
    other = _conflict(db_session, iid, field.other_dept.id, client_value="另一部门")
    resolve_many(lead, iid, choice="server", department_id=lead_dept)
    resolve_many(lead, iid, choice="server", department_id=lead_dept)
    [res, again] = lead.push()
    assert res["resolved"] == [left.id] and again["resolved"] == []
    assert section_row(db_session, iid, lead_dept).data["note"] == "第二次"
    db_session.refresh(other)
    assert other.status == "open"


# --- once the lead finalised -----------------------------------------------------------------------------------

@pytest.fixture()
def finalised(field, db_session):
    """Every section signed, the record complete and finalised by the lead: (the lead's phone, the fixed hash)."""
    iid = field.inspection.id
    led_inspection(db_session, iid, db_session.get(Inspector, field.lead_user.inspector_id), "finalizable")
    lead = field.phone(field.lead_user)
    lead.pull()
    h = lead.record_hash(iid)
    lead.enqueue("record.finalize", {"inspection_id": iid, "content_hash": h})
    assert answers(lead) == ["applied"]
    assert db_session.get(Record, iid).content_hash == h
    return lead, h


def test_nothing_of_a_finalised_record_changes_until_it_is_reopened(field, finalised, db_session):
    iid, lead_dept, other_dept = field.inspection.id, field.lead_dept.id, field.other_dept.id
    lead, h = finalised
    other = field.phone(field.other_officer)
    other.set_section(iid, other_dept, {"note": "定稿后再改"})
    unsign(other, iid, other_dept)
    sign(other, iid, other_dept, "0" * 64)
    assert answers(other) == [SIGNING, SIGNING, SIGNING]
    conflict = _conflict(db_session, iid, None, path="opinion")
    lead.set_section(iid, lead_dept, {"note": "定稿后再改"})
    lead.set_record(iid, {"opinion": "定稿后再改"})
    lead.enqueue("record.finalize", {"inspection_id": iid, "content_hash": h})
    resolve(lead, iid, conflict.id)
    resolve_many(lead, iid)
    assert answers(lead) == [SIGNING] * 5
    assert section_row(db_session, iid, other_dept).status == "signed"
    # the reopened record is a draft again: its signatures void, the sections still signed
    other.pull()
    other.sign_record(iid)
    assert answers(other) == ["applied"]
    officer = field.phone(field.lead_officer)
    officer.enqueue("record.reopen", {"inspection_id": iid, "reason": "漏写了一项"})
    lead.enqueue("record.reopen", {"inspection_id": iid, "reason": "漏写了一项"})
    lead.enqueue("record.reopen", {"inspection_id": iid, "reason": "漏写了一项"})
    assert answers(officer) == [LEAD_ONLY]
    assert answers(lead) == ["applied", DRAFT]
    record = db_session.get(Record, iid)
    db_session.refresh(record)
    assert (record.state, record.content_hash) == ("draft", None)
    assert live(db_session, iid, "record") == []
    [void] = db_session.scalars(select(Signature).where(Signature.scope == "record"))
    assert (void.void_reason, void.void_by) == ("漏写了一项", field.lead_user.id)
    other.sign_record(iid)
    lead.set_section(iid, lead_dept, {"note": "退回后"})
    assert answers(other) == [DRAFT] and answers(lead) == [SIGNED]


def test_each_signs_the_finalised_record_once(field, finalised, db_session):
    iid = field.inspection.id
    lead, h = finalised
    name = _name(field, field.other_officer)
    other = field.phone(field.other_officer)
    other.pull()
    other.sign_record(iid)
    other.sign_record(iid)
    other.enqueue("record.sign", {"inspection_id": iid, "signature_id": str(uuid.uuid4()), "content_hash": "1" * 64,
                                  "strokes": STROKES})
    got = answers(other)
    assert got[:2] == ["applied", ("signature.duplicate", f"{name} 已在汇总记录上签过名")]
    assert got[2] == ("signature.content_changed", "签名时看到的汇总记录与服务器上定稿的不一致；请同步后核对再签名")
    assert list(other.results.values())[2]["details"] == {"server_hash": h}
    # the lead's phone: a member co-signs once; the representative once, then no refusal either
    lead.sign_record(iid, signer={"username": field.other_officer.username, "password": PASSWORD})
    rep = {"inspection_id": iid, "content_hash": h, "strokes": STROKES}
    lead.enqueue("record.representative", {**rep, "signature_id": str(uuid.uuid4())})
    lead.enqueue("record.representative", {**rep, "signature_id": str(uuid.uuid4())})
    lead.enqueue("record.refusal", {**rep, "signature_id": str(uuid.uuid4()), "reason": "拒绝签字",
                                    "witness": {"name": "李见证"}})
    got = answers(lead)
    assert got == [("signature.duplicate", f"{name} 已在汇总记录上签过名"), "applied",
                   ("signature.duplicate", "被检查对象代表已签名或已记录拒签"),
                   ("signature.duplicate", "被检查对象代表已签名或已记录拒签")]
    signed = live(db_session, iid, "record")
    assert sorted((s.role, s.signer_name) for s in signed) == [("officer", name), ("representative", "王经理")]
    # not everyone has signed: no submission
    lead.enqueue("record.submit", {"inspection_id": iid, "content_hash": h})
    [res] = lead.push()
    assert res["code"] == "record.unsigned" and res["message"].startswith("还不能提交：")


def test_a_submitted_inspection_is_not_written(field, db_session):
    iid = field.inspection.id
    led_inspection(db_session, iid, db_session.get(Inspector, field.lead_user.inspector_id), "submitted")
    completed = ("inspection.completed", "该检查已提交完成，内容不能再修改")
    other, lead = field.phone(field.other_officer), field.phone(field.lead_user)
    other.set_section(iid, field.other_dept.id, {"note": "提交后再改"})
    unsign(other, iid, field.other_dept.id)
    lead.set_record(iid, {"opinion": "提交后再改"})
    lead.enqueue("record.reopen", {"inspection_id": iid, "reason": "提交后退回"})
    assert answers(other) == [completed, completed] and answers(lead) == [completed, completed]


def test_the_lead_submits_a_record_everyone_signed(field, db_session):
    iid = field.inspection.id
    led_inspection(db_session, iid, db_session.get(Inspector, field.lead_user.inspector_id), "submittable")
    h = db_session.get(Record, iid).content_hash
    lead, officer = field.phone(field.lead_user), field.phone(field.lead_officer)
    officer.enqueue("record.submit", {"inspection_id": iid, "content_hash": h})
    lead.enqueue("record.submit", {"inspection_id": iid, "content_hash": "0" * 64})
    lead.enqueue("record.submit", {"inspection_id": iid, "content_hash": h})
    assert answers(officer) == [LEAD_ONLY]
    wrong, res = lead.push()
    assert wrong["code"] == "signature.content_changed" and wrong["details"] == {"server_hash": h}
    assert res["status"] == "applied" and res["content_hash"] == h
    inspection = field.inspection
    db_session.refresh(inspection)
    record = db_session.get(Record, iid)
    db_session.refresh(record)
    assert inspection.status == "completed" and (record.state, record.submitted_by) == ("submitted", field.lead_user.id)
    assert record.submitted_at is not None
    assert (res["completed_on"], res["publication_due_on"]) == (inspection.completed_on.isoformat(),
                                                                inspection.publication_due_on.isoformat())
    lead.enqueue("record.submit", {"inspection_id": iid, "content_hash": h})
    assert answers(lead) == [("inspection.completed", "该检查已提交完成，内容不能再修改")]


def test_the_lead_finalises_only_a_complete_record_as_seen(field, db_session):
    iid = field.inspection.id
    lead, officer = field.phone(field.lead_user), field.phone(field.lead_officer)
    # nothing written yet: incomplete, with the problems named
    lead.enqueue("record.finalize", {"inspection_id": iid, "content_hash": "0" * 64})
    [res] = lead.push()
    assert res["code"] == "record.incomplete" and res["details"]["problems"]
    assert res["message"] == "检查记录不完整：" + "；".join(res["details"]["problems"][:3])
    led_inspection(db_session, iid, db_session.get(Inspector, field.lead_user.inspector_id), "finalizable")
    conflict = _conflict(db_session, iid, None, path="opinion")
    lead.pull()
    h = lead.record_hash(iid)
    lead.enqueue("record.finalize", {"inspection_id": iid, "content_hash": h})
    assert answers(lead) == [("record.conflicts_open", "还有未处理的冲突，处理完才能定稿")]
    resolve(lead, iid, conflict.id, choice="server")
    lead.enqueue("record.finalize", {"inspection_id": iid, "content_hash": "0" * 64})
    officer.enqueue("record.finalize", {"inspection_id": iid, "content_hash": h})
    assert answers(officer) == [LEAD_ONLY]
    _, wrong = lead.push()
    assert (wrong["code"], wrong["details"]) == ("record.content_changed", {"server_hash": h})
    assert wrong["message"] == "组长核对的内容与服务器上的不一致（可能有部门刚更新）；请同步后再定稿"
    lead.enqueue("record.finalize", {"inspection_id": iid, "content_hash": h})
    [res] = lead.push()
    assert (res["status"], res["inspection_id"], res["content_hash"]) == ("applied", iid, h)
    record = db_session.get(Record, iid)
    db_session.refresh(record)
    assert (record.state, record.content_hash) == ("signing", h)


def test_followups_belong_to_a_department_of_the_inspection(field, factory):
    iid = field.inspection.id
    stranger = factory.department()
    lead = field.phone(field.lead_user)

    def followup(department_id):
        return {"id": str(uuid.uuid4()), "action": "rectify", "department_id": department_id}

    lead.set_record(iid, {"followups": [followup(field.other_dept.id), followup(stranger.id)]})
    [res] = lead.push()
    problem = f"后续处置须由参与本次检查的部门负责（部门 {stranger.id} 未参与）"
    assert (res["code"], res["errors"]) == ("validation_error", {"followups": [problem]})
    assert res["message"] == f"汇总内容有误：followups：{problem}"
    lead.set_record(iid, {"followups": [followup(field.other_dept.id), followup(field.lead_dept.id)], "opinion": "好"})
    [res] = lead.push()
    assert res["status"] == "applied" and set(res["revs"]) == {"followups", "opinion"}
    officer = field.phone(field.lead_officer)
    officer.set_record(iid, {"opinion": "不是组长"})
    assert answers(officer) == [LEAD_ONLY]


def test_the_representative_may_refuse_before_a_witness(field, finalised, db_session):
    iid = field.inspection.id
    lead, h = finalised
    witness = {"name": "李见证", "phone": "13900000000", "position": ""}
    lead.enqueue("record.refusal", {"inspection_id": iid, "signature_id": str(uuid.uuid4()), "content_hash": h,
                                    "reason": "拒绝签字", "witness": witness})
    lead.enqueue("record.refusal", {"inspection_id": iid, "signature_id": str(uuid.uuid4()), "content_hash": h,
                                    "reason": "拒绝签字", "witness": witness, "strokes": STROKES})
    lead.enqueue("record.representative", {"inspection_id": iid, "signature_id": str(uuid.uuid4()),
                                           "content_hash": h, "strokes": STROKES})
    dup = ("signature.duplicate", "被检查对象代表已签名或已记录拒签")
    got = answers(lead)
    assert got == ["applied", dup, dup]
    [s] = live(db_session, iid, "record")
    assert (s.role, s.signer_name, s.via, s.strokes, s.content_hash) == ("witness", "李见证", "lead_device", None, h)
    assert s.signer_detail == {"refusal_reason": "拒绝签字", "phone": "13900000000"}
    assert s.signer_user_id is None and s.scope == "record"


# --- signing a section: what is signed -------------------------------------------------------------------------

def test_a_section_is_signed_as_the_server_holds_it_complete_and_without_conflicts(field, db_session):
    iid, dept = field.inspection.id, field.other_dept.id
    code = field.other_dept.code
    values = field.full_section(field.other_item)
    phone = field.phone(field.other_officer)
    # a section with a note only: incomplete, the first three problems named
    half = {"note": "只写了备注"}
    phone.set_section(iid, dept, half)
    sign(phone, iid, dept, section_hash(iid, code, half))
    applied, res = phone.push()
    assert applied["status"] == "applied" and res["code"] == "section.incomplete" and len(res["details"]["problems"]) > 3
    assert res["message"] == "检查内容不完整：" + "；".join(res["details"]["problems"][:3])
    # written and signed in one push; another hash than the server's is refused, naming the server's
    phone.set_section(iid, dept, values)
    sign(phone, iid, dept, section_hash(iid, code, half))
    sid = str(uuid.uuid4())
    sign(phone, iid, dept, section_hash(iid, code, {**half, **values}), signature_id=sid)
    applied, changed, signed = phone.push()
    assert changed["code"] == "signature.content_changed"
    assert changed["details"] == {"server_hash": section_hash(iid, code, {**half, **values})}
    assert changed["message"] == "签名时看到的内容与服务器上的不一致（可能有同事刚修改过）；请同步后核对再签名"
    assert (signed["status"], signed["inspection_id"], signed["content_hash"]) == (
        "applied", iid, section_hash(iid, code, {**half, **values}))
    [s] = live(db_session, iid, "section", dept)
    assert (s.id, s.signer_user_id, s.signer_inspector_id, s.signer_name, s.signer_cert_no, s.via) == (
        sid, field.other_officer.id, field.other_officer.inspector_id, _name(field, field.other_officer),
        db_session.get(Inspector, field.other_officer.inspector_id).cert_no, "own")
    assert (s.scope, s.department_id, s.strokes, s.image_sha256) == ("section", dept, STROKES, None)
    # a signature id is used once
    unsign(phone, iid, dept)
    sign(phone, iid, dept, section_hash(iid, code, {**half, **values}), signature_id=sid)
    again = str(uuid.uuid4())
    sign(phone, iid, dept, section_hash(iid, code, {**half, **values}), signature_id=again)
    unsign(phone, iid, dept)
    sign(phone, iid, dept, section_hash(iid, code, {**half, **values}), signature_id=again)
    assert answers(phone) == ["applied", ("signature.duplicate_id", "该签名编号已使用过"), "applied", "applied",
                              ("signature.duplicate_id", "该签名编号已使用过")]


def test_a_section_with_an_open_conflict_is_not_signed(field, db_session):
    iid, dept = field.inspection.id, field.lead_dept.id
    values = field.full_section(field.lead_item)
    lead = field.phone(field.lead_user)
    lead.set_section(iid, dept, values)
    assert answers(lead) == ["applied"]
    # the other officer's phone had not seen it: a stale write of one path, kept for the lead
    officer = field.phone(field.lead_officer)
    path = next(p for p in values if p.endswith(".result"))
    officer.set_section(iid, dept, {path: "fail", "note": "补充说明"})
    [res] = officer.push()
    assert res["status"] == "conflict", res
    assert res["conflicts"] == [{"path": path, "server_rev": 1}]
    assert res["message"] == "1 个字段与他人修改冲突，已保留服务器上的值并交组长处理" and set(res["revs"]) == {"note"}
    # the same value again is unchanged: its revision answered as it is
    officer.pull()
    officer.set_section(iid, dept, {"note": "补充说明"})
    [res] = officer.push()
    assert (res["status"], res["revs"]) == ("applied", {"note": 2})
    lead.pull()
    lead.sign_section(iid, dept)
    assert answers(lead) == [("section.conflicts_open", "本部门的检查内容有未处理的冲突，须由组长处理后再签名")]
    # a conflict made earlier in the same push counts too
    second = field.phone(field.lead_officer)
    other_path = next(p for p in values if p.endswith(".result") and p != path)
    second.set_section(iid, dept, {other_path: "fail"})
    second.enqueue("section.sign", {"inspection_id": iid, "department_id": dept, "signature_id": str(uuid.uuid4()),
                                    "content_hash": section_hash(iid, field.lead_dept.code,
                                                                 {**values, "note": "补充说明"}), "strokes": STROKES})
    assert [r.get("code", r["status"]) for r in second.push()] == ["conflict", "section.conflicts_open"]
    # another department's open conflicts do not keep this one from signing
    other = field.phone(field.other_officer)
    other_values = field.full_section(field.other_item)
    other.set_section(iid, field.other_dept.id, other_values)
    sign(other, iid, field.other_dept.id, section_hash(iid, field.other_dept.code, other_values))
    assert answers(other) == ["applied", "applied"]
    unsign(other, iid, field.other_dept.id)
    [res] = other.push()
    assert (res["status"], res["inspection_id"]) == ("applied", iid)


def test_a_co_signature_on_the_leads_phone_says_so(field, filled, db_session):
    iid, dept = field.inspection.id, field.lead_dept.id
    lead, _other, hashes = filled
    sign(lead, iid, dept, hashes[dept], signer={"username": field.lead_officer.username, "password": PASSWORD})
    assert answers(lead) == ["applied"]
    [s] = live(db_session, iid, "section", dept)
    assert (s.signer_inspector_id, s.signer_user_id, s.via) == (field.lead_officer.inspector_id, field.lead_officer.id,
                                                                "lead_device")
    # the lead typing their own password on their own phone signs as themselves
    sign(lead, iid, dept, hashes[dept], signer={"username": field.lead_user.username, "password": PASSWORD})
    assert answers(lead) == ["applied"]
    mine = next(x for x in live(db_session, iid, "section", dept) if x.signer_user_id == field.lead_user.id)
    assert mine.via == "own"


def test_the_default_cap_of_open_conflicts(field, db_session):
    iid, dept = field.inspection.id, field.other_dept.id
    db_session.add_all([Conflict(inspection_id=iid, scope="record", path=f"p{i}", base_rev=0, server_value=None,
                                 server_rev=1, client_value="x") for i in range(500)])
    db_session.flush()
    first, second = field.phone(field.other_officer), field.phone(field.other_officer)
    first.set_section(iid, dept, {"note": "先写"})
    assert answers(first) == ["applied"]
    second.set_section(iid, dept, {"note": "后写"})
    [res] = second.push()
    assert (res["code"], res["details"]) == ("conflict.limit", {"limit": 500, "new": 1})
    assert res["message"] == ("该检查未处理的冲突已达上限（500 个），这条修改未保存到服务器（仍在手机上）；"
                              "请组长先处理冲突，同步后再修改")


def test_the_files_a_section_names_are_referenced_and_bounded(field, db_session, monkeypatch):
    from backend.media.models import MediaRef

    iid, dept = field.inspection.id, field.other_dept.id
    values = field.full_section(field.other_item, result="fail")
    phone = field.phone(field.other_officer)
    phone.set_section(iid, dept, values)
    [res] = phone.push()
    assert res["status"] == "applied" and res["inspection_id"] == iid
    refs = db_session.scalars(select(MediaRef.sha256).where(MediaRef.inspection_id == iid)).all()
    assert set(refs) == {"ab" * 32}
    # a path written as absent, again absent: unchanged at revision 0
    phone.set_section(iid, dept, {"note": None})
    assert phone.push()[0]["revs"] == {"note": 0}
    monkeypatch.setitem(field.app.config, "MEDIA_MAX_FILES_PER_INSPECTION", 1)
    cp = field.points(field.other_item)[0]
    phone.set_section(iid, dept, {f"points.{cp}.photos": [{"id": str(uuid.uuid4()), "sha256": "cd" * 32}]})
    [res] = phone.push()
    assert res["code"] == "media.inspection_full" and res["details"] == {"limit": 1, "referenced": 1, "adding": 1}


def test_the_representative_signs_with_the_details_the_record_gives(field, db_session):
    iid = field.inspection.id
    led_inspection(db_session, iid, db_session.get(Inspector, field.lead_user.inspector_id), "finalizable")
    record = db_session.get(Record, iid)
    record.data = {**record.data, "representative": {"name": "赵店长", "position": "店长", "phone": "13800000000"}}
    db_session.flush()
    lead = field.phone(field.lead_user)
    lead.pull()
    h = lead.record_hash(iid)
    lead.enqueue("record.finalize", {"inspection_id": iid, "content_hash": h})
    lead.enqueue("record.representative", {"inspection_id": iid, "signature_id": str(uuid.uuid4()),
                                           "content_hash": h, "image_sha256": "ef" * 32})
    got = lead.push()
    assert [r["status"] for r in got] == ["applied", "applied"] and got[1]["inspection_id"] == iid
    [s] = live(db_session, iid, "record")
    assert (s.role, s.signer_name, s.via, s.image_sha256, s.strokes) == ("representative", "赵店长", "lead_device",
                                                                         "ef" * 32, None)
    assert s.signer_detail == {"position": "店长", "phone": "13800000000"} and s.signer_user_id is None


def test_only_this_sections_conflicts_made_in_the_same_push_keep_it_from_being_signed(field, db_session):
    iid, dept = field.inspection.id, field.lead_dept.id
    values = field.full_section(field.lead_item)
    lead, officer = field.phone(field.lead_user), field.phone(field.lead_officer)
    lead.set_section(iid, dept, values)
    lead.set_record(iid, {"opinion": "组长的意见"})
    officer.set_section(field.inspections[1].id, dept, {"note": "另一家"})
    assert answers(lead) == ["applied", "applied"] and answers(officer) == ["applied"]
    # the officer's phone had seen neither: a record conflict is not the lead's to make, so the lead's second phone
    # makes one; a conflict in another inspection; then the section is signed, all in one push
    second = field.phone(field.lead_user)
    second.set_record(iid, {"opinion": "另一部手机上的意见"})
    second.set_section(field.inspections[1].id, dept, {"note": "冲突"})
    second.enqueue("section.sign", {"inspection_id": iid, "department_id": dept, "signature_id": str(uuid.uuid4()),
                                    "content_hash": section_hash(iid, field.lead_dept.code, values), "strokes": STROKES})
    assert [r["status"] for r in second.push()] == ["conflict", "conflict", "applied"]
    # a conflict in the section itself, made in the same push, does
    third = field.phone(field.lead_officer)
    third.enqueue("section.unsign", {"inspection_id": iid, "department_id": dept, "reason": "需要修改内容"})
    third.set_section(iid, dept, {next(p for p in values if p.endswith(".result")): "fail"})
    third.enqueue("section.sign", {"inspection_id": iid, "department_id": dept, "signature_id": str(uuid.uuid4()),
                                   "content_hash": section_hash(iid, field.lead_dept.code, values), "strokes": STROKES})
    assert [r.get("code", r["status"]) for r in third.push()] == ["applied", "conflict", "section.conflicts_open"]


def test_a_conflict_in_the_leads_section_does_not_stop_a_co_signature_of_another(field, filled, db_session):
    iid, lead_dept, other_dept = field.inspection.id, field.lead_dept.id, field.other_dept.id
    _lead, _other, hashes = filled
    officer = field.phone(field.lead_officer)
    officer.set_section(iid, lead_dept, {"note": "先写"})
    assert answers(officer) == ["applied"]
    second = field.phone(field.lead_user)          # has not seen the note: a conflict in the lead's section
    second.set_section(iid, lead_dept, {"note": "后写"})
    sign(second, iid, other_dept, hashes[other_dept],
         signer={"username": field.other_officer.username, "password": PASSWORD})
    assert [r["status"] for r in second.push()] == ["conflict", "applied"]
