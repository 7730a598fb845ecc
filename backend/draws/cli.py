"""``shuangsui draw verify FILE``: check a published draw record by redoing it.

FILE is a record as published (``-`` reads standard input), or a file shaped like
draw-vectors.json whose ``draws`` list holds several records. Prints ``MATCH`` and
exits 0 when everything agrees; otherwise prints the first difference and how many
others there are, and exits 1. An unreadable file or invalid JSON exits 2.
"""

from __future__ import annotations

import os
import sys

import click
import orjson

from backend.draws.verify import verify_record

__all__ = ["verify_command"]


def _summary(report) -> str:
    if report.ok:
        return "MATCH"
    others = len(report.differences) - 1
    return report.differences[0] + (f"（另有 {others} 处不同）" if others else "")


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def verify_command(file: str) -> None:
    """验证公开的抽取记录（dsr/v1）：重新计算承诺值、随机种子与抽取结果并逐项比对。"""
    try:
        if file == "-":
            text = sys.stdin.buffer.read().decode("utf-8-sig")
        else:
            with open(file, encoding="utf-8-sig") as fh:
                text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"无法读取文件 {file}：{exc}", err=True)
        sys.exit(2)
    try:
        data = orjson.loads(text)  # several times faster than json on a record of a million targets
    except ValueError as exc:
        click.echo(f"文件 {file} 不是有效的 JSON：{exc}", err=True)
        sys.exit(2)

    if isinstance(data, dict) and isinstance(data.get("draws"), list) and "result" not in data:
        failed = 0
        for n, record in enumerate(data["draws"]):
            report = verify_record(record)
            failed += not report.ok
            label = record.get("task") or record.get("name") if isinstance(record, dict) else None
            click.echo(f"draws[{n}] {label or ''}: {_summary(report)}".replace(" :", ":"))
        total = len(data["draws"])
        if failed:
            click.echo(f"不一致：{total} 条记录中 {failed} 条未通过验证")
            sys.exit(1)
        click.echo(f"MATCH（{total} 条记录全部一致）")
        return

    # a command line process may fork: rank the tickets on every core
    report = verify_record(data, processes=os.cpu_count())
    click.echo(_summary(report))
    sys.exit(0 if report.ok else 1)
