"""The verifier checks every fact a record publishes: the target replacements from the
reserve (DRAW.md step 3), a record published before the seed, the hashes beside the
commitment, and it lists every difference."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from backend.draws.algorithm import compute_record, draw, record_commitment, record_inputs
from backend.draws.cli import verify_command
from backend.draws.verify import COMMITTED_TEXT, MATCH_TEXT, verify_record

VECTORS = json.loads((Path(__file__).parents[2] / "data" / "draw-vectors.json").read_text(encoding="utf-8"))
CASES = VECTORS["draws"]
CASE = CASES[1]  # strata A-D, with a recusal replacement


def reserve_of(case, n=5):
    targets, inspectors, conflicts = record_inputs(case)
    return draw(case["task"], case["plan"], targets, inspectors, conflicts, case["seed"], reserve=n).target_reserve


RESERVE = reserve_of(CASE)
SELECTED = CASE["result"]["selected"]


def with_replacements(*reps):
    record = copy.deepcopy(CASE)
    record["target_replacements"] = [dict(zip(("stratum", "out", "in", "reason"), r)) for r in reps]
    return record


def honest():
    """C: a drawn one closed, its reserve replacement deregistered too; B: one revoked; A: none."""
    c1, c2 = RESERVE["C"][:2]
    return with_replacements(("C", SELECTED["C"][4], c1, "closed"), ("B", SELECTED["B"][0], RESERVE["B"][0], "revoked"),
                             ("C", c1, c2, "deregistered"))


def test_honest_replacements_match():
    record = honest()
    # extra fields of the app's record are ignored
    record["target_replacements"][0].update(reason_label="已关闭停业", at="2026-04-02T01:00:00+00:00")
    report = verify_record(record)
    assert report.ok and report.differences == [] and report.seeded
    assert report.verdict == MATCH_TEXT == "验证通过：与公布结果一致"


@pytest.mark.parametrize("value", [None, []])
def test_no_replacements(value):
    record = copy.deepcopy(CASE)
    record["target_replacements"] = value
    assert verify_record(record).ok


def test_replacement_changed_to_another_target():
    record = honest()
    other = RESERVE["C"][3]
    record["target_replacements"][0]["in"] = other
    assert verify_record(record).differences == [
        f"target_replacements[0].in: 记录为 {other}，应为分层 C 备选名单第 1 个 {RESERVE['C'][0]}",
        # the chain then takes out a target that never came in
        f"target_replacements[2].out: {RESERVE['C'][0]} 不是分层 C 抽中或替换进入的检查对象",
    ]


def test_replacements_skipping_or_reordering_the_reserve():
    c1, c2 = RESERVE["C"][:2]
    record = with_replacements(("C", SELECTED["C"][0], c2, "closed"), ("C", SELECTED["C"][1], c1, "closed"))
    assert verify_record(record).differences == [
        f"target_replacements[0].in: 记录为 {c2}，应为分层 C 备选名单第 1 个 {c1}",
        f"target_replacements[1].in: 记录为 {c1}，应为分层 C 备选名单第 2 个 {c2}",
    ]
    # a target of another stratum's reserve
    record = with_replacements(("A", SELECTED["A"][0], RESERVE["B"][0], "closed"))
    assert verify_record(record).differences == [
        f"target_replacements[0].in: 记录为 {RESERVE['B'][0]}，应为分层 A 备选名单第 1 个 {RESERVE['A'][0]}"]
    # a selected target brought "in"
    record = with_replacements(("A", SELECTED["A"][0], SELECTED["A"][1], "closed"))
    assert verify_record(record).differences == [
        f"target_replacements[0].in: 记录为 {SELECTED['A'][1]}，应为分层 A 备选名单第 1 个 {RESERVE['A'][0]}"]


def test_out_must_be_in_the_draw_at_that_moment():
    a = SELECTED["A"][0]
    not_drawn = RESERVE["A"][4]
    record = with_replacements(("A", a, RESERVE["A"][0], "closed"), ("A", a, RESERVE["A"][1], "closed"),
                               ("A", not_drawn, RESERVE["A"][2], "closed"), ("A", SELECTED["B"][0], RESERVE["A"][3],
                                                                             "closed"))
    assert verify_record(record).differences == [
        f"target_replacements[1].out: {a} 已在 target_replacements[0] 中被替换出，不在抽取名单中",
        f"target_replacements[2].out: {not_drawn} 不是分层 A 抽中或替换进入的检查对象",
        f"target_replacements[3].out: {SELECTED['B'][0]} 不是分层 A 抽中或替换进入的检查对象",  # another stratum's
    ]


def test_a_target_brought_back_after_being_replaced_is_in_the_draw_again():
    """Taken out, then (wrongly) brought in again: the `in` is the error, its later `out` is not."""
    a0, r0 = SELECTED["A"][0], RESERVE["A"][0]
    record = with_replacements(("A", a0, r0, "closed"), ("A", r0, a0, "closed"), ("A", a0, RESERVE["A"][2], "closed"))
    assert verify_record(record).differences == [
        f"target_replacements[1].in: 记录为 {a0}，应为分层 A 备选名单第 2 个 {RESERVE['A'][1]}"]


def test_unreachable_is_not_a_replacement_reason():
    record = with_replacements(("A", SELECTED["A"][0], RESERVE["A"][0], "unreachable"))
    assert verify_record(record).differences == [
        "target_replacements[0].reason: 记录为 unreachable，只有 closed（已关闭停业）、deregistered（已注销）、"
        "revoked（已吊销） 的对象按备选名单替换"]


def test_unknown_stratum_and_exhausted_reserve():
    case = copy.deepcopy(CASES[0])  # strata high (34 eligible, 17 drawn) and low (26, 3)
    reserve = reserve_of(case, 40)
    assert len(reserve["high"]) == 17
    current = list(case["result"]["selected"]["high"])
    reps = []
    for n in range(18):
        reps.append({"stratum": "high", "out": current[n] if n < 17 else reserve["high"][0],
                     "in": reserve["high"][n] if n < 17 else "X-1", "reason": "closed"})
    reps.append({"stratum": "mid", "out": "a", "in": "b", "reason": "closed"})
    case["target_replacements"] = reps
    assert verify_record(case).differences == [
        "target_replacements[17].in: 记录为 X-1，分层 high 的备选名单只有 17 个，没有第 18 个",
        "target_replacements[18].stratum: 记录为 mid，抽查方案中没有该分层",
    ]


def test_every_wrong_fact_of_a_replacement_is_listed():
    record = with_replacements(("A", "nobody", "somebody", "moved"))
    assert verify_record(record).differences == [
        "target_replacements[0].reason: 记录为 moved，只有 closed（已关闭停业）、deregistered（已注销）、"
        "revoked（已吊销） 的对象按备选名单替换",
        f"target_replacements[0].in: 记录为 somebody，应为分层 A 备选名单第 1 个 {RESERVE['A'][0]}",
        "target_replacements[0].out: nobody 不是分层 A 抽中或替换进入的检查对象",
    ]


@pytest.mark.parametrize(
    ("value", "complaints"),
    [
        ({"a": 1}, ["target_replacements: 格式错误，应为数组，实为对象"]),
        (["x"], ["target_replacements[0]: 格式错误，应为对象，实为字符串"]),
        ([{"stratum": "A", "out": 1, "in": None}],
         ["target_replacements[0].out: 格式错误，应为字符串，实为数字",
          "target_replacements[0].in: 格式错误，应为字符串，实为null", "target_replacements[0].reason: 缺失"]),
    ],
)
def test_malformed_replacements(value, complaints):
    record = copy.deepcopy(CASE)
    record["target_replacements"] = value
    assert verify_record(record).differences == complaints


# --------------------------------------------------------------------------- before the seed


def committed(case=CASE):
    """The record as published after the commitment and before the seed."""
    record = copy.deepcopy(case)
    record.update(dice=None, seed=None, result=None, target_replacements=[])
    return record


@pytest.mark.parametrize("drop", [False, True])
def test_record_before_the_seed_checks_the_commitment_alone(drop):
    record = committed()
    if drop:
        for key in ("dice", "seed", "result", "target_replacements"):
            del record[key]
    report = verify_record(record)
    assert report.ok and not report.seeded and report.differences == []
    assert report.verdict == COMMITTED_TEXT == "承诺值一致；尚未录入随机数，尚无抽取结果"
    assert report.commitment == CASE["commitment"] and report.seed is None


def test_record_before_the_seed_with_a_changed_list():
    record = committed()
    record["targets"].pop()
    report = verify_record(record)
    assert not report.ok and not report.seeded
    assert len(report.differences) == 1 and report.differences[0].startswith("commitment: 记录为 ")
    assert report.verdict == "验证未通过：共 1 处不同"


def test_record_before_the_seed_cannot_list_replacements_and_needs_its_inputs():
    record = committed()
    record["target_replacements"] = [{"stratum": "A", "out": "a", "in": "b", "reason": "closed"}]
    assert verify_record(record).differences == ["target_replacements: 记录尚无随机数和抽取结果，不应有替换"]
    record = committed()
    del record["commitment"]
    record["inspectors"] = None
    assert verify_record(record).differences == ["inspectors: 格式错误，应为数组，实为null", "commitment: 缺失"]


def test_a_seed_without_its_result_is_not_a_record_before_the_seed():
    record = committed()
    record["dice"] = CASE["dice"]
    assert verify_record(record).differences == ["seed: 格式错误，应为字符串，实为null"]
    record["seed"] = CASE["seed"]
    assert verify_record(record).differences == ["result: 格式错误，应为对象，实为null"]


def test_the_hashes_beside_the_commitment_are_checked():
    record = committed()
    record["draw"] = {"seq": 1, "plan_hash": "0" * 64, "targets_hash": "1" * 64, "inspectors_hash": 5}
    differences = verify_record(record).differences
    assert [d.split(":")[0] for d in differences] == ["draw.plan_hash", "draw.targets_hash", "draw.inspectors_hash"]
    assert differences[0].startswith("draw.plan_hash: 记录为 " + "0" * 64 + "，重新计算为 ")
    assert differences[2].startswith("draw.inspectors_hash: 记录为 5，重新计算为 ")
    c = record_commitment(CASE)
    record["draw"] = {"plan_hash": c.plan_hash, "targets_hash": c.targets_hash, "inspectors_hash": c.inspectors_hash}
    assert verify_record(record).ok
    record["draw"] = {"seq": 1}  # the hashes are optional
    assert verify_record(record).ok


# --------------------------------------------------------------------------- the command line


def run_cli(tmp_path, record):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    return CliRunner().invoke(verify_command, [str(path)])


def test_cli_record_before_the_seed(tmp_path):
    result = run_cli(tmp_path, committed())
    assert result.exit_code == 0 and result.output == f"COMMITMENT MATCH：{COMMITTED_TEXT}\n"


def test_cli_lists_every_replacement_difference(tmp_path):
    record = honest()
    record["target_replacements"][0]["in"] = "X"
    record["target_replacements"][1]["reason"] = "unreachable"
    result = run_cli(tmp_path, record)
    assert result.exit_code == 1
    assert result.output.splitlines() == ["不一致：共 3 处不同", *verify_record(record).differences]


# --------------------------------------------------------------------------- failed seeds and experts


def failed():
    """A draw whose seed could not complete: every EPB inspector must step aside for one target."""
    record = committed()
    target = CASE["result"]["replacements"][0]["target"]
    record["conflicts"] = [[i["id"], target] for i in CASE["inspectors"] if i["dept"] == "EPB"]
    record["draw"] = {"seq": 1, "status": "failed", "failed_attempts": [
        {"at": "2026-04-01T02:00:00+00:00", "source": "dice", "dice": CASE["dice"], "seed": CASE["seed"],
         "witnesses": ["公证员王某"], "error": "draw.no_replacement", "message": "…", "details": {}}]}
    return record


def test_failed_seeds_are_redone():
    report = verify_record(failed())
    assert report.ok and not report.seeded and report.failed_attempts == 1
    assert report.verdict == "承诺值一致；公布的 1 个随机数经重新计算确实无法完成抽取，尚无抽取结果"


def test_a_failed_seed_that_would_have_worked_or_failed_otherwise():
    record = failed()
    record["conflicts"] = CASE["conflicts"]  # with the real declarations the draw completes
    assert verify_record(record).differences == [
        "draw.failed_attempts[0].error: 记录为 draw.no_replacement，但用该随机种子重新计算可以完成抽取"]
    record = failed()
    record["draw"]["failed_attempts"][0]["error"] = "draw.too_few_inspectors"
    [difference] = verify_record(record).differences
    assert difference.startswith("draw.failed_attempts[0].error: 记录为 draw.too_few_inspectors，重新计算为 "
                                 "draw.no_replacement（第 1 组：部门 EPB 的检查人员 ")
    assert difference.endswith("，但该部门的备选人员中已没有可替换的人员）")
    record = failed()
    record["draw"]["failed_attempts"][0]["dice"] = "9" * 20
    [difference] = verify_record(record).differences
    assert difference.startswith(f"draw.failed_attempts[0].seed: 记录为 {CASE['seed']}，由 commitment 与 dice 重新计算为 ")


@pytest.mark.parametrize(("attempts", "complaints"), [
    ("x", ["draw.failed_attempts: 格式错误，应为数组，实为字符串"]),
    ([7], ["draw.failed_attempts[0]: 格式错误，应为对象，实为数字"]),
    ([{"dice": "1", "seed": None}], ["draw.failed_attempts[0].seed: 格式错误，应为字符串，实为null",
                                     "draw.failed_attempts[0].error: 缺失"]),
])
def test_malformed_failed_attempts(attempts, complaints):
    record = failed()
    record["draw"]["failed_attempts"] = attempts
    report = verify_record(record)
    assert report.differences == complaints and report.failed_attempts == 0


def with_experts():
    """CASE with two experts committed in the plan, their conflicts, a replacement into group 2."""
    inputs = {k: copy.deepcopy(CASE[k]) for k in ("task", "plan", "targets", "inspectors", "conflicts", "dice")}
    inputs["plan"]["experts"] = [{"group": 0, "id": "EX-1"}, {"group": 2, "id": "EX-2"}]
    record = compute_record(inputs)
    targets, inspectors, conflicts = record_inputs(record)
    reserve = draw(record["task"], record["plan"], targets, inspectors, conflicts, record["seed"],
                   reserve=3).target_reserve
    groups = record["result"]["groups"]
    g2 = groups[2]["targets"]
    out = g2[0]
    stratum = next(t["stratum"] for t in record["targets"] if t["id"] == out)
    brought = reserve[stratum][0]
    record["target_replacements"] = [{"stratum": stratum, "out": out, "in": brought, "reason": "closed"}]
    record["expert_conflicts"] = [["EX-1", groups[0]["targets"][1]], ["EX-1", g2[1]], ["EX-2", g2[1]],
                                  ["EX-2", brought]]
    record["expert_recusals"] = [{"group": 0, "expert": "EX-1", "target": groups[0]["targets"][1]},
                                 {"group": 2, "expert": "EX-2", "target": g2[1]},
                                 {"group": 2, "expert": "EX-2", "target": brought}]
    return record


def test_expert_recusals_are_redone():
    record = with_experts()
    assert verify_record(record).ok
    right = copy.deepcopy(record["expert_recusals"])
    record["expert_recusals"].pop()
    show = json.dumps(right[2], ensure_ascii=False, separators=(",", ":"))
    assert verify_record(record).differences == ["expert_recusals: 记录只有 2 项，重新计算有 3 项",
                                                 f"expert_recusals[2]: 记录中缺少，重新计算为 {show}"]
    record["expert_recusals"] = [right[1], right[0], right[2]]
    assert [d.split(":")[0] for d in verify_record(record).differences] == ["expert_recusals[0]", "expert_recusals[1]"]
    record = with_experts()
    record["expert_conflicts"].append(["EX-2", record["result"]["groups"][1]["targets"][0]])  # another group's
    assert verify_record(record).ok


@pytest.mark.parametrize(("change", "complaints"), [
    (lambda r: r.update(expert_recusals={}), ["expert_recusals: 格式错误，应为数组，实为对象"]),
    (lambda r: r.update(expert_conflicts=[["EX-1"]]), ["expert_conflicts[0]: 格式错误，应恰有 2 项，实有 1 项"]),
    (lambda r: r.update(expert_conflicts=[["EX-1", 5]]), ["expert_conflicts[0][1]: 格式错误，应为字符串，实为数字"]),
    (lambda r: r.update(expert_conflicts="x"), ["expert_conflicts: 格式错误，应为数组，实为字符串"]),
    (lambda r: r.update(expert_conflicts=["x"]),
     ["expert_conflicts[0]: 格式错误，应为[专家编号, 检查对象编号] 数组，实为字符串"]),
])
def test_malformed_expert_facts(change, complaints):
    record = with_experts()
    change(record)
    assert verify_record(record).differences == complaints


def test_malformed_committed_experts():
    inputs = {k: copy.deepcopy(CASE[k]) for k in ("task", "plan", "targets", "inspectors", "conflicts", "dice")}
    inputs["plan"]["experts"] = [{"group": "0", "id": 1}, "EX"]
    record = compute_record(inputs)
    record["expert_recusals"] = []
    assert verify_record(record).differences == ["plan.experts[0].group: 格式错误，应为整数，实为字符串",
                                                 "plan.experts[0].id: 格式错误，应为字符串，实为数字",
                                                 "plan.experts[1]: 格式错误，应为对象，实为字符串"]
    inputs["plan"]["experts"] = {"group": 0}
    record = compute_record(inputs)
    record["expert_recusals"] = []
    assert verify_record(record).differences == ["plan.experts: 格式错误，应为数组，实为对象"]
    record.pop("expert_recusals")  # without recusals published there is nothing to check
    assert verify_record(record).ok
