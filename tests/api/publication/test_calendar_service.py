"""The working-day calendar with its database layer: imported notices first, then chinesecalendar, then the
statutory holidays, then Monday to Friday; the import's validation and its audit; stored deadlines recounted."""
from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from backend.actor import Actor
from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.errors import Conflict, Forbidden, InvalidInput
from backend.publication import calendar, services
from backend.publication.calendar import Due
from backend.publication.models import CalendarDay, CalendarYear
from backend.publication.notice import parse_notice, parse_notice_csv, read_notice_file
from backend.publication.services import WorkCalendar, import_notice, work_calendar

D = dt.date
EXAMPLE = Path(__file__).resolve().parents[3] / "backend" / "publication" / "data" / "2026.json"
ADMIN = Actor.system("test")


def notice_2026() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def notice_2027() -> dict:
    """Test data, not the real 2027 notice: New Year 1–3 Jan, a make-up Saturday 9 Jan."""
    return {"year": 2027, "title": "测试用：2027年部分节假日安排", "ref": "测试〔2026〕1号", "issued_on": "2026-11-01",
            "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03", "workdays": ["2027-01-09"]}]}


def problems_of(data) -> dict:
    with pytest.raises(InvalidInput) as caught:
        parse_notice(data)
    assert caught.value.code == "calendar.invalid_notice"
    assert caught.value.message.startswith("节假日安排有误：")
    return caught.value.errors


# --- the layers -------------------------------------------------------------------------------------

def test_without_imports_the_library_then_the_statutory_holidays(db_session):
    cal = WorkCalendar(db_session)
    assert cal.add_working_days(D(2026, 2, 13), 20) == Due(D(2026, 3, 19), False)
    assert cal.source_of(2026) == "chinesecalendar" and cal.source_of(2027) == "statutory"
    assert cal.source_of(2100) == "statutory" and cal.source_of(2101) == "weekdays"
    assert cal(D(2027, 1, 1)).workday is False and cal(D(2027, 1, 1)).name == "元旦"
    assert cal.add_working_days(D(2026, 12, 14), 20) == Due(D(2027, 1, 12), True)
    assert [(p.first, p.last) for p in cal.provisional_periods(D(2026, 12, 14), D(2027, 1, 12))] == [
        (D(2026, 12, 22), D(2026, 12, 31)), (D(2027, 1, 2), D(2027, 1, 11))]
    assert [d.day for d in cal.statutory_days(D(2026, 12, 14), D(2027, 1, 12))] == [D(2027, 1, 1)]


def test_an_imported_notice_wins_over_the_statutory_holidays(db_session):
    import_notice(db_session, ADMIN, parse_notice(notice_2027()))
    cal = work_calendar(db_session)
    # the (invented) notice has 元旦 only: 除夕 Fri 5 Feb and 初三 Mon 8 Feb are working days by it
    assert cal(D(2027, 2, 5)).workday is True and cal(D(2027, 2, 5)).source == "notice"
    assert cal(D(2027, 2, 8)).workday is True and not cal(D(2027, 2, 8)).provisional
    assert cal.add_working_days(D(2027, 1, 29), 20) == Due(D(2027, 2, 26), False)
    assert cal.provisional_periods(D(2026, 12, 1), D(2027, 12, 21)) == []
    assert [(p.first, p.year) for p in cal.provisional_periods(D(2027, 12, 1), D(2027, 12, 31))] == [
        (D(2027, 12, 22), 2028)]


def test_an_imported_year_overrides_chinesecalendar(db_session):
    data = notice_2026()
    # an invented extra rest day on Mon 2 Mar (e.g. a corrected notice): the library does not know it
    data["holidays"].append({"name": "测试假日", "from": "2026-03-02", "to": "2026-03-02", "workdays": []})
    result = import_notice(db_session, ADMIN, parse_notice(data))
    assert result["action"] == "created" and result["source"] == "notice"
    assert result["differences_from_library"] == [
        {"day": D(2026, 3, 2), "weekday": "星期一", "notice": "restday", "library": "workday"}]
    cal = work_calendar(db_session)
    assert cal.source_of(2026) == "notice"
    assert cal(D(2026, 3, 2)).workday is False and cal(D(2026, 3, 2)).name == "测试假日"
    assert cal(D(2026, 2, 14)).workday is True and cal(D(2026, 2, 14)).source == "notice"
    assert cal.add_working_days(D(2026, 2, 13), 20) == Due(D(2026, 3, 20), False)  # one day later than the library


def test_importing_an_unknown_year_makes_its_deadlines_final(db_session):
    cal = work_calendar(db_session)
    assert cal.add_working_days(D(2026, 12, 14), 20) == Due(D(2027, 1, 12), True)
    import_notice(db_session, ADMIN, parse_notice(notice_2027()))
    cal = work_calendar(db_session)
    # 13 working days in December; Fri 1 Jan is now a rest day and Sat 9 Jan a working day
    assert cal.add_working_days(D(2026, 12, 14), 20) == Due(D(2027, 1, 11), False)
    assert cal.add_working_days(D(2026, 12, 14), 14) == Due(D(2027, 1, 4), False)
    assert cal.add_working_days(D(2027, 1, 8), 1) == Due(D(2027, 1, 9), False)
    assert cal(D(2027, 1, 1)).workday is False and cal(D(2027, 1, 4)).workday is True
    assert cal.source_of(2027) == "notice" and cal.source_of(2028) == "statutory"


def test_the_fast_counts_agree_with_the_definitions_over_an_imported_year(db_session):
    data = notice_2026()
    data["holidays"].append({"name": "测试假日", "from": "2026-03-02", "to": "2026-03-02", "workdays": []})
    import_notice(db_session, ADMIN, parse_notice(data))
    import_notice(db_session, ADMIN, parse_notice(notice_2027()))
    cal = WorkCalendar(db_session)
    day = D(2025, 12, 1)
    while day <= D(2028, 1, 31):
        for n in (1, 7, 20, 45):
            assert cal.add_working_days(day, n) == calendar.add_working_days(day, n, cal), (day, n)
        assert cal.working_days_between(day, D(2027, 1, 9)) == calendar.working_days_between(day, D(2027, 1, 9), cal)
        day += dt.timedelta(days=3)


def test_the_calendar_reads_each_imported_year_once_per_session(db_session, database):
    import_notice(db_session, ADMIN, parse_notice(notice_2027()))
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    engine = db_session.get_bind().engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        cal = WorkCalendar(db_session)
        for _ in range(3):
            cal.add_working_days(D(2026, 12, 14), 40)
            cal.deadline(D(2027, 1, 4), 20, today=D(2027, 1, 10))
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(statements) == 2, statements   # the list of imported years, then 2027's days
    assert work_calendar(db_session) is work_calendar(db_session)


def test_deadline_for_the_lead(db_session):
    cal = work_calendar(db_session)
    d = cal.deadline(D(2026, 2, 13), services.PUBLICATION_DAYS, today=D(2026, 3, 12))
    assert (d.due, d.provisional, d.state, d.state_label, d.working_days_left) == (
        D(2026, 3, 19), False, "due_soon", "即将到期", 5)
    assert cal.deadline(D(2026, 2, 13), today=D(2026, 3, 23)).working_days_left == -2
    assert cal.deadline(D(2026, 2, 13), today=D(2026, 3, 23)).state == "overdue"
    assert cal.deadline(D(2026, 2, 13), today=D(2026, 3, 23), done=True).state is None
    penalty = cal.deadline(D(2026, 9, 30), services.PENALTY_DECISION_DAYS, today=D(2026, 9, 30))
    assert penalty.due == D(2026, 10, 15) and penalty.state == "on_track"
    assert penalty.to_dict()["due"] == "2026-10-15"


# --- stored deadlines ----------------------------------------------------------------------------------

def test_stored_deadlines_are_counted_over_the_statutory_holidays_recounted_and_final_on_import(
        app, client, factory, auth, db_session):
    from backend.inspections import deadlines
    from tests.field.conftest import build_field

    assert deadlines._calendar(db_session) is work_calendar(db_session)     # submit, office and sync alike
    inspection = build_field(app, client, factory, auth, db_session).inspection
    # as stored before the statutory holidays were known: Monday to Friday through 2027
    inspection.completed_on, inspection.publication_due_on, inspection.due_provisional = \
        D(2026, 12, 14), D(2027, 1, 11), True
    db_session.flush()
    result = services.recount_deadlines(db_session, ADMIN)
    assert result == {"years": [2026], "deadlines_recomputed": 1}
    assert (inspection.publication_due_on, inspection.due_provisional) == (D(2027, 1, 12), True)
    assert _audit(db_session, "calendar.recount")[0].detail["deadlines_recomputed"] == 1
    assert services.recount_deadlines(db_session, ADMIN)["deadlines_recomputed"] == 0
    with pytest.raises(Forbidden):
        services.recount_deadlines(db_session, Actor.of_user(factory.user(Role.PLANNER)))
    import_notice(db_session, ADMIN, parse_notice(notice_2027()))
    db_session.refresh(inspection)
    assert (inspection.publication_due_on, inspection.due_provisional) == (D(2027, 1, 11), False)


# --- import: replace, unchanged, audit, permission --------------------------------------------------

def _audit(db_session, action):
    return db_session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()


def test_a_year_already_imported_is_replaced_only_when_asked_and_audited(db_session):
    import_notice(db_session, ADMIN, parse_notice(notice_2027()), source="cli", file_name="2027.json", sha256="a" * 64)
    [created] = _audit(db_session, "calendar.import")
    assert created.entity_type == "calendar_year" and created.entity_id == "2027"
    assert created.detail["restdays"] == 3 and created.detail["workdays"] == 1

    changed = notice_2027()
    changed["holidays"][0]["workdays"] = []
    with pytest.raises(Conflict) as caught:
        import_notice(db_session, ADMIN, parse_notice(changed))
    assert caught.value.code == "calendar.year_exists" and "--replace" in caught.value.message
    assert db_session.scalar(select(func.count()).select_from(CalendarDay).where(CalendarDay.year == 2027)) == 4

    result = import_notice(db_session, ADMIN, parse_notice(changed), replace=True)
    assert result["action"] == "replaced" and result["workdays"] == []
    [replaced] = _audit(db_session, "calendar.replace")
    assert replaced.before_digest and replaced.after_digest and replaced.before_digest != replaced.after_digest
    assert replaced.detail["changed"]["workdays"] == [["2027-01-09 元旦"], []]
    assert db_session.scalar(select(func.count()).select_from(CalendarDay).where(CalendarDay.year == 2027)) == 3
    assert work_calendar(db_session)(D(2027, 1, 9)).workday is False     # the session sees the new version
    row = db_session.get(CalendarYear, 2027)
    assert row.source == "api" and row.sha256 == services.notice_sha256(parse_notice(changed))


def test_the_same_notice_again_changes_nothing(db_session):
    import_notice(db_session, ADMIN, parse_notice(notice_2027()))
    before = db_session.scalar(select(func.count()).select_from(AuditEntry))
    assert import_notice(db_session, ADMIN, parse_notice(notice_2027()))["action"] == "unchanged"
    assert import_notice(db_session, ADMIN, parse_notice(notice_2027()), replace=True)["action"] == "unchanged"
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)) == before


@pytest.mark.parametrize("role", [r for r in Role if r != Role.SYSADMIN])
def test_only_a_system_admin_imports(db_session, role):
    with pytest.raises(Forbidden):
        import_notice(db_session, Actor(user_id=None, label="x", role=role.value), parse_notice(notice_2027()))
    assert db_session.get(CalendarYear, 2027) is None


# --- validation -----------------------------------------------------------------------------------

def test_a_make_up_day_must_be_a_weekend_day():
    data = notice_2026()
    data["holidays"][1]["workdays"] = ["2026-02-13", "2026-02-28"]
    errors = problems_of(data)
    assert errors == {"holidays.1.workdays.0": [
        "春节的调休上班日 2026-02-13（星期五）不是周末：调休上班日必须是星期六或星期日"]}


def test_dates_must_be_inside_the_year():
    data = notice_2026()
    data["holidays"][0]["workdays"] = ["2025-12-27"]
    data["holidays"][6]["to"] = "2027-01-02"
    errors = problems_of(data)
    assert "2025-12-27（星期六）不在 2026 年内" in errors["holidays.0.workdays.0"][0]
    assert "一次放假不能超过 31 天" in errors["holidays.6.to"][0]
    data = notice_2026()
    data["holidays"][0] = {"name": "元旦", "from": "2025-12-31", "to": "2026-01-01", "workdays": []}
    assert "2025-12-31（星期三）不在 2026 年内" in problems_of(data)["holidays.0.from"][0]


def test_a_rest_day_must_not_be_a_make_up_day_nor_appear_twice():
    data = notice_2026()
    data["holidays"][6]["workdays"].append("2026-10-03")         # a Saturday inside National Day
    data["holidays"].append({"name": "重复", "from": "2026-02-20", "to": "2026-02-21", "workdays": []})
    errors = problems_of(data)
    assert errors["holidays.6.workdays.2"] == [
        "2026-10-03（星期六）既是国庆节的放假日又是国庆节的调休上班日（另见 holidays.6.from）"]
    assert errors["holidays.7.from"] == ["2026-02-20（星期五）重复出现（另见 holidays.1.from）",
                                         "2026-02-21（星期六）重复出现（另见 holidays.1.from）"]


def test_every_problem_of_the_shape_is_reported_at_once():
    errors = problems_of({"year": 1999, "title": "", "ref": 5, "issued_on": "soon", "extra": 1,
                          "holidays": [{"name": "春节", "from": "2026-02-23", "to": "2026-02-15", "day": 1},
                                       {"name": "x" * 40, "from": "15 Feb", "to": None, "workdays": "2026-02-14"},
                                       "元旦"]})
    assert errors["year"] == ["年份应为 2000 到 2100 之间的整数"]
    assert errors["title"] == ["缺少通知标题"]
    assert errors["ref"] == ["文号应为文本"]
    assert errors["issued_on"] == ["发布日期应为 YYYY-MM-DD 格式的日期，如 2026-02-15"]
    assert errors["extra"] == ["不允许的字段"] and errors["holidays.0.day"] == ["不允许的字段"]
    assert errors["holidays.0.to"] == ["放假末日 2026-02-15 早于放假首日 2026-02-23"]
    assert errors["holidays.1.name"] == ["节日名称不能超过 32 个字符"]
    assert errors["holidays.1.from"] == ["放假首日应为 YYYY-MM-DD 格式的日期，如 2026-02-15"]
    assert errors["holidays.1.to"] == ["放假末日应为 YYYY-MM-DD 格式的日期，如 2026-02-15"]
    assert errors["holidays.1.workdays"] == ["应为日期列表（可为空）"]
    assert errors["holidays.2"] == ["应为对象：{name, from, to, workdays}"]


@pytest.mark.parametrize("data,where,message", [
    ([], "_schema", "节假日安排应为 JSON 对象"),
    ({"year": 2026, "title": "t", "holidays": []}, "holidays", "应为非空的列表：每个节日一项"),
    ({"year": 2026, "title": "t", "issued_on": "2024-11-01",
      "holidays": [{"name": "元旦", "from": "2026-01-01", "to": "2026-01-01"}]},
     "issued_on", "发布日期 2024-11-01 应在 2025 年或 2026 年"),
    ({"year": 2026, "title": "t\x00", "holidays": [{"name": "元旦", "from": "2026-01-01", "to": "2026-01-01"}]},
     "title", "通知标题含有控制字符或无效字符"),
    ({"year": 2026, "title": "t", "holidays": [{"name": "调休", "from": "2026-01-03", "to": "2026-01-02",
                                                "workdays": ["2026-01-04"]}]},
     "holidays.0.to", "放假末日 2026-01-02 早于放假首日 2026-01-03"),
])
def test_more_refusals(data, where, message):
    errors = problems_of(data)
    assert message in errors[where]


def test_csv_notice():
    text = "\ufeff日期,类型,名称\n2027-01-01,放假,元旦\n2027-01-02,休,元旦\n\n2027-01-09,上班,元旦\n"
    notice = parse_notice_csv(text, title="测试通知")
    assert notice.year == 2027 and [d.kind for d in notice.days] == ["restday", "restday", "workday"]
    with pytest.raises(InvalidInput) as caught:
        parse_notice_csv("日期,类型,名称\n2027-01-01,放假,元旦\n2027-01-08,上班,元旦\n2028-01-01,放假,元旦\n"
                         "2027-01-02,请假,元旦\n2027-01-03,放假\n", title=None)
    errors = caught.value.errors
    assert errors["title"] == ["缺少通知标题（--title）"]
    assert "不是周末" in errors["第 3 行"][0] and "不在 2027 年内" in errors["第 4 行"][0]
    assert errors["第 5 行"] == ["类型“请假”应为“放假”或“上班”"] and errors["第 6 行"] == ["应有 3 列：日期,类型,名称"]
    with pytest.raises(InvalidInput) as caught:
        parse_notice_csv("date;kind;name\n", title="t")
    assert caught.value.errors == {"第 1 行": ["表头应为：日期,类型,名称"]}
    with pytest.raises(InvalidInput) as caught:
        parse_notice_csv("日期,类型,名称\n2026-05-01,放假,劳动节\n", title="t", year=2027)
    assert "不在 2027 年内" in caught.value.errors["第 2 行"][0]


def test_files():
    assert read_notice_file("2026.json", EXAMPLE.read_bytes()).year == 2026
    for name, content, code, text in [
        ("x.txt", b"{}", "calendar.bad_file", "只支持 .json 或 .csv 文件"),
        ("x.json", b"\xff\xfe", "calendar.bad_file", "文件不是 UTF-8 编码的文本"),
        ("x.json", b'{"year": ', "calendar.bad_file", "不是有效的 JSON：第 1 行附近有误"),
        ("x.json", b" " * (1024 * 1024 + 1), "calendar.file_too_large", "文件过大"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            read_notice_file(name, content)
        assert caught.value.code == code and text in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        read_notice_file("2026.json", EXAMPLE.read_bytes(), title="另一个标题")
    assert "不能再用命令行选项指定" in caught.value.message


def test_nothing_is_stored_when_the_notice_is_refused(db_session):
    data = copy.deepcopy(notice_2027())
    data["holidays"][0]["workdays"] = ["2027-01-08"]
    with pytest.raises(InvalidInput):
        import_notice(db_session, ADMIN, parse_notice(data))
    assert db_session.get(CalendarYear, 2027) is None


def test_an_upgrade_recounts_the_stored_provisional_deadlines(app, client, factory, auth, db_session):
    from tests.field.conftest import build_field

    inspection = build_field(app, client, factory, auth, db_session).inspection
    # counted by an older calendar (Monday to Friday through 2027), then the software is upgraded
    inspection.completed_on, inspection.publication_due_on, inspection.due_provisional = \
        D(2026, 12, 14), D(2027, 1, 11), True
    db_session.flush()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "重新计算：改变 1 个" in result.output
    db_session.refresh(inspection)
    assert (inspection.publication_due_on, inspection.due_provisional) == (D(2027, 1, 12), True)
    assert _audit(db_session, "calendar.recount")[0].detail["deadlines_recomputed"] == 1
