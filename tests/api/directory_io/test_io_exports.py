"""Exports (direct and as a job), templates, and the round trip export → import → no changes."""
from __future__ import annotations

import io
import urllib.parse

import openpyxl
import pytest
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.directory import specs as dio
from backend.directory.models import Target
from backend.auth.roles import Role
from tests.api.directory_io.helpers import finished_job, read_csv, read_xlsx, upload


def disposition_name(response) -> str:
    header = response.headers["Content-Disposition"]
    assert header.startswith("attachment;") and "filename=\"" in header
    encoded = header.split("filename*=UTF-8''", 1)[1]
    return urllib.parse.unquote(encoded)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_template_has_the_chinese_headers_and_instructions(client, fmt):
    r = client.get(f"/api/v1/templates/targets.{fmt}")  # public: no token
    assert r.status_code == 200
    assert disposition_name(r) == f"检查对象名录库导入模板.{fmt}"
    if fmt == "csv":
        rows = read_csv(r.data)
        assert rows[0] == dio.TARGETS.headers and len(rows) == 2
        return
    wb = openpyxl.load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["检查对象名录库", "填写说明"]
    sheet = wb["检查对象名录库"]
    assert [c.value for c in sheet[1]] == dio.TARGETS.headers
    assert sheet["A2"].value == dio.EX_USCC  # a valid example USCC
    notes = [[c.value for c in row] for row in wb["填写说明"].iter_rows()]
    flat = "\n".join(str(v) for row in notes for v in row if v)
    assert "信用风险分类" in flat and "信用风险低" in flat and "必填" in flat


@pytest.mark.parametrize("name", ["inspectors.xlsx", "items.csv", "departments.xlsx", "regions.csv", "experts.xlsx"])
def test_every_list_has_a_template(client, name):
    assert client.get(f"/api/v1/templates/{name}").status_code == 200


def test_unknown_template_is_404_in_chinese(client):
    r = client.get("/api/v1/templates/plans.xlsx")
    assert r.status_code == 404 and r.json["code"] == "template.not_found"
    assert client.get("/api/v1/templates/targets.pdf").status_code == 404


def test_template_imports_cleanly_once_the_example_is_a_real_row(client, world, db_session):
    """The template's example row is valid data (with the example department and region registered)."""
    from tests.factories import Factory

    Factory(db_session).department(code="SAMR_SZ", name="三门峡市陕州区市场监督管理局")
    data = client.get("/api/v1/templates/targets.xlsx").data
    job = finished_job(client, world.admin_headers,
                       upload(client, world.admin_headers, "targets", data, "模板.xlsx", dry_run=True))
    assert job["status"] == "done", job


def _make_lists(factory, world):
    targets = [factory.target(department=world.dept, region=world.county, tags=["食品", "连锁"],
                              latitude=34.7206, longitude=111.1035, datum="GCJ-02", address="示例路 1 号",
                              legal_rep="张三", phone="0398-1234567", industry_code="F5211"),
               factory.target(department=None, risk_class=None, status="closed"),
               factory.target(department=world.other, name="=HYPERLINK(\"http://x\")有限公司")]
    inspector = factory.inspector(world.dept, phone="13800000000", qualifications=["行政执法证"],
                                  expertise_text=",食品,")
    factory.conflict(inspector, targets[0], "亲属关系")
    factory.inspector(world.dept)
    factory.item(world.dept, check_points=3)
    factory.item(world.dept, kind="key")
    factory.expert(world.dept, fields_text=",特种设备,")
    return targets


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("list_name", ["targets", "inspectors", "items", "experts", "departments", "regions"])
def test_export_then_import_changes_nothing(client, db_session, factory, world, fmt, list_name):
    _make_lists(factory, world)
    r = client.get(f"/api/v1/exports/{list_name}?format={fmt}", headers=world.admin_headers)
    assert r.status_code == 200, r.json
    name = disposition_name(r)
    assert name.startswith(dio.SPECS[list_name].title + "_") and name.endswith(f".{fmt}")
    rows = read_csv(r.data) if fmt == "csv" else read_xlsx(r.data)
    assert rows[0] == dio.SPECS[list_name].headers and len(rows) > 1
    job = finished_job(client, world.admin_headers, upload(client, world.admin_headers, list_name, r.data, name))
    assert job["status"] == "done", job
    result = job["result"]
    assert (result["created"], result["updated"]) == (0, 0), result
    assert result["unchanged"] == len(rows) - 1


def test_export_keeps_codes_and_guards_formulas(client, world, factory):
    targets = _make_lists(factory, world)
    r = client.get("/api/v1/exports/targets?format=csv", headers=world.admin_headers)
    rows = read_csv(r.data)
    by_uscc = {row[0]: row for row in rows[1:]}
    first = by_uscc[targets[0].uscc]
    header = rows[0]
    assert first[header.index("对象类型")] == "企业" and first[header.index("标签")] == "食品、连锁"
    assert first[header.index("维护部门")] == world.dept.code
    assert by_uscc[targets[2].uscc][header.index("检查对象名称")].startswith("'=HYPERLINK")
    x = client.get("/api/v1/exports/targets?format=xlsx", headers=world.admin_headers)
    wb = openpyxl.load_workbook(io.BytesIO(x.data))
    cells = [c for row in wb.active.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" for c in cells)


def test_export_filters_like_the_list(client, world, factory):
    _make_lists(factory, world)
    r = client.get(f"/api/v1/exports/targets?format=csv&risk_class=B&department_id={world.dept.id}",
                   headers=world.admin_headers)
    rows = read_csv(r.data)
    assert len(rows) == 2


def test_direct_export_has_a_size_limit(app, client, world, factory, monkeypatch):
    _make_lists(factory, world)
    monkeypatch.setitem(app.config, "EXPORT_DIRECT_MAX_ROWS", 1)
    r = client.get("/api/v1/exports/targets", headers=world.admin_headers)
    assert r.status_code == 422 and r.json["code"] == "export.too_many_rows"


def test_big_export_as_a_job_and_its_download(client, world, factory, auth):
    _make_lists(factory, world)
    planner, planner_headers = auth.as_role(Role.PLANNER, world.dept)
    r = client.post("/api/v1/exports/targets?format=xlsx", headers=planner_headers)
    job = finished_job(client, planner_headers, r)
    assert job["status"] == "done", job
    assert job["result"]["rows"] == 3 and job["result"]["file_name"].startswith("检查对象名录库_")
    assert job["progress_done"] == 3 and job["progress_total"] == 3
    download = client.get(f"/api/v1/exports/files/{job['id']}", headers=planner_headers)
    assert download.status_code == 200
    assert disposition_name(download) == job["result"]["file_name"]
    assert len(read_xlsx(download.data)) == 4
    _, other_headers = auth.as_role(Role.PLANNER, world.dept)
    refused = client.get(f"/api/v1/exports/files/{job['id']}", headers=other_headers)
    assert refused.status_code == 403 and refused.json["code"] == "forbidden.owner"
    assert client.get(f"/api/v1/exports/files/{job['id']}", headers=world.admin_headers).status_code == 200
    assert client.get("/api/v1/exports/files/nosuchjob", headers=world.admin_headers).status_code == 404


def test_inspector_export_is_limited_to_the_department(client, world, factory, auth):
    factory.inspector(world.dept, name="本部门人员")
    factory.inspector(world.other, name="他部门人员")
    _, planner_headers = auth.as_role(Role.PLANNER, world.dept)
    rows = read_csv(client.get("/api/v1/exports/inspectors?format=csv", headers=planner_headers).data)
    names = [row[1] for row in rows[1:]]
    assert "本部门人员" in names and "他部门人员" not in names
    r = client.get(f"/api/v1/exports/inspectors?department_id={world.other.id}", headers=planner_headers)
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"
    _, sup_headers = auth.as_role(Role.SUPERVISOR)
    rows = read_csv(client.get("/api/v1/exports/inspectors?format=csv", headers=sup_headers).data)
    assert {"本部门人员", "他部门人员"} <= {row[1] for row in rows[1:]}


def test_exports_write_no_audit_and_change_nothing(client, db_session, world, factory):
    _make_lists(factory, world)
    before = db_session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    client.get("/api/v1/exports/targets", headers=world.admin_headers)
    assert db_session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) == before
    assert db_session.scalar(select(Target).limit(1)) is not None


def test_export_filters_are_checked_like_the_list(client, world, factory):
    _make_lists(factory, world)
    r = client.get("/api/v1/exports/targets?risk_class=E", headers=world.admin_headers)
    assert r.status_code == 422 and r.json["code"] == "validation_error" and "risk_class" in r.json["message"]
    rows = read_csv(client.get("/api/v1/exports/targets?format=csv&risk_class=B,C&status=active",
                               headers=world.admin_headers).data)
    assert len(rows) == 3  # header + the two active B-class targets
    assert client.post("/api/v1/exports/targets?region=x", headers=world.admin_headers).status_code == 422
