"""``shuangsui draw verify FILE``: check a published draw record by redoing it.

FILE is a record as published (``-`` reads standard input), or a file shaped like
draw-vectors.json whose ``draws`` list holds several records. Prints ``MATCH`` and
exits 0 when everything agrees; for a record published before the seed, prints that
the commitment matches and that there is no seed yet, and exits 0; otherwise prints
how many differences there are and then every difference, one per line, and exits 1.
An unreadable file or invalid JSON exits 2.
"""

from __future__ import annotations

import codecs
import os
import sys

import click
import orjson

from backend.draws.verify import verify_record

__all__ = ["verify_command"]


def _lines(report, indent: str = "") -> list[str]:
    """The verdict, then every difference."""
    if report.ok:
        return ["MATCH" if report.seeded else f"COMMITMENT MATCH：{report.verdict}"]
    return [f"不一致：共 {len(report.differences)} 处不同"] + [indent + d for d in report.differences]


@click.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
def verify_command(file: str) -> None:
    """验证公开的抽取记录（dsr/v1）：重新计算承诺值、随机种子与抽取结果并逐项比对，列出全部不同之处。"""
    try:
        if file == "-":
            raw = sys.stdin.buffer.read()
        else:
            with open(file, "rb") as fh:
                raw = fh.read()
    except OSError as exc:
        click.echo(f"无法读取文件 {file}：{exc}", err=True)
        sys.exit(2)
    try:
        # the bytes as they are (a byte order mark dropped): orjson checks the UTF-8 as it parses, so the 60 MB
        # of a million targets are not decoded into a str first (several times faster than json, too)
        data = orjson.loads(memoryview(raw)[3:] if raw.startswith(codecs.BOM_UTF8) else raw)
    except ValueError as exc:
        if "UTF-8" in str(exc):
            click.echo(f"无法读取文件 {file}：不是 UTF-8 编码的文本（{exc}）", err=True)
        else:
            click.echo(f"文件 {file} 不是有效的 JSON：{exc}", err=True)
        sys.exit(2)
    del raw

    if isinstance(data, dict) and isinstance(data.get("draws"), list) and "result" not in data:
        failed = 0
        for n, record in enumerate(data["draws"]):
            report = verify_record(record)
            failed += not report.ok
            label = record.get("task") if isinstance(record, dict) else None
            first, *rest = _lines(report, "  ")
            click.echo(f"draws[{n}]{' ' + label if isinstance(label, str) and label else ''}: {first}")
            for line in rest:
                click.echo(line)
        total = len(data["draws"])
        if failed:
            click.echo(f"不一致：{total} 条记录中 {failed} 条未通过验证")
            sys.exit(1)
        click.echo(f"MATCH（{total} 条记录全部一致）")
        return

    # a command line process may fork: rank the tickets on every core
    report = verify_record(data, processes=os.cpu_count())
    for line in _lines(report):
        click.echo(line)
    sys.exit(0 if report.ok else 1)
