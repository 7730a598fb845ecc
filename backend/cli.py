"""The ``shuangsui`` command: Flask's CLI around the app, plus the project's own groups."""
from __future__ import annotations

import importlib
import os
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from backend.actor import Actor


def _create_app():
    from backend import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True, load_dotenv=False,
             help="双随 Shuangsui：双随机、一公开监管系统")
def main():
    pass


# --- run ------------------------------------------------------------------------------------
@click.command("run", help="启动服务：默认用 gunicorn（配置见 backend/gunicorn_conf.py）；--dev 为 Flask 开发服务器")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT") or 5000), show_default="5000 或 $PORT",
              help="端口")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="gunicorn 工作进程数（默认 2）")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="每个工作进程的线程数（默认 8）")
@click.option("--dev", is_flag=True, help="用 Flask 开发服务器（代码改动自动重载；仅供开发，勿用于生产）")
def run_command(host, port, workers, threads, dev):
    if dev:
        from werkzeug.serving import run_simple

        from backend.web import QuietRequestHandler

        click.echo(f"==> 开发服务器：http://{host}:{port}（仅供开发）")
        run_simple(host, port, _create_app(), use_reloader=True, threaded=True, request_handler=QuietRequestHandler)
        return
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:backend.gunicorn_conf", "--bind", f"{host}:{port}"]
    if workers:
        argv += ["--workers", str(workers)]
    if threads:
        argv += ["--threads", str(threads)]
    os.execv(sys.executable, argv)


def db_handle():
    return current_app.extensions["shuangsui.db"]


# --- db ------------------------------------------------------------------------------------
@click.group("db", help="数据库迁移")
def db_group():
    pass


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision):
    """升级数据库结构到 REVISION（默认最新）"""
    from backend import migrate

    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"数据库已升级到 {revision}")
    if revision == "head":
        _recount_deadlines_after_upgrade()


def _recount_deadlines_after_upgrade() -> None:
    """An upgrade may bring another calendar (a chinesecalendar that knows a new year, new rules): the stored
    provisional deadlines are counted again on it (``calendar recount``, audited) whenever there are any."""
    from sqlalchemy import select

    from backend.inspections.models import Inspection
    from backend.publication import services

    with db_handle().session_scope() as session:
        if session.scalar(select(Inspection.id).where(Inspection.due_provisional.is_(True),
                                                      Inspection.completed_on.is_not(None)).limit(1)) is None:
            return
        result = services.recount_deadlines(session, Actor.system())
    click.echo(f"暂定的公示期限已按现在的日历重新计算：改变 {result['deadlines_recomputed']} 个")


@db_group.command("downgrade")
@click.argument("revision", default="-1")
@with_appcontext
def db_downgrade(revision):
    """回退数据库结构到 REVISION（默认回退一步；base 为全部回退）"""
    from backend import migrate

    migrate.downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"数据库已回退到 {revision}")


@db_group.command("check")
@with_appcontext
def db_check():
    """检查模型与迁移是否一致"""
    from backend import migrate

    migrate.check(current_app.config["DATABASE_URL"])
    click.echo("模型与数据库结构一致")


@db_group.command("revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message):
    """（开发用）按模型差异生成新的迁移脚本"""
    from backend import migrate

    migrate.revision(current_app.config["DATABASE_URL"], message)


# --- users ---------------------------------------------------------------------------------
@click.group("user", help="账号管理")
def user_group():
    pass


@user_group.command("create")
@click.option("--username", required=True)
@click.option("--display-name", required=True)
@click.option("--role", required=True, type=click.Choice(["sysadmin", "dept_admin", "planner", "inspector",
                                                          "supervisor"]))
@click.option("--department", "department_code", default=None, help="部门代码，如 SAMR")
@click.option("--region", "region_code", default=None)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def user_create(username, display_name, role, department_code, region_code, password):
    """新建账号（命令行操作记入审计日志）"""
    from sqlalchemy import select

    from backend.auth import services
    from backend.directory.models import Department
    from backend.errors import DomainError

    with db_handle().session_scope() as session:
        department_id = None
        if department_code:
            department_id = session.scalar(select(Department.id).where(Department.code == department_code))
            if department_id is None:
                raise click.ClickException(f"部门代码 {department_code} 不存在")
        try:
            user = services.create_user(session, Actor.system(), {
                "username": username, "display_name": display_name, "role": role, "password": password,
                "department_id": department_id, "region_code": region_code})
        except DomainError as exc:
            raise click.ClickException(exc.message)
        click.echo(f"已创建账号 {user.username}（id {user.id}）")


@user_group.command("prune")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="保留天数（默认 LOGIN_RECORDS_DAYS，90；至少 7）")
@with_appcontext
def user_prune(days):
    """删除超过保留期的登录记录与已失效的刷新令牌（每天由 cron 运行一次；记入审计日志）"""
    from backend.auth import housekeeping
    from backend.db import utcnow
    from backend.errors import DomainError

    keep = days or current_app.config["LOGIN_RECORDS_DAYS"]
    try:
        with db_handle().session_scope() as session:
            counts = housekeeping.prune(session, Actor.system(), utcnow(), keep,
                                        current_app.extensions["shuangsui.login"])
    except DomainError as exc:
        raise click.ClickException(exc.message)
    click.echo(f"已清理：登录记录 {counts['login_attempts']} 条，失效的刷新令牌 {counts['refresh_tokens']} 个"
               f"（保留 {keep} 天）")


# --- audit ---------------------------------------------------------------------------------
@click.group("audit", help="审计日志")
def audit_group():
    pass


@audit_group.command("verify")
@click.option("--record", "records", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="已下载的摇号记录（JSON）：一并核对记录中的审计链锚点（可多次给出）")
@with_appcontext
def audit_verify(records):
    """先链入待入链的审计记录，再逐条校验审计哈希链并核对锚点，指出第一处断裂；链完整时在锚点文件中记下当前链头"""
    import json
    from pathlib import Path

    from backend.audit import anchors
    from backend.audit.keys import settings_for
    from backend.audit.services import verify_chain

    extra = []
    for path in records:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"无法读取摇号记录 {path}：{exc}")
        for one in (data.get("draws") or [data]) if isinstance(data, dict) else []:
            if isinstance(one, dict):
                extra += anchors.from_record(one, Path(path).name)
    from backend.audit import chainer

    with db_handle().session_scope() as session:
        linked = chainer.run(session)       # entries committed and not linked yet (a crash after a push's commit)
        report = verify_chain(session, extra_anchors=extra)
        settings = settings_for(session)
    if linked:
        click.echo(f"已将 {linked} 条待入链的审计记录链入审计链")
    if report.ok:
        anchored = report.head_seq and anchors.append(settings, report.head_seq, report.head_hash, report.legacy_seq)
        click.echo(f"审计链完整：共 {report.checked} 条记录，核对锚点 {report.anchors} 个"
                   + (f"；已在锚点文件中记下第 {report.head_seq} 条" if anchored else "")
                   + (f"；另有 {report.pending} 条刚提交的记录待入链" if report.pending else ""))
        return
    click.echo(f"审计链断裂：{report.reason}（已校验 {report.checked} 条完好记录）", err=True)
    sys.exit(1)


@audit_group.command("chain")
@with_appcontext
def audit_chain():
    """把已提交、尚未链入审计链的记录（推送提交后进程中断留下的）链入审计链，并为其变更编号"""
    from backend.audit import chainer

    with db_handle().session_scope() as session:
        linked = chainer.run(session)
    click.echo(f"已链入 {linked} 条待入链的审计记录")


# --- jobs ----------------------------------------------------------------------------------
@click.group("jobs", help="后台任务")
def jobs_group():
    pass


@jobs_group.command("worker")
@click.option("--burst", is_flag=True, help="处理完队列即退出")
@with_appcontext
def jobs_worker(burst):
    """启动 rq 工作进程（需要 REDIS_URL）"""
    from rq import Worker

    queue = current_app.extensions["shuangsui.jobs"]
    if queue.backend != "rq":
        raise click.ClickException("未设置 REDIS_URL：后台任务在应用进程内执行，无需单独的工作进程")
    Worker([queue.queue], connection=queue.connection).work(burst=burst)


@jobs_group.command("failed")
@with_appcontext
def jobs_failed():
    """列出失败的后台任务"""
    from backend.jobs.services import jobs_query

    with db_handle().session_scope() as session:
        rows = session.scalars(jobs_query("failed")).all()
        for job in rows:
            click.echo(f"{job.id}  {job.name}  第 {job.attempts} 次  {job.error_code}: {job.error}")
        click.echo(f"共 {len(rows)} 个失败任务")


# groups contributed by domains: (module, attribute)
DOMAIN_COMMANDS = [
    ("backend.directory.cli", "import_command"),
    ("backend.directory.cli", "export_command"),
    ("backend.demo.cli", "demo_group"),
    ("backend.publication.cli", "calendar_group"),
    ("backend.publication.cli", "publication_group"),
    ("backend.media.cli", "media_group"),
    ("backend.notifications.cli", "reminders_group"),
    ("backend.figures.cli", "figures_group"),
    ("backend.inspections.cli", "sync_group"),
]


def register_commands(app) -> None:
    for command in (db_group, user_group, audit_group, jobs_group):
        app.cli.add_command(command)
    for module_name, attr in DOMAIN_COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        if hasattr(module, attr):
            app.cli.add_command(getattr(module, attr))


def _add_app_free_commands() -> None:
    """Commands anyone may run without a database or configuration (a citizen verifying a draw)."""
    from backend.draws.commands import draw_group

    main.add_command(draw_group)
    main.add_command(run_command)  # replaces Flask's development-server ``run``


_add_app_free_commands()


if __name__ == "__main__":  # python -m backend.cli
    main()
