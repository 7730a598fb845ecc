"""Frozen lists of a draw, stored compressed in the database with their SHA-256."""
from __future__ import annotations

import dataclasses
import hashlib
import zlib
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.draws.models import DrawList


@dataclasses.dataclass(frozen=True)
class Packed:
    """A list as stored: its lines joined by "\n" (UTF-8), their SHA-256 hex and count. The commitment
    hashes the same text: one join and one hash serve both."""

    text: bytes
    sha256: str
    count: int


def pack(lines: list[str]) -> Packed:
    text = "\n".join(lines).encode("utf-8")
    return Packed(text, hashlib.sha256(text).hexdigest(), len(lines))


def store(session: Session, draw_id: int, kind: str, lines: list[str] | Packed) -> DrawList:
    packed = lines if isinstance(lines, Packed) else pack(lines)
    row = DrawList(draw_id=draw_id, kind=kind, count=packed.count, sha256=packed.sha256,
                   data=compress(packed.text))
    session.add(row)
    return row


_HALVES_FROM = 4 << 20   # bytes


def compress(text: bytes) -> bytes:
    """One zlib stream (level 1) of ``text``, for ``zlib.decompress``. A large text (a million targets are
    20 MB, 0.2 s to compress) is compressed in two halves at once, the second on a thread (zlib lets go of
    the interpreter lock): raw deflate of the first half ending on a byte boundary (a sync flush), then
    of the second half to the end, between the zlib header and the Adler-32 of the whole text, as pigz
    does. The bytes differ from ``zlib.compress``'s; the text they give back does not."""
    if len(text) < _HALVES_FROM:
        return zlib.compress(text, 1)
    from concurrent.futures import ThreadPoolExecutor

    view, half = memoryview(text), len(text) // 2
    with ThreadPoolExecutor(1) as pool:
        second = pool.submit(_deflate, view[half:], zlib.Z_FINISH)
        first = _deflate(view[:half], zlib.Z_SYNC_FLUSH)
        checksum = zlib.adler32(text).to_bytes(4, "big")
        return b"\x78\x01" + first + second.result() + checksum


def _deflate(data, flush: int) -> bytes:
    raw_deflate = zlib.compressobj(1, zlib.DEFLATED, -15)
    return raw_deflate.compress(data) + raw_deflate.flush(flush)


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


def load_grouped(session: Session, draw_id: int, kind: str, *, as_bytes: bool = False) -> dict[str, list]:
    """{key: [value, ...]} of a list of sorted "key|value" lines (targets, inspectors), as
    ``eligibility.split_by_prefix(load(...))`` gives, without making a string per line first: the
    lines of one key are one stretch of the text, split at each "\n<key>|". ``as_bytes``: the values as
    UTF-8 bytes (the keys still text), for ``algorithm.draw``'s targets: no text is decoded, and the ranking
    hashes the bytes as they are instead of encoding each id again (about 0.08 s a million)."""
    stored = raw(session, draw_id, kind)
    if stored is None or stored[2] == 0:
        return {}
    count = stored[2]
    text = zlib.decompress(stored[0])
    if hashlib.sha256(text).hexdigest() != stored[1]:
        raise RuntimeError("a frozen draw list does not match its hash")
    del stored
    if as_bytes:
        return split_sorted(text, count)
    decoded = text.decode("utf-8")
    del text   # 100 MB each for 5,000,000 targets
    return split_sorted(decoded, count)


def split_sorted(text: str | bytes, count: int) -> dict[str, list]:
    """``count`` sorted "key|value" lines joined by "\n" (no "|" or line break in a value), grouped. Bytes (UTF-8)
    give bytes values under text keys."""
    bar, newline = ("|", "\n") if isinstance(text, str) else (b"|", b"\n")
    name = str if isinstance(text, str) else bytes.decode
    out: dict = {}
    start, end_of_text = 0, len(text)
    while start < end_of_text:
        key = text[start:text.index(bar, start)]
        sep = newline + key + bar
        last = text.rfind(sep, start)   # sorted: the key's lines are one stretch, the last one starts here
        end = text.find(newline, start if last < 0 else last + 1)
        end = end_of_text if end < 0 else end
        if name(key) in out:
            break                        # not sorted after all: see below
        out[name(key)] = text[start + len(key) + 1:end].split(sep)
        start = end + 1
    if sum(len(v) for v in out.values()) != count:
        out = {}                         # not sorted (a stretch swallowed other lines): line by line
        for line in text.split(newline):
            key, value = line.split(bar, 1)
            out.setdefault(name(key), []).append(value)
    return out


def pairs(lines: Iterable[str]) -> list[tuple[str, str]]:
    return [tuple(line.split("|", 1)) for line in lines]  # type: ignore[misc]


def grouped(lines: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in lines:
        key, value = line.split("|", 1)
        out.setdefault(key, []).append(value)
    return out
