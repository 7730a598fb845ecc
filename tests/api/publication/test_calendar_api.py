"""The calendar over HTTP and on the command line."""
from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.publication.models import CalendarYear

EXAMPLE = Path(__file__).resolve().parents[3] / "backend" / "publication" / "data" / "2026.json"


def body_2027(**over) -> dict:
    """Test data, not the real 2027 notice."""
    body = {"year": 2027, "title": "测试用：2027年部分节假日安排", "issued_on": "2026-11-01",
            "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03", "workdays": ["2027-01-09"]}]}
    body.update(over)
    return body


# --- public year page ----------------------------------------------------------------------------

def test_public_year_from_the_library(client):
    r = client.get("/api/public/calendar/2026")
    assert r.status_code == 200
    body = r.json
    assert body["source"] == "chinesecalendar" and body["provisional"] is False and body["notice"] is None
    assert len(body["restdays"]) == 33
    assert {"day": "2026-02-14", "weekday": "星期六", "name": "春节"} in body["workdays"]
    assert [d["day"] for d in body["workdays"]] == ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09",
                                                    "2026-09-20", "2026-10-10"]


def test_public_year_nobody_knows_and_bad_years(client):
    body = client.get("/api/public/calendar/2030").json
    assert body["source"] == "weekdays" and body["provisional"] is True
    assert body["restdays"] == [] and body["workdays"] == [] and "周一至周五" in body["source_label"]
    r = client.get("/api/public/calendar/1999")
    assert r.status_code == 422 and r.json["code"] == "calendar.bad_year"
    assert client.get("/api/public/calendar/abc").status_code == 404


# --- import ---------------------------------------------------------------------------------------

def test_import_over_http_then_public_and_replace(client, auth, db_session):
    _, admin = auth.as_role(Role.SYSADMIN)
    r = client.post("/api/v1/calendar/import", json=body_2027(), headers=admin)
    assert r.status_code == 200, r.json
    assert r.json["action"] == "created" and r.json["source"] == "notice"
    assert r.json["notice"]["source"] == "api" and r.json["notice"]["imported_by"].startswith("sysadmin")
    public = client.get("/api/public/calendar/2027").json
    assert public["source"] == "notice" and public["provisional"] is False
    assert public["notice"]["title"] == "测试用：2027年部分节假日安排" and "imported_by" not in public["notice"]
    assert [d["day"] for d in public["restdays"]] == ["2027-01-01", "2027-01-02", "2027-01-03"]

    changed = body_2027(holidays=[{"name": "元旦", "from": "2027-01-01", "to": "2027-01-01"}])
    r = client.post("/api/v1/calendar/import", json=changed, headers=admin)
    assert r.status_code == 409 and r.json["code"] == "calendar.year_exists"
    r = client.post("/api/v1/calendar/import", json={**changed, "replace": True}, headers=admin)
    assert r.status_code == 200 and r.json["action"] == "replaced"
    assert db_session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "calendar_year")).all() == [
        "calendar.import", "calendar.replace"]


def test_import_refusals_are_clear_and_change_nothing(client, auth, db_session):
    _, admin = auth.as_role(Role.SYSADMIN)
    bad = body_2027(holidays=[{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03",
                               "workdays": ["2027-01-08", "2027-01-02"]}])
    r = client.post("/api/v1/calendar/import", json=bad, headers=admin)
    assert r.status_code == 422 and r.json["code"] == "calendar.invalid_notice"
    assert r.json["errors"] == {
        "holidays.0.workdays.0": ["元旦的调休上班日 2027-01-08（星期五）不是周末：调休上班日必须是星期六或星期日"],
        "holidays.0.workdays.1": ["2027-01-02（星期六）既是元旦的放假日又是元旦的调休上班日（另见 holidays.0.from）"]}
    assert r.json["message"].startswith("节假日安排有误：holidays.0.workdays.0：元旦的调休上班日")
    r = client.post("/api/v1/calendar/import", json=body_2027(year="二〇二七"), headers=admin)
    assert r.status_code == 422 and r.json["code"] == "validation_error" and "year" in r.json["errors"]["json"]
    r = client.post("/api/v1/calendar/import", json=body_2027(holidays=[{"name": "元旦", "from": "1 Jan",
                                                                          "to": "2027-01-01"}]), headers=admin)
    assert r.status_code == 422 and "from" in r.json["errors"]["json"]["holidays"]["0"]
    assert db_session.get(CalendarYear, 2027) is None


# --- due dates ------------------------------------------------------------------------------------

def test_due_for_any_logged_in_user(client, auth):
    _, headers = auth.as_role(Role.INSPECTOR)
    r = client.get("/api/v1/calendar/due?from=2026-02-13&days=20&today=2026-03-12", headers=headers)
    assert r.status_code == 200, r.json
    assert r.json == {"from": "2026-02-13", "days": 20, "due": "2026-03-19", "provisional": False,
                      "today": "2026-03-12", "state": "due_soon", "state_label": "即将到期", "working_days_left": 5,
                      "sources": [{"year": 2026, "source": "chinesecalendar",
                                   "source_label": "chinesecalendar 节假日数据"}]}
    r = client.get("/api/v1/calendar/due?from=2026-09-30&days=7&today=2026-10-16", headers=headers)
    assert (r.json["due"], r.json["state"], r.json["working_days_left"]) == ("2026-10-15", "overdue", -1)
    r = client.get("/api/v1/calendar/due?from=2026-12-14&today=2026-12-14", headers=headers)
    assert r.json["due"] == "2027-01-11" and r.json["provisional"] is True
    assert [s["source"] for s in r.json["sources"]] == ["chinesecalendar", "weekdays"]


def test_due_refuses_bad_queries(client, auth):
    _, headers = auth.as_role(Role.PLANNER)
    for query, field in [("", "from"), ("?from=2026-02-30", "from"), ("?from=2026-02-13&days=0", "days"),
                         ("?from=2026-02-13&days=251", "days"), ("?from=2026-02-13&today=x", "today")]:
        r = client.get("/api/v1/calendar/due" + query, headers=headers)
        assert r.status_code == 422 and field in r.json["errors"]["query"], (query, r.json)
    r = client.get("/api/v1/calendar/due?from=1900-01-01", headers=headers)
    assert r.status_code == 422 and r.json["code"] == "calendar.bad_year"
    r = client.get("/api/v1/calendar/due?from=2100-12-20&days=20", headers=headers)
    assert r.status_code == 422 and r.json["code"] == "calendar.bad_year"


# --- the command line -----------------------------------------------------------------------------

def test_cli_import_show_and_replace(app, db_session, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["calendar", "import", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "2026 年节假日安排已导入：放假 33 天，调休上班 6 天" in result.stdout
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "calendar.import"))
    assert entry.actor_label.startswith("cli") and entry.detail["file_name"] == "2026.json"
    row = db_session.get(CalendarYear, 2026)
    assert row.source == "cli" and len(row.sha256) == 64

    result = runner.invoke(args=["calendar", "show", "2026"])
    assert result.exit_code == 0
    assert "2026 年：管理员导入的国务院通知" in result.stdout
    assert "  2026-02-14 星期六  春节" in result.stdout and "调休上班日（6 天）" in result.stdout

    changed = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    changed["holidays"][2]["to"] = "2026-04-07"
    path = tmp_path / "2026-更正.json"
    path.write_text(json.dumps(changed, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(args=["calendar", "import", str(path)])
    assert result.exit_code == 1 and "已导入" in result.stderr and "--replace" in result.stderr
    result = runner.invoke(args=["calendar", "import", str(path), "--replace"])
    assert result.exit_code == 0 and "已替换" in result.stdout
    assert "注意：2026-04-07 星期二 与 chinesecalendar 不一致（通知：放假）" in result.stdout


def test_cli_csv_and_its_errors(app, db_session, tmp_path):
    runner = app.test_cli_runner()
    good = tmp_path / "2027.csv"
    good.write_text("日期,类型,名称\n2027-01-01,放假,元旦\n2027-01-09,上班,元旦\n", encoding="utf-8")
    result = runner.invoke(args=["calendar", "import", str(good), "--title", "测试通知", "--issued-on", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert db_session.get(CalendarYear, 2027).issued_on.isoformat() == "2026-11-01"
    bad = tmp_path / "2028.csv"
    bad.write_text("日期,类型,名称\n2028-01-01,放假,元旦\n2028-01-07,上班,元旦\n", encoding="utf-8")
    result = runner.invoke(args=["calendar", "import", str(bad)])
    assert result.exit_code == 1
    assert "  title：缺少通知标题（--title）" in result.stderr
    assert "  第 3 行：元旦的调休上班日 2028-01-07（星期五）不是周末" in result.stderr
    assert db_session.get(CalendarYear, 2028) is None

    result = runner.invoke(args=["calendar", "show", "2031"])
    assert result.exit_code == 0 and "期限暂按周一至周五计算，标为暂定" in result.stdout
    result = runner.invoke(args=["calendar", "due", "2026-02-13", "--today", "2026-03-12"])
    assert result.exit_code == 0
    assert "2026-02-13 之后第 20 个工作日：2026-03-19" in result.stdout and "即将到期，剩余 5 个工作日" in result.stdout
    result = runner.invoke(args=["calendar", "due", "2026-12-30", "--days", "7", "--today", "2026-12-30"])
    # 2027 was imported above: Fri 1 Jan rests, Sat 9 Jan works, nothing is provisional
    assert "2026-12-30 之后第 7 个工作日：2027-01-09\n" in result.stdout and "暂定" not in result.stdout
