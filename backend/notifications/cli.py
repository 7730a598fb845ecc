"""``shuangsui reminders``: run the sweep once, or start rq's cron scheduler that enqueues it."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("reminders", help="到期提醒：扫描与定时")
def reminders_group():
    pass


@reminders_group.command("sweep")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="把这一天当作今天（YYYY-MM-DD，默认北京时间的今天）")
@with_appcontext
def sweep_command(today):
    """扫描一次：到期前 5 个工作日内与已逾期的事项，每人每个状态提醒一次"""
    from backend.notifications.jobs import run_sweep

    day = today.date() if today else None
    result = run_sweep(current_app.extensions["shuangsui.db"], dict(current_app.config), day)
    click.echo(f"{result['today']}：新增提醒 {result['created']} 条" + (
        "（" + "，".join(f"{k} {v}" for k, v in sorted(result["by_kind"].items())) + "）" if result["by_kind"] else "")
        + (f"；经短信/邮件发出 {result['sent']} 条" if result["sent"] else ""))


@reminders_group.command("cron")
@click.option("--interval", "minutes", type=click.IntRange(1, 24 * 60), default=None,
              help="每隔多少分钟扫描一次（默认 REMINDERS_SWEEP_MINUTES，60）")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="每次扫描都把这一天当作今天（演示、测试）")
@with_appcontext
def cron_command(minutes, today):
    """启动 rq 的定时调度（rq.cron，需要 REDIS_URL）：按时把提醒扫描放进队列，由 `shuangsui jobs worker` 执行"""
    from rq.cron import CronScheduler

    from backend.notifications.jobs import register_cron

    queue = current_app.extensions["shuangsui.jobs"]
    if queue.backend != "rq":
        raise click.ClickException("未设置 REDIS_URL：提醒扫描由服务进程内的定时器执行，无需 cron")
    minutes = minutes or current_app.config["REMINDERS_SWEEP_MINUTES"]
    scheduler = CronScheduler(connection=queue.connection)
    register_cron(scheduler, queue.queue.name, minutes * 60, today.date().isoformat() if today else None)
    click.echo(f"提醒扫描：每 {minutes} 分钟放入队列 {queue.queue.name}")
    scheduler.start()
