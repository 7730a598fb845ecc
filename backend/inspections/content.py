"""What a signature covers: the SHA-256 of a section or of the merged record as RFC 8785 canonical JSON.

A phone computes the same digest from what it shows (``docs/sync.md`` gives the exact objects), so
an officer signs exactly what the server holds. Photo and attachment hashes are inside the content,
so a signature covers the photos too.
"""
from __future__ import annotations

from sync.canonical import digest

CONTENT_VERSION = 1


def section_document(inspection_id: int, department_code: str, values: dict) -> dict:
    return {"v": CONTENT_VERSION, "kind": "section", "inspection_id": inspection_id,
            "department": department_code, "content": values}


def section_hash(inspection_id: int, department_code: str, values: dict) -> str:
    return digest(section_document(inspection_id, department_code, values))


def record_document(inspection_id: int, task_code: str, target_code: str, sections: dict[str, str | None],
                    values: dict) -> dict:
    """``sections``: department code → the hash of that department's section (None if it has none)."""
    return {"v": CONTENT_VERSION, "kind": "record", "inspection_id": inspection_id, "task": task_code,
            "target": target_code, "sections": sections, "content": values}


def record_hash(inspection_id: int, task_code: str, target_code: str, sections: dict[str, str | None],
                values: dict) -> str:
    return digest(record_document(inspection_id, task_code, target_code, sections, values))
