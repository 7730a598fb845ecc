"""回避 on the phone's side (issue 11 §6): who takes part in an inspection when someone was recused.

At the draw a recused member is replaced, for that one business, by a stand-in from the department's reserve
(an ``inspection_member_override`` row, as the draw writes it); a recused leader by the lead department's
stand-in, who then leads there. After the draw a declaration takes the officer out of the active inspections of
that business (docs/sync.md §5.5). Each rule is checked through pull and push, as a phone sees it.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.auth.roles import Role
from backend.inspections.models import Inspection, InspectionMember
from sync.models import SyncChange

RECUSED_AT_DRAW = "你已对该检查对象回避（由备选人员替你检查），不能修改该检查"


def _stand_in(field, db_session, out_user, department, *, declared: bool = True):
    """``out_user`` recused from the first business at the draw (their declared conflict), a new officer of
    ``department`` standing in for them there: the stand-in's account."""
    inspector = field.factory.inspector(department, name="备选检查员")
    user = field.factory.user(Role.INSPECTOR, department, inspector=inspector)
    if declared:
        field.factory.conflict(db_session.get(type(inspector), out_user.inspector_id), field.inspection.target)
    db_session.add(InspectionMember(inspection_id=field.inspection.id, department_id=department.id,
                                    out_inspector_id=out_user.inspector_id, in_inspector_id=inspector.id))
    db_session.flush()
    return user


def _members(phone, inspection_id) -> dict[int, dict]:
    return {m["inspector_id"]: m for m in phone.docs["inspection"][inspection_id]["group"]["members"]}


def _declare(field, factory, user, department, target_id, reason="配偶在该企业任职"):
    admin = factory.user(Role.DEPT_ADMIN, department)
    r = field.client.post(f"/api/v1/inspectors/{user.inspector_id}/conflicts",
                          json={"target_id": target_id, "reason": reason}, headers=field.auth.headers(admin))
    assert r.status_code == 201, r.json
    return r.json["id"], admin


def _my_targets(field, user) -> list[int]:
    items = field.client.get("/api/v1/my/inspections", headers=field.auth.headers(user)).json["items"]
    return sorted(i["id"] for i in items)


def _note(phone, field, inspection_id, department, text="现场检查记录"):
    phone.set_section(inspection_id, department.id, {"note": text})
    [res] = phone.push()
    return res


# --- recused at the draw: the stand-in ------------------------------------------------------------------------------

def test_a_member_recused_at_the_draw_is_out_there_and_the_stand_in_is_in(field, db_session):
    first, second = field.inspections[0].id, field.inspections[1].id
    stand_in = _stand_in(field, db_session, field.other_officer, field.other_dept)
    # the recused officer: a tombstone for that business (not a declaration after the draw), the other one kept
    out = field.phone(field.other_officer)
    out.pull()
    assert first not in out.docs["inspection"] and second in out.docs["inspection"]
    tomb = out.tombstones[first]
    assert tomb["reason_code"] == "recused" and "由备选人员替你检查" in tomb["reason"] and "申报" not in tomb["reason"]
    res = _note(out, field, first, field.other_dept)
    assert (res["status"], res["code"], res["message"]) == ("rejected", "sync.recused", RECUSED_AT_DRAW)
    assert _note(out, field, second, field.other_dept)["status"] == "applied"
    assert _my_targets(field, field.other_officer) == [second]
    # the stand-in: that business only, as an officer of their department, not the lead
    phone = field.phone(stand_in)
    phone.pull()
    assert set(phone.docs["inspection"]) == {first} and phone.tombstones == {}
    me = phone.docs["inspection"][first]["me"]
    assert me == {"inspector_id": stand_in.inspector_id, "department_id": field.other_dept.id, "is_lead": False}
    assert field.inspection.task_id in phone.docs["task"]
    assert _note(phone, field, first, field.other_dept)["status"] == "applied"
    res = _note(phone, field, second, field.other_dept)
    assert (res["code"], res["message"]) == ("sync.not_participant", "你不是该检查的检查组成员，不能修改该检查")
    assert _my_targets(field, stand_in) == [first]
    # the lead sees each business with its own members
    lead = field.phone(field.lead_user)
    lead.pull()
    here, there = _members(lead, first), _members(lead, second)
    assert stand_in.inspector_id in here and field.other_officer.inspector_id not in here
    assert field.other_officer.inspector_id in there and stand_in.inspector_id not in there
    assert here[stand_in.inspector_id]["user_id"] == stand_in.id and not here[stand_in.inspector_id]["is_lead"]
    assert [m["inspector_id"] for m in lead.docs["inspection"][first]["group"]["members"] if m["is_lead"]] == \
        [field.lead_user.inspector_id]


def test_a_recusal_without_a_live_declaration_still_keeps_the_stand_in(field, db_session):
    # the draw's replacement stands even when the declaration behind it was withdrawn since
    first = field.inspection.id
    stand_in = _stand_in(field, db_session, field.other_officer, field.other_dept, declared=False)
    out = field.phone(field.other_officer)
    out.pull()
    assert out.tombstones[first]["reason_code"] == "recused"
    phone = field.phone(stand_in)
    phone.pull()
    assert first in phone.docs["inspection"]


def test_a_leader_recused_at_the_draw_is_followed_by_the_lead_departments_stand_in(field, db_session):
    first, second = field.inspections[0].id, field.inspections[1].id
    stand_in = _stand_in(field, db_session, field.lead_user, field.lead_dept)
    phone = field.phone(stand_in)
    phone.pull()
    assert phone.docs["inspection"][first]["me"]["is_lead"] is True
    phone.set_record(first, {"opinion": "备选人员作为组长汇总"})
    assert phone.push()[0]["status"] == "applied"
    # the recused leader: out there, still the lead of the other business
    old = field.phone(field.lead_user)
    old.set_record(first, {"opinion": "已回避的组长"})
    old.set_record(second, {"opinion": "另一家仍由原组长汇总"})
    assert [(r["status"], r.get("code")) for r in old.push()] == [("rejected", "sync.recused"), ("applied", None)]
    # the other officer of the lead department does not lead either business
    other = field.phone(field.lead_officer)
    other.set_record(first, {"opinion": "不是组长"})
    assert other.push()[0]["code"] == "record.lead_only"
    lead_view = field.phone(field.other_officer)
    lead_view.pull()
    assert [i for i, m in _members(lead_view, first).items() if m["is_lead"]] == [stand_in.inspector_id]
    assert [i for i, m in _members(lead_view, second).items() if m["is_lead"]] == [field.lead_user.inspector_id]


def test_the_stand_in_declaring_a_conflict_later_leaves_too(field, db_session, factory):
    first = field.inspection.id
    stand_in = _stand_in(field, db_session, field.other_officer, field.other_dept)
    lead = field.phone(field.lead_user)
    lead.pull()
    assert stand_in.inspector_id in _members(lead, first)
    _declare(field, factory, stand_in, field.other_dept, field.inspection.target_id, reason="曾在该企业兼职")
    lead.docs["inspection"].clear()
    lead.pull()                    # the change is announced: the lead's next pull brings the inspection again
    assert set(lead.docs["inspection"]) == {first}
    assert stand_in.inspector_id not in _members(lead, first)
    assert field.other_officer.inspector_id not in _members(lead, first)
    phone = field.phone(stand_in)
    phone.pull()
    assert "曾在该企业兼职" in phone.tombstones[first]["reason"]
    res = _note(phone, field, first, field.other_dept)
    assert res["code"] == "sync.recused" and res["details"] == {"reason": "曾在该企业兼职"}
    assert res["message"] == "你已申报与该检查对象存在利害关系（曾在该企业兼职），已回避该检查，不能再修改它"
    # the member recused at the draw is still recused there (not merely "not a member")
    out = field.phone(field.other_officer)
    out.pull()
    assert out.tombstones[first]["reason_code"] == "recused" and "由备选人员替你检查" in out.tombstones[first]["reason"]
    assert (_note(out, field, first, field.other_dept)["message"]) == RECUSED_AT_DRAW


# --- declared after the draw ------------------------------------------------------------------------------------

def test_a_declaration_is_announced_to_the_group_and_touches_only_that_business(field, factory, db_session):
    first, second = field.inspections[0].id, field.inspections[1].id
    lead = field.phone(field.lead_user)
    lead.pull()
    before = dict(lead.docs["inspection"])
    _declare(field, factory, field.lead_officer, field.lead_dept, field.inspection.target_id)
    lead.docs["inspection"].clear()
    lead.pull()
    assert set(lead.docs["inspection"]) == {first}        # only that inspection comes again
    reasons = db_session.scalars(select(SyncChange.reason).where(SyncChange.inspection_id == first)).all()
    assert reasons[-1] == "recusal"                       # the change log says why (diagnostics)
    assert field.lead_officer.inspector_id not in _members(lead, first)
    assert field.lead_officer.inspector_id in {m["inspector_id"] for m in before[second]["group"]["members"]}
    # a non-lead officer's declaration leaves the leader leading
    assert [i for i, m in _members(lead, first).items() if m["is_lead"]] == [field.lead_user.inspector_id]
    lead.set_record(first, {"opinion": "组长照常汇总"})
    assert lead.push()[0]["status"] == "applied"
    phone = field.phone(field.lead_officer)
    res = _note(phone, field, first, field.lead_dept)
    assert res["code"] == "sync.recused" and "配偶在该企业任职" in res["message"]
    assert _note(phone, field, second, field.lead_dept)["status"] == "applied"


def test_a_declaration_recuses_from_an_inspection_in_progress(field, factory, db_session):
    phone = field.phone(field.other_officer)
    assert _note(phone, field, field.inspection.id, field.other_dept)["status"] == "applied"
    db_session.refresh(field.inspection)
    assert field.inspection.status == "in_progress"
    lead = field.phone(field.lead_user)
    lead.pull()
    _declare(field, factory, field.other_officer, field.other_dept, field.inspection.target_id)
    lead.docs["inspection"].clear()
    lead.pull()
    assert set(lead.docs["inspection"]) == {field.inspection.id}
    assert field.other_officer.inspector_id not in _members(lead, field.inspection.id)
    assert _note(phone, field, field.inspection.id, field.other_dept, "再写一次")["code"] == "sync.recused"


def test_a_recused_leader_is_followed_by_the_lead_department_not_another(field, factory, db_session):
    # three officers in the lead department: the next one in the group's order leads, never the other department's
    from tests.field.conftest import build_field

    f = build_field(field.app, field.client, factory, field.auth, db_session, lead_members=3, other_members=2)
    _declare(f, factory, f.lead_user, f.lead_dept, f.inspection.target_id)
    phone = f.phone(f.other_officer)
    phone.pull()
    leads = [m for m in phone.docs["inspection"][f.inspection.id]["group"]["members"] if m["is_lead"]]
    assert len(leads) == 1 and leads[0]["department_id"] == f.lead_dept.id
    assert leads[0]["inspector_id"] != f.lead_user.inspector_id
    # two tasks now: each officer pulls their own task and inspections only
    for fld in (field, f):
        mine = fld.phone(fld.other_officer)
        mine.pull()
        assert set(mine.docs["task"]) == {fld.task.id}
        assert set(mine.docs["inspection"]) == {i.id for i in fld.inspections}


def test_an_officer_of_another_department_never_leads(field, factory, db_session):
    # the lead department's only officer declares a conflict: nobody of the other department takes the lead
    from tests.field.conftest import build_field

    f = build_field(field.app, field.client, factory, field.auth, db_session, lead_members=1, other_members=2)
    _declare(f, factory, f.lead_user, f.lead_dept, f.inspection.target_id)
    phone = f.phone(f.other_officer)
    phone.pull()
    assert not any(m["is_lead"] for m in phone.docs["inspection"][f.inspection.id]["group"]["members"])
    phone.set_record(f.inspection.id, {"opinion": "不是牵头部门的人员"})
    assert phone.push()[0]["code"] == "record.lead_only"


def test_the_stand_ins_signature_finalises_the_record_not_the_recused_members(field, db_session):
    from tests.field.test_merge import lead_fields

    iid = field.inspection.id
    stand_in = _stand_in(field, db_session, field.other_officer, field.other_dept)
    phone = field.phone(stand_in)
    phone.set_section(iid, field.other_dept.id, field.full_section(field.other_item))
    phone.push()
    phone.pull()
    phone.sign_section(iid, field.other_dept.id)
    lead, officer = field.phone(field.lead_user), field.phone(field.lead_officer)
    lead.set_section(iid, field.lead_dept.id, field.full_section(field.lead_item))
    lead.push()
    for p in (lead, officer):
        p.pull()
        p.sign_section(iid, field.lead_dept.id)
    assert [r["status"] for p in (phone, lead, officer) for r in p.push()] == ["applied"] * 3
    lead.set_record(iid, lead_fields())
    lead.push()
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": iid, "content_hash": lead.record_hash(iid)})
    [res] = lead.push()
    assert res["status"] == "applied", res


def test_a_co_signature_for_no_inspection_is_not_found(field):
    lead = field.phone(field.lead_user)
    lead.enqueue("section.sign", {"inspection_id": 2**31 - 1, "department_id": field.lead_dept.id,
                                  "signature_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12, "content_hash": "a" * 64,
                                  "strokes": [{"points": [[0, 0, 0]]}],
                                  "signer": {"username": field.lead_officer.username, "password": "x" * 8}})
    [res] = lead.push()
    assert (res["status"], res["code"]) == ("rejected", "inspection.not_found")


def test_a_withdrawn_declaration_recuses_nobody(field, factory):
    conflict_id, admin = _declare(field, factory, field.other_officer, field.other_dept, field.inspections[1].target_id)
    r = field.client.post(f"/api/v1/inspectors/{field.other_officer.inspector_id}/conflicts/{conflict_id}/retire",
                          json={"retired": True}, headers=field.auth.headers(admin))
    assert r.status_code == 200, r.json
    phone = field.phone(field.other_officer)
    phone.pull()
    assert set(phone.docs["inspection"]) == {i.id for i in field.inspections} and phone.tombstones == {}
    assert _note(phone, field, field.inspections[1].id, field.other_dept)["status"] == "applied"


# --- gone ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status,text", [("replaced", "该检查对象已从备选名单替换，本检查已取消"),
                                         ("superseded", "该任务已重新抽取，本检查已取消")])
def test_an_inspection_that_is_gone_is_a_tombstone_and_refuses_writes(field, db_session, status, text):
    inspection = db_session.get(Inspection, field.inspection.id)
    inspection.status = status
    db_session.flush()
    phone = field.phone(field.lead_user)
    phone.pull()
    assert phone.tombstones[inspection.id]["reason_code"] == status and phone.tombstones[inspection.id]["reason"] == text
    res = _note(phone, field, inspection.id, field.lead_dept)
    assert (res["code"], res["message"]) == ("inspection.gone", text)
