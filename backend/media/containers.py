"""Audio and video containers walked from the first byte to the last (no Flask, no database, no decoding).

A clip's magic number says what it claims to be; the walk checks that it is: every box, element,
chunk, page or frame must fit where the one before it ended, and the file must end where the last one
does. Random bytes behind an ``ftyp`` header (or ``OggS``, ``RIFF``…) fail at the first structure after
the header. Only the structure is read, a few bytes per structure: a 200 MB clip costs a few thousand
small reads. The media inside is never decoded (the original is evidence, kept as it is).

``problem(path, container, media_type)`` returns a Chinese reason, or None when the file is well formed.
"""
from __future__ import annotations

import os
import struct

MAX_STRUCTURES = 2_000_000       # boxes, elements, chunks, pages or frames walked in one file


class _Bad(Exception):
    pass


def problem(path, container: str, media_type: str) -> str | None:
    size = os.path.getsize(path)
    try:
        with open(path, "rb") as f:
            {"ftyp": _iso_bmff, "ebml": _ebml, "wav": _wav, "ogg": _ogg, "amr": _amr, "mp3": _mp3}[container](
                f, size, media_type)
    except _Bad as bad:
        return str(bad)
    except (OSError, struct.error, ValueError, IndexError):
        return "结构无法解析"
    return None


def _read(f, at: int, n: int) -> bytes:
    f.seek(at)
    data = f.read(n)
    if len(data) < n:
        raise _Bad("结构在文件结尾前中断")
    return data


# --- ISO base media (MP4, M4A, 3GP, QuickTime): boxes ----------------------------------------------------------

def _boxes(f, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, body start, box end) of the boxes that fill [start, end) exactly."""
    out, pos = [], start
    while pos < end:
        if len(out) > MAX_STRUCTURES:
            raise _Bad("结构过多")
        if end - pos < 8:
            raise _Bad("结尾有多余的字节")
        size, kind = struct.unpack(">I4s", _read(f, pos, 8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", _read(f, pos + 8, 8))[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise _Bad(f"第 {len(out) + 1} 个结构的长度超出文件")
        if not all(0x20 <= b < 0x7F for b in kind):
            raise _Bad(f"第 {len(out) + 1} 个结构的类型无效")
        out.append((kind, pos + header, pos + size))
        pos += size
    return out


def _iso_bmff(f, size: int, media_type: str) -> None:
    boxes = _boxes(f, 0, size)
    kind, body, end = boxes[0]
    if kind != b"ftyp" or not 16 <= end <= 4096 or (end - body - 8) % 4:
        raise _Bad("文件类型（ftyp）结构有误")
    kinds = [b[0] for b in boxes]
    if b"moov" not in kinds:
        raise _Bad("缺少影片信息（moov）")
    if b"mdat" not in kinds and b"moof" not in kinds:
        raise _Bad("缺少媒体数据（mdat）")
    _, body, end = boxes[kinds.index(b"moov")]
    if b"mvhd" not in [b[0] for b in _boxes(f, body, end)]:
        raise _Bad("影片信息中缺少 mvhd")


# --- EBML (WebM, Matroska): elements -----------------------------------------------------------------------

def _vint(f, at: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at ``at``: (value, length in bytes)."""
    first = _read(f, at, 1)[0]
    if first == 0:
        raise _Bad("长度编码无效")
    length = 8 - first.bit_length() + 1
    data = _read(f, at, length)
    value = int.from_bytes(data, "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
    return value, length


EBML_ID, DOCTYPE_ID, SEGMENT_ID = 0x1A45DFA3, 0x4282, 0x18538067
DOCTYPES = {"audio/webm": {b"webm"}, "video/webm": {b"webm"}, "video/x-matroska": {b"matroska", b"webm"}}


def _ebml(f, size: int, media_type: str) -> None:
    ident, n = _vint(f, 0, True)
    length, m = _vint(f, n, False)
    header_end = n + m + length
    if ident != EBML_ID or header_end > min(size, 4096):
        raise _Bad("EBML 文件头有误")
    pos, doctype = n + m, None
    while pos < header_end:
        child, a = _vint(f, pos, True)
        child_len, b = _vint(f, pos + a, False)
        if pos + a + b + child_len > header_end:
            raise _Bad("EBML 文件头中的元素超出文件头")
        if child == DOCTYPE_ID:
            doctype = _read(f, pos + a + b, child_len).rstrip(b"\x00")
        pos += a + b + child_len
    if doctype not in DOCTYPES.get(media_type, set()):
        raise _Bad(f"文档类型（DocType）为 {(doctype or b'').decode('ascii', 'replace')[:16] or '空'}")
    segment, a = _vint(f, header_end, True)
    seg_len, b = _vint(f, header_end + a, False)
    unknown = seg_len == (1 << (7 * b)) - 1           # a live recording may leave the length open
    if segment != SEGMENT_ID or (not unknown and header_end + a + b + seg_len != size):
        raise _Bad("缺少内容段（Segment），或其长度与文件不符")


# --- RIFF WAVE: chunks --------------------------------------------------------------------------------------

def _wav(f, size: int, media_type: str) -> None:
    riff, declared, wave = struct.unpack("<4sI4s", _read(f, 0, 12))
    if riff != b"RIFF" or wave != b"WAVE" or declared + 8 > size:
        raise _Bad("RIFF 文件头有误")
    pos, seen = 12, []
    end = declared + 8
    while pos < end:
        if len(seen) > MAX_STRUCTURES:
            raise _Bad("结构过多")
        kind, length = struct.unpack("<4sI", _read(f, pos, 8))
        if pos + 8 + length > end:
            raise _Bad(f"数据块 {kind.decode('ascii', 'replace')} 超出文件")
        if kind == b"fmt " and length < 16:
            raise _Bad("格式块（fmt）过短")
        seen.append(kind)
        pos += 8 + length + (length & 1)
    if b"fmt " not in seen or b"data" not in seen or seen.index(b"fmt ") > seen.index(b"data"):
        raise _Bad("缺少格式块（fmt）或数据块（data）")
    if size - end > 1:
        raise _Bad("结尾有多余的字节")


# --- Ogg: pages --------------------------------------------------------------------------------------------

def _ogg(f, size: int, media_type: str) -> None:
    pos, pages = 0, 0
    while pos < size:
        pages += 1
        if pages > MAX_STRUCTURES:
            raise _Bad("结构过多")
        header = _read(f, pos, 27)
        if header[:4] != b"OggS" or header[4] != 0:
            raise _Bad(f"第 {pages} 页的页头有误")
        segments = header[26]
        table = _read(f, pos + 27, segments)
        pos += 27 + segments + sum(table)
        if pos > size:
            raise _Bad(f"第 {pages} 页超出文件")


# --- AMR (narrow and wide band): frames -----------------------------------------------------------------------

AMR_NB = (13, 14, 16, 18, 20, 21, 27, 32, 6, None, None, None, None, None, None, 1)
AMR_WB = (18, 24, 33, 37, 41, 47, 51, 59, 61, 6, None, None, None, None, 1, 1)


def _amr(f, size: int, media_type: str) -> None:
    wide = _read(f, 0, 9) == b"#!AMR-WB\n"
    sizes, pos = (AMR_WB, 9) if wide else (AMR_NB, 6)
    frames = 0
    f.seek(pos)
    while pos < size:
        frames += 1
        if frames > MAX_STRUCTURES:
            raise _Bad("结构过多")
        header = _read(f, pos, 1)[0]
        length = sizes[(header >> 3) & 0x0F]
        if header & 0x83 or length is None:
            raise _Bad(f"第 {frames} 帧的帧头无效")
        pos += length
    if pos != size:
        raise _Bad("最后一帧不完整")


# --- MPEG audio (MP3): an ID3 tag, then frames ------------------------------------------------------------------

_MP3_RATES = {  # (version bit, layer bits) → bitrates in kbit/s by index
    (1, 1): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),       # MPEG-1 layer III
    (1, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),      # MPEG-1 layer II
    (0, 1): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),           # MPEG-2/2.5 layer III
    (0, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),           # MPEG-2/2.5 layer II
}
_MP3_SAMPLES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
MP3_FRAMES_CHECKED = 16


def _mp3(f, size: int, media_type: str) -> None:
    pos = 0
    head = _read(f, 0, 10) if size >= 10 else b""
    if head[:3] == b"ID3":
        tag = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        if any(b & 0x80 for b in head[6:10]):
            raise _Bad("ID3 标签长度无效")
        pos = 10 + tag + (10 if head[5] & 0x10 else 0)
    frames = 0
    while pos < size and frames < MP3_FRAMES_CHECKED:
        if size - pos >= 3 and _read(f, pos, 3) == b"TAG" and size - pos == 128:
            break                                        # an ID3v1 tag at the very end
        h = int.from_bytes(_read(f, pos, 4), "big")
        version, layer = (h >> 19) & 3, (h >> 17) & 3
        rate_index, sample_index, padding = (h >> 12) & 0xF, (h >> 10) & 3, (h >> 9) & 1
        if h >> 21 != 0x7FF or version == 1 or layer in (0, 3) or rate_index in (0, 15) or sample_index == 3:
            raise _Bad(f"第 {frames + 1} 帧的帧头无效")
        bitrate = _MP3_RATES[(1 if version == 3 else 0, layer)][rate_index] * 1000
        samples = _MP3_SAMPLES[version][sample_index]
        per_frame = 144 if version == 3 or layer == 2 else 72
        pos += per_frame * bitrate // samples + padding
        frames += 1
    if frames == 0 or pos > size:
        raise _Bad("没有完整的音频帧")
