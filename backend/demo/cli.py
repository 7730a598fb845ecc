"""``shuangsui demo seed``: load the demo county into the configured database."""
from __future__ import annotations

import sys
import unicodedata

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.auth.roles import Role
from backend.errors import DomainError


@click.group("demo", help="演示数据（陕州区演示县）")
def demo_group():
    pass


def _pad(text: str, width: int) -> str:
    """Left-align in a terminal: CJK characters take two columns."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(1, width - used)


def _echo_accounts(summary) -> None:
    from backend.demo import data

    click.echo("")
    click.echo("演示账号（仅此一次显示；演示密码公开，正式使用前请修改密码或冻结这些账号）：")
    click.echo("  " + _pad("角色", 14) + _pad("用户名", 16) + _pad("部门", 8) + _pad("姓名", 40) + "密码")
    for account in summary.accounts:
        name = account.display_name + (f"（执法证号 {account.inspector_cert_no}）" if account.inspector_cert_no else "")
        password = account.password if account.created else "（账号已存在，未改动）"
        click.echo("  " + _pad(Role(account.role).label, 14) + _pad(account.username, 16)
                   + _pad(account.department_code or "—", 8) + _pad(name, 40) + password)
    if any(a.created for a in summary.accounts):
        click.echo(f"  全部演示账号的密码均为 {data.DEMO_PASSWORD}")


@demo_group.command("seed")
@click.option("--targets", default=20000, show_default=True, type=click.IntRange(min=50), help="检查对象数量")
@click.option("--inspectors", default=300, show_default=True, type=click.IntRange(min=1),
              help="执法检查人员数量（每个部门至少 8 名）")
@click.option("--seed", "seed", default=2026, show_default=True, type=int, help="随机种子：相同种子生成相同数据")
@click.option("--force", is_flag=True, help="数据库已有数据时仍然追加（已存在的记录按代码跳过）")
@click.option("--if-empty", "if_empty", is_flag=True, help="数据库已有数据时直接跳过（不报错），供一键启动脚本使用")
@with_appcontext
def demo_seed(targets, inspectors, seed, force, if_empty):
    """生成演示县：部门、行政区划、抽查事项清单、检查对象、执法检查人员、专家和各角色演示账号"""
    from backend.demo.seed import describe_counts, existing_counts, seed_demo

    if force and if_empty:
        raise click.UsageError("--force 与 --if-empty 不能同时使用")
    if current_app.config.get("ENV_NAME") == "production":
        raise click.ClickException("生产环境（SHUANGSUI_ENV=production）不能写入演示数据：演示账号的密码是公开的")
    db = current_app.extensions["shuangsui.db"]
    if not force:
        with db.session_scope() as session:
            counts = existing_counts(session)
        if any(counts.values()):
            if if_empty:
                click.echo(f"数据库中已有数据（{describe_counts(counts)}），跳过演示数据")
                return
            click.echo(f"错误：数据库中已有数据（{describe_counts(counts)}），未写入演示数据。"
                       "确需在现有数据上追加演示数据，请加 --force（已存在的记录按代码跳过）", err=True)
            sys.exit(1)
    click.echo(f"正在生成演示县（陕州区）：检查对象 {targets} 个，执法检查人员 {inspectors} 名，随机种子 {seed}")
    try:
        summary = seed_demo(db, targets=targets, inspectors=inspectors, seed=seed, force=force,
                            progress=click.echo, media_dir=current_app.config.get("MEDIA_DIR"))
    except DomainError as exc:
        click.echo(f"错误：{exc.message}", err=True)
        sys.exit(1)
    if summary.skipped:
        labels = {"regions": "行政区划", "departments": "部门", "items": "抽查事项", "targets": "检查对象",
                  "inspectors": "执法检查人员", "experts": "专家"}
        click.echo("已存在而跳过：" + "、".join(f"{labels.get(k, k)} {v} 条" for k, v in summary.skipped.items()))
    click.echo(f"完成，用时 {summary.seconds:.1f} 秒")
    _echo_accounts(summary)
