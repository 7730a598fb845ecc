"""Who may import and export what; bad uploads get a clear 4xx, never a 500."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from backend.auth.roles import Role
from backend.directory.models import Target
from tests.api.directory_io.helpers import csv_bytes, failed_job, finished_job, upload, xlsx_bytes

HEADER = ["统一社会信用代码", "检查对象名称", "对象类型"]


def good_csv(factory_rng_code: str) -> bytes:
    return csv_bytes([HEADER, [factory_rng_code, "某公司", "企业"]])


@pytest.fixture()
def a_uscc():
    from tests.factories import make_uscc
    import random

    return make_uscc(random.Random(99))


# --- access -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.PLANNER, Role.INSPECTOR, Role.SUPERVISOR])
@pytest.mark.parametrize("list_name", ["targets", "inspectors", "items", "experts"])
def test_only_admins_import(client, world, auth, role, list_name, a_uscc):
    _, headers = auth.as_role(role, world.dept if role != Role.SUPERVISOR else None)
    r = upload(client, headers, list_name, good_csv(a_uscc))
    assert r.status_code == 403 and r.json["code"] == "forbidden.role"


@pytest.mark.parametrize("list_name", ["departments", "regions"])
def test_departments_and_regions_are_imported_by_the_system_admin_only(client, world, list_name):
    r = upload(client, world.dept_headers, list_name, csv_bytes([["部门代码", "部门名称"], ["SAMR_Q", "某局"]]))
    assert r.status_code == 403 and r.json["code"] == "forbidden.role"
    assert "系统管理员" in r.json["message"]


def test_import_requires_a_login(client, a_uscc):
    r = upload(client, {}, "targets", good_csv(a_uscc))
    assert r.status_code == 401


def test_department_admin_cannot_name_another_department_as_default(client, world, a_uscc):
    r = upload(client, world.dept_headers, "targets", good_csv(a_uscc), department=world.other.code)
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"


def test_department_admin_cannot_update_another_departments_inspector(client, world, factory):
    other = factory.inspector(world.other, cert_no="豫B0001")
    job = finished_job(client, world.dept_headers, upload(
        client, world.dept_headers, "inspectors", csv_bytes([["执法证号", "姓名"], ["豫B0001", "改名"]])))
    assert job["error_code"] == "import.bad_rows"
    assert job["result"]["errors"][0]["message"].startswith("第 2 行：该执法检查人员属于其他部门")
    assert other.name != "改名"


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("role,list_name,status", [
    (Role.INSPECTOR, "targets", 403),
    (Role.INSPECTOR, "items", 403),
    (Role.PLANNER, "targets", None),
    (Role.SUPERVISOR, "inspectors", None),
])
def test_export_access_by_role(client, world, auth, method, role, list_name, status):
    _, headers = auth.as_role(role, world.dept if role != Role.SUPERVISOR else None)
    r = getattr(client, method)(f"/api/v1/exports/{list_name}?format=csv", headers=headers)
    if status:
        assert r.status_code == status, r.json
    else:
        assert r.status_code in (200, 202), r.json


@pytest.mark.parametrize("method", ["get", "post"])
def test_export_of_another_departments_experts_is_refused(client, world, method):
    r = getattr(client, method)(f"/api/v1/exports/experts?department_id={world.other.id}", headers=world.dept_headers)
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"


def test_exports_require_a_login(client):
    assert client.get("/api/v1/exports/targets").status_code == 401
    assert client.post("/api/v1/exports/targets").status_code == 401
    assert client.get("/api/v1/exports/files/abc").status_code == 401


def test_an_import_job_is_not_an_export_file(client, world, a_uscc):
    job = finished_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", good_csv(a_uscc)))
    r = client.get(f"/api/v1/exports/files/{job['id']}", headers=world.admin_headers)
    assert r.status_code == 404 and r.json["code"] == "export.not_found"


def test_unknown_lists_are_404(client, world):
    assert upload(client, world.admin_headers, "plans", b"x").json["code"] == "import.unknown_list"
    r = client.get("/api/v1/exports/plans", headers=world.admin_headers)
    assert r.status_code == 404 and r.json["code"] == "export.unknown_list"


def test_bad_export_arguments_are_422(client, world):
    r = client.get("/api/v1/exports/targets?format=pdf", headers=world.admin_headers)
    assert r.status_code == 422 and r.json["code"] == "validation_error"


# --- bad uploads ----------------------------------------------------------------------------------------

def test_no_file(client, world):
    r = client.post("/api/v1/imports/targets", data={"dry_run": "true"}, headers=world.admin_headers,
                    content_type="multipart/form-data")
    assert r.status_code == 400 and r.json["code"] == "import.no_file"
    r = client.post("/api/v1/imports/targets", json={"file": "x"}, headers=world.admin_headers)
    assert r.status_code == 400 and r.json["code"] == "import.no_file"


def test_empty_file(client, world):
    r = upload(client, world.admin_headers, "targets", b"", "空.csv")
    assert r.status_code == 400 and r.json["code"] == "import.empty_file"


def test_header_only_and_blank_files(client, world):
    """Read in the job (the request parses nothing): the job fails with the file's problem."""
    r = upload(client, world.admin_headers, "targets", csv_bytes([HEADER]))
    assert failed_job(client, world.admin_headers, r)["error_code"] == "import.no_rows"
    r = upload(client, world.admin_headers, "targets", b"\r\n\r\n", "blank.csv")
    assert failed_job(client, world.admin_headers, r)["error_code"] == "import.empty_file"
    r = upload(client, world.admin_headers, "targets", xlsx_bytes([]), "blank.xlsx")
    assert failed_job(client, world.admin_headers, r)["error_code"] == "import.empty_file"


@pytest.mark.parametrize("name,code,status", [
    ("名录.txt", "import.unsupported_format", 415),
    ("名录.xls", "import.unsupported_format", 415),
    ("名录", "import.unsupported_format", 415),
])
def test_wrong_extension(client, world, name, code, status, a_uscc):
    r = upload(client, world.admin_headers, "targets", good_csv(a_uscc), name)
    assert r.status_code == status and r.json["code"] == code
    assert ".csv" in r.json["message"] and ".xlsx" in r.json["message"]


@pytest.mark.parametrize("data", [b"this is not a zip file at all", b"PK\x03\x04broken zip",
                                  b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600])
def test_not_really_an_xlsx(client, world, data):
    r = upload(client, world.admin_headers, "targets", data, "名录.xlsx")
    assert r.status_code == 422 and r.json["code"] == "import.bad_file"
    assert "XLSX" in r.json["message"]


def test_a_zip_that_is_not_a_workbook(client, world):
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("hello.txt", "你好")
    r = upload(client, world.admin_headers, "targets", out.getvalue(), "名录.xlsx")
    assert r.status_code == 422 and r.json["code"] == "import.bad_file"


def test_xlsx_renamed_to_csv(client, world, a_uscc):
    r = upload(client, world.admin_headers, "targets", xlsx_bytes([HEADER, [a_uscc, "某公司", "企业"]]), "名录.csv")
    assert r.status_code == 422 and r.json["code"] == "import.bad_file" and ".xlsx" in r.json["message"]


def test_binary_garbage_as_csv(client, world):
    r = upload(client, world.admin_headers, "targets", bytes(range(256)) * 40, "名录.csv")
    job = failed_job(client, world.admin_headers, r)
    assert job["error_code"] in ("import.bad_encoding", "import.bad_header", "import.bad_file")


def test_too_large(app, client, world, monkeypatch, a_uscc):
    monkeypatch.setitem(app.config, "IMPORT_MAX_BYTES", 100)
    r = upload(client, world.admin_headers, "targets", good_csv(a_uscc) + b"x" * 200)
    assert r.status_code == 413 and r.json["code"] == "import.too_large" and "MB" in r.json["message"]


def test_bad_header_lists_what_is_wrong(client, world, db_session):
    r = upload(client, world.admin_headers, "targets",
               csv_bytes([["统一社会信用代码", "企业名字", "对象类型", "对象类型"], ["x", "y", "z", "w"]]))
    job = failed_job(client, world.admin_headers, r)
    assert job["error_code"] == "import.bad_header"
    message = job["error"]
    assert "缺少必填列：“检查对象名称”" in message and "无法识别的列：“企业名字”" in message and "重复的列：“对象类型”" in message
    assert job["result"]["unknown"] == ["企业名字"]
    r = upload(client, world.admin_headers, "targets", csv_bytes([["检查对象名称", "对象类型"], ["y", "企业"]]))
    job = failed_job(client, world.admin_headers, r)
    assert job["error_code"] == "import.bad_header" and "至少需要一列" in job["error"]
    assert db_session.scalar(select(func.count()).select_from(Target)) == 0


def test_headers_tolerate_stars_spaces_full_width_and_a_serial_column(client, world, db_session, a_uscc):
    data = csv_bytes([["序号", "*统一社会信用代码", " 名称 ", "对象类型", "住所(经营场所)", ""],
                      ["1", a_uscc, "某公司", "企业", "示例路", ""]])
    job = finished_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", data))
    assert job["status"] == "done", job


def test_broken_csv_quoting_is_a_row_error_not_a_crash(client, world, a_uscc):
    data = "统一社会信用代码,检查对象名称,对象类型\n".encode() + f'{a_uscc},"未闭合\0的引号,企业\n'.encode()
    r = upload(client, world.admin_headers, "targets", data)
    assert r.status_code in (202, 422)
    if r.status_code == 202:
        job = finished_job(client, world.admin_headers, r)
        assert job["status"] == "failed" and job["error_code"].startswith("import.")


def test_options_in_the_query_string_or_the_form(client, world, db_session, a_uscc):
    r = client.post("/api/v1/imports/targets?dry_run=true", headers=world.admin_headers,
                    data={"file": (io.BytesIO(good_csv(a_uscc)), "a.csv")}, content_type="multipart/form-data")
    assert finished_job(client, world.admin_headers, r)["result"]["dry_run"] is True
    r = upload(client, world.admin_headers, "targets", good_csv(a_uscc), dry_run="maybe")
    assert r.status_code == 422 and r.json["code"] == "validation_error"
    assert db_session.scalar(select(func.count()).select_from(Target)) == 0
