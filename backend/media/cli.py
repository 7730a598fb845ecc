"""``shuangsui media cleanup``: the scheduled clean-up of unreferenced files and expired uploads."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.actor import Actor


@click.group("media", help="照片与附件")
def media_group():
    pass


@media_group.command("cleanup")
@click.option("--grace-days", type=click.IntRange(min=0), default=None,
              help="未被引用的文件保留天数（默认 MEDIA_ORPHAN_GRACE_DAYS）")
@with_appcontext
def cleanup_command(grace_days):
    """删除宽限期后仍无人引用的文件和过期的上传会话（被检查记录引用的文件永不删除）"""
    import dataclasses
    import datetime as dt

    from backend.media import services

    settings = services.MediaSettings.from_config(current_app.config)
    if grace_days is not None:
        settings = dataclasses.replace(settings, orphan_grace=dt.timedelta(days=grace_days))
    with current_app.extensions["shuangsui.db"].session_scope() as session:
        counts = services.cleanup(session, settings, Actor.system())
    click.echo(f"已清理：文件记录 {counts['media_deleted']} 个，磁盘文件 {counts['files_deleted']} 个"
               f"（{counts['bytes_freed']} 字节），过期上传会话 {counts['uploads_expired']} 个，"
               f"残留临时文件 {counts['stray_files_deleted']} 个（宽限期 {counts['grace_days']} 天）；"
               f"过期导出 {counts['exports_expired']} 个，删除导出文件 {counts['export_files_deleted']} 个，"
               f"过期名录导入 {counts['imports_expired']} 个，删除导入文件 {counts['import_files_deleted']} 个"
               f"（保留 {counts['export_retention_days'] or '不限'} 天）")
