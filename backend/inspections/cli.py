"""``shuangsui sync import FILE``: deliver a phone's exported outbox (outbox_import.py, docs/sync.md §10); the
import is listed with the office's (import_desk.py)."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.actor import Actor


@click.group("sync", help="离线同步")
def sync_group():
    pass


@sync_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--close-gap", is_flag=True,
              help="变更编号不连续（手机提示 sync.gap）时：先停用该设备，再把缺口之后的变更按服务器期待的编号送达")
@with_appcontext
def import_command(file: Path, close_gap: bool):
    """导入手机“导出未发送记录”生成的文件：照片与变更按原设备、原编号送达（已收到的不会重复；记入审计日志）"""
    from backend.errors import DomainError
    from backend.inspections import import_desk, outbox_import
    from backend.media.services import MediaSettings

    try:
        with current_app.extensions["shuangsui.db"].session_scope() as session:
            # checked as an office upload is, and listed with them (导入离线记录)
            _row, report = import_desk.import_direct(
                session, Actor.system(), file.read_bytes(), file.name, close_gap=close_gap,
                media_settings=MediaSettings.from_config(current_app.config), settings=current_app.config,
                queue=current_app.extensions["shuangsui.jobs"])
    except DomainError as exc:
        raise click.ClickException(f"{exc.message}（{exc.code}）")
    s = outbox_import.summary(report)
    click.echo(f"已导入 {report.username} 的设备 {report.client_id}：变更 {report.mutations} 条"
               f"（新采用 {s['applied']}，冲突 {s['conflict']}，被拒 {s['rejected']}，此前已收到 {s['replayed']}）；"
               f"照片新存 {report.photos_stored} 张，已有 {report.photos_known} 张"
               + (f"，{len(report.photos_missing)} 张导出时没有内容" if report.photos_missing else ""))
    if report.gap:
        first, last = report.gap["lost"]
        click.echo(f"  第 {first}–{last} 条不在文件中（手机上已丢失）；设备已停用，其后 {len(report.gap['renumbered'])} 条"
                   f"按新编号送达")
    for r in report.refused:
        click.echo(f"  第 {r['id']} 条被拒：{r['message']}（{r['code']}）")
    if report.stopped:
        click.echo(f"  在第 {report.stopped.get('got')} 条停止：{report.stopped['message']}"
                   + ("；确认缺少的变更已无法找回后，可加 --close-gap 送达其余变更" if report.stopped["code"] == "sync.gap" else ""))
        raise SystemExit(1)
