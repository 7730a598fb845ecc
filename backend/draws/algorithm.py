"""The verifiable draw, algorithm ``dsr/v1`` (docs/dsr-v1.md, explained in docs/draw.md).

Pure Python: the standard library and ``rfc8785`` only, no Flask, no database. Every
function here is deterministic: the same inputs give the same output on any machine,
and ``draw-vectors.json`` (tests/data) pins the exact bytes.

The one primitive is the ticket, HMAC-SHA256 keyed with the seed over
``"dsr/v1|" + "|".join(parts)``, compared as 32 unsigned big-endian bytes; a list is
put in random order by sorting on (ticket, id).

Speed: ``ticketer`` and the ranking precompute the HMAC inner and outer SHA-256 states
once per prefix and copy them per id (two ``copy``/``update``/``digest`` rounds). On the
shared 2-vCPU development machine (AMD EPYC with SHA-NI, Python 3.11, OpenSSL 3) that
is 0.75-1.15 million tickets per second, against 0.33-0.46 million for
``hmac.new``/``hmac.digest``, 0.5-0.64 million for ``HMAC.copy``, 0.63-0.93 million for
copying an OpenSSL HMAC context and 0.5-0.72 million for two ``sha256(...)`` calls on
concatenated bytes (ranges: quiet and loaded runs). ``bench/tickets.py`` prints them.
The states are CPython's own SHA-256 (``_sha256``) where there is one: OpenSSL's compresses a
block faster (SHA-NI), but a ticket is two blocks and two copies of the state, and copying
CPython's (a struct) costs far less than copying an OpenSSL context: a million tickets in
0.50 s of CPU instead of 0.63 s here (same bytes; the test vectors pin them). Large texts
(the commitment's lines) are still hashed by ``hashlib.sha256`` (OpenSSL).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import multiprocessing
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import rfc8785

try:   # CPython's own SHA-256: its state is a plain struct, cheaper to copy than OpenSSL's context (see above)
    from _sha256 import sha256 as _sha256   # Python 3.11
except ImportError:  # pragma: no cover - other versions and builds
    try:
        from _sha2 import sha256 as _sha256   # Python 3.12 and later
    except ImportError:
        _sha256 = hashlib.sha256

ALGORITHM = "dsr/v1"
# why a drawn target may be replaced from its stratum's reserve (DRAW.md step 3); a business
# unreachable at its registered address is not replaced: that is a result, published as such
TARGET_REPLACEMENT_REASONS = {"closed": "已关闭停业", "deregistered": "已注销", "revoked": "已吊销"}

_BLOCK = 64  # SHA-256 block size, bytes
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
_FORBIDDEN = ("|", "\n", "\r")  # field and line separators of tickets and commitment lines


# --------------------------------------------------------------------------- errors


class DrawError(Exception):
    """A draw that cannot be made. ``code`` is stable for machines, ``message`` is for
    people (Simplified Chinese), ``details`` names what went wrong."""

    code = "draw.error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, {self.details!r})"


class TooFewInspectors(DrawError):
    code = "draw.too_few_inspectors"

    def __init__(self, dept: str, have: int, need: int) -> None:
        super().__init__(
            f"部门 {dept} 可抽取的检查人员不足：现有 {have} 人，需要 {need} 人",
            dept=dept, have=have, need=need,
        )


class NoReplacement(DrawError):
    code = "draw.no_replacement"

    def __init__(self, group: int, target: str, dept: str, inspector: str) -> None:
        super().__init__(
            f"第 {group + 1} 组：部门 {dept} 的检查人员 {inspector} 须回避检查对象 "
            f"{target}，但该部门的备选人员中已没有可替换的人员",
            group=group, target=target, dept=dept, inspector=inspector,
        )


class InvalidPlan(DrawError):
    code = "draw.invalid_plan"

    def __init__(self, field_path: str, reason: str) -> None:
        super().__init__(f"抽查方案无效：{field_path} {reason}", field=field_path, reason=reason)


class InvalidInput(DrawError):
    """The lists given to the draw are inconsistent (duplicate ids, a stratum or a
    department the plan does not have, an id with a separator character)."""

    code = "draw.invalid_input"

    def __init__(self, field_path: str, reason: str, **details: Any) -> None:
        super().__init__(f"抽取名单无效：{field_path} {reason}", field=field_path, reason=reason, **details)


# --------------------------------------------------------------------------- primitives


def _key_block(seed: str) -> bytes:
    key = seed.encode("utf-8")
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    return key.ljust(_BLOCK, b"\0")


def _states(seed: str, prefix_parts: Sequence[str]):
    """Bound ``copy`` methods of the HMAC inner state (key^ipad, message prefix
    absorbed) and outer state (key^opad)."""
    key = _key_block(seed)
    inner = _sha256(key.translate(_IPAD))
    inner.update("".join(f"{p}|" for p in (ALGORITHM, *prefix_parts)).encode("utf-8"))
    outer = _sha256(key.translate(_OPAD))
    return inner.copy, outer.copy


def ticket(seed: str, *parts: str) -> bytes:
    """HMAC-SHA256(key=UTF-8(seed), msg=UTF-8("dsr/v1|p1|p2|...")), 32 bytes."""
    message = "|".join((ALGORITHM, *parts))
    return hmac.digest(seed.encode("utf-8"), message.encode("utf-8"), "sha256")


def ticketer(seed: str, *prefix_parts: str) -> Callable[[str], bytes]:
    """A fast ``ticket(seed, *prefix_parts, last)`` for many ``last`` values."""
    icopy, ocopy = _states(seed, prefix_parts)

    def one(last: str) -> bytes:
        h = icopy()
        h.update(last.encode("utf-8"))
        o = ocopy()
        o.update(h.digest())
        return o.digest()

    return one


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON, UTF-8 bytes."""
    return rfc8785.dumps(obj)


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _lines_hash(lines: list[str]) -> str:
    lines.sort()  # code point order; linear on input that is already sorted
    return _sha256_hex("\n".join(lines).encode("utf-8"))


@dataclass(frozen=True)
class Commitment:
    plan_hash: str
    targets_hash: str
    inspectors_hash: str
    commitment: str


def commitment(
    task: str,
    plan: dict,
    targets: Iterable[tuple[str, str]],
    inspectors: Iterable[tuple[str, str]],
) -> Commitment:
    """The commitment of step 1. ``targets`` are (stratum, id) pairs, ``inspectors``
    (dept, id) pairs, in any order."""
    plan_hash = _sha256_hex(canonical_json(plan))
    targets_hash = _lines_hash([f"{s}|{i}" for s, i in targets])
    inspectors_hash = _lines_hash([f"{d}|{i}" for d, i in inspectors])
    return _commit(task, plan_hash, targets_hash, inspectors_hash)


def _commit(task: str, plan_hash: str, targets_hash: str, inspectors_hash: str) -> Commitment:
    text = f"{ALGORITHM}|commit|{task}\n{plan_hash}\n{targets_hash}\n{inspectors_hash}"
    return Commitment(plan_hash, targets_hash, inspectors_hash, _sha256_hex(text.encode("utf-8")))


def seed_from(commitment_hex: str, digits: str) -> str:
    """seed = SHA-256 hex of UTF-8("dsr/v1|seed|<commitment>|<digits>")."""
    return _sha256_hex(f"{ALGORITHM}|seed|{commitment_hex}|{digits}".encode("utf-8"))


# --------------------------------------------------------------------------- ranking


_NOTHING = object()


def _smallest(seed: str, prefix_parts: Sequence[str], ids: Iterable[str] | Iterable[bytes],
              n: int) -> list[tuple[bytes, str]]:
    """The n smallest (ticket, id) pairs, in order, without sorting everything. Ids
    whose ticket is above the n-th smallest seen so far are dropped at once; the others
    go to a buffer as ticket + UTF-8(id) (one bytes object, which sorts like the pair
    since tickets have a fixed length and UTF-8 keeps code point order), cut back to
    n by a sort whenever it holds 2n. Ids given as UTF-8 bytes (all of them, as the first
    one is) are hashed as they are; the pairs returned hold text either way."""
    if n <= 0:
        return []
    icopy, ocopy = _states(seed, prefix_parts)
    buf: list[bytes] = []
    append = buf.append
    limit = max(2 * n, 4096)
    bound = b"\xff" * 33  # above every 32-byte ticket
    source = iter(ids)
    first = next(source, _NOTHING)
    source = itertools.chain(() if first is _NOTHING else (first,), source)
    for b in (source if isinstance(first, bytes) else map(str.encode, source)):   # UTF-8
        h = icopy()
        h.update(b)
        o = ocopy()
        o.update(h.digest())
        t = o.digest()
        if t <= bound:  # equal: the id decides, keep it for the sort
            append(t + b)
            if len(buf) >= limit:
                buf.sort()
                del buf[n:]
                bound = buf[-1][:32]
    buf.sort()
    return [(x[:32], x[32:].decode("utf-8")) for x in buf[:n]]


def _smallest_to_pipe(conn, seed: str, prefix_parts: tuple[str, ...], ids: Sequence[str], n: int) -> None:
    try:
        conn.send(_smallest(seed, prefix_parts, ids, n))
    except BaseException as exc:  # pragma: no cover - reported to the parent
        conn.send(exc)
    finally:
        conn.close()


def rank_smallest(
    seed: str,
    prefix_parts: Sequence[str],
    ids: Sequence[str] | Sequence[bytes],
    k: int,
    processes: int | None = None,
) -> list[tuple[bytes, str]]:
    """The k smallest (ticket(seed, *prefix_parts, id), id) pairs in ticket order
    (equal ticket: smaller id first). ``ids`` may be UTF-8 bytes (all of them): the pairs
    returned hold the ids as text either way.

    ``processes`` > 1 splits ``ids`` into that many slices: forked children rank all
    slices but the last, which this process ranks meanwhile, and the slices' k
    smallest are merged. The answer is the same as with one process. Forked children
    inherit ``ids`` without copying, so this needs the ``fork`` start method (Linux);
    elsewhere, and for fewer than 100,000 ids, one process does it all. Do not use it
    from a multi-threaded server process: fork there is unsafe; use it from jobs/CLI."""
    prefix_parts = tuple(prefix_parts)
    if (
        not processes
        or processes <= 1
        or k <= 0
        or len(ids) < 100_000
        or "fork" not in multiprocessing.get_all_start_methods()
    ):
        return _smallest(seed, prefix_parts, ids, k)
    ctx = multiprocessing.get_context("fork")
    size = -(-len(ids) // processes)
    slices = [(a, min(a + size, len(ids))) for a in range(0, len(ids), size)]
    children = []
    try:
        for a, b in slices[:-1]:
            receive, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_smallest_to_pipe, args=(send, seed, prefix_parts, _Slice(ids, a, b), k),
                               daemon=True)
            proc.start()
            send.close()
            children.append((proc, receive))
        a, b = slices[-1]
        parts = [_smallest(seed, prefix_parts, _Slice(ids, a, b), k)]
        for _proc, receive in children:
            part = receive.recv()
            if isinstance(part, BaseException):
                raise part
            parts.append(part)
    finally:
        for proc, receive in children:
            receive.close()
            proc.join()
    return list(itertools.islice(heapq.merge(*parts), k))


class _Slice:
    """ids[a:b] without a copy: iterated in the forked child."""

    __slots__ = ("ids", "a", "b")

    def __init__(self, ids: Sequence[str], a: int, b: int) -> None:
        self.ids, self.a, self.b = ids, a, b

    def __iter__(self):
        return itertools.islice(self.ids, self.a, self.b)


def _order(seed: str, prefix_parts: Sequence[str], ids: Iterable[str]) -> list[str]:
    """All ids in ticket order: each as ticket + UTF-8(id), one bytes object that sorts like the pair
    (``_smallest``'s), so the sort compares bytes, not tuples (a fifth less time for 150,000 ids)."""
    icopy, ocopy = _states(seed, prefix_parts)
    keyed = []
    append = keyed.append
    for b in map(str.encode, ids):   # UTF-8
        h = icopy()
        h.update(b)
        o = ocopy()
        o.update(h.digest())
        append(o.digest() + b)
    keyed.sort()
    return [x[32:].decode("utf-8") for x in keyed]


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class _Plan:
    strata: dict[str, dict[str, int]]
    lead: str
    members: dict[str, int]
    group_load: int


def _check_code(value: Any, path: str, error: type[DrawError] | None = None) -> None:
    def fail(reason: str) -> DrawError:
        return (error or InvalidInput)(path, reason)

    if not isinstance(value, str) or not value:
        raise fail("必须是非空字符串")
    if any(c in value for c in _FORBIDDEN):
        raise fail("不能包含 “|” 或换行符")


def _check_codes(values: Sequence[Any], path: str) -> None:
    """``_check_code`` of each value: all at once when all are fine, one by one to name the first that is not."""
    try:
        joined = "".join(values)
    except TypeError:
        joined = None
    if joined is not None and all(values) and not any(c in joined for c in _FORBIDDEN):
        return
    for value in values:
        _check_code(value, path)


def _int(value: Any, path: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPlan(path, "必须是整数")
    if value < minimum:
        raise InvalidPlan(path, f"不能小于 {minimum}")
    return value


_RULE_KEYS = {"num", "den", "min", "cap"}


def validate_plan(plan: Any) -> None:
    """Raise InvalidPlan if ``plan`` cannot be drawn (checked again by ``draw``)."""
    _validate_plan(plan)


def _validate_plan(plan: Any) -> _Plan:
    if not isinstance(plan, Mapping):
        raise InvalidPlan("plan", "必须是对象")
    strata = plan.get("strata")
    if not isinstance(strata, Mapping) or not strata:
        raise InvalidPlan("plan.strata", "必须是非空对象（分层 → 比例）")
    rules: dict[str, dict[str, int]] = {}
    for name, rule in strata.items():
        path = f"plan.strata.{name}"
        _check_code(name, path, InvalidPlan)
        if not isinstance(rule, Mapping):
            raise InvalidPlan(path, "必须是对象")
        unknown = sorted(set(rule) - _RULE_KEYS)
        if unknown:
            raise InvalidPlan(f"{path}.{unknown[0]}", "不是可识别的字段（只允许 num、den、min、cap）")
        for key in ("num", "den"):
            if key not in rule:
                raise InvalidPlan(f"{path}.{key}", "缺失")
        clean = {
            "num": _int(rule["num"], f"{path}.num", 0),
            "den": _int(rule["den"], f"{path}.den", 1),
        }
        for key in ("min", "cap"):
            if key in rule:
                clean[key] = _int(rule[key], f"{path}.{key}", 0)
        rules[name] = clean
    members = plan.get("members")
    if not isinstance(members, Mapping) or not members:
        raise InvalidPlan("plan.members", "必须是非空对象（部门 → 每组人数）")
    m: dict[str, int] = {}
    for dept, count in members.items():
        _check_code(dept, f"plan.members.{dept}", InvalidPlan)
        m[dept] = _int(count, f"plan.members.{dept}", 0)
    lead = plan.get("lead")
    if not isinstance(lead, str) or not lead:
        raise InvalidPlan("plan.lead", "必须是牵头部门代码")
    if lead not in m:
        raise InvalidPlan("plan.lead", f"牵头部门 {lead} 不在 plan.members 中")
    if m[lead] < 1:
        raise InvalidPlan(f"plan.members.{lead}", "牵头部门每组至少 1 人")
    if "group_load" not in plan:
        raise InvalidPlan("plan.group_load", "缺失")
    load = _int(plan["group_load"], "plan.group_load", 1)
    return _Plan(rules, lead, m, load)


def stratum_size(n: int, rule: dict) -> int:
    """k = min(N, cap, max(min, ceil(num * N / den))), integers only; no min: 0, no cap: none."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidInput("N", "必须是非负整数")
    num = _int(rule.get("num"), "num", 0)
    den = _int(rule.get("den"), "den", 1)
    k = max(_int(rule.get("min", 0), "min", 0), -(-num * n // den))
    if "cap" in rule:
        k = min(k, _int(rule["cap"], "cap", 0))
    return min(n, k)


# --------------------------------------------------------------------------- draw


@dataclass(frozen=True)
class Replacement:
    group: int
    target: str
    dept: str
    out: str
    in_: str

    def to_record(self) -> dict:
        return {"group": self.group, "target": self.target, "dept": self.dept, "out": self.out, "in": self.in_}


@dataclass
class Group:
    targets: list[str]
    members: dict[str, list[str]]
    leader: str

    def to_record(self) -> dict:
        return {"targets": list(self.targets), "members": {d: list(v) for d, v in self.members.items()},
                "leader": self.leader}


@dataclass
class DrawResult:
    selected: dict[str, list[str]]
    target_reserve: dict[str, list[str]]
    groups: list[Group]
    replacements: list[Replacement]
    inspector_reserve: dict[str, list[str]]
    eligible: dict[str, int] = field(default_factory=dict)  # N_s per stratum

    def to_record_result(self) -> dict:
        """The ``result`` object of a published record (draw-vectors.json)."""
        return {
            "selected": {s: list(v) for s, v in self.selected.items()},
            "groups": [g.to_record() for g in self.groups],
            "replacements": [r.to_record() for r in self.replacements],
        }


def _reserve_size(reserve: Callable[[int, int], int] | int | None, n: int, k: int) -> int:
    """How many to rank after the k drawn (the ranking stops at N by itself)."""
    if reserve is None:
        r = max(20, -(-k // 5))
    elif callable(reserve):
        r = reserve(n, k)
    else:
        r = reserve
    return max(0, int(r))


def draw(
    task: str,
    plan: dict,
    targets: Mapping[str, Sequence[str]],
    inspectors: Mapping[str, Sequence[str]],
    conflicts: Iterable[tuple[str, str]],
    seed: str,
    reserve: Callable[[int, int], int] | int | None = None,
    *,
    processes: int | None = None,
    targets_unique: bool = False,
    on_crew: Callable[[Crew], None] | None = None,
    on_selected: Callable[[str, list[str]], None] | None = None,
) -> DrawResult:
    """Steps 3-7 of DRAW.md. ``targets``: stratum -> eligible ids; ``inspectors``:
    dept -> eligible ids; ``conflicts``: (inspector id, target id) pairs. Input order
    does not matter. ``reserve`` sets how many reserve targets follow each stratum's
    selection: a function of (N_s, k_s), a number, or by default
    min(N_s - k_s, max(20, ceil(k_s / 5))). Raises DrawError; returns everything or nothing.

    ``targets_unique``: the caller vouches that no target id occurs twice, and the check is
    skipped (0.15 s for a million ids). The app's frozen lists are one line per row of a table
    whose code is unique; a record from elsewhere (the verifier's) is always checked. The targets'
    ids may also be given as UTF-8 bytes, each stratum's all one way (the app's frozen lists, read without
    decoding them): the ranking hashes them as they are; the result holds text either way.

    ``on_crew`` and ``on_selected`` let a caller start work on parts of the result while the rest is
    computed (the app saves them meanwhile): ``on_crew(crew)`` gets steps 5 and 7 (the groups' members as
    drawn and their leaders), which need only the number of groups, known from the strata's sizes: they
    are then drawn before the targets (a department with too few inspectors fails before any ticket of a
    target). ``on_selected(stratum, ids)`` gets each stratum's selection as soon as it is ranked; the
    strata are ranked the largest selection first (the order of the work, not of the result)."""
    _check_code(task, "task")
    p = _validate_plan(plan)

    # inputs: every id once, every stratum and department known to the plan
    for s, ids in targets.items():
        if ids and s not in p.strata:
            raise InvalidInput(f"targets[{s}]", f"分层 {s} 不在抽查方案 plan.strata 中", stratum=s)
    if not targets_unique:
        _check_unique("targets", targets)
    for d, ids in inspectors.items():
        if ids and d not in p.members:
            raise InvalidInput(f"inspectors[{d}]", f"部门 {d} 不在抽查方案 plan.members 中", dept=d)
    _check_unique("inspectors", inspectors)
    for ids in inspectors.values():
        _check_codes(ids, "inspectors.id")

    # 3. targets
    strata = sorted(p.strata)
    sizes = {s: stratum_size(len(targets.get(s, ())), p.strata[s]) for s in strata}
    n_groups = -(-sum(sizes.values()) // p.group_load)
    crew = None
    if on_crew is not None:   # steps 5 and 7 need only the number of groups
        crew = _crew(seed, task, p, inspectors, n_groups)
        on_crew(crew)
    ranked_of: dict[str, list[str]] = {}
    for s in sorted(strata, key=lambda s: (-sizes[s], s)):
        ids = targets.get(s, ())
        n, k = len(ids), sizes[s]
        ranked_of[s] = [i for _, i in rank_smallest(seed, ("ent", task), ids, k + _reserve_size(reserve, n, k),
                                                    processes)]
        if on_selected is not None:
            _check_codes(ranked_of[s][:k], "targets.id")
            on_selected(s, ranked_of[s][:k])
    selected = {s: ranked_of[s][:sizes[s]] for s in strata}
    target_reserve = {s: ranked_of[s][sizes[s]:] for s in strata}
    eligible = {s: len(targets.get(s, ())) for s in strata}
    for ids in selected.values():
        _check_codes(ids, "targets.id")

    # 4. groups of targets
    order = _order(seed, ("asg", task), itertools.chain.from_iterable(selected[s] for s in strata))
    depts = sorted(d for d, m in p.members.items() if m > 0)

    # 5. and 7. inspectors and leaders (unless drawn already)
    if crew is None:
        crew = _crew(seed, task, p, inspectors, n_groups)
    groups = [Group(order[g::n_groups], crew.members[g], crew.leaders[g]) for g in range(n_groups)]

    # 6. recusal
    replacements = _recuse(groups, depts, crew.reserve, conflicts)

    return DrawResult(selected, target_reserve, groups, replacements, crew.reserve, eligible)


@dataclass(frozen=True)
class Crew:
    """Steps 5 and 7: each group's members as drawn (dept -> ids, P_d order) and its leader, and each
    department's reserve. They depend on the number of groups, not on which targets are drawn."""
    members: list[dict[str, list[str]]]
    leaders: list[str]
    reserve: dict[str, list[str]]


def _crew(seed: str, task: str, p: _Plan, inspectors: Mapping[str, Sequence[str]], n_groups: int) -> Crew:
    """Steps 5 and 7 for ``n_groups`` groups."""
    depts = sorted(d for d, m in p.members.items() if m > 0)
    # 5. inspectors: check every department's count before drawing anything
    for d in sorted(p.members):
        have, need = len(inspectors.get(d, ())), n_groups * p.members[d]
        if have < need:
            raise TooFewInspectors(d, have, need)
    inspector_reserve: dict[str, list[str]] = {}
    drawn: dict[str, list[str]] = {}
    for d in sorted(p.members):
        ranked = _order(seed, ("insp", task, d), inspectors.get(d, ()))
        need = n_groups * p.members[d]
        drawn[d], inspector_reserve[d] = ranked[:need], ranked[need:]
    members, leaders = [], []
    for g in range(n_groups):
        members.append({d: drawn[d][g * p.members[d] : (g + 1) * p.members[d]] for d in depts})
        # 7. leader, from the lead department's members as drawn
        lead_ticket = ticketer(seed, "lead", task, str(g))
        leaders.append(min((lead_ticket(i), i) for i in members[g][p.lead])[1])
    return Crew(members, leaders, inspector_reserve)


def _recuse(groups: list[Group], depts: list[str], inspector_reserve: Mapping[str, Sequence[str]],
            conflicts: Iterable[tuple[str, str]]) -> list[Replacement]:
    """Step 6. Only the targets that have a declared conflict are looked at (the conflicts are few,
    the targets many); for those, the walk is the step's: departments in order, members in order."""
    conflicted: dict[str, set[str]] = {}
    by_target: set[str] = set()
    for i, e in conflicts:
        conflicted.setdefault(i, set()).add(e)
        by_target.add(e)
    replacements: list[Replacement] = []
    if not conflicted:
        return replacements
    used: dict[str, set[str]] = {d: set() for d in depts}
    for g, group in enumerate(groups):
        for e in group.targets:
            if e not in by_target:
                continue
            for d in depts:
                for i in group.members[d]:
                    if e not in conflicted.get(i, ()):
                        continue
                    for c in inspector_reserve[d]:
                        if c not in used[d] and e not in conflicted.get(c, ()):
                            break
                    else:
                        raise NoReplacement(g, e, d, i)
                    used[d].add(c)
                    replacements.append(Replacement(g, e, d, i, c))
    return replacements


def _check_unique(path: str, lists: Mapping[str, Sequence[str]]) -> None:
    """Every id once over all the lists; the first repeat (lists in key order) is named.

    Lists in strictly increasing order (the frozen lists are) are checked by comparing neighbours,
    and, when there are several, neighbours of their merge (a sort of sorted runs); others by a set.
    Only when a repeat is found are the lists walked to name the first one."""
    values = [v for v in lists.values() if v]
    try:
        increasing = all(all(map(operator.lt, v, itertools.islice(v, 1, None))) for v in values)
    except TypeError:  # not all text: the walk below names what is wrong, or the code checks do
        increasing = False
    if increasing:
        if len(values) <= 1:
            return
        merged = sorted(itertools.chain.from_iterable(values))
        if all(map(operator.lt, merged, itertools.islice(merged, 1, None))):
            return
    else:
        try:
            if len(set(itertools.chain.from_iterable(values))) == sum(len(v) for v in values):
                return
        except TypeError:  # an id that cannot be hashed: as before, the walk raises
            pass
    seen: dict[str, str] = {}
    for key in sorted(lists):
        for i in lists[key]:
            if i in seen:
                raise InvalidInput(path, f"编号 {i} 重复出现（{seen[i]}、{key}）", id=i)
            seen[i] = key


# --------------------------------------------------------------------------- records


def record_inputs(record: Mapping) -> tuple[dict[str, list[str]], dict[str, list[str]], list[tuple[str, str]]]:
    """(targets by stratum, inspectors by dept, conflict pairs) from a record's lists,
    which are assumed well-formed (verify.py checks the shape first)."""
    targets: dict[str, list[str]] = {}
    for t in record["targets"]:
        targets.setdefault(t["stratum"], []).append(t["id"])
    inspectors: dict[str, list[str]] = {}
    for i in record["inspectors"]:
        inspectors.setdefault(i["dept"], []).append(i["id"])
    conflicts = [(c[0], c[1]) for c in record.get("conflicts") or ()]
    return targets, inspectors, conflicts


def record_commitment(record: Mapping) -> Commitment:
    """The commitment of a record's task, plan, targets and inspectors."""
    plan_hash = _sha256_hex(canonical_json(record["plan"]))
    targets_hash = _lines_hash([f"{t['stratum']}|{t['id']}" for t in record["targets"]])
    inspectors_hash = _lines_hash([f"{i['dept']}|{i['id']}" for i in record["inspectors"]])
    return _commit(record["task"], plan_hash, targets_hash, inspectors_hash)


def compute_record(record: Mapping, reserve: Callable[[int, int], int] | int | None = None) -> dict:
    """Given the inputs of a record (algorithm, task, plan, targets, inspectors,
    conflicts, dice), the full core record with commitment, seed and result."""
    if record.get("algorithm", ALGORITHM) != ALGORITHM:
        raise InvalidInput("algorithm", f"只支持 {ALGORITHM}")
    c = record_commitment(record).commitment
    seed = seed_from(c, record["dice"])
    targets, inspectors, conflicts = record_inputs(record)
    result = draw(record["task"], record["plan"], targets, inspectors, conflicts, seed, reserve)
    return {
        "algorithm": ALGORITHM,
        "task": record["task"],
        "plan": record["plan"],
        "targets": record["targets"],
        "inspectors": record["inspectors"],
        "conflicts": [list(x) for x in conflicts],
        "commitment": c,
        "dice": record["dice"],
        "seed": seed,
        "result": result.to_record_result(),
    }
