"""The record verifier and `shuangsui draw verify FILE`."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from backend.draws.algorithm import compute_record
from backend.draws.cli import verify_command
from backend.draws.verify import verify_record

VECTORS_PATH = Path(__file__).parents[2] / "data" / "draw-vectors.json"
VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
CASES = VECTORS["draws"]
CONFLICTS = CASES[1]  # the case with a replacement


def tampered(case=CONFLICTS):
    return copy.deepcopy(case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["task"])
def test_vectors_match(case):
    report = verify_record(case)
    assert report.ok, report.differences
    assert report.differences == []
    assert report.commitment == case["commitment"] and report.seed == case["seed"]


def test_extra_keys_are_ignored():
    record = tampered()
    record.update(name="某某", witnesses=["张三"], excluded=[{"id": "x", "reason": "deregistered"}])
    record["result"]["reserve"] = {"A": []}
    record["result"]["groups"][0]["names"] = {}
    assert verify_record(record).ok


def test_swapped_selected_target():
    record = tampered()
    sel = record["result"]["selected"]["C"]
    sel[2], sel[3] = sel[3], sel[2]
    report = verify_record(record)
    assert not report.ok
    # both positions, and nothing else: groups are not affected by order within a stratum
    assert report.differences == [f"result.selected.C[2]: 记录为 {sel[2]}，重新计算为 {sel[3]}",
                                  f"result.selected.C[3]: 记录为 {sel[3]}，重新计算为 {sel[2]}"]


def test_selected_target_replaced_by_another_candidate():
    record = tampered()
    chosen = set(record["result"]["selected"]["A"])
    other = next(t["id"] for t in record["targets"] if t["stratum"] == "A" and t["id"] not in chosen)
    original = record["result"]["selected"]["A"][1]
    record["result"]["selected"]["A"][1] = other
    for g in record["result"]["groups"]:
        g["targets"] = [other if t == original else t for t in g["targets"]]
    report = verify_record(record)
    assert report.differences[0] == f"result.selected.A[1]: 记录为 {other}，重新计算为 {original}"


def test_changed_dice():
    record = tampered()
    record["dice"] = "1" + record["dice"][1:]
    report = verify_record(record)
    assert not report.ok
    assert report.differences[0].startswith(f"seed: 记录为 {CONFLICTS['seed']}，由 commitment 与 dice 重新计算为 ")
    assert report.commitment == CONFLICTS["commitment"]


def test_dice_and_seed_both_redone_with_the_result_kept():
    record = tampered()
    record["dice"] = "9" * 20
    record["seed"] = compute_record(record)["seed"]  # consistent seed, but the published result is the old one
    report = verify_record(record)
    assert report.differences[0].startswith("result.selected.A[0]: 记录为 ")


def test_candidate_removed_after_commitment():
    record = tampered()
    unselected = {i for v in record["result"]["selected"].values() for i in v}
    record["targets"] = [t for t in record["targets"] if t["id"] not in unselected][:-1] + [
        t for t in record["targets"] if t["id"] in unselected
    ]
    report = verify_record(record)
    assert not report.ok
    assert report.differences[0].startswith(f"commitment: 记录为 {CONFLICTS['commitment']}，由 task、plan、targets、")
    # consistent sampling: removing someone not drawn changes nothing else
    assert len(report.differences) == 1


def test_selected_candidate_removed_after_commitment():
    record = tampered()
    gone = record["result"]["selected"]["B"][0]
    record["targets"] = [t for t in record["targets"] if t["id"] != gone]
    report = verify_record(record)
    assert report.differences[0].startswith("commitment: ")
    assert any(d.startswith("result.selected.B[0]: 记录为 " + gone) for d in report.differences)


@pytest.mark.parametrize("field", ["plan", "inspectors"])
def test_changed_plan_or_roster_breaks_the_commitment(field):
    record = tampered()
    if field == "plan":
        record["plan"]["group_load"] = 6
    else:
        record["inspectors"][0]["dept"] = "EPB" if record["inspectors"][0]["dept"] != "EPB" else "HRSS"
    assert verify_record(record).differences[0].startswith("commitment: ")


def test_another_leader():
    record = tampered()
    group = record["result"]["groups"][2]
    right = group["leader"]
    group["leader"] = "SAMR-000000"
    report = verify_record(record)
    assert report.differences == [f"result.groups[2].leader: 记录为 SAMR-000000，重新计算为 {right}"]


def test_swapped_group_members():
    record = tampered(CASES[0])
    members = record["result"]["groups"][1]["members"]["SAMR"]
    members.reverse()
    report = verify_record(record)
    assert report.differences[0] == f"result.groups[1].members.SAMR[0]: 记录为 {members[0]}，重新计算为 {members[1]}"


def test_changed_replacement():
    record = tampered()
    rep = record["result"]["replacements"][0]
    right = rep["in"]
    rep["in"] = "EPB-971842"
    report = verify_record(record)
    assert report.differences == [f"result.replacements[0].in: 记录为 EPB-971842，重新计算为 {right}"]


def test_missing_and_extra_replacement():
    record = tampered()
    right = record["result"]["replacements"][0]
    record["result"]["replacements"] = []
    assert verify_record(record).differences == [
        "result.replacements: 记录只有 0 项回避替换，重新计算有 1 项",
        f"result.replacements[0]: 记录中缺少 {json.dumps(right, ensure_ascii=False, separators=(',', ':'))}"]
    record = tampered()
    record["result"]["replacements"] += [dict(right, group=3), dict(right, group=4)]
    assert verify_record(record).differences == [
        "result.replacements: 记录有 3 项回避替换，重新计算只有 1 项",
        f'result.replacements[1]: 记录中多出 {{"group":3,"target":"{right["target"]}","dept":"EPB",'
        f'"out":"{right["out"]}","in":"{right["in"]}"}}',
        f'result.replacements[2]: 记录中多出 {{"group":4,"target":"{right["target"]}","dept":"EPB",'
        f'"out":"{right["out"]}","in":"{right["in"]}"}}']


def test_group_count_and_list_lengths():
    record = tampered()
    last = record["result"]["groups"].pop()
    gone = record["result"]["selected"]["D"].pop()
    record["result"]["selected"]["C"] += ["X1", "X2"]
    assert verify_record(record).differences == [
        "result.selected.C: 记录有 41 项，重新计算只有 39 项",
        "result.selected.C[39]: 记录为 X1，重新计算没有该项",
        "result.selected.C[40]: 记录为 X2，重新计算没有该项",
        "result.selected.D: 记录只有 39 项，重新计算有 40 项",
        f"result.selected.D[39]: 记录中缺少，重新计算为 {gone}",
        "result.groups: 记录有 18 组，重新计算有 19 组",
        f"result.groups[18]: 记录中缺少该组，重新计算有 {len(last['targets'])} 个检查对象",
    ]
    record = tampered()
    record["result"]["groups"] += [record["result"]["groups"][0]] * 2
    assert verify_record(record).differences == ["result.groups: 记录有 21 组，重新计算有 19 组",
                                                 "result.groups[19]: 记录中多出该组，重新计算没有",
                                                 "result.groups[20]: 记录中多出该组，重新计算没有"]


def test_order_of_differences():
    record = tampered()
    record["algorithm"] = "dsr/v2"
    assert verify_record(record).differences == ["algorithm: 记录为 dsr/v2，本验证程序只支持 dsr/v1"]
    record = tampered()
    record["targets"].pop()
    record["dice"] = "0" * 20
    record["result"]["groups"][0]["leader"] = "x"
    differences = verify_record(record).differences
    assert differences[0].startswith("commitment: ")
    assert differences[1].startswith("seed: ")
    assert differences[-1].startswith("result.groups[0].leader: ")


def test_unsatisfiable_record_is_reported():
    record = tampered()
    record["inspectors"] = [i for i in record["inspectors"] if i["dept"] != "HRSS"][:]
    differences = verify_record(record).differences
    assert differences[0].startswith("commitment: ")
    assert differences[-1] == "result: 无法重新计算抽取结果：部门 HRSS 可抽取的检查人员不足：现有 0 人，需要 19 人"


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda r: r.pop("task"), "task: 缺失"),
        (lambda r: r.update(targets={"a": 1}), "targets: 格式错误，应为数组，实为对象"),
        (lambda r: r["targets"].__setitem__(3, "91"), "targets[3]: 格式错误，应为对象，实为字符串"),
        (lambda r: r["targets"][3].__setitem__("id", 5), "targets[3].id: 格式错误，应为字符串，实为数字"),
        (lambda r: r["inspectors"][0].pop("dept"), "inspectors[0].dept: 缺失"),
        (lambda r: r["conflicts"].__setitem__(0, ["a"]), "conflicts[0]: 格式错误，应恰有 2 项，实有 1 项"),
        (lambda r: r["conflicts"].__setitem__(0, ["a", None]), "conflicts[0][1]: 格式错误，应为字符串，实为null"),
        (lambda r: r.update(seed=None), "seed: 格式错误，应为字符串，实为null"),
        (lambda r: r.update(plan=[]), "plan: 格式错误，应为对象，实为数组"),
        (lambda r: r.pop("result"), "result: 缺失"),
        (lambda r: r.update(result=[]), "result: 格式错误，应为对象，实为数组"),
        (lambda r: r["result"].pop("groups"), "result.groups: 缺失"),
        (lambda r: r["result"]["selected"].update(A="x"), "result.selected.A: 格式错误，应为字符串数组，实为字符串"),
        (lambda r: r["result"]["groups"][1]["members"].update(EPB=[1]),
         "result.groups[1].members.EPB[0]: 格式错误，应为字符串，实为数字"),
        (lambda r: r["result"]["groups"][1].update(leader=None), "result.groups[1].leader: 格式错误，应为字符串，实为null"),
        (lambda r: r["result"]["replacements"][0].update(group="0"),
         "result.replacements[0].group: 格式错误，应为整数，实为字符串"),
        (lambda r: r["result"]["replacements"][0].update(group=True),
         "result.replacements[0].group: 格式错误，应为整数，实为布尔值"),
        (lambda r: r["plan"].update(group_load=float("nan")), "plan: 无法按 RFC 8785 规范化（"),
    ],
)
def test_malformed_records_are_reported_not_raised(mutate, complaint):
    record = tampered()
    mutate(record)
    report = verify_record(record)
    assert not report.ok
    assert any(d.startswith(complaint) for d in report.differences), report.differences
    assert all(d.endswith("）") for d in report.differences if d.startswith("plan: 无法按"))


def test_every_shape_complaint_is_listed():
    """No cap: 30 bad targets, 25 bad group target lists and 3 bad replacements give 58 named complaints."""
    record = tampered()
    for n in range(30):
        record["targets"][n]["id"] = n
    assert verify_record(record).differences == [
        f"targets[{n}].id: 格式错误，应为字符串，实为数字" for n in range(30)]
    record = tampered()
    groups = record["result"]["groups"]
    for g in range(19):
        groups[g]["targets"] = [1, None]
    groups[0].pop("targets")
    groups[1]["targets"] = "x"
    record["result"]["replacements"] = ["r", {"group": 1.5}, 7]
    differences = verify_record(record).differences
    assert differences[:3] == ["result.groups[0].targets: 缺失", "result.groups[1].targets: 格式错误，应为字符串数组，实为字符串",
                               "result.groups[2].targets[0]: 格式错误，应为字符串，实为数字"]
    assert differences[3] == "result.groups[2].targets[1]: 格式错误，应为字符串，实为null"
    assert differences[-1] == "result.replacements[2]: 格式错误，应为对象，实为数字"
    assert len(differences) == 2 + 17 * 2 + 1 + 5 + 1
    assert not any(d.startswith("记录: 无法验证") for d in differences)


def test_missing_and_extra_stratum():
    record = tampered()
    b = record["result"]["selected"].pop("B")
    record["result"]["selected"]["E"] = ["x"]
    assert verify_record(record).differences == ["result.selected.B: 记录中缺少该分层，重新计算有 12 项",
                                                 "result.selected.E: 记录中多出该分层，重新计算没有"]
    assert len(b) == 12


def test_extra_and_missing_department_in_a_group():
    record = tampered()
    members = record["result"]["groups"][4]["members"]
    members.pop("EPB")
    members["XYZ"] = []
    assert verify_record(record).differences == ["result.groups[4].members.EPB: 记录中缺少该部门，重新计算有 1 项",
                                                 "result.groups[4].members.XYZ: 记录中多出该部门，重新计算没有"]


def test_every_difference_of_every_group_is_listed():
    record = tampered()
    rights = []
    for g in (1, 5, 9):
        rights.append(record["result"]["groups"][g]["leader"])
        record["result"]["groups"][g]["leader"] = f"L{g}"
    record["result"]["groups"][9]["targets"] = list(reversed(record["result"]["groups"][9]["targets"]))
    differences = verify_record(record).differences
    t = tampered()["result"]["groups"][9]["targets"]
    assert differences == [
        f"result.groups[1].leader: 记录为 L1，重新计算为 {rights[0]}",
        f"result.groups[5].leader: 记录为 L5，重新计算为 {rights[1]}",
        *[f"result.groups[9].targets[{i}]: 记录为 {t[-1 - i]}，重新计算为 {t[i]}" for i in range(len(t))
          if t[i] != t[-1 - i]],
        f"result.groups[9].leader: 记录为 L9，重新计算为 {rights[2]}",
    ]


@pytest.mark.parametrize("value", [None, [], "record", 3, {}])
def test_not_a_record(value):
    report = verify_record(value)
    assert not report.ok and report.differences[0] in ("记录: 应为 JSON 对象", "algorithm: 缺失，本验证程序只支持 dsr/v1")
    assert report.seeded and report.commitment is None and report.seed is None


def test_random_damage_never_raises():
    rng = random.Random(2026)
    junk = [None, True, 0, -1, 2.5, "", "x", [], {}, ["a", "b"], {"id": 1}, 10**30]

    def paths(obj, prefix=()):
        yield prefix
        if isinstance(obj, dict):
            for k, v in list(obj.items())[:6]:
                yield from paths(v, (*prefix, k))
        elif isinstance(obj, list):
            for i, v in enumerate(obj[:3]):
                yield from paths(v, (*prefix, i))

    base = tampered(CASES[0])
    all_paths = [p for p in paths(base) if p]
    for _ in range(300):
        record = copy.deepcopy(base)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(all_paths)
            node = record
            try:
                for key in path[:-1]:
                    node = node[key]
                if rng.random() < 0.3 and isinstance(node, dict):
                    node.pop(path[-1], None)
                else:
                    node[path[-1]] = copy.deepcopy(rng.choice(junk))
            except (KeyError, IndexError, TypeError):
                continue
        report = verify_record(record)
        assert report.ok == (report.differences == [])
        # every problem is a named complaint, never the catch-all for an internal error
        assert not any(d.startswith("记录: 无法验证") for d in report.differences), (record, report.differences)


# --------------------------------------------------------------------------- command line


@pytest.fixture
def runner():
    return CliRunner()


def write(tmp_path, data, name="record.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["task"])
def test_cli_match(runner, tmp_path, case):
    result = runner.invoke(verify_command, [write(tmp_path, case)])
    assert result.exit_code == 0, result.output
    assert result.output == "MATCH\n"


def test_cli_accepts_a_byte_order_mark(runner, tmp_path):
    result = runner.invoke(verify_command, [write(tmp_path, "\ufeff" + json.dumps(CASES[0]))])
    assert result.exit_code == 0 and result.output == "MATCH\n"


def test_cli_stdin(runner):
    result = runner.invoke(verify_command, ["-"], input=json.dumps(CASES[0]))
    assert result.exit_code == 0 and result.output == "MATCH\n"


def test_cli_mismatch_prints_every_difference(runner, tmp_path):
    record = tampered()
    record["dice"] = "0" * 20
    record["result"]["groups"][0]["leader"] = "x"
    record["result"]["groups"][1]["leader"] = "y"
    result = runner.invoke(verify_command, [write(tmp_path, record)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines == ["不一致：共 3 处不同", *verify_record(record).differences]
    assert lines[1].startswith("seed: 记录为 ")
    assert lines[2].startswith("result.groups[0].leader: 记录为 x，") and lines[3].startswith("result.groups[1].")


def test_cli_vectors_file(runner):
    result = runner.invoke(verify_command, [str(VECTORS_PATH)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"draws[{n}] {c['task']}: MATCH" for n, c in enumerate(CASES)
    ] + [f"MATCH（{len(CASES)} 条记录全部一致）"]


def test_cli_vectors_file_with_a_bad_entry(runner, tmp_path):
    data = copy.deepcopy(VECTORS)
    data["draws"][1]["result"]["replacements"][0]["out"] = "EPB-1"
    data["draws"][1]["result"]["replacements"][0]["in"] = "EPB-2"
    data["draws"].append("junk")
    result = runner.invoke(verify_command, [write(tmp_path, data)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"draws[0] {CASES[0]['task']}: MATCH"
    assert lines[1] == f"draws[1] {CASES[1]['task']}: 不一致：共 2 处不同"
    assert lines[2].startswith("  result.replacements[0].out: 记录为 EPB-1，")
    assert lines[3].startswith("  result.replacements[0].in: 记录为 EPB-2，")
    assert lines[4] == f"draws[2] {CASES[2]['task']}: MATCH"
    assert lines[5:] == ["draws[3]: 不一致：共 1 处不同", "  记录: 应为 JSON 对象", "不一致：4 条记录中 2 条未通过验证"]


@pytest.mark.parametrize("text", ["{not json", "", '{"a": 1'])
def test_cli_invalid_json_exits_2(runner, tmp_path, text):
    result = runner.invoke(verify_command, [write(tmp_path, text)])
    assert result.exit_code == 2
    assert "不是有效的 JSON" in result.output


def test_cli_unreadable_file_exits_2(runner, tmp_path):
    result = runner.invoke(verify_command, [str(tmp_path / "missing.json")])
    assert result.exit_code == 2
    assert "无法读取文件" in result.output
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00")
    result = runner.invoke(verify_command, [str(tmp_path / "bin.json")])
    assert result.exit_code == 2


def test_cli_valid_json_that_is_not_a_record_exits_1(runner, tmp_path):
    result = runner.invoke(verify_command, [write(tmp_path, "[1, 2]")])
    assert result.exit_code == 1
    assert result.output == "不一致：共 1 处不同\n记录: 应为 JSON 对象\n"


# --------------------------------------------------------------------------- the checker in docs/draw.md


def test_standalone_verifier_in_the_docs(tmp_path):
    """docs/draw.md lists a short checker for readers; it must stay true."""
    import subprocess
    import sys

    doc = (Path(__file__).parents[3] / "docs" / "draw.md").read_text(encoding="utf-8")
    code = doc.split("<!-- standalone-verifier -->", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "check.py"
    script.write_text(code, encoding="utf-8")
    from tests.unit.draws.test_verify_facts import honest

    def run(record, name):
        return subprocess.run([sys.executable, str(script), write(tmp_path, record, name)], capture_output=True,
                              text=True, check=True).stdout

    for n, case in enumerate([*CASES, honest()]):
        assert run(case, f"case-{n}.json") == "commitment True seed True result True replacements True\n"
    bad = tampered()
    bad["result"]["groups"][0]["leader"] = "x"
    assert run(bad, "bad.json") == "commitment True seed True result False replacements True\n"
    for n, (key, value) in enumerate([("in", "x"), ("out", "x"), ("reason", "unreachable")]):
        bad = honest()
        bad["target_replacements"][1][key] = value
        assert run(bad, f"bad-{n}.json") == "commitment True seed True result True replacements False\n"


# --------------------------------------------------------------------------- every complaint, word for word


def _set(path, value):
    def change(record):
        node = record
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _drop(path):
    def change(record):
        node = record
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return change


@pytest.mark.parametrize(("change", "complaints"), [
    (_set(("task",), 7), ["task: 格式错误，应为字符串，实为数字"]),
    (_set(("plan",), "p"), ["plan: 格式错误，应为对象，实为字符串"]),
    (_set(("targets",), ("a",)), ["targets: 格式错误，应为数组，实为tuple"]),
    (_drop(("inspectors",)), ["inspectors: 缺失"]),
    (_set(("inspectors", 1), None), ["inspectors[1]: 格式错误，应为对象，实为null"]),
    (_set(("inspectors", 1, "dept"), ["SAMR"]), ["inspectors[1].dept: 格式错误，应为字符串，实为数组"]),
    (_set(("conflicts",), {}), ["conflicts: 格式错误，应为数组，实为对象"]),
    (_set(("conflicts", 0), "x|y"), ["conflicts[0]: 格式错误，应为[检查人员编号, 检查对象编号] 数组，实为字符串"]),
    (_set(("conflicts", 0), ["a", "b", "c"]), ["conflicts[0]: 格式错误，应恰有 2 项，实有 3 项"]),
    (_set(("conflicts", 0), [1, True]), ["conflicts[0][0]: 格式错误，应为字符串，实为数字",
                                         "conflicts[0][1]: 格式错误，应为字符串，实为布尔值"]),
    (_set(("commitment",), None), ["commitment: 格式错误，应为字符串，实为null"]),
    (_set(("dice",), 31415926535897932384), ["dice: 格式错误，应为字符串，实为数字"]),
    (_drop(("seed",)), ["seed: 缺失"]),
    (_set(("result", "selected"), []), ["result.selected: 格式错误，应为对象，实为数组"]),
    (_drop(("result", "selected")), ["result.selected: 缺失"]),
    (_set(("result", "groups"), {}), ["result.groups: 格式错误，应为数组，实为对象"]),
    (_set(("result", "groups", 3), "g"), ["result.groups[3]: 格式错误，应为对象，实为字符串"]),
    (_set(("result", "groups", 3, "members"), []), ["result.groups[3].members: 格式错误，应为对象，实为数组"]),
    (_drop(("result", "groups", 3, "leader")), ["result.groups[3].leader: 缺失"]),
    (_set(("result", "groups", 3, "leader"), 1), ["result.groups[3].leader: 格式错误，应为字符串，实为数字"]),
    (_set(("result", "replacements"), None), ["result.replacements: 格式错误，应为数组，实为null"]),
    (_drop(("result", "replacements")), ["result.replacements: 缺失"]),
    (_set(("result", "replacements", 0), []), ["result.replacements[0]: 格式错误，应为对象，实为数组"]),
    (_set(("result", "replacements", 0, "in"), 0), ["result.replacements[0].in: 格式错误，应为字符串，实为数字"]),
    (_drop(("result", "replacements", 0, "dept")), ["result.replacements[0].dept: 缺失"]),
])
def test_every_complaint_word_for_word(change, complaints):
    record = tampered()
    change(record)
    assert verify_record(record).differences == complaints


@pytest.mark.parametrize("key", ["id", "stratum"])
def test_every_target_malformed_the_same_way(key):
    record = tampered()
    for t in record["targets"]:
        t[key] = 0
    differences = verify_record(record).differences
    assert differences == [f"targets[{n}].{key}: 格式错误，应为字符串，实为数字" for n in range(len(record["targets"]))]


@pytest.mark.parametrize(("present", "complaints"), [
    ({"seed": "ab"}, ["dice: 格式错误，应为字符串，实为null"]),
    ({"result": {}}, ["dice: 格式错误，应为字符串，实为null", "seed: 格式错误，应为字符串，实为null"]),
    ({"dice": "1" * 20}, ["seed: 格式错误，应为字符串，实为null"]),
])
def test_any_of_dice_seed_result_makes_a_seeded_record(present, complaints):
    record = tampered()
    record.update({"dice": None, "seed": None, "result": None, **present})
    report = verify_record(record)
    assert report.differences == complaints and report.seeded


def test_long_and_non_ascii_values_are_shown_whole_up_to_200_characters():
    record = tampered()
    rep = dict(record["result"]["replacements"][0], target="企业" * 100)
    record["result"]["replacements"].append(rep)
    shown = json.dumps(rep, ensure_ascii=False, separators=(",", ":"))
    assert len(shown) > 200
    assert verify_record(record).differences[-1] == f"result.replacements[1]: 记录中多出 {shown[:197]}..."
    rep["target"] = "企" * (200 - len(shown) + 200)  # exactly 200 characters
    exact = json.dumps(rep, ensure_ascii=False, separators=(",", ":"))
    assert len(exact) == 200
    assert verify_record(record).differences[-1] == f"result.replacements[1]: 记录中多出 {exact}"
    rep["target"] += "业"  # 201: cut
    longer = json.dumps(rep, ensure_ascii=False, separators=(",", ":"))
    assert verify_record(record).differences[-1] == f"result.replacements[1]: 记录中多出 {longer[:197]}..."


def test_an_internal_error_is_reported_not_raised(monkeypatch):
    import backend.draws.verify as verify

    def broken(record):
        raise RuntimeError("boom")

    monkeypatch.setattr(verify, "record_commitment", broken)
    report = verify_record(tampered())
    assert not report.ok and report.differences == ["记录: 无法验证（RuntimeError: boom）"]
    assert report.verdict == "验证未通过：共 1 处不同"
