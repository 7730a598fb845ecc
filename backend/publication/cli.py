"""``shuangsui calendar``: import a year's State Council holiday notice, show a year, compute a due date.

The import acts as the system (``Actor.system()``) and is audited like any import.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.actor import Actor
from backend.errors import DomainError
from backend.publication import services
from backend.publication.calendar import beijing_date
from backend.publication.notice import MAX_BYTES, read_notice_file


def _db():
    return current_app.extensions["shuangsui.db"]


def _fail(exc: DomainError) -> None:
    click.echo(exc.message, err=True)
    if isinstance(exc.errors, dict) and len(exc.errors) > 0:
        for where, messages in exc.errors.items():
            for message in messages if isinstance(messages, list) else [messages]:
                click.echo(f"  {where}：{message}", err=True)
    raise SystemExit(1)


def _day_line(day: dict) -> str:
    return f"  {day['day'].isoformat()} {day['weekday']}  {day['name'] or ''}".rstrip()


def _print_year(view: dict) -> None:
    click.echo(f"{view['year']} 年：{view['source_label']}")
    notice = view.get("notice")
    if notice:
        ref = f"（{notice['ref']}）" if notice.get("ref") else ""
        issued = f"，{notice['issued_on'].isoformat()} 发布" if notice.get("issued_on") else ""
        click.echo(f"通知：{notice['title']}{ref}{issued}")
        click.echo(f"导入：{notice['imported_at'].isoformat(timespec='seconds')}  {notice['imported_by']}"
                   f"  {notice.get('file_name') or notice['source']}  SHA-256 {notice['sha256']}")
    if view["source"] == "statutory":
        click.echo(f"依据：{view['law']}")
        click.echo(f"法定节日（{len(view['restdays'])} 天，计为休息日）：")
        for day in view["restdays"]:
            click.echo(_day_line(day))
    elif view["provisional"]:
        click.echo("尚无该年的节假日安排：期限暂按周一至周五计算，标为暂定")
    else:
        click.echo(f"放假日（{len(view['restdays'])} 天）：")
        for day in view["restdays"]:
            click.echo(_day_line(day))
        click.echo(f"调休上班日（{len(view['workdays'])} 天）：")
        for day in view["workdays"]:
            click.echo(_day_line(day))
    _print_periods(view["provisional_periods"])
    differences = view.get("differences_from_library") or []
    if differences:
        click.echo(f"与 chinesecalendar 不一致的日期（{len(differences)} 天）：")
        for d in differences:
            words = {"workday": "上班", "restday": "放假"}
            click.echo(f"  {d['day'].isoformat()} {d['weekday']}  通知：{words[d['notice']]}，"
                       f"chinesecalendar：{words[d['library']]}")


def _print_periods(periods: list[dict]) -> None:
    if periods:
        click.echo(f"暂定的日子（{len(periods)} 段，其余日子已确定）：")
        for period in periods:
            click.echo(f"  {period['label']}")


@click.group("calendar", help="工作日日历：导入国务院节假日安排、查看某年、计算期限")
def calendar_group():
    pass


@calendar_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option("--replace", is_flag=True, help="该年已导入时替换（记入审计日志）")
@click.option("--title", default=None, help="通知标题（仅 CSV 文件，必填）")
@click.option("--year", type=int, default=None, help="年份（仅 CSV 文件；默认取第一个日期的年份）")
@click.option("--ref", default=None, help="文号（仅 CSV 文件）")
@click.option("--issued-on", default=None, help="发布日期 YYYY-MM-DD（仅 CSV 文件）")
@with_appcontext
def calendar_import(file: Path, replace, title, year, ref, issued_on):
    """导入某年的国务院节假日安排通知：JSON 或 CSV 文件（格式见 docs/deadlines.md）"""
    if file.stat().st_size > MAX_BYTES:
        click.echo(f"文件过大：不能超过 {MAX_BYTES // 1024} KB", err=True)
        raise SystemExit(1)
    content = file.read_bytes()
    try:
        notice = read_notice_file(file.name, content, title=title, year=year, ref=ref, issued_on=issued_on)
        with _db().session_scope() as session:
            view = services.import_notice(session, Actor.system(), notice, replace=replace, source="cli",
                                          file_name=file.name, sha256=hashlib.sha256(content).hexdigest())
    except DomainError as exc:
        _fail(exc)
    verb = {"created": "已导入", "replaced": "已替换", "unchanged": "内容与已导入的相同，未作改动"}[view["action"]]
    click.echo(f"{notice.year} 年节假日安排{verb}：放假 {len(notice.rest_days)} 天，调休上班 "
               f"{len(notice.workdays)} 天（{notice.title}）")
    for d in view.get("differences_from_library") or []:
        click.echo(f"  注意：{d['day'].isoformat()} {d['weekday']} 与 chinesecalendar 不一致"
                   f"（通知：{'上班' if d['notice'] == 'workday' else '放假'}）")


@calendar_group.command("show")
@click.argument("year", type=int)
@with_appcontext
def calendar_show(year):
    """查看某年的放假日、调休上班日及其来源"""
    try:
        with _db().session_scope() as session:
            view = services.year_view(session, year)
    except DomainError as exc:
        _fail(exc)
    _print_year(view)


@calendar_group.command("recount")
@with_appcontext
def calendar_recount():
    """按现在的日历重新计算仍为暂定的公示期限（升级 chinesecalendar 或本程序之后运行；导入通知时会自动重算）"""
    try:
        with _db().session_scope() as session:
            result = services.recount_deadlines(session, Actor.system())
    except DomainError as exc:
        _fail(exc)
    years = "、".join(str(y) for y in result["years"]) or "无"
    click.echo(f"暂定期限涉及的办结年份：{years}；重新计算后改变的期限：{result['deadlines_recomputed']} 个")


@calendar_group.command("due")
@click.argument("start", metavar="DATE", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--days", type=click.IntRange(1, 250), default=services.PUBLICATION_DAYS, show_default=True,
              help="N 个工作日（公示 20，处罚决定 7）")
@click.option("--today", metavar="DATE", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="按哪一天判断状态（YYYY-MM-DD，默认北京时间今天）")
@with_appcontext
def calendar_due(start: dt.datetime, days, today):
    """DATE（YYYY-MM-DD）之后第 N 个工作日（DATE 当天为第 0 天，不计）及其状态，并列出暂定的日子"""
    try:
        with _db().session_scope() as session:
            view = services.due_view(session, start.date(), days, today.date() if today else beijing_date())
    except DomainError as exc:
        _fail(exc)
    mark = "（暂定）" if view["provisional"] else ""
    click.echo(f"{start.date().isoformat()} 之后第 {days} 个工作日：{view['due'].isoformat()}{mark}")
    if view["statutory_days"]:
        click.echo("按《全国年节及纪念日放假办法》计为休息日（该年放假安排尚未发布）：")
        for day in view["statutory_days"]:
            click.echo(_day_line(day))
    _print_periods(view["provisional_periods"])
    if view["provisional"]:
        years = "、".join(str(y) for y in sorted({p["year"] for p in view["provisional_periods"]}))
        click.echo(f"暂定：待 {years} 年的国务院节假日安排通知导入后确定")
    click.echo(f"截至 {view['today'].isoformat()}：{view['state_label']}，剩余 {view['working_days_left']} 个工作日")


@click.group("publication", help="检查结果公示：导出国家企业信用信息公示系统的批量文件")
def publication_group():
    pass


@publication_group.command("export")
@click.option("--from", "start", required=True, metavar="DATE", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="公示日期起（含，YYYY-MM-DD，北京时间）")
@click.option("--to", "end", required=True, metavar="DATE", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="公示日期止（含）")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="xlsx", show_default=True)
@click.option("--department", "department_code", default=None, help="只导出某部门公示的结果（部门编码；默认全部）")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="另存一份到此文件（导出的文件总是存入文件存储目录并登记）")
@with_appcontext
def publication_export(start: dt.datetime, end: dt.datetime, fmt: str, department_code: str | None, output):
    """导出某期间公示的检查结果（国家企业信用信息公示系统的字段），登记并记入审计日志；可重复导出"""
    import shutil

    from sqlalchemy import select

    from backend.directory.models import Department
    from backend.media import storage
    from backend.publication import exports

    media_dir = current_app.config.get("MEDIA_DIR")
    try:
        with _db().session_scope() as session:
            department_id = None
            if department_code:
                department_id = session.scalar(select(Department.id).where(Department.code == department_code))
                if department_id is None:
                    raise DomainError(f"部门编码不存在：{department_code}", code="department.not_found", status=404)
            row = exports.export_national(session, Actor.system(), media_dir, department_id, start.date(),
                                          end.date(), fmt, source="cli")
            view = exports.export_view(row)
    except DomainError as exc:
        _fail(exc)
    store = storage.get(media_dir)
    if output:
        with store.open(view["sha256"]) as source, open(output, "wb") as out:
            shutil.copyfileobj(source, out)
    where = output or store.direct_path(view["sha256"]) or f"{store!r} {view['sha256']}"
    click.echo(f"已导出 {view['rows']} 条（第 {view['id']} 次导出）：{where}（{view['file_name']}）")
