"""Check a published draw record (docs/dsr-v1.md, docs/draw.md) by redoing it.

``verify_record`` takes a record as parsed from JSON, whoever made it, and never raises
on bad input: a malformed record gives ``ok=False`` and a complaint. Each step is
checked against the value the record publishes for the step before, so the first
difference names the broken link:

1. ``algorithm`` is ``dsr/v1``;
2. ``commitment`` equals the one recomputed from ``task``, ``plan``, ``targets`` and
   ``inspectors`` (a candidate added or removed after the commitment shows here);
3. ``seed`` equals SHA-256 of the published commitment and ``dice``;
4. ``result`` equals the draw redone with the published seed: ``selected`` per stratum,
   then each group's ``targets``, ``members`` and ``leader``, then ``replacements``.

Differences are in Chinese and start with the field path, e.g.
``result.groups[2].leader: 记录为 X，重新计算为 Y``. Lists report their first differing
position only (one line per list), so the count stays readable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from backend.draws.algorithm import (
    ALGORITHM,
    DrawError,
    canonical_json,
    draw,
    record_commitment,
    record_inputs,
    seed_from,
)

__all__ = ["VerifyReport", "verify_record"]

_MAX_SHAPE_COMPLAINTS = 20


@dataclass
class VerifyReport:
    ok: bool
    differences: list[str] = field(default_factory=list)
    commitment: str | None = None  # recomputed from the record's inputs
    seed: str | None = None  # recomputed from the record's commitment and dice

    @property
    def first(self) -> str | None:
        return self.differences[0] if self.differences else None


def verify_record(record: Any, processes: int | None = None) -> VerifyReport:
    report = VerifyReport(ok=False)
    try:
        _verify(record, report, processes)
    except Exception as exc:  # noqa: BLE001 - the verifier reports, it never raises
        report.differences.append(f"记录: 无法验证（{type(exc).__name__}: {exc}）")
    report.ok = not report.differences
    return report


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
    complaints = _shape_of_inputs(record)
    if complaints:
        out.extend(complaints)
        return

    try:
        canonical_json(record["plan"])
    except Exception as exc:  # noqa: BLE001
        out.append(f"plan: 无法按 RFC 8785 规范化（{exc}）")
        return
    c = record_commitment(record).commitment
    report.commitment = c
    if record["commitment"] != c:
        out.append(
            f"commitment: 记录为 {record['commitment']}，由 task、plan、targets、inspectors 重新计算为 {c}"
        )
    seed = seed_from(record["commitment"], record["dice"])
    report.seed = seed
    if record["seed"] != seed:
        out.append(f"seed: 记录为 {record['seed']}，由 commitment 与 dice 重新计算为 {seed}")

    complaints = ["result: 缺失"] if "result" not in record else _shape_of_result(record["result"])
    if complaints:
        out.extend(complaints)
        return
    targets, inspectors, conflicts = record_inputs(record)
    try:
        computed = draw(record["task"], record["plan"], targets, inspectors, conflicts, record["seed"], reserve=0,
                        processes=processes)
    except DrawError as exc:
        out.append(f"result: 无法重新计算抽取结果：{exc.message}")
        return
    _compare_result(record["result"], computed.to_record_result(), out)


# --------------------------------------------------------------------------- shape


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 80 else text[:77] + "..."


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

    def full(self) -> bool:
        return len(self.complaints) >= _MAX_SHAPE_COMPLAINTS

    def check(self, value: Any, path: str, kind: type | tuple, name: str) -> bool:
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok and not self.full():
            self.complaints.append(f"{path}: 格式错误，应为{name}，实为{_type_name(value)}")
        return ok

    def key(self, obj: Mapping, key: str, path: str, kind: type | tuple, name: str) -> Any:
        if key not in obj:
            if not self.full():
                self.complaints.append(f"{path}.{key}: 缺失")
            return None
        value = obj[key]
        return value if self.check(value, f"{path}.{key}", kind, name) else None

    def strings(self, value: Any, path: str) -> None:
        if self.check(value, path, list, "字符串数组"):
            for i, x in enumerate(value):
                if self.full():
                    return
                self.check(x, f"{path}[{i}]", str, "字符串")


def _all_pairs_of_strings(items: list, group_key: str) -> bool:
    """Fast path for a million well-formed items; the slow loop names the bad one."""
    try:
        return all([type(x["id"]) is str and type(x[group_key]) is str for x in items])  # noqa: E721
    except (KeyError, TypeError, IndexError):
        return False


def _shape_of_inputs(record: Mapping) -> list[str]:
    s = _Shape()
    s.key(record, "task", "", str, "字符串")
    s.key(record, "plan", "", Mapping, "对象")
    for name, group_key in (("targets", "stratum"), ("inspectors", "dept")):
        items = s.key(record, name, "", list, "数组")
        if items is None or _all_pairs_of_strings(items, group_key):
            continue
        for n, item in enumerate(items):
            if s.full():
                break
            path = f"{name}[{n}]"
            if s.check(item, path, Mapping, "对象"):
                s.key(item, "id", path, str, "字符串")
                s.key(item, group_key, path, str, "字符串")
    conflicts = s.key(record, "conflicts", "", list, "数组")
    for n, pair in enumerate(conflicts or ()):
        if s.full():
            break
        if s.check(pair, f"conflicts[{n}]", list, "[检查人员编号, 检查对象编号] 数组") and len(pair) != 2:
            s.complaints.append(f"conflicts[{n}]: 格式错误，应恰有 2 项，实有 {len(pair)} 项")
        elif isinstance(pair, list):
            s.strings(pair, f"conflicts[{n}]")
    for name in ("commitment", "dice", "seed"):
        s.key(record, name, "", str, "字符串")
    return [c.lstrip(".") for c in s.complaints]


def _shape_of_result(result: Any) -> list[str]:
    s = _Shape()
    if not s.check(result, "result", Mapping, "对象"):
        return s.complaints
    selected = s.key(result, "selected", "result", Mapping, "对象")
    for stratum, ids in (selected or {}).items():
        s.strings(ids, f"result.selected.{stratum}")
    groups = s.key(result, "groups", "result", list, "数组")
    for g, group in enumerate(groups or ()):
        if s.full():
            break
        path = f"result.groups[{g}]"
        if not s.check(group, path, Mapping, "对象"):
            continue
        targets = s.key(group, "targets", path, list, "字符串数组")
        if targets is not None:
            s.strings(targets, f"{path}.targets")
        members = s.key(group, "members", path, Mapping, "对象")
        for dept, ids in (members or {}).items():
            s.strings(ids, f"{path}.members.{dept}")
        s.key(group, "leader", path, str, "字符串")
    replacements = s.key(result, "replacements", "result", list, "数组")
    for n, rep in enumerate(replacements or ()):
        if s.full():
            break
        path = f"result.replacements[{n}]"
        if s.check(rep, path, Mapping, "对象"):
            s.key(rep, "group", path, int, "整数")
            for key in ("target", "dept", "out", "in"):
                s.key(rep, key, path, str, "字符串")
    return s.complaints


# --------------------------------------------------------------------------- compare


def _compare_list(path: str, recorded: list, computed: list, out: list[str]) -> None:
    if recorded == computed:
        return
    for i, (a, b) in enumerate(zip(recorded, computed)):
        if a != b:
            out.append(f"{path}[{i}]: 记录为 {_show(a)}，重新计算为 {_show(b)}")
            return
    n, m = len(recorded), len(computed)
    if n > m:
        out.append(f"{path}: 记录有 {n} 项，重新计算只有 {m} 项（多出 {_show(recorded[m])} 等）")
    else:
        out.append(f"{path}: 记录只有 {n} 项，重新计算有 {m} 项（缺少 {_show(computed[n])} 等）")


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

    rr, cr = recorded["replacements"], computed["replacements"]
    for n, (a, b) in enumerate(zip(rr, cr)):
        for key in ("group", "target", "dept", "out", "in"):
            if a[key] != b[key]:
                out.append(f"result.replacements[{n}].{key}: 记录为 {_show(a[key])}，重新计算为 {_show(b[key])}")
    if len(rr) > len(cr):
        out.append(f"result.replacements: 记录有 {len(rr)} 项回避替换，重新计算只有 {len(cr)} 项"
                   f"（多出 {_show(rr[len(cr)])}）")
    elif len(rr) < len(cr):
        out.append(f"result.replacements: 记录只有 {len(rr)} 项回避替换，重新计算有 {len(cr)} 项"
                   f"（缺少 {_show(cr[len(rr)])}）")
