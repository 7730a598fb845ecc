"""Issue 6 §1.3: any upload imports or is refused within bounded time and memory.

The upload request stores the file and checks its container (an XLSX's ZIP central directory) and
parses nothing; the job reads the rows, streaming, within the configured limits. Every refusal has a
stable code and a Chinese message.
"""
from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.actor import Actor
from backend.directory import imports
from backend.directory import readers as dio
from backend.directory.models import Target
from backend.directory.specs import EX_USCC
from backend.jobs.models import Job
from tests.api.directory_io.helpers import (csv_bytes, failed_job, finished_job, hostile_xlsx, sheet_xml, upload,
                                            xlsx_bytes, xlsx_from_parts)
from tests.factories import make_uscc

ROOT = Path(__file__).resolve().parents[3]
HEADER = ["统一社会信用代码", "检查对象名称", "对象类型"]
USCC = EX_USCC


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """2.5 MB on disk, one data row, shared strings unpacking to 1,000 MiB (the file of the issue)."""
    return hostile_xlsx(tmp_path_factory.mktemp("bomb") / "名录.xlsx", sst_mb=1000)


@pytest.fixture()
def no_parsing(monkeypatch):
    """Any CSV or XML parser, ours or openpyxl's, fails the test if it runs."""
    import pyexpat

    import openpyxl

    def boom(*_args, **_kwargs):
        raise AssertionError("the upload request parsed the file")

    monkeypatch.setattr(csv, "reader", boom)
    monkeypatch.setattr(pyexpat, "ParserCreate", boom)
    monkeypatch.setattr(openpyxl, "load_workbook", boom)
    return monkeypatch


@pytest.fixture()
def limit(app, monkeypatch):
    """Set an import limit for the request (app.config) and for the jobs (the queue's copy of it)."""
    def set_limit(key: str, value: int) -> None:
        monkeypatch.setitem(app.config, key, value)
        monkeypatch.setitem(app.extensions["shuangsui.jobs"].config, key, value)
    return set_limit


def import_jobs(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(Job).where(Job.name == "directory.import"))


# --- the request ------------------------------------------------------------------------------------------

def test_the_zip_bomb_is_refused_by_the_request_from_its_central_directory(client, world, db_session, bomb,
                                                                            no_parsing):
    r = upload(client, world.admin_headers, "targets", bomb.read_bytes(), "名录.xlsx")
    assert r.status_code == 413, r.json
    assert r.json["code"] == "import.file_too_large_unpacked"
    assert "解压后" in r.json["message"] and "1,000 MB" in r.json["message"]
    assert r.json["details"]["unpacked_bytes"] > 1000 * 1000 * 1000
    assert import_jobs(db_session) == 0  # refused before a job exists


def test_the_job_refuses_the_zip_bomb_too(database, db_session, world, bomb, monkeypatch):
    """The job and the CLI do not rely on the request's check (and do not parse the file first)."""
    import openpyxl

    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: pytest.fail("parsed before checking the size"))
    with database.session() as session, pytest.raises(dio.FileProblem) as err:
        imports.import_file(session, Actor.system(), "targets", bomb, file_name="名录.xlsx")
    assert err.value.code == "import.file_too_large_unpacked"


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_upload_request_parses_nothing(app, client, world, db_session, no_parsing, fmt):
    data = csv_bytes([HEADER, [USCC, "某公司", "企业"]]) if fmt == "csv" else \
        xlsx_bytes([HEADER, [USCC, "某公司", "企业"]])
    queue = app.extensions["shuangsui.jobs"]
    held: list[str] = []
    no_parsing.setattr(queue, "submit", lambda job_id, attempts: held.append(job_id))
    r = upload(client, world.admin_headers, "targets", data, f"名录.{fmt}")
    assert r.status_code == 202, r.json
    assert held == [r.json["id"]] and r.json["status"] == "queued"
    no_parsing.undo()  # now the job runs, and it is the job that reads the file
    queue.submit(held[0], 1)
    job = finished_job(client, world.admin_headers, r)
    assert job["status"] == "done" and job["result"]["created"] == 1, job


# --- the ZIP container, checked in the request -------------------------------------------------------------

def _good_sheet() -> str:
    return sheet_xml([HEADER, [USCC, "某公司", "企业"]])


def _with_flag(data: bytes, flag: int) -> bytes:
    """Set a general-purpose flag bit on every member (local headers and central directory)."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = out.find(signature)
        while at >= 0:
            out[at + offset] |= flag
            at = out.find(signature, at + 4)
    return bytes(out)


def _many_members() -> bytes:
    return xlsx_from_parts(_good_sheet(), extra={f"xl/media/image{i}.png": b"x" for i in range(600)})


def _duplicate() -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xlsx_from_parts(_good_sheet(), extra={"xl/worksheets/sheet1.xml": _good_sheet()})


CONTAINERS = {
    "too many members": (_many_members, "import.suspicious_archive", "个文件"),
    "compression ratio of a bomb": (lambda: xlsx_from_parts(_good_sheet(), extra={"xl/media/zeros.bin": bytes(8 << 20)}),
                                    "import.suspicious_archive", "压缩比"),
    "a path out of the archive": (lambda: xlsx_from_parts(_good_sheet(), extra={"../../etc/cron.d/x": b"x"}),
                                  "import.suspicious_archive", "路径"),
    "an absolute path": (lambda: xlsx_from_parts(_good_sheet(), extra={"/etc/passwd": b"x"}),
                         "import.suspicious_archive", "路径"),
    "a member twice": (_duplicate, "import.suspicious_archive", "重复"),
    "encrypted members": (lambda: _with_flag(xlsx_from_parts(_good_sheet()), 0x1), "import.suspicious_archive", "加密"),
    "bzip2 compression": (lambda: xlsx_from_parts(_good_sheet(), compression=zipfile.ZIP_BZIP2),
                          "import.suspicious_archive", "压缩方式"),
    "only an end record": (lambda: b"PK\x05\x06" + b"\0" * 18, "import.bad_file", "XLSX"),
    "a local header and junk": (lambda: b"PK\x03\x04" + os.urandom(64), "import.bad_file", "XLSX"),
}


@pytest.mark.parametrize("case", list(CONTAINERS))
def test_odd_containers_are_refused_by_the_request(client, world, db_session, no_parsing, case):
    make, code, words = CONTAINERS[case]
    r = upload(client, world.admin_headers, "targets", make(), "名录.xlsx")
    assert 400 <= r.status_code < 500 and r.json["code"] == code, (case, r.json)
    assert words in r.json["message"], r.json["message"]
    assert import_jobs(db_session) == 0


def test_unpacked_total_and_shared_strings_follow_the_configuration(client, world, db_session, limit):
    """Limits are settings: 2 MB of barely compressible XML is refused at a 1 MB limit, accepted by default."""
    filler = "".join(f"<!-- {os.urandom(48).hex()} -->" for _ in range(2 * 1024 * 1024 // 105))
    data = xlsx_from_parts(sheet_xml([HEADER, [USCC, "某公司", "企业"]], prolog=filler))
    limit("IMPORT_XLSX_MAX_UNPACKED_MB", 1)
    r = upload(client, world.admin_headers, "targets", data, "名录.xlsx")
    assert r.status_code == 413 and r.json["code"] == "import.file_too_large_unpacked", r.json
    limit("IMPORT_XLSX_MAX_UNPACKED_MB", 256)
    assert finished_job(client, world.admin_headers,
                        upload(client, world.admin_headers, "targets", data, "名录.xlsx"))["status"] == "done"

    shared = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml'
              '/2006/main">' + "".join(f"<si><t>{os.urandom(24).hex()}</t></si>" for _ in range(25_000)) + "</sst>")
    data = xlsx_from_parts(sheet_xml([HEADER, [USCC, "某公司", "企业"]]), shared_strings=shared)
    limit("IMPORT_XLSX_MAX_SHARED_STRINGS_MB", 1)
    r = upload(client, world.admin_headers, "targets", data, "名录.xlsx")
    assert r.status_code == 413 and r.json["code"] == "import.file_too_large_unpacked", r.json
    assert "共享字符串" in r.json["message"]


# --- the rows, read in the job --------------------------------------------------------------------------

LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
          + "]>")


def _laughs_in(part: str) -> bytes:
    if part == "sheet":
        return xlsx_from_parts(sheet_xml([HEADER, [USCC, "&lol9;", "企业"]], prolog=LAUGHS).replace("&amp;lol9;", "&lol9;"))
    shared = ('<?xml version="1.0" encoding="UTF-8"?>' + LAUGHS + '<sst xmlns="http://schemas.openxmlformats.org/'
              'spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>')
    return xlsx_from_parts(sheet_xml([HEADER, [USCC, "x", "企业"]], shared={"x": 0}), shared_strings=shared)


@pytest.mark.parametrize("part", ["sheet", "shared strings"])
def test_entity_expansion_is_refused(client, world, db_session, part):
    job = failed_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", _laughs_in(part),
                                                          "名录.xlsx"))
    assert job["error_code"] == "import.unsafe_xml", job
    assert db_session.scalar(select(func.count()).select_from(Target)) == 0


def _csv(rows):
    return csv_bytes(rows), "名录.csv"


def _xlsx(rows):
    return xlsx_bytes(rows), "名录.xlsx"


@pytest.mark.parametrize("make", [_csv, _xlsx], ids=["csv", "xlsx"])
def test_rows_beyond_the_limit_are_refused(client, world, db_session, limit, make):
    rng = random.Random(5)
    limit("IMPORT_MAX_ROWS", 3)
    data, name = make([HEADER, *[[make_uscc(rng), f"公司{i}", "企业"] for i in range(4)]])
    job = failed_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", data, name))
    assert job["error_code"] == "import.too_many_rows" and "3 行" in job["error"], job
    data, name = make([HEADER, *[[make_uscc(rng), f"公司{i}", "企业"] for i in range(3)]])
    assert finished_job(client, world.admin_headers,
                        upload(client, world.admin_headers, "targets", data, name))["status"] == "done"


@pytest.mark.parametrize("shape", ["csv", "inline", "shared"])
def test_a_gigantic_cell_is_refused_not_read(client, world, db_session, limit, shape):
    limit("IMPORT_MAX_CELL_CHARS", 1000)
    rows = [HEADER, [USCC, "名" * 5000, "企业"]]
    if shape == "csv":
        data, name = csv_bytes(rows), "名录.csv"
    else:
        strings = {v: i for i, v in enumerate(dict.fromkeys(v for row in rows for v in row))}
        shared = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml'
                  '/2006/main">' + "".join(f"<si><t>{v}</t></si>" for v in strings) + "</sst>")
        data = xlsx_from_parts(sheet_xml(rows, shared=strings if shape == "shared" else None),
                               shared_strings=shared if shape == "shared" else None)
        name = "名录.xlsx"
    job = failed_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", data, name))
    assert job["error_code"] == "import.cell_too_long" and "1,000 个字符" in job["error"], job


def test_a_cell_far_to_the_right_is_refused(client, world, db_session):
    sheet = sheet_xml([HEADER, [USCC, "某公司", "企业"]]).replace(
        "</row></sheetData>", '<c r="XFD2" t="inlineStr"><is><t>远处</t></is></c></row></sheetData>')
    job = failed_job(client, world.admin_headers,
                     upload(client, world.admin_headers, "targets", xlsx_from_parts(sheet), "名录.xlsx"))
    assert job["error_code"] == "import.row_too_long" and "XFD" in job["error"], job


def test_a_csv_row_beyond_the_limit_is_refused(client, world, db_session, limit):
    limit("IMPORT_MAX_ROW_CHARS", 2000)
    data = csv_bytes([HEADER]) + f'{USCC},"未闭合的引号,企业\n'.encode() + ("很长的一行\n" * 1000).encode()
    job = failed_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", data, "名录.csv"))
    assert job["error_code"] == "import.row_too_long", job
    wide = csv_bytes([HEADER + [f"列{i}" for i in range(300)], [USCC, "某公司", "企业"]])
    job = failed_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", wide, "名录.csv"))
    assert job["error_code"] == "import.row_too_long" and "256" in job["error"], job


def test_a_huge_xml_tag_is_refused(client, world, db_session, monkeypatch):
    from backend.directory import xlsx

    monkeypatch.setattr(xlsx, "MAX_XML_TOKEN", 64 * 1024)
    sheet = _good_sheet().replace('<c r="A2"', f'<c x="{"a" * 300_000}" r="A2"')
    data = xlsx_from_parts(sheet, compression=zipfile.ZIP_STORED)
    job = failed_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", data, "名录.xlsx"))
    assert job["error_code"] == "import.suspicious_archive" and "XML" in job["error"], job


# --- memory: a fresh process handles each hostile file ----------------------------------------------------

MEASURE = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # old readers die here instead of eating the machine
sys.path.insert(0, sys.argv[1])
from backend.directory import readers as io
code = None
try:
    with io.open_table(sys.argv[2], sys.argv[3]) as table:
        for _ in table.rows():
            pass
except io.FileProblem as exc:
    code = exc.code
except MemoryError:
    code = "MemoryError"
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so it would include the test runner's peak
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"code": code, "peak_mb": peak / 1024}))
"""


def _gigantic_cell(path: Path) -> Path:
    """One cell of 8 million characters in 0.5 MB, compressing 45 to 1 (so the ratio check lets it through)."""
    text = "".join(f"{i:08d}" + "检" * 42 for i in range(160_000))
    path.write_bytes(xlsx_from_parts(sheet_xml([HEADER, [USCC, text, "企业"]])))
    return path


def _gigantic_line(path: Path) -> Path:
    path.write_bytes(csv_bytes([HEADER]) + b"x" * (10 << 20) + b"\n")
    return path


@pytest.mark.parametrize("case,fmt,code", [
    ("bomb", "xlsx", "import.file_too_large_unpacked"),
    ("cell", "xlsx", "import.cell_too_long"),
    ("line", "csv", "import.row_too_long"),
])
def test_hostile_files_stay_under_300_mb(bomb, tmp_path, case, fmt, code):
    path = {"bomb": lambda: bomb, "cell": lambda: _gigantic_cell(tmp_path / "cell.xlsx"),
            "line": lambda: _gigantic_line(tmp_path / "line.csv")}[case]()
    out = subprocess.run([sys.executable, "-c", MEASURE, str(ROOT), str(path), fmt], capture_output=True, text=True,
                         check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == code, (result, out.stderr[-2000:])
    assert result["peak_mb"] < 300, result


# --- fidelity: what our reader reads is what openpyxl reads ----------------------------------------------

def _openpyxl_rows(data: bytes) -> list:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        ws.reset_dimensions()
        rows = []
        for n, row in enumerate(ws.iter_rows(values_only=True), start=1):
            values = [dio.cell_text(v) for v in row]
            while values and values[-1] is None:
                values.pop()
            if values:
                rows.append((n, values))
        return rows
    finally:
        wb.close()


def _our_rows(tmp_path: Path, data: bytes) -> list:
    path = tmp_path / "f.xlsx"
    path.write_bytes(data)
    with dio.open_table(path, "xlsx") as table:
        return [(1, [h for h in table.headers])] + [(n, v) for n, v in table.rows()]


@pytest.mark.parametrize("write_only", [False, True], ids=["shared strings", "inline strings"])
@pytest.mark.parametrize("epoch", ["1900", "1904"])
def test_our_reader_reads_what_openpyxl_reads(tmp_path, write_only, epoch):
    import datetime as dt

    import openpyxl
    from openpyxl.cell.rich_text import CellRichText, TextBlock
    from openpyxl.cell.text import InlineFont
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    wb = openpyxl.Workbook(write_only=write_only)
    if epoch == "1904":
        wb.epoch = CALENDAR_MAC_1904
    ws = wb.create_sheet("名录") if write_only else wb.active
    rows = [
        ["统一社会信用代码", " 名称 ", "数字", "小数", "布尔", "日期", "时间", "长数字", "空"],
        [USCC, "三门峡市示例商贸有限公司", 42, 1.5, True, dt.date(2026, 3, 8), dt.datetime(2026, 3, 8, 9, 30),
         123456789012345, None],
        ["'=1+1", "  前后空格  ", -7, -0.25, False, dt.datetime(1999, 12, 31), dt.time(13, 45), 1e20, ""],
        [None, "第三行只有第二列"],
        [],
        ["隔了一行", "回车\r换行\n制表\t", 0, 3.14159, None, None, None, 9007199254740993, None],
    ]
    for row in rows:
        ws.append(row)
    if not write_only:
        ws["B7"] = CellRichText([TextBlock(InlineFont(b=True), "加粗"), "普通"])
        ws["C7"] = "=SUM(C2:C3)"  # a formula without a cached value reads as empty
        ws["A9"] = "跳过两行"
    out = io.BytesIO()
    wb.save(out)
    data = out.getvalue()
    assert _our_rows(tmp_path, data) == _openpyxl_rows(data)
