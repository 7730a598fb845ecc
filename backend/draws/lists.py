"""Frozen lists of a draw, stored compressed in the database with their SHA-256."""
from __future__ import annotations

import hashlib
import zlib
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.draws.models import DrawList


def store(session: Session, draw_id: int, kind: str, lines: list[str]) -> DrawList:
    text = "\n".join(lines).encode("utf-8")
    row = DrawList(draw_id=draw_id, kind=kind, count=len(lines), sha256=hashlib.sha256(text).hexdigest(),
                   data=zlib.compress(text, 1))
    session.add(row)
    return row


def raw(session: Session, draw_id: int, kind: str) -> tuple[bytes, str, int] | None:
    """The stored (compressed data, sha256, count) of one list, or None."""
    row = session.execute(select(DrawList.data, DrawList.sha256, DrawList.count)
                          .where(DrawList.draw_id == draw_id, DrawList.kind == kind)).first()
    return None if row is None else (row[0], row[1], row[2])


def unpack(stored: tuple[bytes, str, int] | None) -> list[str]:
    if stored is None or stored[2] == 0:
        return []
    text = zlib.decompress(stored[0])
    if hashlib.sha256(text).hexdigest() != stored[1]:
        raise RuntimeError("a frozen draw list does not match its hash")
    return text.decode("utf-8").split("\n")


def load(session: Session, draw_id: int, kind: str) -> list[str]:
    return unpack(raw(session, draw_id, kind))


def pairs(lines: Iterable[str]) -> list[tuple[str, str]]:
    return [tuple(line.split("|", 1)) for line in lines]  # type: ignore[misc]


def grouped(lines: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in lines:
        key, value = line.split("|", 1)
        out.setdefault(key, []).append(value)
    return out
