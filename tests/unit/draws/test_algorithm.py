"""The draw algorithm dsr/v1: the shared test vectors bit for bit, then the rules."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import random
from pathlib import Path

import pytest

from backend.draws.algorithm import (
    ALGORITHM,
    DrawError,
    InvalidInput,
    InvalidPlan,
    NoReplacement,
    TooFewInspectors,
    canonical_json,
    commitment,
    compute_record,
    draw,
    rank_smallest,
    record_inputs,
    seed_from,
    stratum_size,
    ticket,
    ticketer,
    validate_plan,
)

VECTORS = json.loads((Path(__file__).parents[2] / "data" / "draw-vectors.json").read_text(encoding="utf-8"))
CASES = VECTORS["draws"]
SEED = "5" * 64
PLAN = {"strata": {"all": {"num": 1, "den": 2}}, "lead": "SAMR", "members": {"SAMR": 1, "TAX": 1}, "group_load": 2}


def ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(n)]


# --------------------------------------------------------------------------- vectors


@pytest.mark.parametrize("vector", VECTORS["tickets"], ids=lambda v: "|".join(v["parts"]))
def test_ticket_vectors(vector):
    assert VECTORS["algorithm"] == ALGORITHM
    assert ticket(vector["seed"], *vector["parts"]).hex() == vector["ticket"]
    *prefix, last = vector["parts"]
    assert ticketer(vector["seed"], *prefix)(last).hex() == vector["ticket"]
    assert ticketer(vector["seed"])("|".join(vector["parts"])).hex() == vector["ticket"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["task"])
def test_draw_vectors(case):
    record = compute_record({k: case[k] for k in ("algorithm", "task", "plan", "targets", "inspectors", "conflicts",
                                                  "dice")})
    assert record["commitment"] == case["commitment"]
    assert record["seed"] == case["seed"]
    assert record["result"] == case["result"]
    # the result's JSON is the published one, key order aside
    assert canonical_json(record["result"]) == canonical_json(case["result"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["task"])
def test_draw_vectors_step_by_step(case):
    c = commitment(case["task"], case["plan"], ((t["stratum"], t["id"]) for t in case["targets"]),
                   ((i["dept"], i["id"]) for i in case["inspectors"]))
    assert c.plan_hash == hashlib.sha256(canonical_json(case["plan"])).hexdigest()
    assert c.commitment == case["commitment"]
    assert seed_from(c.commitment, case["dice"]) == case["seed"]
    targets, inspectors, conflicts = record_inputs(case)
    result = draw(case["task"], case["plan"], targets, inspectors, conflicts, case["seed"])
    assert result.to_record_result() == case["result"]
    # invariants the record does not show
    for s, selected in result.selected.items():
        n = len(targets.get(s, ()))
        k = stratum_size(n, case["plan"]["strata"][s])
        assert len(selected) == k == len(case["result"]["selected"][s])
        assert len(result.target_reserve[s]) == min(n - k, max(20, -(-k // 5)))
        t = ticketer(case["seed"], "ent", case["task"])
        order = sorted(targets.get(s, []), key=lambda i: (t(i), i))
        assert selected + result.target_reserve[s] == order[: len(selected) + len(result.target_reserve[s])]
    for d, reserve in result.inspector_reserve.items():
        drawn = [i for g in result.groups for i in g.members.get(d, [])]
        assert sorted(drawn + reserve) == sorted(inspectors[d])
        assert not set(drawn) & set(reserve)


def test_vectors_pin_ceil_cap_min_and_one_replacement():
    """What the vectors settle (see docs/draw.md): ceil, not round; cap and min apply;
    a recusal takes the first reserve inspector without a conflict."""
    case = CASES[1]
    sizes = {s: len(v) for s, v in case["result"]["selected"].items()}
    n = {s: sum(t["stratum"] == s for t in case["targets"]) for s in sizes}
    assert n == {"A": 378, "B": 381, "C": 383, "D": 358}
    assert sizes == {"A": 4, "B": 12, "C": 39, "D": 40}  # B: 11.43 -> 12; D: 107.4 capped at 40
    assert case["result"]["replacements"] == [{"group": 0, "target": "914310002AJBUR7HBF", "dept": "EPB",
                                               "out": "EPB-094729", "in": "EPB-704918"}]


def test_ticket_is_plain_hmac_sha256():
    msg = "dsr/v1|ent|任务-1|91110000600037341L".encode()
    assert ticket("随机种子", "ent", "任务-1", "91110000600037341L") == hmac.new("随机种子".encode(), msg, "sha256").digest()
    long_seed = "x" * 100  # longer than a SHA-256 block: hashed first, as HMAC says
    assert ticketer(long_seed, "a")("b") == hmac.new(long_seed.encode(), b"dsr/v1|a|b", "sha256").digest()
    assert ticketer("", "a")("b") == hmac.new(b"", b"dsr/v1|a|b", "sha256").digest()


# --------------------------------------------------------------------------- commitment and seed


def test_commitment_sorts_lines_by_code_point_and_ignores_order():
    plan = {"b": 1, "a": [True, None, "中"]}
    targets = [("A", "2"), ("AB", "1"), ("A", "10")]
    inspectors = [("SAMR", "x"), ("EPB", "y")]
    c = commitment("T", plan, targets, inspectors)
    # lines sorted as whole strings: "AB|1" < "A|10" < "A|2" because "B" < "|"
    lines = "AB|1\nA|10\nA|2"
    assert c.targets_hash == hashlib.sha256(lines.encode()).hexdigest()
    assert c.inspectors_hash == hashlib.sha256(b"EPB|y\nSAMR|x").hexdigest()
    assert c.plan_hash == hashlib.sha256(b'{"a":[true,null,"\xe4\xb8\xad"],"b":1}').hexdigest()
    text = f"dsr/v1|commit|T\n{c.plan_hash}\n{c.targets_hash}\n{c.inspectors_hash}"
    assert c.commitment == hashlib.sha256(text.encode()).hexdigest()
    assert commitment("T", dict(reversed(plan.items())), reversed(targets), reversed(inspectors)) == c
    assert commitment("T", plan, targets[1:], inspectors).commitment != c.commitment


def test_commitment_of_nothing():
    c = commitment("T", PLAN, [], [])
    assert c.targets_hash == c.inspectors_hash == hashlib.sha256(b"").hexdigest()


def test_seed_from():
    assert seed_from("ab", "123") == hashlib.sha256(b"dsr/v1|seed|ab|123").hexdigest()


# --------------------------------------------------------------------------- stratum size


@pytest.mark.parametrize(
    ("n", "rule", "k"),
    [
        (100, {"num": 3, "den": 100}, 3),
        (101, {"num": 3, "den": 100}, 4),  # ceil(3.03)
        (381, {"num": 3, "den": 100}, 12),
        (10, {"num": 1, "den": 100}, 1),  # ceil(0.1)
        (0, {"num": 1, "den": 100, "min": 5}, 0),  # never more than N
        (3, {"num": 1, "den": 100, "min": 5}, 3),
        (300, {"num": 1, "den": 100, "min": 5}, 5),
        (1000, {"num": 30, "den": 100, "cap": 40}, 40),
        (1000, {"num": 1, "den": 100, "min": 50, "cap": 40}, 40),  # cap beats min
        (50, {"num": 0, "den": 1}, 0),
        (50, {"num": 3, "den": 2}, 50),  # a ratio above 1 takes everyone
        (10**12 + 1, {"num": 1, "den": 3}, 333333333334),  # integers, no float rounding
        (1000, {"num": 1, "den": 100, "cap": 0}, 0),
    ],
)
def test_stratum_size(n, rule, k):
    assert stratum_size(n, rule) == k


@pytest.mark.parametrize(("rule", "field"), [
    ({"num": 1, "den": 0}, "den"), ({"num": -1, "den": 5}, "num"), ({"num": 1, "den": 5, "min": -1}, "min"),
    ({"num": 1, "den": 5, "cap": -1}, "cap"), ({"num": 1.5, "den": 5}, "num"), ({"num": True, "den": 5}, "num"),
    ({"den": 5}, "num"), ({"num": 5}, "den")])
def test_stratum_size_rejects_bad_rules(rule, field):
    with pytest.raises(InvalidPlan) as err:
        stratum_size(10, rule)
    assert err.value.code == "draw.invalid_plan" and err.value.details["field"] == field


def test_min_and_cap_may_be_zero():
    assert stratum_size(10, {"num": 1, "den": 2, "min": 0, "cap": 0}) == 0
    validate_plan(small(strata={"A": {"num": 0, "den": 1, "min": 0, "cap": 0}}))  # no error
    with pytest.raises(InvalidPlan):
        validate_plan(small(strata={"A": {"num": 0, "den": 0}}))


# --------------------------------------------------------------------------- draw


def small(**changes):
    plan = copy.deepcopy(PLAN)
    plan.update(changes)
    return plan


def test_empty_stratum_and_reserve_sizes():
    plan = small(strata={"A": {"num": 1, "den": 2, "min": 3}, "B": {"num": 1, "den": 10}})
    r = draw("T", plan, {"A": ids("a", 10)}, {"SAMR": ids("s", 5), "TAX": ids("t", 5)}, [], SEED)
    assert r.selected["B"] == [] and r.target_reserve["B"] == [] and r.eligible == {"A": 10, "B": 0}
    assert len(r.selected["A"]) == 5 and len(r.target_reserve["A"]) == 5  # min(N-k, max(20, ...))
    assert [len(g.targets) for g in r.groups] == [2, 2, 1]
    assert r.to_record_result()["selected"] == {"A": r.selected["A"], "B": []}
    r2 = draw("T", plan, {"A": ids("a", 10)}, {"SAMR": ids("s", 5), "TAX": ids("t", 5)}, [], SEED, reserve=2)
    assert r2.selected == r.selected and r2.target_reserve["A"] == r.target_reserve["A"][:2]
    r3 = draw("T", plan, {"A": ids("a", 10)}, {"SAMR": ids("s", 5), "TAX": ids("t", 5)}, [], SEED,
              reserve=lambda n, k: n)
    assert r3.target_reserve["A"] == r.target_reserve["A"]
    many = draw("T", small(strata={"A": {"num": 1, "den": 2}}), {"A": ids("a", 400)},
                {"SAMR": ids("s", 100), "TAX": ids("t", 100)}, [], SEED)
    assert len(many.target_reserve["A"]) == 40  # ceil(200 / 5)


def test_everything_excluded_is_not_an_error():
    r = draw("T", PLAN, {}, {}, [("x", "y")], SEED)
    assert r.selected == {"all": []} and r.groups == [] and r.replacements == []
    assert r.inspector_reserve == {"SAMR": [], "TAX": []}
    assert r.to_record_result() == {"selected": {"all": []}, "groups": [], "replacements": []}


def test_too_few_inspectors_names_dept_have_need():
    with pytest.raises(TooFewInspectors) as err:
        draw("T", small(members={"SAMR": 1, "TAX": 2}), {"all": ids("a", 10)},
             {"SAMR": ids("s", 9), "TAX": ids("t", 4)}, [], SEED)
    e = err.value
    assert isinstance(e, DrawError)
    assert e.code == "draw.too_few_inspectors"
    assert e.details == {"dept": "TAX", "have": 4, "need": 6}  # 5 selected / 2 per group = 3 groups x 2
    assert e.message == "部门 TAX 可抽取的检查人员不足：现有 4 人，需要 6 人"
    with pytest.raises(TooFewInspectors) as err:  # a department with nobody at all
        draw("T", PLAN, {"all": ids("a", 4)}, {"SAMR": ids("s", 9)}, [], SEED)
    assert err.value.details == {"dept": "TAX", "have": 0, "need": 1}


def find_replacement_case():
    """A drawn member with a conflict, and the first reserve inspector with a conflict too."""
    targets = {"all": ids("e", 8)}
    inspectors = {"SAMR": ids("s", 4), "TAX": ids("t", 6)}
    r = draw("T", PLAN, targets, inspectors, [], SEED)
    group = r.groups[1]
    target = group.targets[1]
    out = group.members["TAX"][0]
    first, second = r.inspector_reserve["TAX"][:2]
    return targets, inspectors, r, target, out, first, second


def test_recusal_takes_the_next_reserve_inspector_without_conflict():
    targets, inspectors, plain, target, out, first, second = find_replacement_case()
    conflicts = [(out, target), (first, target), (out, "not-selected"), ("nobody", target)]
    r = draw("T", PLAN, targets, inspectors, conflicts, SEED)
    assert [x.to_record() for x in r.replacements] == [
        {"group": 1, "target": target, "dept": "TAX", "out": out, "in": second}
    ]
    # members stay as drawn, the leader too; only that target's visit changes
    assert r.groups == plain.groups
    assert r.inspector_reserve == plain.inspector_reserve


def test_a_replacement_is_used_once():
    targets, inspectors, plain, target, out, first, second = find_replacement_case()
    other = plain.groups[1].targets[0]
    r = draw("T", PLAN, targets, inspectors, [(out, target), (out, other)], SEED)
    # group order, then target order: `other` comes first in group 1
    assert [(x.target, x.in_) for x in r.replacements] == [(other, first), (target, second)]


def test_leader_recused_stays_leader_and_leader_uses_drawn_members():
    plan = small(members={"SAMR": 2, "TAX": 1})
    targets = {"all": ids("e", 6)}
    inspectors = {"SAMR": ids("s", 8), "TAX": ids("t", 3)}
    r = draw("T", plan, targets, inspectors, [], SEED)
    g = r.groups[0]
    lead = ticketer(SEED, "lead", "T", "0")
    assert g.leader == min(g.members["SAMR"], key=lambda i: (lead(i), i))
    conflicts = [(g.leader, e) for e in g.targets]
    r2 = draw("T", plan, targets, inspectors, conflicts, SEED)
    assert r2.groups[0].leader == g.leader
    assert [x.out for x in r2.replacements] == [g.leader] * len(g.targets)
    assert len({x.in_ for x in r2.replacements}) == len(g.targets)


def test_no_replacement_left():
    targets, inspectors, plain, target, out, first, second = find_replacement_case()
    reserve = plain.inspector_reserve["TAX"]
    with pytest.raises(NoReplacement) as err:
        draw("T", PLAN, targets, inspectors, [(out, target)] + [(i, target) for i in reserve], SEED)
    e = err.value
    assert e.code == "draw.no_replacement"
    assert e.details == {"group": 1, "target": target, "dept": "TAX", "inspector": out}
    assert e.message == (f"第 2 组：部门 TAX 的检查人员 {out} 须回避检查对象 {target}，"
                         "但该部门的备选人员中已没有可替换的人员")   # one-based, as the screens count groups


@pytest.fixture
def equal_tickets(monkeypatch):
    """Every ticket the same (never happens with HMAC): what is left to order them is the id."""
    import backend.draws.algorithm as algorithm

    class Same:
        def __init__(self, *args):
            pass

        def copy(self):
            return self

        def update(self, data):
            pass

        def digest(self):
            return b"\0" * 32

    monkeypatch.setattr(algorithm, "_states", lambda seed, parts: (Same, Same))


def test_tie_break_by_id(equal_tickets):
    """Equal tickets never happen with HMAC; force them to check the rule."""
    import backend.draws.algorithm as algorithm

    assert rank_smallest(SEED, ("ent",), ["b", "c", "a", "ab"], 3) == [(b"\0" * 32, x) for x in ("a", "ab", "b")]
    assert algorithm._order(SEED, ("x",), ["é", "z", "e"]) == ["e", "z", "é"]  # code point order


def test_ranking_is_partial_and_matches_full_sort():
    population = [f"9144{i:014d}" for i in range(20_000)]
    t = ticketer(SEED, "ent", "T")
    full = sorted((t(i), i) for i in population)
    for k in (0, 1, 7, 5000, 20_000, 30_000):
        assert rank_smallest(SEED, ("ent", "T"), population, k) == full[:k]


def test_rank_smallest_in_processes_gives_the_same_answer():
    population = [f"9144{i:014d}" for i in range(120_000)]
    one = rank_smallest(SEED, ("ent", "T"), population, 3000)
    assert rank_smallest(SEED, ("ent", "T"), population, 3000, processes=2) == one
    assert rank_smallest(SEED, ("ent", "T"), population, 3000, processes=3) == one


def test_draw_in_processes_gives_the_same_result():
    plan = small(strata={"all": {"num": 1, "den": 100}}, group_load=50)
    targets = {"all": [f"9144{i:014d}" for i in range(110_000)]}
    inspectors = {"SAMR": ids("s", 30), "TAX": ids("t", 30)}
    one = draw("T", plan, targets, inspectors, [], SEED)
    two = draw("T", plan, targets, inspectors, [], SEED, processes=2)
    assert len(one.selected["all"]) == 1100
    assert two == one


def test_targets_as_utf8_bytes_draw_the_same_in_one_process_or_several():
    """The app hands the frozen target lists over as UTF-8 bytes (``lists.load_grouped(as_bytes=True)``)."""
    case = CASES[1]
    targets, inspectors, conflicts = record_inputs(case)
    encoded = {s: [i.encode("utf-8") for i in v] for s, v in targets.items()}
    assert draw(case["task"], case["plan"], encoded, inspectors, conflicts, case["seed"], targets_unique=True) == draw(
        case["task"], case["plan"], targets, inspectors, conflicts, case["seed"])
    population = [f"9144{i:014d}é" for i in range(120_000)]
    one = rank_smallest(SEED, ("ent", "T"), population, 3000)
    raw = [i.encode("utf-8") for i in population]
    assert rank_smallest(SEED, ("ent", "T"), raw, 3000) == one
    assert rank_smallest(SEED, ("ent", "T"), raw, 3000, processes=2) == one
    assert rank_smallest(SEED, ("ent", "T"), [], 3) == []


def test_input_order_does_not_matter():
    case = CASES[1]
    targets, inspectors, conflicts = record_inputs(case)
    rng = random.Random(7)
    shuffled_t = {s: rng.sample(v, len(v)) for s, v in reversed(list(targets.items()))}
    shuffled_i = {d: rng.sample(v, len(v)) for d, v in reversed(list(inspectors.items()))}
    shuffled_c = rng.sample(conflicts, len(conflicts)) + conflicts[:3]  # duplicates are harmless
    plan = dict(reversed(list(case["plan"].items())))
    r = draw(case["task"], plan, shuffled_t, shuffled_i, shuffled_c, case["seed"])
    assert r.to_record_result() == case["result"]


def test_filtering_first_equals_skipping_afterwards():
    population = ids("e", 300)
    excluded = set(population[::3])
    t = ticketer(SEED, "ent", "T")
    everyone = [i for _, i in sorted((t(i), i) for i in population)]
    r = draw("T", small(members={"SAMR": 1}), {"all": [i for i in population if i not in excluded]},
             {"SAMR": ids("s", 200)}, [], SEED)
    assert r.selected["all"] == [i for i in everyone if i not in excluded][:100]


# --------------------------------------------------------------------------- invalid input


@pytest.mark.parametrize(
    ("plan", "field", "reason"),
    [
        ("x", "plan", "必须是对象"),
        (small(lead="EPB"), "plan.lead", "牵头部门 EPB 不在 plan.members 中"),
        (small(lead=None), "plan.lead", "必须是牵头部门代码"),
        (small(lead=""), "plan.lead", "必须是牵头部门代码"),
        (small(members={"SAMR": 0, "TAX": 1}), "plan.members.SAMR", "牵头部门每组至少 1 人"),
        (small(members={"SAMR": 1, "TAX": -1}), "plan.members.TAX", "不能小于 0"),
        (small(members={"SAMR": "2"}), "plan.members.SAMR", "必须是整数"),
        (small(members={"SAMR": True}), "plan.members.SAMR", "必须是整数"),
        (small(members={}), "plan.members", "必须是非空对象（部门 → 每组人数）"),
        (small(members=["SAMR"]), "plan.members", "必须是非空对象（部门 → 每组人数）"),
        (small(members={"SAMR": 1, "T\rX": 1}), "plan.members.T\rX", "不能包含 “|” 或换行符"),
        (small(members={"SAMR": 1, "": 1}), "plan.members.", "必须是非空字符串"),
        (small(group_load=0), "plan.group_load", "不能小于 1"),
        (small(group_load=2.5), "plan.group_load", "必须是整数"),
        ({k: v for k, v in PLAN.items() if k != "group_load"}, "plan.group_load", "缺失"),
        (small(strata={}), "plan.strata", "必须是非空对象（分层 → 比例）"),
        (small(strata=[]), "plan.strata", "必须是非空对象（分层 → 比例）"),
        (small(strata={"A": {"num": 1, "den": 0}}), "plan.strata.A.den", "不能小于 1"),
        (small(strata={"A": {"num": 1, "den": -3}}), "plan.strata.A.den", "不能小于 1"),
        (small(strata={"A": {"num": -1, "den": 3}}), "plan.strata.A.num", "不能小于 0"),
        (small(strata={"A": {"num": 1, "den": 3, "cap": -1}}), "plan.strata.A.cap", "不能小于 0"),
        (small(strata={"A": {"num": 1, "den": 3, "min": "2"}}), "plan.strata.A.min", "必须是整数"),
        (small(strata={"A": {"num": 1, "den": 3, "mim": 2, "cax": 1}}), "plan.strata.A.cax",
         "不是可识别的字段（只允许 num、den、min、cap）"),
        (small(strata={"A": {"den": 3}}), "plan.strata.A.num", "缺失"),
        (small(strata={"A": {"num": 3}}), "plan.strata.A.den", "缺失"),
        (small(strata={"A": 0.05}), "plan.strata.A", "必须是对象"),
        (small(strata={"A|B": {"num": 1, "den": 3}}), "plan.strata.A|B", "不能包含 “|” 或换行符"),
        (small(strata={"A\nB": {"num": 1, "den": 3}}), "plan.strata.A\nB", "不能包含 “|” 或换行符"),
    ],
)
def test_invalid_plan(plan, field, reason):
    with pytest.raises(InvalidPlan) as err:
        draw("T", plan, {}, {}, [], SEED)
    assert err.value.code == "draw.invalid_plan"
    assert err.value.details == {"field": field, "reason": reason}
    assert err.value.message == f"抽查方案无效：{field} {reason}"


def test_extra_plan_fields_are_allowed_and_committed():
    plan = small(name="2026 年第一批", items=["SC-1"])
    r = draw("T", plan, {"all": ids("a", 4)}, {"SAMR": ids("s", 2), "TAX": ids("t", 2)}, [], SEED)
    assert len(r.groups) == 1
    assert commitment("T", plan, [], []).plan_hash != commitment("T", PLAN, [], []).plan_hash


@pytest.mark.parametrize(
    ("task", "targets", "inspectors", "field", "reason"),
    [
        ("T", {"all": ["a", "b", "a"]}, {}, "targets", "编号 a 重复出现（all、all）"),
        ("T", {"all": ["a"], "X": ["b"]}, {}, "targets[X]", "分层 X 不在抽查方案 plan.strata 中"),
        ("T", {"all": ["a"]}, {"SAMR": ["s1"], "TAX": ["s1"]}, "inspectors", "编号 s1 重复出现（SAMR、TAX）"),
        ("T", {"all": ["a"]}, {"SAMR": ["s1"], "EPB": ["e1"]}, "inspectors[EPB]", "部门 EPB 不在抽查方案 plan.members 中"),
        ("T", {"all": ["a"]}, {"SAMR": ["s|1"], "TAX": ["t"]}, "inspectors.id", "不能包含 “|” 或换行符"),
        ("T", {"all": ["a\n"]}, {"SAMR": ["s"], "TAX": ["t"]}, "targets.id", "不能包含 “|” 或换行符"),
        ("T", {"all": ["a\r"]}, {"SAMR": ["s"], "TAX": ["t"]}, "targets.id", "不能包含 “|” 或换行符"),
        ("T", {"all": [""]}, {"SAMR": ["s"], "TAX": ["t"]}, "targets.id", "必须是非空字符串"),
        ("T|1", {}, {}, "task", "不能包含 “|” 或换行符"),
        ("", {}, {}, "task", "必须是非空字符串"),
        (None, {}, {}, "task", "必须是非空字符串"),
    ],
)
def test_invalid_input(task, targets, inspectors, field, reason):
    with pytest.raises(InvalidInput) as err:
        draw(task, PLAN, targets, inspectors, [], SEED)
    assert err.value.code == "draw.invalid_input"
    assert err.value.details["field"] == field and err.value.details["reason"] == reason
    assert err.value.message == f"抽取名单无效：{field} {reason}"


def test_targets_vouched_unique_are_not_checked_and_draw_the_same():
    targets = {"all": ids("a", 8)}
    inspectors = {"SAMR": ids("s", 4), "TAX": ids("t", 4)}
    assert draw("T", PLAN, targets, inspectors, [], SEED, targets_unique=True) == draw(
        "T", PLAN, targets, inspectors, [], SEED)
    draw("T", PLAN, {"all": ["a", "b", "a"]}, {"SAMR": ["s"], "TAX": ["t"]}, [], SEED, targets_unique=True)
    with pytest.raises(InvalidInput):   # the inspectors are checked all the same
        draw("T", PLAN, {"all": ["a"]}, {"SAMR": ["s1"], "TAX": ["s1"]}, [], SEED, targets_unique=True)


def test_empty_lists_of_unknown_strata_and_departments_are_harmless():
    r = draw("T", PLAN, {"all": ids("a", 4), "X": []}, {"SAMR": ids("s", 2), "TAX": ids("t", 2), "EPB": []}, [], SEED)
    assert r.selected == {"all": r.selected["all"]} and len(r.groups) == 1


def test_a_department_sending_nobody_is_not_in_the_groups():
    plan = small(members={"SAMR": 1, "TAX": 1, "EPB": 0})
    r = draw("T", plan, {"all": ids("a", 4)}, {"SAMR": ids("s", 2), "TAX": ids("t", 2), "EPB": ids("e", 3)}, [], SEED)
    assert [sorted(g.members) for g in r.groups] == [["SAMR", "TAX"]]
    assert r.inspector_reserve["EPB"] == sorted(ids("e", 3), key=ticketer(SEED, "insp", "T", "EPB"))


def test_exactly_enough_inspectors():
    r = draw("T", small(members={"SAMR": 1, "TAX": 2}), {"all": ids("a", 10)},
             {"SAMR": ids("s", 3), "TAX": ids("t", 6)}, [], SEED)  # 3 groups: 3 and 6 needed
    assert len(r.groups) == 3 and r.inspector_reserve == {"SAMR": [], "TAX": []}
    assert sorted(i for g in r.groups for i in g.members["TAX"]) == ids("t", 6)


def test_stratum_size_rejects_a_bad_count():
    for n in (-1, True, 1.0, "3"):
        with pytest.raises(InvalidInput) as err:
            stratum_size(n, {"num": 1, "den": 2})
        assert err.value.details == {"field": "N", "reason": "必须是非负整数"}


def test_compute_record_rejects_other_algorithms():
    case = {**CASES[0], "algorithm": "dsr/v2"}
    with pytest.raises(InvalidInput) as err:
        compute_record(case)
    assert err.value.details == {"field": "algorithm", "reason": "只支持 dsr/v1"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["task"])
def test_compute_record_gives_the_whole_core_record(case):
    inputs = {k: case[k] for k in ("task", "plan", "targets", "inspectors", "conflicts", "dice")}
    assert compute_record(inputs) == {k: v for k, v in case.items() if k != "name"}


def test_value_objects_are_frozen():
    import dataclasses

    targets, inspectors, plain, target, out, first, second = find_replacement_case()
    r = draw("T", PLAN, targets, inspectors, [(out, target)], SEED)
    for obj, name in ((commitment("T", PLAN, [], []), "commitment"), (r.replacements[0], "out")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, "x")


def test_reserve_sizes():
    plan = small(strata={"A": {"num": 1, "den": 2}})
    people = {"SAMR": ids("s", 200), "TAX": ids("t", 200)}
    big = draw("T", plan, {"A": ids("a", 402)}, people, [], SEED)  # k = 201: ceil(201 / 5) = 41
    assert len(big.selected["A"]) == 201 and len(big.target_reserve["A"]) == 41
    none = draw("T", plan, {"A": ids("a", 10)}, people, [], SEED, reserve=0)
    assert none.target_reserve == {"A": []}
    negative = draw("T", plan, {"A": ids("a", 10)}, people, [], SEED, reserve=lambda n, k: -3)
    assert negative.target_reserve == {"A": []}
    everyone = draw("T", plan, {"A": ids("a", 10)}, people, [], SEED, reserve=lambda n, k: 10 * n)
    assert len(everyone.target_reserve["A"]) == 5


def test_equal_tickets_past_the_first_cut(equal_tickets):
    """The bound is the n-th smallest ticket seen: an equal ticket with a smaller id still gets in."""
    many = [f"z{i:05d}" for i in range(5000)] + ["b", "a"]  # past the 4,096 buffer, then smaller ids
    assert [i for _, i in rank_smallest(SEED, ("ent",), many, 3)] == ["a", "b", "z00000"]


def test_an_error_in_a_forked_ranking_reaches_the_caller(monkeypatch):
    import os

    import backend.draws.algorithm as algorithm

    parent = os.getpid()
    real = algorithm._smallest

    def failing(seed, parts, ids, n):
        if os.getpid() != parent:
            raise ValueError("in the child")
        return real(seed, parts, ids, n)

    monkeypatch.setattr(algorithm, "_smallest", failing)
    population = [f"9144{i:014d}" for i in range(100_000)]
    with pytest.raises(ValueError, match="in the child"):
        rank_smallest(SEED, ("ent", "T"), population, 3, processes=2)

    def dying(seed, parts, ids, n):
        if os.getpid() != parent:
            os._exit(3)  # a child that dies without a word: the parent is told, never left waiting
        return real(seed, parts, ids, n)

    monkeypatch.setattr(algorithm, "_smallest", dying)
    with pytest.raises(EOFError):
        rank_smallest(SEED, ("ent", "T"), population, 3, processes=2)


# --------------------------------------------------------------------------- the forked ranking


@pytest.fixture
def forks(monkeypatch):
    """Count the processes rank_smallest starts (the fork path), passing everything through."""
    import multiprocessing

    import backend.draws.algorithm as algorithm

    started: list[tuple] = []
    real = multiprocessing.get_context

    class Context:
        def __init__(self, method):
            self.ctx = real(method)

        def Pipe(self, *args, **kwargs):  # noqa: N802 - multiprocessing's name
            return self.ctx.Pipe(*args, **kwargs)

        def Process(self, *args, **kwargs):  # noqa: N802
            started.append(kwargs["args"])
            return self.ctx.Process(*args, **kwargs)

    monkeypatch.setattr(algorithm.multiprocessing, "get_context", Context)
    return started


def test_forked_ranking_runs_and_every_slice_counts(forks):
    """Rank everyone (k = N): an id lost at a slice boundary, or a slice ranked twice, shows."""
    population = [f"9144{i:014d}" for i in range(100_000)]  # exactly the threshold: forked
    everyone = rank_smallest(SEED, ("ent", "T"), population, len(population))
    assert forks == []
    for processes in (2, 3):
        forks.clear()
        assert rank_smallest(SEED, ("ent", "T"), population, len(population), processes=processes) == everyone
        assert len(forks) == processes - 1  # the last slice is ranked in this process
        slices = [(s.a, s.b) for _, _, _, s, _ in forks]
        assert slices[0][0] == 0 and all(b == a2 for (_, b), (a2, _) in zip(slices, slices[1:]))
    for k in (5, 1):
        forks.clear()
        assert rank_smallest(SEED, ("ent", "T"), population, k, processes=2) == everyone[:k]
        assert len(forks) == 1


def test_forked_ranking_only_when_it_can_help(forks, monkeypatch):
    import backend.draws.algorithm as algorithm

    population = [f"9144{i:014d}" for i in range(100_000)]
    assert rank_smallest(SEED, ("ent", "T"), population[:99_999], 3, processes=2) == \
        rank_smallest(SEED, ("ent", "T"), population[:99_999], 3)
    assert rank_smallest(SEED, ("ent", "T"), population, 0, processes=2) == []
    assert rank_smallest(SEED, ("ent", "T"), population, 3, processes=1) == \
        rank_smallest(SEED, ("ent", "T"), population, 3)
    assert forks == []  # under 100,000 ids, k = 0 or one process: no fork
    monkeypatch.setattr(algorithm.multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    assert len(rank_smallest(SEED, ("ent", "T"), population, 3, processes=2)) == 3
    assert forks == []  # no fork start method (not Linux): one process


def test_draw_error_text():
    e = TooFewInspectors("TAX", 1, 2)
    assert str(e) == e.message == "部门 TAX 可抽取的检查人员不足：现有 1 人，需要 2 人"
    assert repr(e) == ("TooFewInspectors('draw.too_few_inspectors', '部门 TAX 可抽取的检查人员不足：现有 1 人，需要 2 人', "
                       "{'dept': 'TAX', 'have': 1, 'need': 2})")
    assert DrawError("x").code == "draw.error"


# --------------------------------------------------------------------------- parts handed over early


def test_parts_handed_over_early_are_the_result_and_change_nothing():
    """``on_crew`` gets the groups' members and leaders before any target is ranked, ``on_selected`` each
    stratum's selection once, as soon as it is ranked (the largest selection first); the result is the same
    as without them (the app saves these parts while the rest is ranked)."""
    plan = small(strata={"A": {"num": 1, "den": 10}, "B": {"num": 1, "den": 2}, "C": {"num": 1, "den": 4}},
                 members={"SAMR": 2, "TAX": 1}, group_load=3)
    targets = {"A": ids("a", 40), "B": ids("b", 30), "C": ids("c", 20)}
    inspectors = {"SAMR": ids("s", 40), "TAX": ids("t", 20)}
    conflicts = [(i, t) for i in inspectors["TAX"][:6] for t in targets["B"]]
    calls = []
    with_parts = draw("T", plan, targets, inspectors, conflicts, SEED,
                      on_crew=lambda crew: calls.append(("crew", crew)),
                      on_selected=lambda s, codes: calls.append((s, list(codes))))
    plain = draw("T", plan, targets, inspectors, conflicts, SEED)
    assert with_parts == plain and with_parts.to_record_result() == plain.to_record_result()
    assert with_parts.replacements   # recusal ran on the groups built from the early crew
    assert [c[0] for c in calls] == ["crew", "B", "C", "A"]   # sizes 15, 5, 4
    crew = calls[0][1]
    assert crew.members == [g.members for g in plain.groups] and crew.leaders == [g.leader for g in plain.groups]
    assert crew.reserve == plain.inspector_reserve
    assert {s: codes for s, codes in calls[1:]} == plain.selected
    assert list(with_parts.selected) == ["A", "B", "C"]   # the record's order, whatever the order of the work


def test_too_few_inspectors_before_any_target_when_the_crew_is_wanted():
    ranked = []
    with pytest.raises(TooFewInspectors) as err:
        draw("T", small(members={"SAMR": 1, "TAX": 2}), {"all": ids("a", 10)},
             {"SAMR": ids("s", 9), "TAX": ids("t", 4)}, [], SEED, on_crew=ranked.append,
             on_selected=lambda s, codes: ranked.append(s))
    assert err.value.details == {"dept": "TAX", "have": 4, "need": 6} and ranked == []


def test_a_selection_is_handed_over_only_once_its_ids_are_checked():
    handed = []
    with pytest.raises(InvalidInput) as err:
        draw("T", PLAN, {"all": ["a|1", "b"]}, {"SAMR": ["s"], "TAX": ["t"]}, [], SEED,
             on_selected=lambda s, codes: handed.append(codes))
    assert err.value.details["field"] == "targets.id" and handed == []


def test_a_department_with_no_member_a_group_is_left_out_of_groups_and_recusal():
    targets, inspectors, plain, target, out, first, second = find_replacement_case()
    plan = small(members={"SAMR": 1, "TAX": 1, "ZERO": 0})
    r = draw("T", plan, targets, {**inspectors, "ZERO": ids("z", 3)}, [(out, target), ("z0000", target)], SEED)
    assert all(set(g.members) == {"SAMR", "TAX"} for g in r.groups)
    assert [(x.dept, x.out) for x in r.replacements] == [("TAX", out)]
    assert r.inspector_reserve["ZERO"] == sorted(r.inspector_reserve["ZERO"], key=lambda i: ticket(SEED, "insp", "T", "ZERO", i))
