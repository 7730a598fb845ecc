"""Writers of list files, streaming: CSV in UTF-8 with a BOM so that Excel opens it, XLSX through
openpyxl's write-only workbook (constant memory). Every value is written as text, and never as a formula.

No Flask here.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Iterable

if TYPE_CHECKING:
    from backend.directory.specs import ListSpec


_FORMULA_START = ("=", "+", "-", "@")


def _csv_safe(text: str) -> str:
    """Excel runs a CSV cell starting with = + - @ as a formula: prefix it (the reader takes it off)."""
    if text and text[0] in _FORMULA_START:
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def write_csv(out: BinaryIO, headers: list[str], rows: Iterable[list[str]]) -> int:
    """UTF-8 with BOM (Excel recognises it), CRLF lines; returns the number of data rows."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=False)
    writer = csv.writer(text)
    writer.writerow(headers)
    count = 0
    for row in rows:
        writer.writerow([_csv_safe(v) for v in row])
        count += 1
    text.flush()
    text.detach()
    return count


HEADER_FILL = "DDEBF7"


def style_header(cell, required: bool) -> None:
    """An XLSX header cell: bold (red for a required column) on a light blue fill, centred."""
    from openpyxl.styles import Alignment, Font, PatternFill

    cell.font = Font(bold=True, color="C00000" if required else "000000")
    cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def _header_cells(ws, spec: ListSpec | None, headers: list[str]):
    from openpyxl.cell import WriteOnlyCell

    required = {c.header for c in spec.columns if c.required} if spec else set()
    cells = []
    for h in headers:
        cell = WriteOnlyCell(ws, value=h)
        style_header(cell, h in required)
        cells.append(cell)
    return cells


def write_xlsx(out: BinaryIO | str | Path, title: str, headers: list[str], rows: Iterable[list[str]],
               spec: ListSpec | None = None) -> int:
    """A write-only workbook (constant memory); every value is written as text."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31])
    widths = {c.header: c.width for c in spec.columns} if spec else {}
    for i, h in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(h, 16)
    ws.freeze_panes = "A2"
    ws.append(_header_cells(ws, spec, headers))
    count = 0
    for row in rows:
        values: list[Any] = row
        if any(v and v[0] == "=" for v in row):  # a text value must not become a formula
            values = []
            for v in row:
                if v and v[0] == "=":
                    cell = WriteOnlyCell(ws, value=v)
                    cell.data_type = "s"
                    values.append(cell)
                else:
                    values.append(v)
        ws.append([v if v != "" else None for v in values])
        count += 1
    wb.save(out)
    return count


def write_table(out: BinaryIO, fmt: str, spec: ListSpec, rows: Iterable[list[str]]) -> int:
    if fmt == "csv":
        return write_csv(out, spec.headers, rows)
    return write_xlsx(out, spec.title, spec.headers, rows, spec)

