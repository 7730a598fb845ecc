"""Frozen lists of a draw, stored compressed in the database with their SHA-256."""
from __future__ import annotations

import dataclasses
import hashlib
import queue
import threading
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
    data: bytes | None = None   # ``compress(text)``, when ``seal`` made it already


def pack(lines: list[str]) -> Packed:
    text = "\n".join(lines).encode("utf-8")
    return Packed(text, hashlib.sha256(text).hexdigest(), len(lines))


def join(lines: list[str]) -> tuple[bytes, int]:
    """The text ``pack`` hashes, and the count: made while the lines are held, hashed by ``seal`` after."""
    return "\n".join(lines).encode("utf-8"), len(lines)


def seal(text: bytes, count: int) -> Packed:
    """``pack``'s hash of ``join``'s text, and the bytes ``store`` keeps (``compress``). A large text (a
    commit's targets: 100 MB at 5,000,000) is hashed on a thread while it is compressed (SHA-256 and zlib
    let go of the interpreter lock): the hashing runs beside the compression instead of before it. A
    commit seals its lists after letting go of their lines, so the compressed bytes never coexist with them."""
    if len(text) < _HALVES_FROM:
        return Packed(text, hashlib.sha256(text).hexdigest(), count, compress(text))
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        digest = pool.submit(_sha256_hex, text)
        data = compress(text)
        return Packed(text, digest.result(), count, data)


def _sha256_hex(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


def store(session: Session, draw_id: int, kind: str, lines: list[str] | Packed) -> DrawList:
    packed = lines if isinstance(lines, Packed) else pack(lines)
    row = DrawList(draw_id=draw_id, kind=kind, count=packed.count, sha256=packed.sha256,
                   data=compress(packed.text) if packed.data is None else packed.data)
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


def raw_all(session: Session, draw_id: int, kinds: tuple[str, ...]) -> dict[str, tuple[bytes, str, int] | None]:
    """``raw`` of several lists in one statement. On PostgreSQL the rows come in binary (a bytea as text is
    hexadecimal: twice the bytes to send and decode, about 12 ms for a million targets' 7 MB)."""
    out: dict[str, tuple[bytes, str, int] | None] = dict.fromkeys(kinds)
    if session.get_bind().dialect.name == "postgresql":
        cursor = session.connection().connection.driver_connection.cursor(binary=True)
        with cursor:
            cursor.execute("SELECT kind, data, sha256, count FROM draw_list WHERE draw_id = %s "
                           "AND kind = ANY(string_to_array(%s, ','))", (draw_id, ",".join(kinds)))
            rows = cursor.fetchall()
    else:
        rows = session.execute(select(DrawList.kind, DrawList.data, DrawList.sha256, DrawList.count)
                               .where(DrawList.draw_id == draw_id, DrawList.kind.in_(kinds))).all()
    for kind, data, sha256, count in rows:
        out[kind] = (bytes(data), sha256, count)
    return out


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
    ``eligibility.split_by_prefix(load(...))`` gives: ``unpack_grouped`` of the stored list."""
    return unpack_grouped(raw(session, draw_id, kind), as_bytes=as_bytes)


_STREAM_FROM = 1 << 20   # compressed bytes: a smaller list is inflated at once
_PIECE = 1 << 18         # compressed bytes inflated at a time (about 0.75 MB of text)


def unpack_grouped(stored: tuple[bytes, str, int] | None, *, as_bytes: bool = False) -> dict[str, list]:
    """``split_sorted`` of a stored list, its hash checked, without making a string per line first: the lines
    of one key are one stretch of the text, split at each "\n<key>|". ``as_bytes``: the values as UTF-8
    bytes (the keys still text), for ``algorithm.draw``'s targets: no text is decoded, and the ranking
    hashes the bytes as they are instead of encoding each id again (about 0.08 s a million).

    A large list as bytes is inflated and hashed on a thread, piece by piece, while this one splits the pieces
    already inflated (zlib and SHA-256 let go of the interpreter lock): at a million targets the 0.08 s of
    inflating and hashing run beside the 0.09 s of splitting, and the whole text is never held at once.
    Nothing is returned before the hash of the whole text is checked."""
    if stored is None or stored[2] == 0:
        return {}
    data, sha256, count = stored
    if as_bytes and len(data) >= _STREAM_FROM:
        return _split_streamed(data, sha256, count)
    text = zlib.decompress(data)
    if hashlib.sha256(text).hexdigest() != sha256:
        raise RuntimeError("a frozen draw list does not match its hash")
    del stored, data
    if as_bytes:
        return split_sorted(text, count)
    decoded = text.decode("utf-8")
    del text   # 100 MB each for 5,000,000 targets
    return split_sorted(decoded, count)


def _inflate(data: bytes, pieces: queue.SimpleQueue) -> None:
    """On a thread: ``data`` (one zlib stream) inflated piece by piece onto ``pieces``, then the SHA-256 hex of
    the whole text (a ``str``: the end), or the error met."""
    try:
        inflater, sha = zlib.decompressobj(), hashlib.sha256()
        view = memoryview(data)
        for i in range(0, len(view), _PIECE):
            piece = inflater.decompress(view[i:i + _PIECE])
            if piece:
                sha.update(piece)
                pieces.put(piece)
        piece = inflater.flush()
        if piece:
            sha.update(piece)
            pieces.put(piece)
        if not inflater.eof or inflater.unused_data:
            raise zlib.error("a frozen draw list is not one whole zlib stream")
        pieces.put(sha.hexdigest())
    except BaseException as exc:  # noqa: BLE001 - raised by the reader
        pieces.put(exc)


def _split_streamed(data: bytes, sha256: str, count: int) -> dict[str, list]:
    """``split_sorted(zlib.decompress(data), count)`` of UTF-8 bytes, the text inflated on a thread meanwhile."""
    pieces: queue.SimpleQueue = queue.SimpleQueue()
    worker = threading.Thread(target=_inflate, args=(data, pieces), name="draw-list-inflate", daemon=True)
    worker.start()
    out: dict[str, list] = {}
    last: str | None = ""    # the key of the last line split; None: the lines are not sorted
    carry = b""              # the text after the last line break seen: a line not yet whole
    try:
        while True:
            piece = pieces.get()
            if isinstance(piece, BaseException):
                raise piece
            if isinstance(piece, str):
                digest = piece
                break
            if last is None:
                continue     # not sorted: the rest is inflated for the hash only
            text = carry + piece if carry else piece
            cut = text.rfind(b"\n")
            if cut < 0:
                carry = text
                continue
            carry = text[cut + 1:]
            last = _split_into(out, text, cut, last)
    finally:
        worker.join()
    if digest != sha256:
        raise RuntimeError("a frozen draw list does not match its hash")
    if last is not None and carry:
        last = _split_into(out, carry, len(carry), last)
    if last is None or sum(len(v) for v in out.values()) != count:
        return split_sorted(zlib.decompress(data), count)   # not sorted after all: line by line
    return out


def _split_into(out: dict[str, list], text: bytes, stop: int, last: str) -> str | None:
    """The whole lines of ``text[:stop]`` added to ``out`` as ``split_sorted`` groups them, after lines whose
    last key was ``last``; returns the key of the last line, or None when a key comes back after another."""
    start = 0
    while start < stop:
        bar = text.find(b"|", start, stop)
        if bar < 0:
            return None
        key = text[start:bar]
        sep = b"\n" + key + b"|"
        end_of_key = text.rfind(sep, start, stop)   # sorted: the key's lines are one stretch, the last one starts here
        end = text.find(b"\n", start if end_of_key < 0 else end_of_key + 1, stop)
        end = stop if end < 0 else end
        name = key.decode("utf-8")
        values = text[bar + 1:end].split(sep)
        if name in out:
            if name != last:
                return None
            out[name] += values
        else:
            out[name] = values
        last = name
        start = end + 1
    return last


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
