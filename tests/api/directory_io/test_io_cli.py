"""``shuangsui import`` / ``shuangsui export`` through Flask's CLI runner."""
from __future__ import annotations

import random

from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.directory.models import Target
from tests.api.directory_io.helpers import csv_bytes, read_xlsx
from tests.factories import make_uscc

HEADER = ["统一社会信用代码", "检查对象名称", "对象类型", "信用风险分类", "行政区划代码"]


def rows(n, seed=31):
    rng = random.Random(seed)
    return [[make_uscc(rng), f"命令行导入企业{i}", "企业", "C", "411203"] for i in range(n)]


def test_cli_import_shows_progress_and_the_summary(app, db_session, world, tmp_path):
    path = tmp_path / "检查对象.csv"
    data = rows(3)
    path.write_bytes(csv_bytes([HEADER, *data]))
    result = app.test_cli_runner().invoke(args=["import", "targets", str(path), "--department", world.dept.code])
    assert result.exit_code == 0, result.output
    assert "检查对象名录库导入完成：共 3 行，新增 3 条，更新 0 条，未变 0 条" in result.stdout
    assert "正在读取 检查对象.csv" in result.stderr and "导入检查对象名录库：导入完成" in result.stderr
    targets = db_session.scalars(select(Target).where(Target.uscc.in_([r[0] for r in data]))).all()
    assert len(targets) == 3 and {t.department_id for t in targets} == {world.dept.id}
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "targets.import"))
    assert entry.actor_id is None and entry.actor_label.startswith("cli") and entry.detail["file_name"] == "检查对象.csv"


def test_cli_import_with_bad_rows_exits_1_and_changes_nothing(app, db_session, world, tmp_path):
    data = rows(3, seed=32)
    data[1][0] = data[1][0][:-1] + ("0" if data[1][0][-1] != "0" else "1")
    data[2][3] = "Z"
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes([HEADER, *data]))
    before = db_session.scalar(select(func.count()).select_from(Target))
    result = app.test_cli_runner().invoke(args=["import", "targets", str(path)])
    assert result.exit_code == 1
    assert "共 3 行，其中 2 行有误" in result.stderr
    assert "  第 3 行：统一社会信用代码校验位错误" in result.stderr
    assert "  第 4 行：信用风险分类：“Z”不是可选值" in result.stderr
    assert db_session.scalar(select(func.count()).select_from(Target)) == before
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "targets.import")) == 0


def test_cli_dry_run_and_file_errors(app, db_session, world, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_bytes(csv_bytes([HEADER, *rows(2, seed=33)]))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", "targets", str(path), "--dry-run"])
    assert result.exit_code == 0 and "校验通过（未写入）" in result.stdout
    assert db_session.scalar(select(func.count()).select_from(Target)) == 0
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([["名称"], ["x"]]))
    result = runner.invoke(args=["import", "targets", str(bad)])
    assert result.exit_code == 1 and "表头有误" in result.stderr
    result = runner.invoke(args=["import", "targets", str(path), "--department", "NOPE"])
    assert result.exit_code == 1 and "部门“NOPE”不存在" in result.stderr


def test_cli_export(app, world, factory, tmp_path):
    factory.target(department=world.dept, risk_class="D")
    factory.target(department=world.dept, risk_class="A")
    out = tmp_path / "导出.xlsx"
    result = app.test_cli_runner().invoke(args=["export", "targets", str(out), "--risk-class", "D"])
    assert result.exit_code == 0, result.output
    assert "已导出检查对象名录库 1 条" in result.stdout
    assert len(read_xlsx(out.read_bytes())) == 2
    result = app.test_cli_runner().invoke(args=["export", "targets", str(tmp_path / "x.pdf")])
    assert result.exit_code == 1 and "不支持的文件类型" in result.stderr
