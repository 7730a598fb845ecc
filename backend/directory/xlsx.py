"""The XLSX side of the readers: the ZIP container judged from its central directory, and a streaming
reader of the first worksheet (see ``readers.py`` for why neither openpyxl nor python-calamine reads
uploads).

* ``inspect_xlsx`` reads the end record (the member count, before zipfile reads the directory) and the
  central directory: names, flags, compression, declared unpacked sizes, ratios. Nothing is
  decompressed.
* ``XlsxTable`` reads, with ``pyexpat`` parsers that refuse any document type declaration: the package
  and workbook relationships, the workbook (sheet order, the 1904 epoch), the styles (which cell
  styles are dates), the shared strings (kept compact) and the first worksheet, fed in 64 KiB
  pieces; ``zipfile`` stops each member at its declared size and checks its CRC.

No Flask here.
"""
from __future__ import annotations

import array
import dataclasses
import datetime as dt
import os
import posixpath
import pyexpat
import re
import struct
import zipfile
from pathlib import Path
from typing import Iterator

from backend.directory.readers import (MB, FileProblem, Limits, Table, _cell_too_long, _mb, _row_too_long,
                                       _too_many_rows, cell_text, clean)

RATIO_FLOOR = 1 * MB         # members smaller than this are not judged by their compression ratio
MAX_XML_TOKEN = 4 * MB       # one start tag (with its attributes) may not be longer than this
XML_CHUNK = 64 * 1024
XLSX_MAX_ROW = 1_048_576     # the format's own limits
XLSX_MAX_COLUMN = 16_384


def _too_large_unpacked(what: str, size: int, limit: int) -> FileProblem:
    return FileProblem(f"XLSX 文件解压后过大：{what}解压后为 {_mb(size)} MB，上限为 {_mb(limit)} MB，未导入。"
                       "请删除多余的工作表、图片和格式，或拆分后分批导入（也可另存为 CSV）",
                       code="import.file_too_large_unpacked", status=413,
                       details={"part": what, "unpacked_bytes": size, "limit_bytes": limit})


def _suspicious(reason: str) -> FileProblem:
    return FileProblem(f"XLSX 文件结构异常，已拒绝导入：{reason}。请在 Excel 或 WPS 中打开后重新“另存为” .xlsx 再导入",
                       code="import.suspicious_archive", status=422, details={"reason": reason})


def _not_xlsx() -> FileProblem:
    return FileProblem("文件不是有效的 XLSX 文件（可能是改了扩展名的其他文件，或设置了打开密码）", code="import.bad_file")


# --- the ZIP container (no decompression) -------------------------------------------------------------

_EOCD = struct.Struct("<4s4H2LH")           # end of central directory record
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_MAX_CENTRAL_DIRECTORY = 4 * MB
_SHARED_STRINGS_NAME = "sharedstrings.xml"


def _end_record(path: str | Path) -> tuple[int, int]:
    """(number of members, central directory size) from the end record, before zipfile reads anything."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        tail_len = min(size, _EOCD.size + 0xFFFF + _EOCD64_LOCATOR.size)
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        pos = tail.rfind(b"PK\x05\x06")
        if pos < 0 or len(tail) - pos < _EOCD.size:
            raise _not_xlsx()
        _, disk, cd_disk, on_disk, entries, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, pos)
        if 0xFFFF in (on_disk, entries) or 0xFFFFFFFF in (cd_size, cd_offset):  # ZIP64
            loc = pos - _EOCD64_LOCATOR.size
            if loc < 0 or tail[loc:loc + 4] != b"PK\x06\x07":
                raise _not_xlsx()
            _, _, offset, _ = _EOCD64_LOCATOR.unpack_from(tail, loc)
            if offset > size - _EOCD64.size:
                raise _not_xlsx()
            f.seek(offset)
            record = f.read(_EOCD64.size)
            if record[:4] != b"PK\x06\x06":
                raise _not_xlsx()
            _, _, _, _, disk, cd_disk, on_disk, entries, cd_size, _ = _EOCD64.unpack(record)
    if disk or cd_disk or on_disk != entries:
        raise _suspicious("分卷压缩文件")
    return entries, cd_size


@dataclasses.dataclass
class Manifest:
    """The members of a checked XLSX, by lower-case name."""

    members: dict[str, zipfile.ZipInfo]
    unpacked: int


def inspect_xlsx(path: str | Path, limits: Limits) -> Manifest:
    """Refuse, from the central directory alone, an XLSX that would unpack beyond the limits."""
    entries, cd_size = _end_record(path)
    if entries > limits.xlsx_max_members:
        raise _suspicious(f"包含 {entries:,} 个文件，超过 {limits.xlsx_max_members} 个的上限")
    if cd_size > _MAX_CENTRAL_DIRECTORY:
        raise _suspicious("文件目录区过大")
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError,
            struct.error):
        raise FileProblem("XLSX 文件已损坏，无法打开", code="import.bad_file") from None
    if len(infos) > limits.xlsx_max_members:
        raise _suspicious(f"包含 {len(infos):,} 个文件，超过 {limits.xlsx_max_members} 个的上限")
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        name = info.filename
        parts = name.split("/")
        if (name.startswith("/") or "\\" in name or "\x00" in name or ".." in parts
                or (parts and ":" in parts[0])):
            raise _suspicious(f"含有异常的文件路径“{name[:80]}”")
        key = name.lower()
        if key in members:
            raise _suspicious(f"文件“{name[:80]}”重复出现")
        if info.flag_bits & 0x1:
            raise _suspicious("含有加密的内容")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _suspicious(f"使用了 Excel 不用的压缩方式（{info.compress_type}）")
        if posixpath.basename(key) == _SHARED_STRINGS_NAME and info.file_size > limits.xlsx_max_shared_strings:
            raise _too_large_unpacked("共享字符串（sharedStrings.xml）", info.file_size, limits.xlsx_max_shared_strings)
        if info.file_size > limits.xlsx_max_unpacked:
            raise _too_large_unpacked(f"其中的“{name[:80]}”", info.file_size, limits.xlsx_max_unpacked)
        if info.file_size > RATIO_FLOOR and info.file_size > limits.xlsx_max_ratio * max(info.compress_size, 1):
            raise _suspicious(f"“{name[:80]}”的压缩比超过 {limits.xlsx_max_ratio} 倍（疑似“压缩炸弹”）")
        total += info.file_size
        members[key] = info
    if total > limits.xlsx_max_unpacked:
        raise _too_large_unpacked("整个文件", total, limits.xlsx_max_unpacked)
    if "[content_types].xml" not in members:
        raise FileProblem("文件是 ZIP 压缩包，但不是 Excel 工作簿（XLSX）", code="import.bad_file")
    return Manifest(members, total)


# --- XML parts ---------------------------------------------------------------------------------------

class _Refused(Exception):
    """A DTD in a part: refused before anything is expanded."""


def _refuse_dtd(*_args):
    raise _Refused()


def _xml_parser(namespaces: bool = False):
    """An expat parser that refuses any document type declaration (so no entity is ever defined)."""
    parser = pyexpat.ParserCreate(namespace_separator=" " if namespaces else None)
    parser.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.buffer_text = True
    parser.buffer_size = XML_CHUNK
    return parser


def _local(name: str) -> str:
    """The local name of ``{uri local}`` or ``prefix:local``."""
    return name.rpartition(" ")[2].rpartition(":")[2]


_ESCAPE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _unescape(text: str) -> str:
    """OOXML writes characters XML cannot hold as ``_xHHHH_`` (and a literal ``_x`` as ``_x005F_x``)."""
    if "_x" not in text:
        return text
    return _ESCAPE_RE.sub(lambda m: chr(int(m.group(1), 16)), text)


class SharedStrings:
    """The shared-strings table, compact: UTF-8 in one buffer and the end offset of each string."""

    def __init__(self, limit: int = 1 << 32):
        self._buf = bytearray()
        self._ends = array.array("I" if 2 * limit < (1 << 32) else "Q")  # 4 bytes a string (UTF-16 XML: ≤ 1.5×)
        self._view: memoryview | None = None

    def append(self, text: str) -> None:
        self._buf += text.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._buf))

    def freeze(self) -> None:
        self._view = memoryview(self._buf)

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        if index < 0:
            raise IndexError(index)
        start = self._ends[index - 1] if index else 0
        return str(self._view[start:self._ends[index]], "utf-8", "surrogatepass")

    def close(self) -> None:
        if self._view is not None:
            self._view.release()


def _date_text(number: float, epoch: dt.datetime, timedelta: bool) -> str | None:
    from openpyxl.utils.datetime import from_excel

    try:
        return cell_text(from_excel(number, epoch, timedelta=timedelta))
    except (OverflowError, ValueError):
        return cell_text(number)


def _number_text(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    try:
        if "." in text or "e" in text or "E" in text:
            return cell_text(float(text))
        return str(int(text))
    except ValueError:  # not a number after all, or more digits than int() takes
        return clean(text)


class XlsxTable(Table):
    """The first worksheet of an XLSX, streamed (see the module's docstring)."""

    def __init__(self, path: str | Path, limits: Limits | None = None):
        self.limits = limits or Limits()
        manifest = inspect_xlsx(path, self.limits)
        self._members = manifest.members
        self._zip: zipfile.ZipFile | None = None
        self._strings = SharedStrings(self.limits.xlsx_max_shared_strings)
        try:
            self._zip = zipfile.ZipFile(path)
            self._open()
        except FileProblem:
            self.close()
            raise
        except _Refused:
            self.close()
            raise FileProblem("XLSX 文件含有不允许的 XML 文档类型声明（DTD/实体），已拒绝导入", code="import.unsafe_xml") from None
        except (pyexpat.ExpatError, zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
                KeyError, NotImplementedError, RuntimeError, struct.error) as exc:
            self.close()
            raise FileProblem(f"XLSX 文件已损坏或不是 Excel 工作簿，无法读取（{type(exc).__name__}）",
                              code="import.bad_file") from None
        except BaseException:
            self.close()
            raise

    # -- the parts

    def _member(self, name: str) -> zipfile.ZipInfo | None:
        return self._members.get(name.lstrip("/").lower())

    def _parse(self, info: zipfile.ZipInfo, parser) -> None:
        """Feed one member to ``parser`` in pieces; a single XML token may not grow past MAX_XML_TOKEN."""
        fed = 0
        with self._zip.open(info) as stream:
            while chunk := stream.read(XML_CHUNK):
                parser.Parse(chunk, False)
                fed += len(chunk)
                if fed - parser.CurrentByteIndex > MAX_XML_TOKEN:
                    raise _suspicious(f"“{info.filename[:80]}”中有超长的 XML 元素")
            parser.Parse(b"", True)

    def _relationships(self, part: str) -> list[tuple[str, str, str]]:
        """(id, type, target path) of ``part``'s relationships, targets resolved against its folder."""
        folder, base = posixpath.split(part)
        info = self._member(posixpath.join(folder, "_rels", base + ".rels"))
        if info is None:
            return []
        out: list[tuple[str, str, str]] = []
        parser = _xml_parser()

        def start(name, attrs):
            if _local(name) == "Relationship" and len(out) < 10_000:
                target = attrs.get("Target") or ""
                if attrs.get("TargetMode") == "External":
                    return
                path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
                    posixpath.join(folder, target))
                out.append((attrs.get("Id") or "", attrs.get("Type") or "", path))
        parser.StartElementHandler = start
        self._parse(info, parser)
        return out

    def _open(self) -> None:
        package = self._relationships("")
        book = next((t for _, kind, t in package if kind.endswith("/officeDocument")), "xl/workbook.xml")
        book_info = self._member(book)
        if book_info is None:
            raise FileProblem("文件是 ZIP 压缩包，但不是 Excel 工作簿（XLSX）", code="import.bad_file")
        rels = self._relationships(book)
        by_id = {rid: (kind, target) for rid, kind, target in rels}

        sheets: list[tuple[str, str]] = []   # (name, relationship id), in workbook order
        self._epoch_1904 = False
        parser = _xml_parser(namespaces=True)

        def start(name, attrs):
            local = _local(name)
            if local == "sheet" and len(sheets) < 10_000:
                rid = next((v for k, v in attrs.items() if k.endswith(" id")), "")
                sheets.append((attrs.get("name") or "", rid))
            elif local == "workbookPr" and attrs.get("date1904") in ("1", "true"):
                self._epoch_1904 = True
        parser.StartElementHandler = start
        self._parse(book_info, parser)

        worksheet = next(((name, by_id[rid][1]) for name, rid in sheets
                          if rid in by_id and by_id[rid][0].endswith("/worksheet")), None)
        if worksheet is None:
            raise FileProblem("XLSX 文件中没有工作表", code="import.empty_file")
        self.sheet_title, sheet_part = worksheet
        sheet_info = self._member(sheet_part)
        if sheet_info is None:
            raise FileProblem("XLSX 文件已损坏：找不到工作表的内容", code="import.bad_file")
        self._date_styles, self._duration_styles = self._styles(
            next((t for _, kind, t in rels if kind.endswith("/styles")), None))
        strings = next((t for _, kind, t in rels if kind.endswith("/sharedStrings")), None)
        if strings is not None and (info := self._member(strings)) is not None:
            if info.file_size > self.limits.xlsx_max_shared_strings:
                raise _too_large_unpacked("共享字符串", info.file_size, self.limits.xlsx_max_shared_strings)
            self._read_strings(info)
        self._strings.freeze()

        self._rows = self._sheet_rows(sheet_info)
        first = next(self._rows, None)
        if first is None or first[0] != 1:
            raise FileProblem(f"工作表“{self.sheet_title}”是空的：第 1 行应为表头", code="import.empty_file")
        self.headers = first[1]

    def _styles(self, part: str | None) -> tuple[set[int], set[int]]:
        """Which cell styles (indexes of cellXfs) show a number as a date, and which as a duration."""
        info = self._member(part) if part else None
        if info is None:
            return set(), set()
        from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format

        custom: dict[int, str] = {}
        xf_formats: list[int] = []
        depth = {"cellXfs": 0}
        parser = _xml_parser()

        def start(name, attrs):
            local = _local(name)
            if local == "numFmt" and len(custom) < 10_000:
                try:
                    custom[int(attrs.get("numFmtId", ""))] = attrs.get("formatCode") or ""
                except ValueError:
                    pass
            elif local == "cellXfs":
                depth["cellXfs"] += 1
            elif local == "xf" and depth["cellXfs"] and len(xf_formats) < 100_000:
                try:
                    xf_formats.append(int(attrs.get("numFmtId") or 0))
                except ValueError:
                    xf_formats.append(0)

        def end(name):
            if _local(name) == "cellXfs":
                depth["cellXfs"] -= 1
        parser.StartElementHandler = start
        parser.EndElementHandler = end
        self._parse(info, parser)
        dates, durations = set(), set()
        for idx, fmt_id in enumerate(xf_formats):
            code = custom.get(fmt_id, BUILTIN_FORMATS.get(fmt_id))
            if code and is_date_format(code):
                dates.add(idx)
                if is_timedelta_format(code):
                    durations.add(idx)
        return dates, durations

    def _read_strings(self, info: zipfile.ZipInfo) -> None:
        strings = self._strings
        limit = self.limits.max_cell_chars
        parts: list[str] = []
        state = {"collect": False, "phonetic": 0, "length": 0}
        parser = _xml_parser()

        def start(name, attrs):
            local = _local(name)
            if local == "t":
                state["collect"] = not state["phonetic"]
            elif local == "si":
                parts.clear()
                state["length"] = 0
            elif local == "rPh":
                state["phonetic"] += 1

        def end(name):
            local = _local(name)
            if local == "t":
                state["collect"] = False
            elif local == "si":
                strings.append(_unescape("".join(parts)))
                parts.clear()
            elif local == "rPh":
                state["phonetic"] -= 1

        def chars(data):
            if state["collect"]:
                parts.append(data)
                state["length"] += len(data)
                if state["length"] > limit:
                    raise _cell_too_long(f"共享字符串第 {len(strings) + 1:,} 项", limit)
        parser.StartElementHandler = start
        parser.EndElementHandler = end
        parser.CharacterDataHandler = chars
        self._parse(info, parser)

    # -- the worksheet

    def _sheet_rows(self, info: zipfile.ZipInfo) -> Iterator[tuple[int, list[str | None]]]:
        """(row number, cell texts) of each row with a value. Plain closures and locals: ~4.5 million
        element events for 100,000 rows of 15 columns, so every attribute lookup counts."""
        from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900

        limits = self.limits
        max_columns, max_chars, max_rows = limits.max_columns, limits.max_cell_chars, limits.max_rows
        strings = self._strings
        date_styles, duration_styles = self._date_styles, self._duration_styles
        epoch = CALENDAR_MAC_1904 if self._epoch_1904 else CALENDAR_WINDOWS_1900
        ready: list[tuple[int, list]] = []
        row: list = []
        parts: list[str] = []
        C, V, T, IS, ROW, RPH, DIM = "c", "v", "t", "is", "row", "rPh", "dimension"
        rowno = next_col = col = length = seen_rows = phonetic = 0
        kind = style = None
        collect = inline = False

        def where() -> str:
            return f"第 {rowno} 行 {_column_letter(col)} 列"

        def root(name, attrs):
            """The root element names the prefix (if any) of every element in the part."""
            nonlocal C, V, T, IS, ROW, RPH, DIM
            prefix = name.rpartition(":")[0]
            if prefix:
                C, V, T, IS, ROW, RPH, DIM = (f"{prefix}:{n}" for n in ("c", "v", "t", "is", "row", "rPh", "dimension"))
            parser.StartElementHandler = start

        def start(name, attrs):
            nonlocal rowno, next_col, col, kind, style, collect, inline, phonetic, length
            if name == C:
                ref = attrs.get("r")
                if ref:
                    n = 0
                    for ch in ref:
                        if ch <= "9":
                            break
                        n = n * 26 + (ord(ch) & 31)
                    if not 0 < n <= XLSX_MAX_COLUMN:
                        raise FileProblem(f"XLSX 文件已损坏：单元格位置“{ref[:20]}”有误", code="import.bad_file")
                    col = n - 1
                else:
                    col = next_col
                kind = attrs.get("t")
                style = attrs.get("s")
                length = 0
            elif name == V:
                collect = True
            elif name == T:
                collect = inline and not phonetic
            elif name == IS:
                inline = True
            elif name == ROW:
                ref = attrs.get("r")
                try:
                    number = int(ref) if ref else rowno + 1
                except ValueError:
                    number = 0
                if not 0 < number <= XLSX_MAX_ROW:
                    raise FileProblem(f"XLSX 文件已损坏：行号“{(ref or '')[:20]}”有误", code="import.bad_file")
                rowno = number
                next_col = 0
                row.clear()
            elif name == RPH:
                phonetic += 1
            elif name == DIM and self.estimated_rows is None:
                m = re.search(r"(\d{1,7})$", attrs.get("ref") or "")
                self.estimated_rows = max(int(m.group(1)) - 1, 0) if m else None

        def end(name):
            nonlocal next_col, collect, inline, phonetic, seen_rows
            if name == C:
                next_col = col + 1
                collect = inline = False
                if not parts:
                    return
                text = "".join(parts)
                parts.clear()
                if kind is None or kind == "n":
                    if date_styles and style and int(style) in date_styles:
                        try:
                            value = _date_text(float(text), epoch, int(style) in duration_styles)
                        except ValueError:
                            value = clean(text)
                    else:
                        value = _number_text(text)
                elif kind == "s":
                    try:
                        value = clean(strings[int(text)])
                    except (ValueError, IndexError):
                        raise FileProblem(f"XLSX 文件已损坏：{where()}引用了不存在的共享字符串",
                                          code="import.bad_file") from None
                elif kind == "inlineStr" or kind == "str" or kind == "e":  # e: an error such as #N/A
                    value = clean(_unescape(text))
                elif kind == "b":
                    value = "是" if text.strip() in ("1", "true") else "否"
                elif kind == "d":
                    try:
                        value = cell_text(dt.datetime.fromisoformat(text.strip()))
                    except ValueError:
                        value = clean(text)
                else:
                    value = clean(_unescape(text))
                if value is None:
                    return
                if col >= max_columns:
                    raise _row_too_long(f"第 {rowno} 行", f"在 {_column_letter(col)} 列（第 {col + 1:,} 列）有内容，"
                                                         f"超过 {max_columns} 列的上限")
                width = len(row)
                if col >= width:
                    row.extend([None] * (col - width + 1))
                row[col] = value
            elif name == V or name == T:
                collect = False
            elif name == ROW:
                if row:
                    seen_rows += 1
                    if seen_rows > max_rows + 1:  # the header is a row too
                        raise _too_many_rows(max_rows)
                    ready.append((rowno, row[:]))
                    row.clear()
            elif name == IS:
                inline = False
            elif name == RPH:
                phonetic -= 1

        def chars(data):
            nonlocal length
            if collect:
                parts.append(data)
                length += len(data)
                if length > max_chars:
                    raise _cell_too_long(where(), max_chars)

        parser = _xml_parser()
        parser.StartElementHandler = root
        parser.EndElementHandler = end
        parser.CharacterDataHandler = chars
        fed = 0
        try:
            with self._zip.open(info) as stream:
                while True:
                    chunk = stream.read(XML_CHUNK)
                    parser.Parse(chunk, not chunk)
                    fed += len(chunk)
                    if fed - parser.CurrentByteIndex > MAX_XML_TOKEN:
                        raise _suspicious("工作表中有超长的 XML 元素")
                    if ready:
                        yield from ready
                        ready.clear()
                    if not chunk:
                        return
        except FileProblem:
            raise
        except _Refused:
            raise FileProblem("XLSX 文件含有不允许的 XML 文档类型声明（DTD/实体），已拒绝导入",
                              code="import.unsafe_xml") from None
        except (pyexpat.ExpatError, zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
            raise FileProblem(f"XLSX 文件在第 {rowno + 1} 行附近已损坏，无法读取（{type(exc).__name__}）",
                              code="import.bad_file") from None

    def rows(self):
        yield from self._rows

    def close(self):
        rows = getattr(self, "_rows", None)
        if rows is not None:
            rows.close()
        self._strings.close()
        if self._zip is not None:
            self._zip.close()
            self._zip = None


def _column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
