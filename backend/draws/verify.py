"""Check a published draw record (docs/dsr-v1.md, docs/draw.md) by redoing it.

``verify_record`` takes a record as parsed from JSON, whoever made it, and never raises
on bad input: a malformed record gives ``ok=False`` and a complaint for every malformed
field. Each step is checked against the value the record publishes for the step before,
so every difference names a broken link, in this order:

1. ``algorithm`` is ``dsr/v1``;
2. ``commitment`` equals the one recomputed from ``task``, ``plan``, ``targets`` and
   ``inspectors`` (a candidate added or removed after the commitment shows here), and
   so do the three hashes the app repeats under ``draw`` (``plan_hash``, …) if present;
3. a record published after the commitment and before the seed (no ``dice``, ``seed``
   or ``result`` yet) stops here: ``ok`` with ``seeded=False``, "commitment matches;
   no seed yet";
4. ``seed`` equals SHA-256 of the published commitment and ``dice``;
5. ``result`` equals the draw redone with the published seed: ``selected`` per stratum,
   then each group's ``targets``, ``members`` and ``leader``, then ``replacements``;
6. ``target_replacements`` (absent = none): the n-th replacement of a stratum brings in
   the n-th target of that stratum's reserve, takes out a target that is in the draw at
   that moment (selected, or brought in earlier and not yet taken out), for a reason
   dsr/v1 allows (closed, deregistered, revoked);
7. the app's further facts, when the record has them: each seed of
   ``draw.failed_attempts`` is SHA-256 of the commitment and its dice and the draw redone
   with it fails for the ``error`` given (checked in step 2's place, also without a result);
   ``expert_recusals`` is what ``plan.experts``, ``expert_conflicts``, the groups and the
   target replacements give.

Every difference is listed, one line each, in Chinese, starting with the field path,
e.g. ``result.groups[2].leader: 记录为 X，重新计算为 Y``; a list differing in several
positions gives one line per position.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.draws.algorithm import (
    ALGORITHM,
    TARGET_REPLACEMENT_REASONS,
    DrawError,
    DrawResult,
    canonical_json,
    draw,
    record_commitment,
    record_inputs,
    seed_from,
)

__all__ = ["COMMITTED_TEXT", "MATCH_TEXT", "VerifyReport", "verify_record"]

MATCH_TEXT = "验证通过：与公布结果一致"
COMMITTED_TEXT = "承诺值一致；尚未录入随机数，尚无抽取结果"
_HASHES = ("plan_hash", "targets_hash", "inspectors_hash")
_REASONS_TEXT = "、".join(f"{k}（{v}）" for k, v in TARGET_REPLACEMENT_REASONS.items())


@dataclass
class VerifyReport:
    differences: list[str] = field(default_factory=list)
    commitment: str | None = None  # recomputed from the record's inputs
    seed: str | None = None  # recomputed from the record's commitment and dice
    seeded: bool = True  # False: a record published before the seed, checked for its commitment alone
    failed_attempts: int = 0  # seeds the record says could not complete the draw, each redone

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def verdict(self) -> str:
        """One line: the match, the commitment-only match, or how many differences."""
        if not self.ok:
            return f"验证未通过：共 {len(self.differences)} 处不同"
        if self.seeded:
            return MATCH_TEXT
        if self.failed_attempts:
            return f"承诺值一致；公布的 {self.failed_attempts} 个随机数经重新计算确实无法完成抽取，尚无抽取结果"
        return COMMITTED_TEXT


def verify_record(record: Any, processes: int | None = None) -> VerifyReport:
    report = VerifyReport()
    try:
        _verify(record, report, processes)
    except Exception as exc:  # noqa: BLE001 - the verifier reports, it never raises
        report.differences.append(f"记录: 无法验证（{type(exc).__name__}: {exc}）")
    return report


def _unseeded(record: Mapping) -> bool:
    """Published after the commitment, before the seed: no dice, no seed, no result."""
    return all(record.get(key) is None for key in ("dice", "seed", "result"))


def _verify(record: Any, report: VerifyReport, processes: int | None = None) -> None:
    out = report.differences
    if not isinstance(record, Mapping):
        out.append("记录: 应为 JSON 对象")
        return
    algorithm = record.get("algorithm")
    if algorithm != ALGORITHM:
        shown = "缺失" if "algorithm" not in record else f"记录为 {_show(algorithm)}"
        out.append(f"algorithm: {shown}，本验证程序只支持 {ALGORITHM}")
        return
    report.seeded = not _unseeded(record)
    complaints = _shape_of_inputs(record, report.seeded)
    if complaints:
        out.extend(complaints)
        return

    try:
        canonical_json(record["plan"])
    except Exception as exc:  # noqa: BLE001
        out.append(f"plan: 无法按 RFC 8785 规范化（{exc}）")
        return
    c = record_commitment(record)
    report.commitment = c.commitment
    if record["commitment"] != c.commitment:
        out.append(
            f"commitment: 记录为 {record['commitment']}，由 task、plan、targets、inspectors 重新计算为 {c.commitment}"
        )
    facts = record.get("draw")
    if isinstance(facts, Mapping):
        for name in _HASHES:
            if name in facts and facts[name] != getattr(c, name):
                out.append(f"draw.{name}: 记录为 {_show(facts[name])}，重新计算为 {getattr(c, name)}")
        _check_failed_attempts(record, facts.get("failed_attempts"), report, processes)
    if not report.seeded:
        return

    seed = seed_from(record["commitment"], record["dice"])
    report.seed = seed
    if record["seed"] != seed:
        out.append(f"seed: 记录为 {record['seed']}，由 commitment 与 dice 重新计算为 {seed}")

    complaints = ["result: 缺失"] if "result" not in record else _shape_of_result(record["result"])
    complaints += _shape_of_target_replacements(record)
    if complaints:
        out.extend(complaints)
        return
    replaced = record.get("target_replacements") or []
    targets, inspectors, conflicts = record_inputs(record)
    try:  # with the reserve as far as the replacements can reach
        computed = draw(record["task"], record["plan"], targets, inspectors, conflicts, record["seed"],
                        reserve=len(replaced), processes=processes)
    except DrawError as exc:
        out.append(f"result: 无法重新计算抽取结果：{exc.message}")
        return
    _compare_result(record["result"], computed.to_record_result(), out)
    _check_target_replacements(replaced, computed, out)
    if "expert_recusals" in record:
        _check_expert_recusals(record, computed, replaced, out)


# --------------------------------------------------------------------------- shape


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 200 else text[:197] + "..."


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "布尔值"
    if isinstance(value, (int, float)):
        return "数字"
    if isinstance(value, str):
        return "字符串"
    if isinstance(value, list):
        return "数组"
    if isinstance(value, Mapping):
        return "对象"
    return type(value).__name__


class _Shape:
    def __init__(self) -> None:
        self.complaints: list[str] = []

    def check(self, value: Any, path: str, kind: type | tuple, name: str) -> bool:
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            self.complaints.append(f"{path}: 格式错误，应为{name}，实为{_type_name(value)}")
        return ok

    def key(self, obj: Mapping, key: str, path: str, kind: type | tuple, name: str) -> Any:
        where = f"{path}.{key}" if path else key
        if key not in obj:
            self.complaints.append(f"{where}: 缺失")
            return None
        value = obj[key]
        return value if self.check(value, where, kind, name) else None

    def strings(self, value: Any, path: str) -> None:
        if self.check(value, path, list, "字符串数组"):
            for i, x in enumerate(value):
                self.check(x, f"{path}[{i}]", str, "字符串")


def _all_pairs_of_strings(items: list, group_key: str) -> bool:
    """Fast path for a million well-formed items; the slow loop names every bad one."""
    try:
        return all([type(x["id"]) is str and type(x[group_key]) is str for x in items])  # noqa: E721
    except (KeyError, TypeError, IndexError):
        return False


def _shape_of_inputs(record: Mapping, seeded: bool) -> list[str]:
    s = _Shape()
    s.key(record, "task", "", str, "字符串")
    s.key(record, "plan", "", Mapping, "对象")
    for name, group_key in (("targets", "stratum"), ("inspectors", "dept")):
        items = s.key(record, name, "", list, "数组")
        if items is None or _all_pairs_of_strings(items, group_key):
            continue
        for n, item in enumerate(items):
            path = f"{name}[{n}]"
            if s.check(item, path, Mapping, "对象"):
                s.key(item, "id", path, str, "字符串")
                s.key(item, group_key, path, str, "字符串")
    conflicts = s.key(record, "conflicts", "", list, "数组")
    for n, pair in enumerate(conflicts or ()):
        if s.check(pair, f"conflicts[{n}]", list, "[检查人员编号, 检查对象编号] 数组") and len(pair) != 2:
            s.complaints.append(f"conflicts[{n}]: 格式错误，应恰有 2 项，实有 {len(pair)} 项")
        elif isinstance(pair, list):
            s.strings(pair, f"conflicts[{n}]")
    s.key(record, "commitment", "", str, "字符串")
    if seeded:
        for name in ("dice", "seed"):
            s.key(record, name, "", str, "字符串")
    elif record.get("target_replacements"):
        s.complaints.append("target_replacements: 记录尚无随机数和抽取结果，不应有替换")
    return s.complaints


def _shape_of_result(result: Any) -> list[str]:
    s = _Shape()
    if not s.check(result, "result", Mapping, "对象"):
        return s.complaints
    selected = s.key(result, "selected", "result", Mapping, "对象")
    for stratum, ids in (selected or {}).items():
        s.strings(ids, f"result.selected.{stratum}")
    groups = s.key(result, "groups", "result", list, "数组")
    for g, group in enumerate(groups or ()):
        path = f"result.groups[{g}]"
        if not s.check(group, path, Mapping, "对象"):
            continue
        if "targets" in group:
            s.strings(group["targets"], f"{path}.targets")
        else:
            s.complaints.append(f"{path}.targets: 缺失")
        members = s.key(group, "members", path, Mapping, "对象")
        for dept, ids in (members or {}).items():
            s.strings(ids, f"{path}.members.{dept}")
        s.key(group, "leader", path, str, "字符串")
    replacements = s.key(result, "replacements", "result", list, "数组")
    for n, rep in enumerate(replacements or ()):
        path = f"result.replacements[{n}]"
        if s.check(rep, path, Mapping, "对象"):
            s.key(rep, "group", path, int, "整数")
            for key in ("target", "dept", "out", "in"):
                s.key(rep, key, path, str, "字符串")
    return s.complaints


def _shape_of_target_replacements(record: Mapping) -> list[str]:
    s = _Shape()
    if record.get("target_replacements") is None:  # absent or null: none
        return []
    replaced = s.key(record, "target_replacements", "", list, "数组")
    for n, rep in enumerate(replaced or ()):
        path = f"target_replacements[{n}]"
        if s.check(rep, path, Mapping, "对象"):
            for key in ("stratum", "out", "in", "reason"):
                s.key(rep, key, path, str, "字符串")
    return s.complaints


# --------------------------------------------------------------------------- compare


def _compare_list(path: str, recorded: list, computed: list, out: list[str]) -> None:
    """One line per differing position, then one per item only one side has."""
    if recorded == computed:
        return
    for i, (a, b) in enumerate(zip(recorded, computed)):
        if a != b:
            out.append(f"{path}[{i}]: 记录为 {_show(a)}，重新计算为 {_show(b)}")
    n, m = len(recorded), len(computed)
    if n > m:
        out.append(f"{path}: 记录有 {n} 项，重新计算只有 {m} 项")
        out.extend(f"{path}[{i}]: 记录为 {_show(recorded[i])}，重新计算没有该项" for i in range(m, n))
    elif n < m:
        out.append(f"{path}: 记录只有 {n} 项，重新计算有 {m} 项")
        out.extend(f"{path}[{i}]: 记录中缺少，重新计算为 {_show(computed[i])}" for i in range(n, m))


def _compare_keys(path: str, recorded: Mapping, computed: Mapping, what: str, out: list[str]) -> list[str]:
    """Report keys on one side only; return the common keys, sorted."""
    for key in sorted(set(computed) - set(recorded)):
        out.append(f"{path}.{key}: 记录中缺少该{what}，重新计算有 {len(computed[key])} 项")
    for key in sorted(set(recorded) - set(computed)):
        out.append(f"{path}.{key}: 记录中多出该{what}，重新计算没有")
    return sorted(set(recorded) & set(computed))


def _compare_result(recorded: Mapping, computed: Mapping, out: list[str]) -> None:
    for s in _compare_keys("result.selected", recorded["selected"], computed["selected"], "分层", out):
        _compare_list(f"result.selected.{s}", recorded["selected"][s], computed["selected"][s], out)

    rg, cg = recorded["groups"], computed["groups"]
    if len(rg) != len(cg):
        out.append(f"result.groups: 记录有 {len(rg)} 组，重新计算有 {len(cg)} 组")
    for g, (a, b) in enumerate(zip(rg, cg)):
        path = f"result.groups[{g}]"
        _compare_list(f"{path}.targets", a["targets"], b["targets"], out)
        for d in _compare_keys(f"{path}.members", a["members"], b["members"], "部门", out):
            _compare_list(f"{path}.members.{d}", a["members"][d], b["members"][d], out)
        if a["leader"] != b["leader"]:
            out.append(f"{path}.leader: 记录为 {a['leader']}，重新计算为 {b['leader']}")
    out.extend(f"result.groups[{g}]: 记录中多出该组，重新计算没有" for g in range(len(cg), len(rg)))
    out.extend(f"result.groups[{g}]: 记录中缺少该组，重新计算有 {len(cg[g]['targets'])} 个检查对象"
               for g in range(len(rg), len(cg)))

    rr, cr = recorded["replacements"], computed["replacements"]
    for n, (a, b) in enumerate(zip(rr, cr)):
        for key in ("group", "target", "dept", "out", "in"):
            if a[key] != b[key]:
                out.append(f"result.replacements[{n}].{key}: 记录为 {_show(a[key])}，重新计算为 {_show(b[key])}")
    if len(rr) > len(cr):
        out.append(f"result.replacements: 记录有 {len(rr)} 项回避替换，重新计算只有 {len(cr)} 项")
        out.extend(f"result.replacements[{n}]: 记录中多出 {_show(rr[n])}" for n in range(len(cr), len(rr)))
    elif len(rr) < len(cr):
        out.append(f"result.replacements: 记录只有 {len(rr)} 项回避替换，重新计算有 {len(cr)} 项")
        out.extend(f"result.replacements[{n}]: 记录中缺少 {_show(cr[n])}" for n in range(len(rr), len(cr)))


def _check_target_replacements(replaced: list, computed: DrawResult, out: list[str]) -> None:
    """Step 3's reserve, replayed: strictly in order per stratum, out of the draw as it stands."""
    current = {s: set(ids) for s, ids in computed.selected.items()}
    taken_out: dict[str, int] = {}
    used: Counter[str] = Counter()
    for n, rep in enumerate(replaced):
        path = f"target_replacements[{n}]"
        s, gone, came = rep["stratum"], rep["out"], rep["in"]
        if rep["reason"] not in TARGET_REPLACEMENT_REASONS:
            out.append(f"{path}.reason: 记录为 {rep['reason']}，只有 {_REASONS_TEXT} 的对象按备选名单替换")
        if s not in current:
            out.append(f"{path}.stratum: 记录为 {s}，抽查方案中没有该分层")
            continue
        reserve = computed.target_reserve[s]
        m = used[s]
        used[s] += 1
        if m >= len(reserve):
            out.append(f"{path}.in: 记录为 {came}，分层 {s} 的备选名单只有 {len(reserve)} 个，没有第 {m + 1} 个")
        elif came != reserve[m]:
            out.append(f"{path}.in: 记录为 {came}，应为分层 {s} 备选名单第 {m + 1} 个 {reserve[m]}")
        if gone not in current[s]:
            if gone in taken_out:
                out.append(f"{path}.out: {gone} 已在 target_replacements[{taken_out[gone]}] 中被替换出，不在抽取名单中")
            else:
                out.append(f"{path}.out: {gone} 不是分层 {s} 抽中或替换进入的检查对象")
        current[s].discard(gone)
        current[s].add(came)
        taken_out[gone] = n


# --------------------------------------------------------------------------- the app's further facts


def _check_failed_attempts(record: Mapping, attempts: Any, report: VerifyReport, processes: int | None) -> None:
    """``draw.failed_attempts``: each seed is SHA-256 of the commitment and its dice, and the draw redone
    with it fails, for the reason published (docs/draw.md, "When a draw cannot run, or fails")."""
    if attempts is None:
        return
    out = report.differences
    s = _Shape()
    if s.check(attempts, "draw.failed_attempts", list, "数组"):
        for n, attempt in enumerate(attempts):
            path = f"draw.failed_attempts[{n}]"
            if s.check(attempt, path, Mapping, "对象"):
                for key in ("dice", "seed", "error"):
                    s.key(attempt, key, path, str, "字符串")
    if s.complaints:
        out.extend(s.complaints)
        return
    if not attempts:   # the usual []: no lists to regroup (a million targets: 0.1 s)
        report.failed_attempts = 0
        return
    targets, inspectors, conflicts = record_inputs(record)
    for n, attempt in enumerate(attempts):
        path = f"draw.failed_attempts[{n}]"
        seed = seed_from(record["commitment"], attempt["dice"])
        if attempt["seed"] != seed:
            out.append(f"{path}.seed: 记录为 {attempt['seed']}，由 commitment 与 dice 重新计算为 {seed}")
        try:
            draw(record["task"], record["plan"], targets, inspectors, conflicts, attempt["seed"], reserve=0,
                 processes=processes)
        except DrawError as exc:
            if exc.code != attempt["error"]:
                out.append(f"{path}.error: 记录为 {attempt['error']}，重新计算为 {exc.code}（{exc.message}）")
        else:
            out.append(f"{path}.error: 记录为 {attempt['error']}，但用该随机种子重新计算可以完成抽取")
    report.failed_attempts = len(attempts)


def _check_expert_recusals(record: Mapping, computed: DrawResult, replaced: list, out: list[str]) -> None:
    """``expert_recusals``: each expert of ``plan.experts`` steps aside for every target of their group
    (as drawn, then those brought in from the reserve, in order) they declared a conflict with in
    ``expert_conflicts`` (docs/draw.md, "Experts")."""
    s = _Shape()
    experts = record["plan"].get("experts", [])
    if s.check(experts, "plan.experts", list, "数组"):
        for n, entry in enumerate(experts):
            if s.check(entry, f"plan.experts[{n}]", Mapping, "对象"):
                s.key(entry, "group", f"plan.experts[{n}]", int, "整数")
                s.key(entry, "id", f"plan.experts[{n}]", str, "字符串")
    pairs = s.key(record, "expert_conflicts", "", list, "数组") if "expert_conflicts" in record else []
    for n, pair in enumerate(pairs or ()):
        if s.check(pair, f"expert_conflicts[{n}]", list, "[专家编号, 检查对象编号] 数组") and len(pair) != 2:
            s.complaints.append(f"expert_conflicts[{n}]: 格式错误，应恰有 2 项，实有 {len(pair)} 项")
        elif isinstance(pair, list):
            s.strings(pair, f"expert_conflicts[{n}]")
    recorded = s.key(record, "expert_recusals", "", list, "数组")
    if s.complaints:
        out.extend(s.complaints)
        return
    conflicted = {(e, t) for e, t in pairs}
    group_of = {t: g for g, group in enumerate(computed.groups) for t in group.targets}
    targets = {g: list(group.targets) for g, group in enumerate(computed.groups)}
    for rep in replaced:  # a target brought in takes the group of the one it replaces
        if rep["out"] in group_of:
            group_of[rep["in"]] = group_of[rep["out"]]
            targets[group_of[rep["out"]]].append(rep["in"])
    expected = [{"group": e["group"], "expert": e["id"], "target": t}
                for e in experts for t in targets.get(e["group"], []) if (e["id"], t) in conflicted]
    _compare_list("expert_recusals", recorded, expected, out)
