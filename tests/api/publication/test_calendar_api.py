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


def test_public_year_without_notice_shows_the_statutory_holidays_and_the_days_that_wait(client):
    body = client.get("/api/public/calendar/2030").json
    assert body["source"] == "statutory" and body["provisional"] is True and body["notice"] is None
    assert body["law"] == "《全国年节及纪念日放假办法》（2024 年修订，国务院令第 795 号）"
    assert body["workdays"] == [] and "放假办法" in body["source_label"]
    assert {"day": "2030-02-03", "weekday": "星期日", "name": "春节"} in body["restdays"]    # 正月初一
    assert [d["day"] for d in body["restdays"]][:2] == ["2030-01-01", "2030-02-02"]        # 元旦, 除夕
    assert len(body["restdays"]) == 13
    assert body["provisional_periods"][0] == {
        "from": "2030-01-02", "to": "2030-01-11", "year": 2030, "holiday": "元旦",
        "label": "2030-01-02 至 2030-01-11：2030 年元旦前后，放假调休待国务院通知"}
    assert body["provisional_periods"][-1]["year"] == 2031      # late December waits for 2031's 元旦
    known = client.get("/api/public/calendar/2026").json
    assert known["law"] is None and [p["from"] for p in known["provisional_periods"]] == ["2026-12-22"]
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
                      "provisional_periods": [], "statutory_days": [], "today": "2026-03-12", "state": "due_soon",
                      "state_label": "即将到期", "working_days_left": 5,
                      "sources": [{"year": 2026, "source": "chinesecalendar",
                                   "source_label": "chinesecalendar 节假日数据"}]}
    r = client.get("/api/v1/calendar/due?from=2026-09-30&days=7&today=2026-10-16", headers=headers)
    assert (r.json["due"], r.json["state"], r.json["working_days_left"]) == ("2026-10-15", "overdue", -1)
    r = client.get("/api/v1/calendar/due?from=2026-12-14&today=2026-12-14", headers=headers)
    assert r.json["due"] == "2027-01-12" and r.json["provisional"] is True       # Fri 1 Jan 2027 rests (元旦)
    assert [s["source"] for s in r.json["sources"]] == ["chinesecalendar", "statutory"]
    assert r.json["statutory_days"] == [{"day": "2027-01-01", "weekday": "星期五", "name": "元旦"}]
    assert [(p["from"], p["to"], p["year"]) for p in r.json["provisional_periods"]] == [
        ("2026-12-22", "2026-12-31", 2027), ("2027-01-02", "2027-01-11", 2027)]


def test_due_across_2027_spring_festival_and_national_day_before_the_notice(client, auth):
    _, headers = auth.as_role(Role.INSPECTOR)
    r = client.get("/api/v1/calendar/due?from=2027-01-29&days=20&today=2027-01-29", headers=headers)
    assert (r.json["due"], r.json["provisional"]) == ("2027-03-02", True)     # Monday to Friday: 26 Feb
    assert [d["day"] for d in r.json["statutory_days"]] == ["2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08"]
    assert [p["label"] for p in r.json["provisional_periods"]] == [
        "2027-01-30 至 2027-02-04：2027 年春节前后，放假调休待国务院通知",
        "2027-02-09 至 2027-02-18：2027 年春节前后，放假调休待国务院通知"]
    r = client.get("/api/v1/calendar/due?from=2027-09-24&days=20&today=2027-09-24", headers=headers)
    assert (r.json["due"], r.json["provisional"]) == ("2027-10-25", True)     # Monday to Friday: 22 Oct
    assert [d["day"] for d in r.json["statutory_days"]] == ["2027-10-01", "2027-10-02", "2027-10-03"]
    assert [(p["from"], p["to"], p["holiday"]) for p in r.json["provisional_periods"]] == [
        ("2027-09-25", "2027-09-30", "中秋节、国庆节"), ("2027-10-04", "2027-10-13", "国庆节")]
    r = client.get("/api/v1/calendar/due?from=2027-03-01&days=5&today=2027-03-01", headers=headers)
    assert (r.json["due"], r.json["provisional"], r.json["provisional_periods"]) == ("2027-03-08", False, [])


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
    assert result.exit_code == 0, result.output
    assert "依据：《全国年节及纪念日放假办法》（2024 年修订，国务院令第 795 号）" in result.stdout
    assert "  2031-01-22 星期三  春节\n" in result.stdout            # 除夕
    # 元旦's days and 春节's meet: one period
    assert "  2031-01-02 至 2031-01-21：2031 年元旦、春节前后，放假调休待国务院通知" in result.stdout
    assert "法定节日（12 天，计为休息日）" in result.stdout            # 中秋 falls on 1 October 2031
    result = runner.invoke(args=["calendar", "due", "2031-01-17", "--days", "20", "--today", "2031-01-17"])
    assert "2031-01-17 之后第 20 个工作日：2031-02-19（暂定）" in result.stdout
    assert "  2031-01-25 星期六  春节" in result.stdout and "2031 年春节前后" in result.stdout
    assert "暂定：待 2031 年的国务院节假日安排通知导入后确定" in result.stdout
    result = runner.invoke(args=["calendar", "due", "2026-02-13", "--today", "2026-03-12"])
    assert result.exit_code == 0
    assert "2026-02-13 之后第 20 个工作日：2026-03-19" in result.stdout and "即将到期，剩余 5 个工作日" in result.stdout
    result = runner.invoke(args=["calendar", "due", "2026-12-30", "--days", "7", "--today", "2026-12-30"])
    # 2027 was imported above: Fri 1 Jan rests, Sat 9 Jan works, nothing is provisional
    assert "2026-12-30 之后第 7 个工作日：2027-01-09\n" in result.stdout and "暂定" not in result.stdout
