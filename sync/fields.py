"""Per-field revisions: merge a mutation's field writes into a document, never overwriting silently.

A document is a flat mapping ``path → value`` with, for each path, the revision that last wrote it
and the client that wrote it (``revs[path] = [rev, client_id]``). A write names the revision it was
based on (``base_rev``; 0 for a field the client never saw written). A write is applied when:

* the value is what the server already holds (nothing to do, whatever the base), or
* its base is the current revision of that field, or
* the current value was written by the same client (its own earlier, not yet pulled write: the
  client's outbox is one line of edits, so it cannot conflict with itself).

Otherwise the write becomes a conflict: the server value stays, and the conflict is returned for
the team lead to resolve. Fields the mutation does not name are untouched (they merge on their own).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, NamedTuple


class FieldWrite(NamedTuple):
    """One write of a mutation (a tuple: a push makes a hundred of them)."""
    path: str
    value: Any
    base_rev: int


@dataclasses.dataclass(frozen=True)
class FieldConflict:
    path: str
    base_rev: int
    server_value: Any
    server_rev: int
    server_client: str | None
    client_value: Any


@dataclasses.dataclass
class MergePlan:
    """What a set of writes would do; nothing is changed until :func:`apply_plan`."""

    changes: dict[str, Any] = dataclasses.field(default_factory=dict)   # path → new value (None deletes)
    unchanged: list[str] = dataclasses.field(default_factory=list)
    conflicts: list[FieldConflict] = dataclasses.field(default_factory=list)


_PLAIN = frozenset((str, int, bool, float, type(None)))


def same(a: Any, b: Any) -> bool:
    """JSON equality that tells 1 from 1.0's cousin True and from "1" (Python's == does not)."""
    kind = a.__class__
    if kind is b.__class__ and kind in _PLAIN:
        return a == b
    if type(a) is not type(b):
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a == b
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def plan_merge(values: Mapping[str, Any], revs: Mapping[str, list], writes: list[FieldWrite],
               client_id: str) -> MergePlan:
    plan = MergePlan()
    for path, value, base_rev in writes:
        current = values.get(path)
        kind = current.__class__
        if (current == value) if (kind is value.__class__ and kind in _PLAIN) else same(current, value):
            plan.unchanged.append(path)       # (``same``'s first test inline: a push makes a hundred writes)
            continue
        rev, writer = (revs.get(path) or (0, None))[:2]
        if base_rev == rev or (writer is not None and writer == client_id):
            plan.changes[path] = value
        else:
            plan.conflicts.append(FieldConflict(path, base_rev, current, rev, writer, value))
    return plan


def apply_plan(values: dict[str, Any], revs: dict[str, list], plan: MergePlan, new_rev: int,
               client_id: str) -> dict[str, int]:
    """Apply the plan's changes at revision ``new_rev``; return path → revision for every applied path."""
    out = {}
    for path, value in plan.changes.items():
        if value is None:
            values.pop(path, None)
        else:
            values[path] = value
        revs[path] = [new_rev, client_id]
        out[path] = new_rev
    return out
