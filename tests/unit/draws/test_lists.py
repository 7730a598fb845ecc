"""The frozen lists' text: packed once for the commitment and the stored copy, compressed, split per key;
and the canonical JSON of the audit digests, written by the standard library where it is exactly RFC 8785."""

from __future__ import annotations

import hashlib
import random
import zlib

import pytest
import rfc8785

from backend.draws import lists
from backend.draws.algorithm import _check_unique, InvalidInput
from backend.draws.eligibility import split_by_prefix
from sync.canonical import canonical_json


def _lines(rng: random.Random, keys: list[str], n: int) -> list[str]:
    values = ["1", "2", "x|y", "中", "A", "AB", "", "9", "é"]
    return sorted({f"{rng.choice(keys)}|{rng.choice(values)}{rng.randint(0, 50)}" for _ in range(n)})


def test_split_sorted_is_split_by_prefix_and_falls_back_line_by_line_when_not_sorted():
    rng = random.Random(3)
    for _ in range(500):
        keys = rng.sample(["A", "B", "AB", "C", "all", "é", "D01"], rng.randint(1, 4))
        lines = _lines(rng, keys, rng.randint(1, 30))
        assert lists.split_sorted("\n".join(lines), len(lines)) == split_by_prefix(lines)
        rng.shuffle(lines)
        expected: dict[str, list[str]] = {}
        for line in lines:
            key, value = line.split("|", 1)
            expected.setdefault(key, []).append(value)
        assert lists.split_sorted("\n".join(lines), len(lines)) == expected


def test_split_sorted_of_utf8_bytes_gives_the_values_as_bytes_under_text_keys():
    rng = random.Random(4)
    for _ in range(300):
        keys = rng.sample(["A", "B", "AB", "C", "all", "é", "D01"], rng.randint(1, 4))
        lines = _lines(rng, keys, rng.randint(1, 30))
        for order in (lines, rng.sample(lines, len(lines))):
            as_text = lists.split_sorted("\n".join(order), len(order))
            assert lists.split_sorted("\n".join(order).encode("utf-8"), len(order)) == {
                k: [v.encode("utf-8") for v in vs] for k, vs in as_text.items()}


def test_pack_hashes_the_text_the_commitment_hashes():
    lines = ["A|911", "B|912", "B|913"]
    packed = lists.pack(lines)
    assert packed.text == b"A|911\nB|912\nB|913"
    assert packed.sha256 == hashlib.sha256("\n".join(lines).encode()).hexdigest()
    assert packed.count == 3
    assert lists.pack([]).sha256 == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("count", [0, 3, 400_000])   # 400,000 lines: past 4 MB, hashed on a thread
def test_seal_of_join_hashes_on_a_thread_what_pack_hashes_and_keeps_compress_bytes(count):
    lines = [f"{'ABCD'[i % 4]}|{i:017d}" for i in range(count)]
    plain, sealed = lists.pack(lines), lists.seal(*lists.join(lines))
    assert (sealed.text, sealed.sha256, sealed.count) == (plain.text, plain.sha256, plain.count)
    assert sealed.data == lists.compress(plain.text) and plain.data is None
    assert zlib.decompress(sealed.data) == plain.text


@pytest.mark.parametrize("size", [0, 1, 4096, (4 << 20) - 1, 4 << 20, (4 << 20) + 7, 9_000_001])
def test_compress_gives_one_zlib_stream_of_the_text(size):
    rng = random.Random(size)
    block = bytes(rng.getrandbits(8) for _ in range(997))
    text = (block * (size // 997 + 1))[:size]
    assert zlib.decompress(lists.compress(text)) == text


def test_duplicate_check_names_the_first_repeat_sorted_or_not():
    _check_unique("targets", {"A": ["1", "2"], "B": ["3", "4"]})
    _check_unique("targets", {"A": ["2", "1"], "B": ["4", "3"]})
    for lists_ in ({"A": ["1", "2"], "B": ["0", "2"]}, {"A": ["2", "1"], "B": ["2", "0"]}, {"B": ["1", "1"]},
                   {"A": ["1", "1", "2"]}):
        with pytest.raises(InvalidInput) as caught:
            _check_unique("targets", lists_)
        first = "2" if "A" in lists_ and "B" in lists_ else "1"
        assert caught.value.details["id"] == first


def _value(rng: random.Random, depth: int = 0):
    chars = ["a", "Z", '"', "\\", "\n", "\x00", "\x1f", "\x7f", "é", "中", "\u2028", "\U0001F600", "\ufeff", "/",
             "\t", "\b", "\f", "\r", "\uffff", "\ue000"]

    def text():
        return "".join(rng.choice(chars) for _ in range(rng.randint(0, 5)))

    r = rng.random()
    if depth > 3 or r < 0.4:
        return rng.choice([None, True, False, 2**53 - 1, -(2**53) + 1, rng.randint(-999, 999), text(), 1.5, 1e21])
    if r < 0.7:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {text(): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def test_canonical_json_is_rfc8785_byte_for_byte():
    rng = random.Random(8785)
    for _ in range(20000):
        value = _value(rng)
        assert canonical_json(value) == rfc8785.dumps(value)
    for too_big in (2**53, -(2**53)):
        with pytest.raises(rfc8785.IntegerDomainError):
            canonical_json({"n": too_big})


def _stored(lines: list[str]) -> tuple[bytes, str, int]:
    packed = lists.pack(lines)
    return lists.compress(packed.text), packed.sha256, packed.count


@pytest.mark.parametrize("piece", [1, 7, 64, 1 << 18])
def test_unpack_grouped_inflated_on_a_thread_splits_as_split_sorted(monkeypatch, piece):
    """A large list as bytes is inflated piece by piece on a thread and split as the pieces come: the same
    groups as ``split_sorted`` of the whole text, whatever the pieces' size, sorted or not."""
    monkeypatch.setattr(lists, "_STREAM_FROM", 0)
    monkeypatch.setattr(lists, "_PIECE", piece)
    rng = random.Random(piece)
    for _ in range(60 if piece > 1 else 15):
        keys = rng.sample(["A", "B", "AB", "C", "all", "é", "D01", ""], rng.randint(1, 4))
        lines = _lines(rng, keys, rng.randint(1, 200))
        for order in (lines, rng.sample(lines, len(lines))):
            expected = lists.split_sorted("\n".join(order).encode("utf-8"), len(order))
            assert lists.unpack_grouped(_stored(order), as_bytes=True) == expected
            assert lists.unpack_grouped(_stored(order)) == lists.split_sorted("\n".join(order), len(order))


def test_unpack_grouped_of_a_million_lines_and_a_wrong_hash_or_stream(monkeypatch):
    lines = sorted(f"{'ABCD'[i % 4]}|9141{i:014d}" for i in range(1_000_000))
    stored = _stored(lines)
    assert len(stored[0]) >= lists._STREAM_FROM   # inflated on the thread
    got = lists.unpack_grouped(stored, as_bytes=True)
    assert got == {k: [v.encode() for v in vs] for k, vs in split_by_prefix(lines).items()}
    with pytest.raises(RuntimeError, match="hash"):
        lists.unpack_grouped((stored[0], "0" * 64, stored[2]), as_bytes=True)
    with pytest.raises(zlib.error):
        lists.unpack_grouped((stored[0][:-9], stored[1], stored[2]), as_bytes=True)
    with pytest.raises(zlib.error):
        lists.unpack_grouped((stored[0] + b"x", stored[1], stored[2]), as_bytes=True)
