"""The public record and what happens after the draw: target replacements strictly from the
reserve (DRAW.md step 3), the dice as entered, the record before the seed, groups and public
draws as pages, an officer's inspections of one task."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from backend.auth.roles import Role
from backend.draws.algorithm import draw, record_inputs
from backend.draws.cli import verify_command
from backend.draws.models import Draw, TargetReplacement
from backend.draws.verify import verify_record
from backend.inspections.models import Inspection

DICE = "31415926535897932384"


def commit(client, s):
    r = client.post(f"/api/v1/tasks/{s.task.id}/draw/commit", headers=s.headers)
    assert r.status_code == 201, r.json
    return r.json


def seed(client, s, dice=DICE):
    return client.post(f"/api/v1/tasks/{s.task.id}/draw/seed", headers=s.headers,
                       json={"source": "dice", "dice": dice, "witnesses": ["公证员王某"]})


def record_of(client, s):
    return client.get(f"/api/public/draws/{s.task.code}/record").get_json()


def drawn(client, s):
    commit(client, s)
    assert seed(client, s).status_code == 200
    record = record_of(client, s)
    targets, inspectors, conflicts = record_inputs(record)
    reserve = draw(record["task"], record["plan"], targets, inspectors, conflicts, record["seed"],
                   reserve=10).target_reserve
    return record, reserve


def assigned(db_session, stratum):
    return db_session.scalars(select(Inspection).where(Inspection.stratum == stratum, Inspection.status == "assigned")
                              .order_by(Inspection.position)).all()


def replace(client, s, inspection_id, reason, note=None):
    body = {"reason_code": reason} | ({"note": note} if note else {})
    return client.post(f"/api/v1/inspections/{inspection_id}/replace", json=body, headers=s.headers)


def test_replacements_follow_the_reserve_in_order_and_are_published(client, scenario, db_session):
    s = scenario()
    record, reserve = drawn(client, s)
    first, second = assigned(db_session, "C")[:2]
    out1, out2 = first.target.code, second.target.code
    r = replace(client, s, first.id, "closed", "经实地核实已停业")
    assert r.status_code == 201, r.json
    assert r.json["target_code"] == reserve["C"][0] and r.json["stratum"] == "C"
    # the target brought in is found deregistered: replaced the same way, by the next one
    r = replace(client, s, r.json["id"], "deregistered")
    assert r.json["target_code"] == reserve["C"][1]
    r = replace(client, s, second.id, "revoked")
    assert r.json["target_code"] == reserve["C"][2]

    record = record_of(client, s)
    reps = record["target_replacements"]
    assert [{k: x[k] for k in ("stratum", "out", "in", "reason")} for x in reps] == [
        {"stratum": "C", "out": out1, "in": reserve["C"][0], "reason": "closed"},
        {"stratum": "C", "out": reserve["C"][0], "in": reserve["C"][1], "reason": "deregistered"},
        {"stratum": "C", "out": out2, "in": reserve["C"][2], "reason": "revoked"},
    ]
    assert reps[0]["reason_label"] == "已关闭停业" and reps[0]["note"] == "经实地核实已停业" and reps[0]["at"]
    assert set(reps[0]) == {"stratum", "out", "in", "reason", "reason_label", "note", "at"}
    assert record["names"]["targets"][reserve["C"][2]]
    report = verify_record(record)
    assert report.ok, report.differences

    # a replacement changed to another target is caught, and so is one moved to another stratum
    record["target_replacements"][1]["in"] = reserve["C"][3]
    record["target_replacements"][2]["stratum"] = "B"
    assert verify_record(record).differences == [
        f"target_replacements[1].in: 记录为 {reserve['C'][3]}，应为分层 C 备选名单第 2 个 {reserve['C'][1]}",
        f"target_replacements[2].in: 记录为 {reserve['C'][2]}，应为分层 B 备选名单第 1 个 {reserve['B'][0]}",
        f"target_replacements[2].out: {out2} 不是分层 B 抽中或替换进入的检查对象",
    ]


def test_a_reserve_target_known_unusable_is_replaced_at_once(client, scenario, db_session):
    s = scenario()
    _, reserve = drawn(client, s)
    closed = next(t for t in s.targets if t.code == reserve["C"][0])
    closed.status = "closed"
    db_session.flush()
    inspection = assigned(db_session, "C")[0]
    out = inspection.target.code
    r = replace(client, s, inspection.id, "deregistered")
    assert r.status_code == 201 and r.json["target_code"] == reserve["C"][1]
    record = record_of(client, s)
    assert [(x["out"], x["in"], x["reason"]) for x in record["target_replacements"]] == [
        (out, reserve["C"][0], "deregistered"), (reserve["C"][0], reserve["C"][1], "closed")]
    assert reserve["C"][0] in record["target_replacements"][1]["note"]
    assert verify_record(record).ok
    statuses = dict(db_session.execute(select(Inspection.target_id, Inspection.status)
                                       .where(Inspection.stratum == "C", Inspection.target_id == closed.id)).all())
    assert statuses == {closed.id: "replaced"}


@pytest.mark.parametrize(("reason", "code"), [("unreachable", "draw.unreachable_is_a_result"),
                                              ("moved_out", "draw.bad_replace_reason"), ("", "draw.bad_replace_reason")])
def test_unreachable_is_a_result_not_a_reason(client, scenario, db_session, reason, code):
    s = scenario()
    drawn(client, s)
    inspection = assigned(db_session, "C")[0]
    r = replace(client, s, inspection.id, reason)
    assert r.status_code == 422 and r.json["code"] == code
    if reason == "unreachable":
        assert "无法联系" in r.json["message"] and "检查结果" in r.json["message"] and "公示" in r.json["message"]
    else:
        assert "closed（已关闭停业）、deregistered（已注销）、revoked（已吊销）" in r.json["message"]
    assert db_session.scalar(select(func.count()).select_from(TargetReplacement)) == 0
    assert db_session.get(Inspection, inspection.id).status == "assigned"


def test_reserve_exhausted(client, scenario, db_session):
    s = scenario()
    _, reserve = drawn(client, s)
    assert len(reserve["D"]) == 4  # 10 eligible, 6 drawn (cap)
    for n in range(4):
        r = replace(client, s, assigned(db_session, "D")[0].id, "closed")
        assert r.status_code == 201 and r.json["target_code"] == reserve["D"][n]
    last = assigned(db_session, "D")[0]
    r = replace(client, s, last.id, "closed")
    assert r.status_code == 409 and r.json["code"] == "draw.reserve_exhausted"
    assert r.json["details"] == {"stratum": "D", "reserve": 4} and "备选名单已用完" in r.json["message"]
    assert db_session.get(Inspection, last.id).status == "assigned"
    assert verify_record(record_of(client, s)).ok


# --------------------------------------------------------------------------- dice


@pytest.mark.parametrize(("entered", "problem"), [
    ("1234567890123456789a", "第 20 个字符“a”不是 0–9 的数字"),
    ("1" * 19, "只有 19 位数字，至少需要 20 位"),
    ("12345 67890 12345 6789", "只有 19 位数字，至少需要 20 位"),
    ("1" * 201, "有 201 位数字，最多 200 位"),
    ("１２３４５６７８９０１２３４５６７８９０", "第 1 个字符“１”不是 0–9 的数字"),
    ("1234567890-1234567890", "第 11 个字符“-”不是 0–9 的数字"),
    ("1234567890\x001234567890", "第 11 个字符“U+0000”不是 0–9 的数字"),
    ("   ", "未填写"),
    (None, "未填写"),
])
def test_bad_dice_say_what_is_wrong_and_what_is_accepted(client, scenario, db_session, entered, problem):
    s = scenario(per_class=2)
    commit(client, s)
    r = seed(client, s, entered)
    if entered is not None and "\x00" in entered:  # refused before anything reads it
        assert r.status_code == 422 and r.json["code"] == "validation_error"
        return
    assert r.status_code == 422 and r.json["code"] == "draw.bad_dice", r.json
    rule = "须为 20 至 200 位 0–9 的半角数字，数字之间可用空格或换行分隔（分隔符不计入）"
    assert r.json["message"] == f"骰子数字有误：{problem}。{rule}"
    assert r.json["errors"] == {"dice": [f"{problem}；{rule}"]}
    assert db_session.scalar(select(Draw.status)) == "committed"


@pytest.mark.parametrize("entered", ["12345 67890\n12345\u300067890", "7" * 20, "1234567890" * 20,
                                     " ".join("1234567890" * 20)])
def test_dice_as_entered_beside_the_digits_used(client, scenario, entered):
    s = scenario(per_class=2)
    commit(client, s)
    r = seed(client, s, entered)
    assert r.status_code == 200, r.json
    digits = "".join(c for c in entered if c.isdigit())
    assert r.json["dice"] == digits and r.json["dice_entered"] == entered
    record = record_of(client, s)
    assert record["dice"] == digits and record["draw"]["dice_entered"] == entered
    assert verify_record(record).ok


def test_csprng_has_no_dice_entered(client, scenario):
    s = scenario(per_class=2)
    commit(client, s)
    r = client.post(f"/api/v1/tasks/{s.task.id}/draw/seed", json={"source": "csprng"}, headers=s.headers)
    assert r.status_code == 200 and len(r.json["dice"]) == 20 and r.json["dice_entered"] is None


# --------------------------------------------------------------------------- the record before the seed


def test_record_published_before_the_seed_verifies_its_commitment(client, scenario, tmp_path):
    s = scenario()
    committed = commit(client, s)
    record = record_of(client, s)
    assert (record["dice"], record["seed"], record["result"], record["target_replacements"]) == (None, None, None, [])
    report = verify_record(record)
    assert report.ok and not report.seeded and report.commitment == committed["commitment"]
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(verify_command, [str(path)])
    assert result.exit_code == 0 and result.output == "COMMITMENT MATCH：承诺值一致；尚未录入随机数，尚无抽取结果\n"
    record["draw"]["targets_hash"] = "0" * 64
    assert verify_record(record).differences[0].startswith("draw.targets_hash: 记录为 0000")


# --------------------------------------------------------------------------- pages and filters


def test_groups_and_public_draws_are_pages(client, scenario):
    s = scenario()
    page = client.get(f"/api/v1/tasks/{s.task.id}/groups", headers=s.headers).json
    assert page == {"items": [], "total": 0, "page": 1, "page_size": 20, "pages": 0}  # not drawn yet
    record, _ = drawn(client, s)
    page = client.get(f"/api/v1/tasks/{s.task.id}/groups?page=3&page_size=3", headers=s.headers).json
    assert (page["total"], page["page"], page["page_size"], page["pages"]) == (7, 3, 3, 3)
    assert [g["number"] for g in page["items"]] == [6]
    group = page["items"][0]
    assert group["leader_cert_no"] == record["result"]["groups"][6]["leader"] and group["leader_name"]
    assert [i["target_code"] for i in group["inspections"]] == record["result"]["groups"][6]["targets"]
    assert client.get(f"/api/v1/tasks/{s.task.id}/groups?page_size=500", headers=s.headers).status_code == 422
    draws = client.get(f"/api/public/draws/{s.task.code}").json
    assert (draws["total"], draws["pages"]) == (1, 1) and draws["items"][0]["seq"] == 1
    assert client.get(f"/api/public/draws/{s.task.code}?page=2").json["items"] == []
    assert client.get("/api/public/draws/NO-SUCH").status_code == 404


def test_my_inspections_of_one_task(client, scenario, auth):
    s = scenario()
    record, _ = drawn(client, s)
    other = scenario()
    cert = record["result"]["groups"][0]["members"][s.lead.code][0]
    inspector = next(i for i in s.inspectors[s.lead.code] if i.cert_no == cert)
    _, headers = auth.as_role(Role.INSPECTOR, s.lead, inspector=inspector)
    url = "/api/v1/my/inspections"
    mine = client.get(f"{url}?task_id={s.task.id}", headers=headers).json
    assert sorted(i["target_code"] for i in mine["items"]) == sorted(record["result"]["groups"][0]["targets"])
    assert mine["total"] == len(record["result"]["groups"][0]["targets"]) > 0
    assert client.get(f"{url}?task_id={other.task.id}", headers=headers).json["items"] == []
    for bad in ("0", "x", str(2**31)):
        assert client.get(f"{url}?task_id={bad}", headers=headers).status_code == 422


def test_a_failed_draw_record_verifies_its_failed_seed(client, scenario, factory, tmp_path):
    s = scenario(risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}}, inspectors=(2, 1), group_load=2)
    for inspector in s.inspectors[s.lead.code]:
        factory.conflict(inspector, s.targets[0])
    commit(client, s)
    r = seed(client, s, "31415 92653 58979 32384")
    assert r.status_code == 422 and r.json["code"] == "draw.no_replacement"
    record = record_of(client, s)
    [attempt] = record["draw"]["failed_attempts"]
    assert attempt["dice"] == "31415926535897932384" and attempt["dice_entered"] == "31415 92653 58979 32384"
    report = verify_record(record)
    assert report.ok and not report.seeded and report.failed_attempts == 1
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(verify_command, [str(path)])
    assert result.exit_code == 0
    assert result.output == "COMMITMENT MATCH：承诺值一致；公布的 1 个随机数经重新计算确实无法完成抽取，尚无抽取结果\n"
    record["conflicts"] = []  # as if nobody had declared a conflict: that seed would have worked
    assert verify_record(record).differences == [
        "draw.failed_attempts[0].error: 记录为 draw.no_replacement，但用该随机种子重新计算可以完成抽取"]
