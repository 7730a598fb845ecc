"""RFC 8785 canonical JSON and SHA-256 digests, shared by the audit chain, signatures and the draw."""
from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import uuid
from typing import Any

import rfc8785


_LEAVES = frozenset((str, int, bool, float, type(None)))     # returned as they are (floats too: see the end)


def plain(value: Any) -> Any:
    """Turn values JSON does not know (datetimes, decimals, enums, UUIDs, sets) into JSON ones."""
    if value.__class__ in _LEAVES:       # (text, numbers, flags, null: most of an audit entry's values)
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime cannot be canonicalised")
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return value
    return value


def canonical_json(value: Any) -> bytes:
    exact = _json_exact(value)
    if not exact:               # already plain JSON values: ``plain`` would copy them unchanged
        value = plain(value)
        exact = _json_exact(value)
    if exact:                   # (walked once: a push's 30-answer payload is ~100 values)
        try:
            return _dumps(value).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: rfc8785 refuses it with its own error
            pass
    return rfc8785.dumps(value)


_SAFE_INT = 2**53 - 1
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode


def _json_exact(value: Any) -> bool:
    """Whether the standard library's JSON (C encoder, sorted keys, no spaces, UTF-8 as is) writes
    ``value`` exactly as RFC 8785 does: null, booleans, integers within ±(2**53 - 1), text, lists and
    objects whose keys are text without characters beyond U+FFFF (there, code point order is UTF-16
    order). Floats, other numbers and anything else go to ``rfc8785`` (0.2 s for a draw's result of
    30,000 ids there, a few milliseconds here). Both escape the same characters the same way."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    if kind is int:
        return -_SAFE_INT <= value <= _SAFE_INT
    if kind is list or kind is tuple:
        return all(type(v) is str or _json_exact(v) for v in value)
    if kind is dict:
        return all(type(k) is str and (k.isascii() or max(k) < "\U00010000") and (type(v) is str or _json_exact(v))
                   for k, v in value.items())
    return False


def digest(value: Any) -> str:
    """SHA-256 hex of the canonical JSON of ``value``."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def sha256_hex(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


# --- what a signature covers (docs/sync.md §Signatures) -------------------------------------------------

CONTENT_VERSION = 1


def section_document(inspection_id: int, department_code: str, values: dict) -> dict:
    """A department's section as signed: its flat ``path → value`` content, photo hashes included."""
    return {"v": CONTENT_VERSION, "kind": "section", "inspection_id": inspection_id,
            "department": department_code, "content": values}


def section_hash(inspection_id: int, department_code: str, values: dict) -> str:
    return digest(section_document(inspection_id, department_code, values))


def record_document(inspection_id: int, task_code: str, target_code: str, sections: dict, values: dict) -> dict:
    """The merged record as signed. ``sections``: department code → its signed section hash (None if unsigned)."""
    return {"v": CONTENT_VERSION, "kind": "record", "inspection_id": inspection_id, "task": task_code,
            "target": target_code, "sections": sections, "content": values}


def record_hash(inspection_id: int, task_code: str, target_code: str, sections: dict, values: dict) -> str:
    return digest(record_document(inspection_id, task_code, target_code, sections, values))
