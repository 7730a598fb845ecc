"""Import benchmark: 100,000 targets from CSV into a fresh database; rows per second and peak memory.

    .venv/bin/python bench/import.py                       # PostgreSQL (admin URL below), 100,000 rows
    .venv/bin/python bench/import.py --sqlite               # the embedded SQLite default
    .venv/bin/python bench/import.py --rows 20000 --xlsx-rows 0 --no-export

Goal: >= 5,000 rows/s and < 300 MB peak memory for 100,000 targets on PostgreSQL.

Each measured step runs in a fresh child process (spawn), so its peak RSS (VmHWM) is its own:
the interpreter, SQLAlchemy, openpyxl and the import itself. Beside wall-clock rows/s it prints rows per
CPU second of that process, steadier on a shared machine (PostgreSQL's own work is not in it). Steps:

  1. import the CSV into an empty directory (all rows new: INSERT)
  2. import the same file again (all rows unchanged: read and compare, no writes)
  3. import a file where every risk class changed (all rows UPDATE)
  4. the same first import with ``strategy="two_pass"`` into a second fresh database (comparison)
  5. import an XLSX of --xlsx-rows new targets (shared strings, as Excel writes it)
  6. export all targets to CSV and to XLSX

It prints figures; it is not a test.

    .venv/bin/python bench/import.py --readers [--reader-rows 100000]

compares the XLSX readers instead (each in a fresh process: rows/s and peak RSS) on targets files written
like Excel (shared strings) and like openpyxl's write-only mode (inline strings): ours
(backend/directory/readers.py), openpyxl read-only, and python-calamine when installed (dev extra). Then
the hostile file of issue 6 (2.5 MB, shared strings unpacking to 1,000 MiB, one row) through the import
(time to the refusal, peak RSS), and python-calamine on a 1 KB XLSX with cells A1 and XFD1048576 under
a 2 GiB address-space limit (the dense grid it allocates aborts the process).
"""
from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"

COUNTIES = {"411202": "湖滨区", "411203": "陕州区", "411221": "渑池县", "411224": "卢氏县", "411281": "义马市",
            "411282": "灵宝市"}
TOWN_NAMES = ["城关镇", "大营镇", "原店镇", "西张村镇", "观音堂镇", "张汴乡", "菜园乡", "宫前乡", "硖石乡", "王家后乡"]
ROADS = ["建设路", "人民路", "黄河路", "崤山路", "文明路", "和平路", "甘棠路", "六峰路", "永定路", "迎宾大道", "陕州大道"]
BRAND = "鑫华盛泰隆昌宏达兴旺金源瑞丰恒通佳美福康利民祥和润德天豫晨曦永安嘉禾鼎新宇辰锦程博远中原"
TRADES = ["商贸", "食品", "餐饮", "建材", "物流", "科技", "农业", "果业", "机械", "医药", "超市", "服饰", "电子", "文化",
          "家具", "汽车服务", "酒业", "粮油", "农资", "装饰"]
SHOPS = ["小吃店", "便利店", "副食店", "烟酒店", "理发店", "五金店", "水果店", "药店", "服装店", "手机店", "面馆", "烧烤店"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强海燕红梅玉兰晓东春生秋菊"
TAGS = ["食品经营", "特种设备", "网络交易", "药品零售", "连锁", "小作坊", "直播带货", "校园周边", "旅游景区"]
INDUSTRIES = ["F5211", "F5212", "H6210", "C1311", "F5126", "O8010", "E4790", "F5274", "C3399", "I6512"]
HEADER = ["统一社会信用代码", "检查对象名称", "对象类型", "住所（经营场所）", "行政区划代码", "行业代码", "信用风险分类",
          "标签", "经度", "纬度", "坐标系", "登记状态", "法定代表人", "联系电话", "维护部门"]
DEPT_CODE = "SAMR_SMX"
N31_9 = 31 ** 9
MULTIPLIER = 7_654_321_019  # coprime with 31: i → i·M mod 31^9 is a bijection, so the codes are unique


def towns() -> list[tuple[str, str, str]]:
    out = []
    for county, _ in COUNTIES.items():
        for n, name in enumerate(TOWN_NAMES, start=1):
            out.append((f"{county}{100 + n:03d}", name, county))
    return out


def make_uscc(i: int, rng: random.Random, region: str, kind: str) -> str:
    from backend.directory.rules import USCC_ALPHABET, uscc_check_char

    n = (i * MULTIPLIER + 12345) % N31_9
    org = []
    for _ in range(9):
        n, r = divmod(n, 31)
        org.append(USCC_ALPHABET[r])
    body = "9" + {"enterprise": "1", "individual": "2", "cooperative": "3"}[kind] + region + "".join(org)
    return body + uscc_check_char(body)


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def target_row(i: int, rng: random.Random, town_list, risk_shift: int = 0) -> list[str]:
    town, town_name, county = rng.choice(town_list)
    kind = rng.choices(("enterprise", "individual", "cooperative"), (60, 36, 4))[0]
    uscc = make_uscc(i, rng, county, kind)
    county_name = COUNTIES[county]
    brand = "".join(rng.choice(BRAND) for _ in range(2))
    if kind == "enterprise":
        name = f"三门峡{brand}{rng.choice(TRADES)}有限公司" if rng.random() < 0.7 else \
            f"{county_name[:2]}{brand}{rng.choice(TRADES)}有限责任公司"
        type_label = "企业"
    elif kind == "individual":
        name = f"{county_name}{person(rng)[0]}记{rng.choice(SHOPS)}"
        type_label = "个体工商户"
    else:
        name = f"{county_name}{brand}{rng.choice(('种植', '养殖', '果品', '农机'))}专业合作社"
        type_label = "农民专业合作社"
    name = f"{name}（{i}）"  # names need not be unique, but this keeps them apart for reading
    risks = ["A", "B", "C", "D", ""]
    risk = rng.choices(risks, (40, 40, 15, 4, 1))[0]
    if risk_shift and risk:
        risk = "ABCD"[("ABCD".index(risk) + risk_shift) % 4]
    tags = "、".join(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2))))
    lon = f"{rng.uniform(110.4, 111.9):.6f}"
    lat = f"{rng.uniform(34.2, 34.95):.6f}"
    return [uscc, name, type_label, f"河南省三门峡市{county_name}{town_name}{rng.choice(ROADS)}{rng.randint(1, 999)}号",
            town, rng.choice(INDUSTRIES), risk, tags, lon, lat, "GCJ-02", "存续", person(rng),
            f"139{rng.randint(10000000, 99999999)}", DEPT_CODE]


def write_csv(path: Path, rows: int, start: int = 0, risk_shift: int = 0) -> None:
    rng = random.Random(2026 + start)
    town_list = towns()
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(start, start + rows):
            w.writerow(target_row(i, rng, town_list, risk_shift))


def write_xlsx(path: Path, rows: int, start: int) -> None:
    from openpyxl import Workbook

    rng = random.Random(2026 + start)
    town_list = towns()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("检查对象名录库")
    ws.append(HEADER)
    for i in range(start, start + rows):
        ws.append(target_row(i, rng, town_list))
    wb.save(path)


def write_xlsx_shared(path: Path, rows: int, start: int) -> None:
    """The same rows as an XLSX saved by Excel: every text in the shared-strings part (written by hand)."""
    import zipfile
    from xml.sax.saxutils import escape

    from openpyxl.utils import get_column_letter

    rng = random.Random(2026 + start)
    town_list = towns()
    letters = [get_column_letter(i) for i in range(1, len(HEADER) + 1)]
    strings: dict[str, int] = {}
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    sheet = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             f'<worksheet xmlns="{main}"><dimension ref="A1:{letters[-1]}{rows + 1}"/><sheetData>']
    for r, values in enumerate([HEADER] + [target_row(i, rng, town_list) for i in range(start, start + rows)], 1):
        cells = "".join(f'<c r="{letters[c]}{r}" t="s"><v>{strings.setdefault(v, len(strings))}</v></c>'
                        for c, v in enumerate(values) if v)
        sheet.append(f'<row r="{r}">{cells}</row>')
    sheet.append("</sheetData></worksheet>")
    sst = [f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><sst xmlns="{main}" count="{len(strings)}" '
           f'uniqueCount="{len(strings)}">'] + [f"<si><t>{escape(v)}</t></si>" for v in strings] + ["</sst>"]
    rels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
                   'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/'
                   'xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" '
                   'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                   '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                   'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="'
                   'http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
                   f'{rels}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{main}" '
                   f'xmlns:r="{rels}"><sheets><sheet name="检查对象名录库" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships '
                   'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" '
                   f'Type="{rels}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" '
                   f'Type="{rels}/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", "".join(sheet))
        z.writestr("xl/sharedStrings.xml", "".join(sst))


# --- databases ---------------------------------------------------------------------------------------

def fresh_database(args, name: str) -> str:
    from backend import migrate

    if args.sqlite:
        path = Path(args.workdir) / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        admin_url = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    seed(url)
    return url


def seed(url: str) -> None:
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.db import Database
    from backend.directory.models import Department, Region

    db = Database(url)
    configure_audit(db.engine, AuditSettings.ephemeral())  # a scratch database: a throw-away audit key
    with db.session_scope() as s:
        s.add(Region(code="410000", name="河南省", level="province"))
        s.add(Region(code="411200", name="三门峡市", level="city", parent_code="410000"))
        for code, name in COUNTIES.items():
            s.add(Region(code=code, name=name, level="county", parent_code="411200"))
        s.flush()
        for code, name, county in towns():
            s.add(Region(code=code, name=name, level="town", parent_code=county))
        s.add(Department(code=DEPT_CODE, name="三门峡市市场监督管理局", short_name="三门峡市场监管局", region_code="411200"))
    db.engine.dispose()


# --- measured steps (each in a fresh process) ----------------------------------------------------

def peak_rss() -> int:
    """This process's peak resident set, in bytes. Not ru_maxrss: Linux carries that across exec, so a
    spawned child would report its parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _measure(queue, fn_name: str, kwargs: dict) -> None:
    sys.path.insert(0, str(ROOT))
    import tracemalloc

    use_trace = kwargs.pop("tracemalloc", False)
    if use_trace:
        tracemalloc.start()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    try:
        out = globals()[fn_name](**kwargs)
        error = None
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        out, error = {}, f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds = usage.ru_utime + usage.ru_stime - cpu_before
    peak_rss_mb = peak_rss() / 1024 / 1024
    traced = tracemalloc.get_traced_memory()[1] / 1024 / 1024 if use_trace else None
    queue.put({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_mb": peak_rss_mb, "traced_peak_mb": traced, "error": error, **out})


def do_import(url: str, path: str, strategy: str = "optimistic", use_copy: bool = True) -> dict:
    from backend.actor import Actor
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.db import Database
    from backend.directory import imports

    db = Database(url)
    configure_audit(db.engine, AuditSettings.ephemeral())  # a scratch database: a throw-away audit key
    session = db.session()
    try:
        result = imports.import_file(session, Actor.system("bench"), "targets", path, file_name=Path(path).name,
                                     strategy=strategy, use_copy=use_copy)
    finally:
        session.close()
        db.engine.dispose()
    return {"rows": result["rows"], "created": result["created"], "updated": result["updated"],
            "unchanged": result["unchanged"]}


def do_export(url: str, path: str, fmt: str) -> dict:
    from backend.actor import Actor
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.db import Database
    from backend.directory import exports

    db = Database(url)
    configure_audit(db.engine, AuditSettings.ephemeral())  # a scratch database: a throw-away audit key
    session = db.session()
    try:
        with open(path, "wb") as out:
            rows = exports.export_to(out, session, Actor.system("bench"), "targets", fmt, {})
    finally:
        session.close()
        db.engine.dispose()
    return {"rows": rows, "size_mb": os.path.getsize(path) / 1024 / 1024}


def do_read(path: str, reader: str) -> dict:
    """Read every row of an XLSX with one reader (nothing else: the reader's own speed and memory)."""
    rows = 0
    if reader == "ours":
        from backend.directory.readers import FileProblem, open_table

        try:
            with open_table(path, "xlsx") as table:
                for _ in table.rows():
                    rows += 1
        except FileProblem as exc:
            return {"rows": rows, "outcome": f"refused: {exc.code}: {exc.message}"}
    elif reader == "openpyxl":
        from openpyxl import load_workbook

        with open(path, "rb") as f:
            wb = load_workbook(f, read_only=True, data_only=True)
            ws = wb.worksheets[0]
            ws.reset_dimensions()
            for _ in ws.iter_rows(values_only=True):
                rows += 1
            wb.close()
        rows -= 1
    else:
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(path)
        for _ in wb.get_sheet_by_index(0).iter_rows():
            rows += 1
        rows -= 1
    return {"rows": rows}


def do_hostile(url: str, path: str) -> dict:
    """The hostile XLSX through the import (as the job runs it): the refusal, its time and memory."""
    from backend.actor import Actor
    from backend.db import Database
    from backend.directory import imports
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.directory.readers import FileProblem

    db = Database(url)
    configure_audit(db.engine, AuditSettings.ephemeral())  # a scratch database: a throw-away audit key
    session = db.session()
    started = time.perf_counter()
    try:
        imports.import_file(session, Actor.system("bench"), "targets", path, file_name="hostile.xlsx", dry_run=True)
        outcome = "imported (not refused)"
    except (FileProblem, imports.BadRows) as exc:
        outcome = f"refused: {exc.code}"
    finally:
        seconds = time.perf_counter() - started
        session.close()
        db.engine.dispose()
    return {"outcome": f"{outcome} after {seconds * 1000:.1f} ms in import_file"}


def worst_xlsx(path: Path, rows: int = 20_000) -> None:
    """Under 10 MB and within every default limit, made to cost a reader memory: 64 MB of shared strings
    (3.1 million distinct short ones) and rows of 15 cells pointing at them at random."""
    import zipfile

    sys.path.insert(0, str(ROOT))
    from tests.api.directory_io.helpers import CONTENT_TYPES, MAIN_NS, PACKAGE_RELS, WORKBOOK, WORKBOOK_RELS

    parts, size, count = [], 0, 0
    while size < 64 * 1024 * 1024 - 4096:
        entry = f"<si><t>{count:x}</t></si>"
        parts.append(entry)
        size += len(entry)
        count += 1
    rng = random.Random(7)
    sheet = [f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN_NS}"><sheetData>',
             '<row r="1">' + "".join(f'<c r="{chr(65 + c)}1" t="inlineStr"><is><t>{h}</t></is></c>'
                                     for c, h in enumerate(HEADER)) + "</row>"]
    for r in range(2, rows + 2):
        sheet.append(f'<row r="{r}">' + "".join(f'<c r="{chr(65 + c)}{r}" t="s"><v>{rng.randrange(count)}</v></c>'
                                                for c in range(len(HEADER))) + "</row>")
    sheet.append("</sheetData></worksheet>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", PACKAGE_RELS),
                           ("xl/workbook.xml", WORKBOOK), ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
                           ("xl/worksheets/sheet1.xml", "".join(sheet))):
            z.writestr(name, data)
        z.writestr("xl/sharedStrings.xml", f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN_NS}">'
                   + "".join(parts) + "</sst>")


def sparse_xlsx(path: Path) -> None:
    """1 KB: a cell in A1 and one in XFD1048576."""
    sys.path.insert(0, str(ROOT))
    from tests.api.directory_io.helpers import xlsx_from_parts

    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row>'
             '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>b</t></is></c></row></sheetData></worksheet>')
    path.write_bytes(xlsx_from_parts(sheet))


CALAMINE_SPARSE = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from python_calamine import CalamineWorkbook
sheet = CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0)
print("read", sheet.height, "rows")
"""


def compare_readers(args, work: Path) -> None:
    try:
        import python_calamine  # noqa: F401
        readers = ["ours", "openpyxl", "calamine"]
    except ImportError:
        readers = ["ours", "openpyxl"]
        print("python-calamine is not installed (pip install -e '.[dev]'): compared without it")
    n = args.reader_rows
    t = time.perf_counter()
    files = {"Excel-like (shared strings)": work / "readers_shared.xlsx",
             "write-only (inline strings)": work / "readers_inline.xlsx"}
    write_xlsx_shared(files["Excel-like (shared strings)"], n, 0)
    write_xlsx(files["write-only (inline strings)"], n, 0)
    print(f"generated two XLSX files of {n:,} targets in {time.perf_counter() - t:.1f} s")
    for label, path in files.items():
        print(f"{label}: {path.stat().st_size / 1024 / 1024:.1f} MB")
        for reader in readers:
            run_step(f"  read with {reader}", "do_read", path=str(path), reader=reader)

    import subprocess

    sys.path.insert(0, str(ROOT))
    from tests.api.directory_io.helpers import hostile_xlsx

    hostile = hostile_xlsx(work / "hostile.xlsx", sst_mb=1000)
    print(f"hostile XLSX: {hostile.stat().st_size / 1024 / 1024:.1f} MB, shared strings unpack to 1,000 MiB, one row")
    url = fresh_database(args, args.db_name + "_hostile")
    result = run_step("  import (dry run, as the job does)", "do_hostile", url=url, path=str(hostile))
    print(f"  → {result.get('outcome')}")
    worst = work / "worst.xlsx"
    worst_xlsx(worst)
    print(f"worst case within the limits: {worst.stat().st_size / 1024 / 1024:.1f} MB, 64 MB of shared strings "
          "(3.1 million), 20,000 rows")
    for reader in readers:
        run_step(f"  read with {reader}", "do_read", path=str(worst), reader=reader)
    result = run_step("  import (dry run, as the job does)", "do_hostile", url=url, path=str(worst))
    print(f"  → {result.get('outcome')}")
    drop_database(args, args.db_name + "_hostile")
    if "calamine" in readers:
        sparse = work / "sparse.xlsx"
        sparse_xlsx(sparse)
        result = run_step(f"sparse XLSX ({sparse.stat().st_size} bytes, A1 and XFD1048576): ours", "do_read",
                          path=str(sparse), reader="ours")
        print(f"  → {result.get('outcome')}")
        out = subprocess.run([sys.executable, "-c", CALAMINE_SPARSE, str(sparse)], capture_output=True, text=True)
        first = (out.stderr.strip().splitlines() or [""])[0]
        print(f"  calamine: exit status {out.returncode}" + (f" — {first}" if out.returncode else f" — {out.stdout}"))


def run_step(label: str, fn_name: str, tracemalloc_flag: bool = False, **kwargs) -> dict:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=(queue, fn_name, {**kwargs, "tracemalloc": tracemalloc_flag}))
    proc.start()
    result = queue.get()
    proc.join()
    rows = result.get("rows") or 0
    rate = rows / result["seconds"] if result["seconds"] else 0
    extra = ""
    if "created" in result:
        extra = f"  new {result['created']:>7,}  updated {result['updated']:>7,}  unchanged {result['unchanged']:>7,}"
    if "size_mb" in result:
        extra = f"  file {result['size_mb']:.1f} MB"
    traced = f"  python heap peak {result['traced_peak_mb']:.0f} MB" if result.get("traced_peak_mb") else ""
    if result["error"]:
        print(f"{label:<44} FAILED: {result['error']}")
    else:
        cpu = result["cpu_seconds"]
        cpu_rate = f" ({rows / cpu:,.0f}/CPU s)" if cpu and rows else ""
        print(f"{label:<44} {rows:>8,} rows {result['seconds']:>7.2f} s {rate:>9,.0f} rows/s{cpu_rate}  "
              f"peak RSS {result['peak_rss_mb']:>4.0f} MB{traced}{extra}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="导入性能测试：检查对象 CSV/XLSX 导入的速度与内存")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--xlsx-rows", type=int, default=20_000, help="0 to skip the XLSX step")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_ADMIN_URL", DEFAULT_ADMIN_URL),
                        help="PostgreSQL admin connection (the bench creates its own databases)")
    parser.add_argument("--db-name", default="ss_bench_import")
    parser.add_argument("--sqlite", action="store_true", help="use SQLite files instead of PostgreSQL")
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--no-two-pass", action="store_true", help="skip the two-pass comparison")
    parser.add_argument("--no-copy", action="store_true",
                        help="PostgreSQL: write with Core executemany only (no COPY fast path)")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace the Python heap (slower)")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--readers", action="store_true",
                        help="compare the XLSX readers and run the hostile files instead of the import steps")
    parser.add_argument("--reader-rows", type=int, default=100_000)
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="ss-bench-")
    args.workdir = args.workdir or tmp.name
    work = Path(args.workdir)
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    print(f"backend: {backend}   rows: {args.rows:,}   python {sys.version.split()[0]}   cpus {os.cpu_count()}   "
          f"load {os.getloadavg()[0]:.1f}")
    if args.readers:
        compare_readers(args, work)
        tmp.cleanup()
        return

    t = time.perf_counter()
    csv_path, changed_path = work / "检查对象_bench.csv", work / "检查对象_bench_changed.csv"
    write_csv(csv_path, args.rows)
    write_csv(changed_path, args.rows, risk_shift=1)
    print(f"generated 2 CSV files of {args.rows:,} rows ({csv_path.stat().st_size / 1024 / 1024:.1f} MB each) "
          f"in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    url = fresh_database(args, args.db_name)
    print(f"fresh database migrated and seeded in {time.perf_counter() - t:.1f} s")

    tm = args.tracemalloc
    copy = not args.no_copy
    if not args.sqlite:
        print("writes: " + ("COPY fast path" if copy else "SQLAlchemy Core executemany only (--no-copy)"))
    run_step("1. CSV import, all new (INSERT)", "do_import", tm, url=url, path=str(csv_path), use_copy=copy)
    run_step("2. same CSV again, all unchanged", "do_import", tm, url=url, path=str(csv_path), use_copy=copy)
    run_step("3. CSV with every risk class changed (UPDATE)", "do_import", tm, url=url, path=str(changed_path),
             use_copy=copy)
    if not args.no_two_pass:
        url2 = fresh_database(args, args.db_name + "_2")
        run_step("4. CSV import, all new, two passes", "do_import", tm, url=url2, path=str(csv_path),
                 strategy="two_pass", use_copy=copy)
        drop_database(args, args.db_name + "_2")
    if args.xlsx_rows:
        xlsx_path = work / "检查对象_bench.xlsx"
        write_xlsx_shared(xlsx_path, args.xlsx_rows, start=args.rows)  # as Excel saves it: shared strings
        run_step("5. XLSX import, all new", "do_import", tm, url=url, path=str(xlsx_path), use_copy=copy)
    if not args.no_export:
        run_step("6a. export all targets to CSV", "do_export", tm, url=url, path=str(work / "export.csv"), fmt="csv")
        run_step("6b. export all targets to XLSX", "do_export", tm, url=url, path=str(work / "export.xlsx"), fmt="xlsx")
    tmp.cleanup()


def drop_database(args, name: str) -> None:
    if args.sqlite:
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(args.database_url.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


if __name__ == "__main__":
    main()
