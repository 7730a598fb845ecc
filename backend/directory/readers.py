"""Readers of uploaded list files (CSV, XLSX), bounded in time and memory whatever the file holds.

An upload is untrusted: a 2.5 MB XLSX can unpack to a gigabyte, a CSV can be one line of 60 MB,
an XML part can declare entities that expand without end. Every limit here is configuration
(``Limits.from_config``: the ``IMPORT_*`` settings) with defaults sized for a list of 100,000 rows:

* ``precheck`` is what the upload request runs: no parsing, only the container. For an XLSX it reads
  the ZIP's end record and central directory (never a compressed byte): the number of members, their
  names, flags and compression, each member's and the total unpacked size, the compression ratio and
  the shared-strings part against its own limit. A CSV that is really a ZIP is refused too.
* ``open_table`` (the import job, the CLI) runs the same checks, then streams rows:
  - CSV through ``csv`` fed by a line reader that refuses a record longer than ``max_row_chars``;
  - XLSX through our own streaming reader (``xlsx.py``) on ``pyexpat`` (no DTD, no entities: a document type
    declaration is refused outright), reading only the parts it needs: the relationships, the
    workbook, the styles (to know date cells), the shared strings (kept compact: UTF-8 in one
    buffer plus an offset array, never a Python object per string) and the first worksheet, fed
    in 64 KiB pieces from ``zipfile`` (which stops at each member's declared size and checks its
    CRC). Neither openpyxl nor python-calamine reads an upload: openpyxl's read-only mode streams
    but holds every shared string as a Python object (a 9.5 MB file within the limits takes it past
    500 MB) and is 2–5× slower; calamine is fast but loads the whole sheet as a dense grid, and a
    1.6 KB file with cells in A1 and XFD1048576 makes it allocate 512 GiB and abort the process
    (docs/decisions.md, bench/import.py --readers).
  Both refuse, with a stable code and a Chinese message, more than ``max_rows`` data rows, a cell
  longer than ``max_cell_chars``, a row wider than ``max_columns`` or longer than ``max_row_chars``.

No Flask here.
"""
from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import zipfile
from pathlib import Path
from typing import Any, Iterator, Mapping

from backend.errors import DomainError

MB = 1024 * 1024


# --- formats ----------------------------------------------------------------------------------------

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def format_of(file_name: str | None) -> str:
    """``csv`` or ``xlsx`` from the file name; anything else is refused with a Chinese reason."""
    suffix = Path(file_name or "").suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    if suffix in ("xls", "et", "wps"):
        raise DomainError(f"不支持 .{suffix} 格式（Excel 97-2003 / WPS 表格），请在 Excel 或 WPS 中“另存为” .xlsx 或 .csv 后再导入",
                          code="import.unsupported_format", status=415)
    shown = f".{suffix}" if suffix else "无扩展名"
    raise DomainError(f"不支持的文件类型（{shown}），只能导入 .csv 或 .xlsx 文件",
                      code="import.unsupported_format", status=415)


# --- errors and limits ------------------------------------------------------------------------------

class FileProblem(DomainError):
    """The file as a whole cannot be read (format, encoding, header, limits)."""

    status = 422
    code = "import.bad_file"
    message = "文件无法读取"


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one uploaded file may hold. Defaults fit a list of 100,000 rows with room to spare."""

    max_rows: int = 200_000               # data rows (the header not counted)
    max_columns: int = 256                # the widest list has 17 columns
    max_cell_chars: int = 65_536          # Excel itself stops at 32,767 characters a cell
    max_row_chars: int = 262_144          # one CSV record, quoted line breaks included
    xlsx_max_unpacked: int = 256 * MB     # all members of the ZIP together, as declared (100k rows: ~95 MB)
    xlsx_max_shared_strings: int = 64 * MB  # the shared-strings part, held in memory (100k rows: ~35 MB)
    xlsx_max_members: int = 500           # a workbook has a dozen; images and sheets add some
    xlsx_max_ratio: int = 100             # unpacked / packed of one member above 1 MB (XML: 5–20)

    @classmethod
    def from_config(cls, config: Mapping | None) -> "Limits":
        config = config or {}

        def get(key: str, default: int, scale: int = 1) -> int:
            value = config.get(key)
            return int(value) * scale if value not in (None, "") else default

        d = cls()
        return cls(
            max_rows=get("IMPORT_MAX_ROWS", d.max_rows),
            max_columns=get("IMPORT_MAX_COLUMNS", d.max_columns),
            max_cell_chars=get("IMPORT_MAX_CELL_CHARS", d.max_cell_chars),
            max_row_chars=get("IMPORT_MAX_ROW_CHARS", d.max_row_chars),
            xlsx_max_unpacked=get("IMPORT_XLSX_MAX_UNPACKED_MB", d.xlsx_max_unpacked, MB),
            xlsx_max_shared_strings=get("IMPORT_XLSX_MAX_SHARED_STRINGS_MB", d.xlsx_max_shared_strings, MB),
            xlsx_max_members=get("IMPORT_XLSX_MAX_MEMBERS", d.xlsx_max_members),
            xlsx_max_ratio=get("IMPORT_XLSX_MAX_RATIO", d.xlsx_max_ratio),
        )


def _mb(n: int) -> str:
    return f"{n / MB:,.1f}".rstrip("0").rstrip(".")

def _too_many_rows(limit: int) -> FileProblem:
    return FileProblem(f"文件超过 {limit:,} 行数据，未导入。请拆分后分批导入", code="import.too_many_rows", status=413,
                       details={"limit": limit})


def _cell_too_long(where: str, limit: int) -> FileProblem:
    return FileProblem(f"{where}的内容超过 {limit:,} 个字符，未导入。请检查文件（Excel 单元格最多 32,767 个字符）",
                       code="import.cell_too_long", details={"limit": limit})


def _row_too_long(where: str, reason: str) -> FileProblem:
    return FileProblem(f"{where}{reason}，未导入。请检查文件", code="import.row_too_long")


# --- cell text -----------------------------------------------------------------------------------------

def clean(value: str) -> str | None:
    """A cell's text, stripped; None when blank; our own CSV formula guard (a leading ') taken off."""
    value = value.strip()
    if not value:
        return None
    if value[0] == "'" and len(value) > 1 and value[1] in "=+-@":
        return value[1:]
    return value


def cell_text(value: Any) -> str | None:
    """A typed cell value as the text the column parsers take."""
    if value is None:
        return None
    kind = type(value)
    if kind is str:
        return clean(value)
    if kind is bool:
        return "是" if value else "否"
    if kind is int:
        return str(value)
    if kind is float:
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return clean(str(value))


# --- tables ----------------------------------------------------------------------------------------------

class Table:
    """A file opened for reading: ``headers`` and ``rows()`` of (row number, cell texts)."""

    headers: list[str | None]
    estimated_rows: int | None = None

    def rows(self) -> Iterator[tuple[int, list[str | None]]]:  # pragma: no cover - interface
        raise NotImplementedError

    def dicts(self) -> Iterator[tuple[int, dict[str, str | None]]]:
        """Rows as dicts keyed by header (blank headers are dropped)."""
        names = [(i, h) for i, h in enumerate(self.headers) if h]
        for rowno, values in self.rows():
            yield rowno, {h: values[i] if i < len(values) else None for i, h in names}

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- CSV -------------------------------------------------------------------------------------------------

def _detect_encoding(path: str | Path) -> str:
    with open(path, "rb") as f:
        head = f.read(1 << 20)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < (1 << 20))
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(head, final=len(head) < (1 << 20))
        return "gb18030"
    except UnicodeDecodeError:
        raise FileProblem("无法识别文件的字符编码，请将 CSV 另存为 UTF-8 或 GBK 编码", code="import.bad_encoding") from None


class CsvTable(Table):
    def __init__(self, path: str | Path, limits: Limits | None = None):
        self.limits = limits or Limits()
        self.encoding = _detect_encoding(path)
        self._file = open(path, encoding=self.encoding, newline="")
        self._record_chars = 0
        self._data_rows = 0
        try:
            self._open(path)
        except BaseException:
            self._file.close()
            raise

    def _open(self, path) -> None:
        try:
            first = self._file.readline(self.limits.max_row_chars + 1)
        except UnicodeDecodeError:
            raise FileProblem("文件编码有误：第 1 行含有无法识别的字符，请另存为 UTF-8 编码的 CSV",
                              code="import.bad_encoding") from None
        if not first.strip():
            raise FileProblem("文件是空的：第 1 行应为表头", code="import.empty_file")
        delimiter = "\t" if "\t" in first and "," not in first else ","
        self._reader = csv.reader(self._lines(), delimiter=delimiter)
        self._file.seek(0)  # the decoder is reset and skips a BOM again
        try:
            header = next(self._reader)
        except csv.Error as exc:
            raise FileProblem(f"第 1 行（表头）CSV 格式有误：{exc}", code="import.bad_file") from None
        except UnicodeDecodeError:
            raise FileProblem("文件编码有误：第 1 行含有无法识别的字符，请另存为 UTF-8 编码的 CSV",
                              code="import.bad_encoding") from None
        self._check_width(1, header)
        self.headers = [clean(h) for h in header]
        self.estimated_rows = self._estimate(path)

    def _lines(self) -> Iterator[str]:
        """Physical lines for the csv module; a record (quoted line breaks included) stays within the limit."""
        limit = self.limits.max_row_chars
        readline = self._file.readline
        while line := readline(limit + 1):
            self._record_chars += len(line)
            if self._record_chars > limit:
                raise _row_too_long(f"第 {self._data_rows + 2} 行附近", f"超过 {limit:,} 个字符（可能是引号未闭合）")
            yield line

    def _check_width(self, rowno: int, raw: list[str]) -> None:
        self._record_chars = 0
        limits = self.limits
        if len(raw) > limits.max_columns:
            raise _row_too_long(f"第 {rowno} 行", f"有 {len(raw):,} 列，超过 {limits.max_columns} 列的上限")
        for n, value in enumerate(raw):
            if len(value) > limits.max_cell_chars:
                raise _cell_too_long(f"第 {rowno} 行第 {n + 1} 列", limits.max_cell_chars)

    def _estimate(self, path) -> int | None:
        if self.encoding == "utf-16":
            return None
        count = 0
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                count += chunk.count(b"\n")
        return max(count - 1, 0) or None

    def rows(self):
        rowno = 1
        max_rows = self.limits.max_rows
        check = self._check_width
        try:
            for raw in self._reader:
                rowno += 1
                check(rowno, raw)
                # strip each cell; only cells that start with ' (our formula guard) take the slow path
                values = [((s if s[0] != "'" else clean(s)) if (s := v.strip()) else None) if v else None
                          for v in raw]
                if any(values):
                    self._data_rows += 1
                    if self._data_rows > max_rows:
                        raise _too_many_rows(max_rows)
                yield rowno, values
        except UnicodeDecodeError:
            raise FileProblem(f"文件编码有误：第 {rowno + 1} 行附近含有无法识别的字符（按 {self.encoding} 读取），"
                              "请另存为 UTF-8 编码的 CSV", code="import.bad_encoding") from None
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise _cell_too_long(f"第 {rowno + 1} 行", csv.field_size_limit()) from None
            raise FileProblem(f"第 {rowno + 1} 行 CSV 格式有误：{exc}", code="import.bad_file") from None

    def close(self):
        self._file.close()

def precheck(path: str | Path, fmt: str, limits: Limits | None = None) -> None:
    """What the upload request checks: the container only, nothing is parsed or decompressed."""
    limits = limits or Limits()
    if Path(path).stat().st_size == 0:
        raise FileProblem("文件是空的", code="import.empty_file")
    if fmt == "csv":
        if zipfile.is_zipfile(path):
            raise FileProblem("文件内容是 XLSX（Excel 工作簿），但扩展名是 .csv，请改为 .xlsx 后上传", code="import.bad_file")
        return
    if fmt == "xlsx":
        from backend.directory.xlsx import inspect_xlsx

        inspect_xlsx(path, limits)
        return
    raise DomainError("只能导入 .csv 或 .xlsx 文件", code="import.unsupported_format", status=415)

def open_table(path: str | Path, fmt: str, limits: Limits | None = None) -> Table:
    """Open ``path`` (``csv`` or ``xlsx``) for streaming; file-level problems raise FileProblem."""
    limits = limits or Limits()
    precheck(path, fmt, limits)
    if fmt == "csv":
        return CsvTable(path, limits)
    from backend.directory.xlsx import XlsxTable

    return XlsxTable(path, limits)
