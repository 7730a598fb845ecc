"""``shuangsui figures``: the quarterly 通报 as a PDF (as the system: every department); the figure facts' repair."""
from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.actor import Actor
from backend.errors import DomainError


@click.group("figures", help="监督统计指标：季度通报、统计事实的重算")
def figures_group():
    pass


@figures_group.command("rebuild")
@with_appcontext
def rebuild_command():
    """按检查、任务、记录等原始数据重新计算全部统计事实（figure_fact），用于修复"""
    from backend.figures.facts import rebuild

    db = current_app.extensions["shuangsui.db"]
    started = time.perf_counter()
    with db.session_scope() as session:
        count = rebuild(session.connection())
    click.echo(f"已重新计算 {count} 条检查的统计事实（{time.perf_counter() - started:.1f} 秒）")


@figures_group.command("report")
@click.option("--quarter", required=True, metavar="2026Q3", help="季度：2026Q3 或 2026-Q3（按任务截止日期归属）")
@click.option("--department", "department_code", default=None, help="只通报某部门（部门编码；默认全部部门）")
@click.option("--region", default=None, help="只通报某区划（6 位县级或 9 位乡镇代码；默认全部）")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="写入的 PDF 文件")
@with_appcontext
def report_command(quarter: str, department_code: str | None, region: str | None, output: Path):
    """生成季度通报 PDF：各项指标（总体、分部门、分区划）与逾期清单"""
    from sqlalchemy import select

    from backend.directory.models import Department
    from backend.figures import report
    from backend.inspections import pdf

    actor = Actor.system()
    settings = pdf.Settings.from_config(current_app.config)
    try:
        with current_app.extensions["shuangsui.db"].session_scope(write=False) as session:
            department_id = None
            if department_code:
                department_id = session.scalar(select(Department.id).where(Department.code == department_code))
                if department_id is None:
                    raise DomainError(f"部门编码不存在：{department_code}", code="department.not_found", status=404)
            scope = report.quarter_scope(actor, quarter, department_id, region)
            made, rendered = report.make(session, actor, scope, settings)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    output.write_bytes(rendered.data)
    late = made.late_publication[0], made.late_tasks[0], made.late_followups[0]
    click.echo(f"已生成 {output}（{rendered.pages} 页）：{report.quarter_words(scope.period)}，{made.department}，"
               f"{made.region}；逾期未公示 {late[0]} 项，逾期任务 {late[1]} 项，逾期后续处置 {late[2]} 项")
