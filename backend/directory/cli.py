"""``shuangsui import`` and ``shuangsui export``: the lists from and to CSV/XLSX files.

Both act as the system (``Actor.system()``, audited like any import) and use the same services
as the API and the jobs.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.actor import Actor
from backend.directory import exports, imports, readers, specs
from backend.errors import DomainError


class StderrProgress:
    """Progress on stderr: one updating line on a terminal, a line per 10 % otherwise."""

    def __init__(self, label: str):
        self.label = label
        self.tty = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        self.last_step = -1
        self.started = time.monotonic()
        self.open_line = False

    def __call__(self, done: int, total: int | None = None, message: str | None = None, force: bool = False):
        percent = int(done * 100 / total) if total else None
        rate = done / max(time.monotonic() - self.started, 1e-6)
        text = f"{self.label}：{message or ''}" + (f"（{percent}%，{rate:,.0f} 行/秒）" if percent is not None else "")
        if self.tty:
            click.echo("\r\033[K" + text, err=True, nl=False)
            self.open_line = True
            if force:
                self.finish()
            return
        step = (percent or 0) // 10
        if force or step > self.last_step:
            self.last_step = step
            click.echo(text, err=True)

    def finish(self):
        if self.open_line:
            click.echo("", err=True)
            self.open_line = False


def _db():
    return current_app.extensions["shuangsui.db"]


@click.command("import")
@click.argument("kind", type=click.Choice(specs.LIST_KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--dry-run", is_flag=True, help="只校验，不写入")
@click.option("--department", "department_code", default=None,
              help="文件中未填部门的行归入此部门（部门代码或全称）")
@with_appcontext
def import_command(kind, file, dry_run, department_code):
    """从 CSV/XLSX 文件导入名录 KIND（targets|inspectors|items|departments|regions|experts）。

    全部行校验通过才写入；有错误时列出出错的行号和原因，不改动任何数据，退出码为 1。
    """
    spec = specs.spec_for(kind)
    path = Path(file)
    progress = StderrProgress(f"导入{spec.title}")
    click.echo(f"正在读取 {path.name} …", err=True)
    try:
        with _db().session_scope() as session:
            department_id = imports.department_id_for(session, department_code)
            result = imports.import_file(
                session, Actor.system(), kind, path, file_name=path.name, dry_run=dry_run,
                default_department_id=department_id, progress=progress,
                max_errors=int(current_app.config.get("IMPORT_MAX_ERRORS") or 500),
                limits=readers.Limits.from_config(current_app.config))
    except imports.BadRows as exc:
        progress.finish()
        click.echo(exc.message, err=True)
        for error in exc.details.get("errors", []):
            click.echo("  " + error["message"], err=True)
        sys.exit(1)
    except DomainError as exc:
        progress.finish()
        raise click.ClickException(exc.message) from None
    progress.finish()
    verb = "校验通过（未写入）" if dry_run else "导入完成"
    click.echo(f"{spec.title}{verb}：共 {result['rows']} 行，新增 {result['created']} 条，更新 {result['updated']} 条，"
               f"未变 {result['unchanged']} 条（{result['seconds']} 秒）")


@click.command("export")
@click.argument("kind", type=click.Choice(specs.LIST_KINDS))
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--department", "department_code", default=None, help="只导出此部门（部门代码或全称）")
@click.option("--region", default=None, help="行政区划代码（含下级）")
@click.option("--q", default=None, help="关键字")
@click.option("--risk-class", multiple=True, help="信用风险分类，可重复")
@click.option("--status", multiple=True, help="状态代码，可重复")
@click.option("--type", "type_", multiple=True, help="对象类型代码，可重复")
@click.option("--include-retired", is_flag=True, help="包括已停用的记录")
@with_appcontext
def export_command(kind, file, department_code, region, q, risk_class, status, type_, include_retired):
    """把名录 KIND 导出到 FILE（按扩展名 .csv 或 .xlsx）。"""
    try:
        fmt = readers.format_of(file)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    spec = specs.spec_for(kind)
    target = Path(file)
    fd, tmp = tempfile.mkstemp(dir=target.parent if str(target.parent) else ".", prefix=".export-", suffix=f".{fmt}")
    try:
        with _db().session_scope() as session:
            filters = {"q": q, "region": region, "risk_class": list(risk_class) or None,
                       "status": list(status) or None, "type": list(type_) or None,
                       "include_retired": include_retired,
                       "department_id": imports.department_id_for(session, department_code)}
            filters = {k: v for k, v in filters.items() if v not in (None, False)}
            with os.fdopen(fd, "wb") as out:
                rows = exports.export_to(out, session, Actor.system(), kind, fmt, filters)
        os.replace(tmp, target)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    click.echo(f"已导出{spec.title} {rows} 条到 {target}")
