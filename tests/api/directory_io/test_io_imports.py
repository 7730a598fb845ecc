"""Importing the lists from CSV and XLSX: all rows or none, numbered bad rows, updates, one audit entry."""
from __future__ import annotations

import hashlib
import random

from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.directory.models import CheckPoint, Department, Expert, Inspector, InspectorConflict, Item, Region, Target
from tests.api.directory_io.helpers import csv_bytes, finished_job, upload, xlsx_bytes
from tests.factories import make_uscc

TARGET_HEADER = ["统一社会信用代码", "检查对象名称", "对象类型", "住所（经营场所）", "行政区划代码", "信用风险分类", "标签",
                 "经度", "纬度", "坐标系", "维护部门"]


def usccs(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        code = make_uscc(rng)
        if code not in out:
            out.append(code)
    return out


def target_rows(codes, dept_code, region="411203"):
    return [[code, f"三门峡示例{i}商贸有限公司", "企业", f"陕州区大营镇示例路 {i} 号", region, "B", "食品经营、连锁",
             "111.1035", "34.7206", "GCJ-02", dept_code] for i, code in enumerate(codes, start=1)]


def audit_entries(db_session, action):
    return db_session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


def test_good_csv_creates_rows_and_one_audit_entry(client, db_session, world):
    codes = usccs(3)
    data = csv_bytes([TARGET_HEADER, *target_rows(codes, world.dept.code)])
    job = finished_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", data, "检查对象.csv"))
    assert job["status"] == "done", job
    result = job["result"]
    assert (result["rows"], result["created"], result["updated"], result["unchanged"]) == (3, 3, 0, 0)
    targets = db_session.scalars(select(Target).where(Target.uscc.in_(codes)).order_by(Target.name)).all()
    assert len(targets) == 3
    first = targets[0]
    assert first.code == first.uscc and first.type == "enterprise" and first.risk_class == "B"
    assert first.tags == ["食品经营", "连锁"] and first.region_code == "411203"
    assert (first.longitude, first.latitude, first.datum) == (111.1035, 34.7206, "GCJ-02")
    assert first.department_id == world.dept.id and first.status == "active"
    entries = audit_entries(db_session, "targets.import")
    assert len(entries) == 1
    detail = entries[0].detail
    assert detail["file_name"] == "检查对象.csv" and detail["sha256"] == hashlib.sha256(data).hexdigest()
    assert (detail["created"], detail["updated"]) == (3, 0)
    assert job["progress_done"] == 3 and job["progress_total"] == 3 and job["progress_percent"] == 100
    assert "导入完成" in job["progress_message"]


def test_good_xlsx_creates_inspectors_with_conflicts(client, db_session, world, factory):
    target = factory.target()
    header = ["执法证号", "姓名", "所属部门", "联系电话", "专业特长", "状态", "回避对象"]
    rows = [["豫A 0001", "李四", world.dept.code, "13800000000", "食品、特种设备", "在岗", f"{target.code}：亲属关系"],
            ["豫A0002", "王五", world.dept.name, None, None, None, None]]
    data = xlsx_bytes([header, *rows])
    job = finished_job(client, world.admin_headers,
                       upload(client, world.admin_headers, "inspectors", data, "执法人员.xlsx"))
    assert job["status"] == "done", job
    assert job["result"]["created"] == 2
    li = db_session.scalar(select(Inspector).where(Inspector.cert_no == "豫A0001"))
    assert li.name == "李四" and li.department_id == world.dept.id and li.expertise == ["食品", "特种设备"]
    conflict = db_session.scalar(select(InspectorConflict).where(InspectorConflict.inspector_id == li.id))
    assert conflict.target_id == target.id and conflict.reason == "亲属关系" and conflict.retired_at is None
    wang = db_session.scalar(select(Inspector).where(Inspector.cert_no == "豫A0002"))
    assert wang.status == "active" and wang.department_id == world.dept.id
    assert len(audit_entries(db_session, "inspectors.import")) == 1


def test_one_bad_uscc_changes_nothing_and_names_the_row(client, db_session, world):
    """Acceptance: the row number as the user sees it (header = row 1) and the Chinese reason."""
    codes = usccs(4)
    good = codes[3]
    wrong = "Y" if good[-1] != "Y" else "X"
    rows = target_rows(codes, world.dept.code)
    rows[3][0] = good[:-1] + wrong  # the 4th data row is row 5 of the file
    before = db_session.scalar(select(func.count()).select_from(Target))
    job = finished_job(client, world.admin_headers,
                       upload(client, world.admin_headers, "targets", csv_bytes([TARGET_HEADER, *rows])))
    assert job["status"] == "failed" and job["error_code"] == "import.bad_rows"
    assert "未导入任何数据" in job["error"]
    result = job["result"]
    assert result["error_count"] == 1 and result["rows"] == 4
    error = result["errors"][0]
    assert error["row"] == 5
    assert error["message"] == f"第 5 行：统一社会信用代码校验位错误（应为 {good[-1]}）"
    assert error["problems"] == [{"column": "统一社会信用代码", "reason": f"统一社会信用代码校验位错误（应为 {good[-1]}）"}]
    assert db_session.scalar(select(func.count()).select_from(Target)) == before
    assert audit_entries(db_session, "targets.import") == []


def test_bad_rows_after_written_chunks_roll_everything_back(db_session, database, world, tmp_path, monkeypatch):
    """Rows are written in chunks before the bad one is met; the whole import is still undone.
    Progress is reported along the way."""
    import pytest

    from backend.actor import Actor
    from backend.directory import imports

    monkeypatch.setattr(imports, "PROGRESS_EVERY", 2)
    codes = usccs(6, seed=11)
    rows = target_rows(codes, world.dept.code)
    rows[5][4] = "999999"  # unknown region in the last row
    path = tmp_path / "t.csv"
    path.write_bytes(csv_bytes([TARGET_HEADER, *rows]))
    calls = []
    with pytest.raises(imports.BadRows) as err:
        imports.import_file(database.session(), Actor.system(), "targets", path, file_name="t.csv", chunk_size=2,
                            progress=lambda *a, **k: calls.append((a, k)))  # its own session: it rolls back
    assert err.value.details["errors"][0]["message"] == "第 7 行：行政区划代码 999999 不存在，请先在系统中登记"
    assert db_session.scalar(select(func.count()).select_from(Target).where(Target.uscc.in_(codes))) == 0
    assert db_session.get(Department, world.dept.id) is not None  # the test's own rows are still there
    assert [a[0] for a, _ in calls] == [2, 4, 6, 6] and calls[-1][1] == {"force": True}
    assert calls[0][0][2].startswith("校验并写入：已处理 2 行")


def test_duplicates_within_the_file_name_both_rows(client, db_session, world):
    codes = usccs(3, seed=3)
    rows = target_rows([codes[0], codes[1], codes[0]], world.dept.code)
    job = finished_job(client, world.admin_headers,
                       upload(client, world.admin_headers, "targets", csv_bytes([TARGET_HEADER, *rows])))
    assert job["error_code"] == "import.bad_rows"
    assert [e["message"] for e in job["result"]["errors"]] == [f"第 4 行：统一社会信用代码 {codes[0]} 与第 2 行重复"]


def test_every_bad_row_is_counted_and_reported_up_to_the_cap(app, client, db_session, world, monkeypatch):
    monkeypatch.setitem(app.extensions["shuangsui.jobs"].config, "IMPORT_MAX_ERRORS", 2)  # the jobs' config
    rows = target_rows(usccs(5, seed=5), world.dept.code)
    for row in rows:
        row[5] = "E"  # no such risk class
    job = finished_job(client, world.admin_headers,
                       upload(client, world.admin_headers, "targets", csv_bytes([TARGET_HEADER, *rows])))
    result = job["result"]
    assert result["error_count"] == 5 and result["errors_shown"] == 2 and len(result["errors"]) == 2
    assert result["errors"][0]["message"].startswith("第 2 行：信用风险分类：“E”不是可选值")
    assert "只列出前 2 行" in job["error"]


def test_unknown_region_and_department_and_several_problems_in_one_row(client, world):
    code = usccs(1, seed=9)[0]
    rows = [[code, "某公司", "企业", None, "411299", "B", None, "111.1", None, None, "NOPE"],
            [code[:-1], "", "公司", None, None, None, None, None, None, None, None]]
    job = finished_job(client, world.admin_headers,
                       upload(client, world.admin_headers, "targets", csv_bytes([TARGET_HEADER, *rows])))
    messages = [e["message"] for e in job["result"]["errors"]]
    assert messages[0] == ("第 2 行：维护部门：部门“NOPE”不存在（请填写部门代码或全称）；"
                           "行政区划代码 411299 不存在，请先在系统中登记；纬度：经度和纬度须同时填写或同时不填")
    assert messages[1] == "第 3 行：统一社会信用代码应为 18 位，实际 17 位；检查对象名称：不能为空"


def test_existing_rows_are_updated_by_their_natural_key(client, db_session, world, factory):
    target = factory.target(risk_class="A", department=world.dept, name="旧名称有限公司")
    untouched = factory.target(risk_class="C", department=world.dept)
    header = ["统一社会信用代码", "检查对象名称", "对象类型", "信用风险分类"]
    rows = [[target.uscc, "新名称有限公司", "企业", "D"], [untouched.uscc, untouched.name, "企业", "C"]]
    job = finished_job(client, world.admin_headers,
                       upload(client, world.admin_headers, "targets", csv_bytes([header, *rows])))
    assert job["status"] == "done", job
    assert (job["result"]["created"], job["result"]["updated"], job["result"]["unchanged"]) == (0, 1, 1)
    db_session.expire_all()
    assert (target.name, target.risk_class) == ("新名称有限公司", "D")
    assert target.department_id == world.dept.id and target.region_code is None  # columns not in the file stay
    assert untouched.risk_class == "C"


def test_registration_number_target_gains_its_uscc(client, db_session, world, factory):
    from backend.directory.rules import reg_no_check_digit

    reg_no = "41120300000123" + reg_no_check_digit("41120300000123")
    target = Target(code=reg_no, reg_no=reg_no, name="老登记主体有限公司", type="enterprise", status="active")
    db_session.add(target)
    db_session.flush()
    uscc = usccs(1, seed=21)[0]
    header = ["统一社会信用代码", "注册号", "检查对象名称", "对象类型"]
    job = finished_job(client, world.admin_headers, upload(
        client, world.admin_headers, "targets", csv_bytes([header, [uscc, reg_no, target.name, "企业"]])))
    assert job["result"]["updated"] == 1, job
    db_session.expire_all()
    assert (target.uscc, target.code, target.reg_no) == (uscc, uscc, reg_no)


def test_dry_run_validates_and_counts_without_writing(client, db_session, world, factory):
    existing = factory.target(risk_class="A")
    rows = target_rows(usccs(2, seed=13), world.dept.code) + [
        [existing.uscc, existing.name, "企业", None, None, "B", None, None, None, None, None]]
    job = finished_job(client, world.admin_headers, upload(
        client, world.admin_headers, "targets", csv_bytes([TARGET_HEADER, *rows]), dry_run=True))
    assert job["status"] == "done"
    assert job["result"]["dry_run"] is True
    assert (job["result"]["created"], job["result"]["updated"]) == (2, 1)
    db_session.expire_all()
    assert existing.risk_class == "A"
    assert db_session.scalar(select(func.count()).select_from(Target)) == 1
    assert audit_entries(db_session, "targets.import") == []


def test_gb18030_csv_from_excel_is_detected(client, db_session, world):
    codes = usccs(2, seed=17)
    data = csv_bytes([TARGET_HEADER, *target_rows(codes, world.dept.name)], encoding="gb18030")
    job = finished_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", data))
    assert job["status"] == "done", job
    names = db_session.scalars(select(Target.name).where(Target.uscc.in_(codes))).all()
    assert sorted(names) == ["三门峡示例1商贸有限公司", "三门峡示例2商贸有限公司"]


def test_department_admin_imports_only_into_their_department(client, db_session, world, factory):
    codes = usccs(2, seed=23)
    # no department column: forced to the admin's own department
    header = ["统一社会信用代码", "检查对象名称", "对象类型"]
    job = finished_job(client, world.dept_headers, upload(
        client, world.dept_headers, "targets", csv_bytes([header, [codes[0], "本部门企业", "企业"]])))
    assert job["status"] == "done", job
    assert db_session.scalar(select(Target.department_id).where(Target.uscc == codes[0])) == world.dept.id
    # a row for another department, and a target another department maintains: errors
    foreign = factory.target(department=world.other)
    rows = [[codes[1], "他部门企业", "企业", world.other.code], [foreign.uscc, foreign.name, "企业", None]]
    job = finished_job(client, world.dept_headers, upload(
        client, world.dept_headers, "targets", csv_bytes([header + ["维护部门"], *rows])))
    assert job["error_code"] == "import.bad_rows"
    messages = [e["message"] for e in job["result"]["errors"]]
    assert messages[0] == f"第 2 行：维护部门：只能导入本部门的检查对象（本行为“{world.other.name}”）"
    assert messages[1].startswith("第 3 行：该检查对象属于其他部门")
    assert db_session.scalar(select(func.count()).select_from(Target).where(Target.uscc == codes[1])) == 0


def test_product_targets_use_a_directory_code(client, db_session, world):
    header = ["对象编码", "统一社会信用代码", "检查对象名称", "对象类型"]
    rows = [["cp-2026-001", None, "电动自行车（某型号）", "产品"], [None, None, "某项目", "项目"],
            ["XM-1", usccs(1, seed=1)[0], "某活动", "活动"]]
    job = finished_job(client, world.admin_headers,
                       upload(client, world.admin_headers, "targets", csv_bytes([header, *rows])))
    messages = [e["message"] for e in job["result"]["errors"]]
    assert messages == ["第 3 行：对象编码：产品、项目、活动类检查对象须填写对象编码",
                        "第 4 行：对象类型：产品、项目、活动类检查对象使用对象编码，不填统一社会信用代码或注册号"]
    job = finished_job(client, world.admin_headers,
                       upload(client, world.admin_headers, "targets", csv_bytes([header, rows[0]])))
    assert job["status"] == "done"
    product = db_session.scalar(select(Target).where(Target.code == "CP-2026-001"))
    assert product.type == "product" and product.uscc is None


def test_items_with_check_points_then_fewer_lines_retire_the_rest(client, db_session, world):
    header = ["事项编码", "抽查类别", "抽查事项", "检查对象", "事项类型", "检查方式", "检查主体", "抽查比例上限（%）", "检查内容"]
    points = "1、营业执照是否悬挂\n登记事项是否一致|是/否\n经营范围|单选|一致、不一致"
    row = ["T-DJ-001", "登记事项检查", "营业执照规范使用情况的检查", "企业、个体工商户", "一般检查事项", "实地检查、网络监测",
           world.dept.code, "5%", points]
    job = finished_job(client, world.admin_headers,
                       upload(client, world.admin_headers, "items", xlsx_bytes([header, row]), "事项.xlsx"))
    assert job["status"] == "done", job
    item = db_session.scalar(select(Item).where(Item.code == "T-DJ-001"))
    assert item.object_types == ["enterprise", "individual"] and item.methods == ["onsite", "online"]
    assert item.kind == "general" and float(item.ratio_cap_percent) == 5
    cps = db_session.scalars(select(CheckPoint).where(CheckPoint.item_id == item.id).order_by(CheckPoint.seq)).all()
    assert [(c.seq, c.text, c.answer_type, c.options) for c in cps] == [
        (1, "营业执照是否悬挂", "compliance", None), (2, "登记事项是否一致", "yes_no", None),
        (3, "经营范围", "choice", ["一致", "不一致"])]
    row[-1] = "营业执照是否悬挂"
    job = finished_job(client, world.admin_headers,
                       upload(client, world.admin_headers, "items", xlsx_bytes([header, row]), "事项.xlsx"))
    assert (job["result"]["updated"], job["result"]["created"]) == (1, 0), job
    db_session.expire_all()
    retired = db_session.scalars(select(CheckPoint.seq).where(CheckPoint.item_id == item.id,
                                                              CheckPoint.retired_at.is_not(None))).all()
    assert sorted(retired) == [2, 3]
    row[4], row[7] = "重点检查事项", "5"
    job = finished_job(client, world.admin_headers,
                       upload(client, world.admin_headers, "items", xlsx_bytes([header, row]), "事项.xlsx"))
    assert job["result"]["errors"][0]["message"] == "第 2 行：抽查比例上限（%）：重点检查事项不设抽查比例上限，请留空"


def test_inspector_conflicts_follow_the_file(client, db_session, world, factory):
    t1, t2 = factory.target(), factory.target()
    inspector = factory.inspector(world.dept, cert_no="豫A9999")
    factory.conflict(inspector, t1, "亲属关系")
    header = ["执法证号", "姓名", "回避对象"]
    job = finished_job(client, world.dept_headers, upload(
        client, world.dept_headers, "inspectors", csv_bytes([header, ["豫A9999", inspector.name, t2.code]])))
    assert job["result"]["updated"] == 1, job
    rows = db_session.execute(select(InspectorConflict.target_id, InspectorConflict.retired_at, InspectorConflict.reason)
                              .where(InspectorConflict.inspector_id == inspector.id)
                              .order_by(InspectorConflict.target_id)).all()
    assert [(r[0], r[1] is None, r[2]) for r in rows] == [(t1.id, False, "亲属关系"), (t2.id, True, "导入时申报")]
    job = finished_job(client, world.dept_headers, upload(
        client, world.dept_headers, "inspectors", csv_bytes([header, ["豫A9999", inspector.name, "NOSUCHCODE"]])))
    assert job["result"]["errors"][0]["message"] == "第 2 行：回避对象 NOSUCHCODE 不在检查对象名录库中"


def test_experts_departments_and_regions(client, db_session, world):
    job = finished_job(client, world.admin_headers, upload(client, world.admin_headers, "regions", csv_bytes([
        ["区划代码", "区划名称", "级别", "上级区划代码"],
        ["411203101", "张湾乡", None, "411203"],   # parent already registered
        ["411204001", "某镇", "乡镇", "411204"],     # parent comes later in the file
        ["411204", "某县", "县", None],
    ])))
    assert job["status"] == "done", job
    assert db_session.get(Region, "411204001").parent_code == "411204"
    assert db_session.get(Region, "411203101").level == "town"
    job = finished_job(client, world.admin_headers, upload(client, world.admin_headers, "departments", csv_bytes([
        ["部门代码", "部门名称", "简称", "行政区划代码"],
        ["samr_x", "某县市场监督管理局", "某县市场监管局", "411204"],
        ["SAMR_Y", world.dept.name, None, None],
    ])))
    assert job["result"]["errors"][0]["message"] == \
        f"第 3 行：部门名称“{world.dept.name}”已被部门 {world.dept.code} 使用"
    job = finished_job(client, world.admin_headers, upload(client, world.admin_headers, "departments", csv_bytes([
        ["部门代码", "部门名称", "简称", "行政区划代码"], ["samr_x", "某县市场监督管理局", "某县市场监管局", "411204"]])))
    assert db_session.scalar(select(Department).where(Department.code == "SAMR_X")).region_code == "411204"
    job = finished_job(client, world.dept_headers, upload(client, world.dept_headers, "experts", csv_bytes([
        ["专家编号", "姓名", "工作单位", "专业领域", "状态"], ["zj-1", "王五", "某检验所", "特种设备、压力容器", "在库"]])))
    expert = db_session.scalar(select(Expert).where(Expert.code == "ZJ-1"))
    assert expert.department_id == world.dept.id and expert.fields == ["特种设备", "压力容器"]


def test_bulk_path_for_hundreds_of_rows_inserts_and_updates(db_session, database, world, tmp_path):
    """On PostgreSQL chunks of 200+ rows go through COPY (JSON columns included); the result is the
    same as the executemany path (which SQLite always takes)."""
    from backend.actor import Actor
    from backend.directory import imports
    from backend.directory.bulk import COPY_MIN_ROWS

    n = COPY_MIN_ROWS + 50
    header = ["执法证号", "姓名", "所属部门", "执法资格", "专业特长", "状态"]
    rows = [[f"豫C{i:05d}", f"人员{i}", world.dept.code, "行政执法证、食品检查员", "食品", "在岗"] for i in range(n)]
    path = tmp_path / "ins.csv"
    path.write_bytes(csv_bytes([header, *rows]))
    result = imports.import_file(database.session(), Actor.system(), "inspectors", path, file_name="ins.csv")
    assert result["created"] == n
    for row in rows[::2]:
        row[3], row[5] = "行政执法证", "调离"
    path.write_bytes(csv_bytes([header, *rows]))
    result = imports.import_file(database.session(), Actor.system(), "inspectors", path, file_name="ins.csv")
    assert (result["updated"], result["unchanged"]) == ((n + 1) // 2, n // 2)
    db_session.expire_all()
    first, second = (db_session.scalar(select(Inspector).where(Inspector.cert_no == c)) for c in ("豫C00000", "豫C00001"))
    assert (first.qualifications, first.status) == (["行政执法证"], "transferred")
    assert (second.qualifications, second.status, second.expertise) == (["行政执法证", "食品检查员"], "active", ["食品"])
    codes = usccs(n, seed=41)
    path.write_bytes(csv_bytes([TARGET_HEADER, *target_rows(codes, world.dept.code)]))
    assert imports.import_file(database.session(), Actor.system(), "targets", path, file_name="t.csv")["created"] == n
    target = db_session.scalar(select(Target).where(Target.uscc == codes[-1]))
    assert target.created_at is not None and target.created_at.tzinfo is not None and target.tags == ["食品经营", "连锁"]
    assert (target.latitude, target.longitude) == (34.7206, 111.1035)
