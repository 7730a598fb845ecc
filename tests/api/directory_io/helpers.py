"""Helpers of the import/export tests: build CSV/XLSX files, upload them, read the job back."""
from __future__ import annotations

import datetime as dt

import csv
import io
import struct
import zipfile
import zlib
from typing import Callable, Iterator

import openpyxl

from backend.directory.specs import EX_USCC


def csv_bytes(rows: list[list], encoding: str = "utf-8-sig") -> bytes:
    text = io.StringIO()
    csv.writer(text).writerows([["" if v is None else str(v) for v in row] for row in rows])
    return text.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list], title: str = "Sheet1") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, headers, list_name: str, data: bytes, filename: str = "名录.csv", **form):
    body = {"file": (io.BytesIO(data), filename), **{k: str(v).lower() if isinstance(v, bool) else str(v)
                                                     for k, v in form.items()}}
    return client.post(f"/api/v1/imports/{list_name}", data=body, headers=headers,
                       content_type="multipart/form-data")


def finished_job(client, headers, response) -> dict:
    """The job of a 202 answer, read back from the jobs endpoint (the test app runs jobs inline)."""
    assert response.status_code == 202, response.json
    job = client.get(f"/api/v1/jobs/{response.json['id']}", headers=headers)
    assert job.status_code == 200, job.json
    return job.json


def failed_job(client, headers, response) -> dict:
    """The job of a 202 answer that the job itself refused (file problems are found in the job)."""
    job = finished_job(client, headers, response)
    assert job["status"] == "failed", job
    return job


def read_xlsx(data: bytes) -> list[list]:
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    rows = [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    wb.close()
    return rows


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "CSV exports carry a UTF-8 BOM for Excel"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


# --- hand-made XLSX files (hostile ones included) -------------------------------------------------------

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"'
    ' Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    f'<workbook xmlns="{MAIN_NS}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="名录" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"'
    ' Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"'
    ' Target="sharedStrings.xml"/></Relationships>')


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sheet_xml(rows: list[list], *, prolog: str = "", shared: dict[str, int] | None = None) -> str:
    """A worksheet: each value an inline string, or a shared-string index when ``shared`` maps it."""
    from openpyxl.utils import get_column_letter

    out = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{prolog}<worksheet xmlns="{MAIN_NS}"><sheetData>']
    for r, row in enumerate(rows, start=1):
        out.append(f'<row r="{r}">')
        for c, value in enumerate(row, start=1):
            ref = f"{get_column_letter(c)}{r}"
            if value is None:
                continue
            if shared is not None and value in shared:
                out.append(f'<c r="{ref}" t="s"><v>{shared[value]}</v></c>')
            else:
                out.append(f'<c r="{ref}" t="inlineStr"><is><t>{_escape(str(value))}</t></is></c>')
        out.append("</row>")
    out.append("</sheetData></worksheet>")
    return "".join(out)


def xlsx_from_parts(sheet: str, shared_strings: str | None = None, extra: dict[str, bytes] | None = None,
                    compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """An XLSX built part by part (to make files no spreadsheet program would write)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES)
        z.writestr("_rels/.rels", PACKAGE_RELS)
        z.writestr("xl/workbook.xml", WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
        if shared_strings is not None:
            z.writestr("xl/sharedStrings.xml", shared_strings)
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return out.getvalue()


def _raw_zip(path, members: list[tuple[str, Callable[[], Iterator[bytes]], int, int, int]]) -> None:
    """Write a ZIP of already deflated members: (name, chunks of raw deflate data, crc, packed, unpacked)."""
    central, offset = [], 0
    with open(path, "wb") as f:
        for name, chunks, crc, packed, unpacked in members:
            encoded = name.encode()
            header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, packed, unpacked, len(encoded), 0)
            f.write(header + encoded)
            for chunk in chunks():
                f.write(chunk)
            central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, packed, unpacked,
                                       len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
            offset += len(header) + len(encoded) + packed
        directory = b"".join(central)
        f.write(directory)
        f.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central), len(directory), offset, 0))


def _deflated(data: bytes) -> tuple[Callable[[], Iterator[bytes]], int, int, int]:
    packed = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = packed.compress(data) + packed.flush()
    return (lambda: iter([raw])), zlib.crc32(data), len(raw), len(data)


def hostile_xlsx(path, *, sst_mb: int = 1000, header: list[str] | None = None, row: list[str] | None = None):
    """The file of issue 6 §1.3: ~2.5 MB on disk, one data row, its shared strings unpacking to ``sst_mb`` MiB.

    Built without compressing a gigabyte: one MiB of identical shared strings is deflated once after a
    full flush (which resets the compressor), and that block is written ``sst_mb`` times.
    """
    header = header or ["统一社会信用代码", "检查对象名称", "对象类型"]
    row = row or [EX_USCC, "三门峡市示例商贸有限公司", "企业"]
    values = list(dict.fromkeys([*header, *row]))
    shared = {v: i for i, v in enumerate(values)}
    entry = "<si><t>填充</t></si>".encode()
    block = entry * ((1 << 20) // len(entry))
    count = len(values) + sst_mb * ((1 << 20) // len(entry))
    prefix = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="{MAIN_NS}" count="{count}" '
              f'uniqueCount="{count}">' + "".join(f"<si><t>{_escape(v)}</t></si>" for v in values)).encode()
    suffix = b"</sst>"
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(prefix) + deflate.flush(zlib.Z_FULL_FLUSH)
    body = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)  # the same bytes for every block
    tail = deflate.compress(suffix) + deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(prefix)
    for _ in range(sst_mb):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)

    def sst_chunks():
        yield head
        for _ in range(sst_mb):
            yield body
        yield tail

    members = [(name, *_deflated(text.encode())) for name, text in (
        ("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", PACKAGE_RELS), ("xl/workbook.xml", WORKBOOK),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
        ("xl/worksheets/sheet1.xml", sheet_xml([header, row], shared=shared)))]
    members.append(("xl/sharedStrings.xml", sst_chunks, crc, len(head) + sst_mb * len(body) + len(tail),
                    len(prefix) + sst_mb * len(block) + len(suffix)))
    _raw_zip(path, members)
    return path


def age_job(db_session, job_id: str, days: int) -> None:
    """The job finished ``days`` ago (the retention tests)."""
    from sqlalchemy import update

    from backend.db import utcnow
    from backend.jobs.models import Job
    db_session.execute(update(Job).where(Job.id == job_id).values(finished_at=utcnow() - dt.timedelta(days=days)))
    db_session.flush()


def cleanup(app, db_session, **config):
    """The daily media clean-up, now, with ``config`` over the app's."""
    from backend.actor import Actor
    from backend.media import services
    settings = services.MediaSettings.from_config({**app.config, **config})
    return services.cleanup(db_session, settings, Actor.system())
