"""The quarterly 通报 (issue 12 §5): a job with progress whose PDF is real (read back with pypdf) and whose numbers
are the figures API's for the same filters, per department and per region; the overdue lists; who may make one;
the command line."""
from __future__ import annotations

import datetime as dt
import io
import uuid

from pypdf import PdfReader
from sqlalchemy import select

from backend.auth.roles import Role
from backend.inspections.models import Inspection
from tests.api.figures.test_figures import FIGURES
from tests.field.test_pdf import squeeze

REPORT = "/api/v1/figures/report"


def _pdf_text(body: bytes) -> str:
    reader = PdfReader(io.BytesIO(body))
    assert reader.metadata.title.startswith("“双随机、一公开”监管工作情况通报")
    return squeeze("".join(page.extract_text() for page in reader.pages))


def _rate(f: dict) -> str:
    """The rate as the test reads it from the figures API: 2 decimals, a percent but for departments per visit."""
    if f["rate"] is None:
        return "—"
    return f"{f['rate']:.2f}" if f["key"] == "joint" else f"{100 * f['rate']:.2f}%"


def _figures(client, data, user, **query) -> list[dict]:
    r = client.get(FIGURES, query_string={"period": "2026-Q2", **query}, headers=data.world.headers(user))
    assert r.status_code == 200, r.json
    return r.json["figures"]


def _row(name: str, figures: list[dict]) -> str:
    """A row of the per-department or per-region table: the name, then each figure's rate and numerator/denominator."""
    return name + "".join(f"{_rate(f)}{f['numerator']}/{f['denominator']}" for f in figures)


def _overdue_followup(data, db_session):
    from backend.followups.models import Followup

    f = data.world.field
    inspection = f.inspections[3]
    row = Followup(uid=str(uuid.uuid4()), inspection_id=inspection.id, task_id=inspection.task_id,
                   target_id=inspection.target_id, department_id=f.lead_dept.id, lead_department_id=f.lead_dept.id,
                   action="rectify", state="ordered", due_on=dt.date.today() - dt.timedelta(days=9))
    db_session.add(row)
    db_session.flush()
    return row


def _make(client, data, user, body):
    r = client.post(REPORT, json=body, headers=data.world.headers(user))
    return r


def test_the_report_is_a_job_whose_pdf_says_what_the_figures_say(client, data, db_session, factory):
    f = data.world.field
    _overdue_followup(data, db_session)
    supervisor = factory.user(Role.SUPERVISOR)
    r = _make(client, data, supervisor, {"quarter": "2026Q2"})
    assert r.status_code == 202, r.json
    job_id = r.json["id"]
    assert r.headers["Location"] == f"/api/v1/jobs/{job_id}"
    job = client.get(f"/api/v1/jobs/{job_id}", headers=data.world.headers(supervisor)).json
    assert job["status"] == "done", job
    # progress moved through the tables: the total, the scope, two departments, two towns, the lists
    assert job["progress_total"] == 1 + 2 + 2 + 3 and job["progress_done"] == job["progress_total"]
    assert job["result"]["quarter"] == "2026-Q2" and job["result"]["download"] == f"{REPORT}/{job_id}"
    got = client.get(f"{REPORT}/{job_id}", headers=data.world.headers(supervisor))
    assert got.status_code == 200 and got.mimetype == "application/pdf" and got.data[:5] == b"%PDF-"
    assert "attachment" in got.headers["Content-Disposition"]
    text = _pdf_text(got.data)
    assert "（2026年第二季度）" in text and "通报范围全部部门；全部区划" in text and "2026-04-01至2026-06-30" in text
    # the whole scope: each figure's numerator/denominator and rate, as GET /api/v1/figures has them
    overall = _figures(client, data, supervisor)
    for fig in overall:
        assert f"{fig['label']}{fig['numerator']}/{fig['denominator']}{_rate(fig)}" in text, fig["key"]
    # per department, and per town: the figures API with that department or that region
    for dept in (f.lead_dept, f.other_dept):
        assert _row(dept.name, _figures(client, data, supervisor, department_id=dept.id)) in text, dept.name
    for town in data.towns:
        assert _row(f"{town.name}（{town.code}）", _figures(client, data, supervisor, region=town.code)) in text
    # the overdue lists, counted here from the rows
    today = dt.date.today()
    db_session.expire_all()
    late = [i for i in db_session.scalars(select(Inspection)) if i.status == "completed" and not i.published_at
            and not i.publication_exempt_at and i.publication_due_on < today
            and dt.date(2026, 4, 1) <= i.task.end_date <= dt.date(2026, 6, 30)]
    assert len(late) == 2     # the unpublished one long overdue, and the one due on 2026-07-30
    assert f"四、逾期未公示的检查结果（共{len(late)}项）" in text
    for i in late:
        assert f"{i.task.code}{i.target.name}{i.completed_on.isoformat()}{i.publication_due_on.isoformat()}" in text
    completion = next(x for x in overall if x["key"] == "completion")
    not_done = completion["denominator"] - completion["numerator"]
    assert "五、逾期未完成的抽查任务（共1项）" in text
    assert f"{f.task.code}{f.task.name}{f.lead_dept.name}{f.task.end_date.isoformat()}{not_done}/8" in text
    assert "六、逾期未办结的后续处置（共1项）" in text and f.inspections[3].target.name + f.lead_dept.name in text


def test_a_department_admin_reports_on_their_own_department_only(client, data, factory):
    f = data.world.field
    own = factory.user(Role.DEPT_ADMIN, f.lead_dept)
    r = _make(client, data, own, {"quarter": "2026-Q2"})
    assert r.status_code == 202 and r.json["result"]["department_id"] == f.lead_dept.id
    text = _pdf_text(client.get(f"{REPORT}/{r.json['id']}", headers=data.world.headers(own)).data)
    assert f"通报范围{f.lead_dept.name}；全部区划" in text
    assert _row(f.lead_dept.name, _figures(client, data, own)) in text
    assert f.other_dept.name not in text.split("二、各部门情况")[1].split("三、")[0]
    # another department: refused; other roles: refused; a bad quarter: its code
    refused = _make(client, data, own, {"quarter": "2026-Q2", "department_id": f.other_dept.id})
    assert refused.status_code == 403 and refused.json["code"] == "forbidden.department"
    for role in (Role.INSPECTOR, Role.PUBLISHER, Role.PLANNER):
        r = _make(client, data, factory.user(role, f.lead_dept), {"quarter": "2026-Q2"})
        assert r.status_code == 403 and r.json["code"] == "forbidden.role"
    for quarter in ("2026-05", "2026-Q5", "2026", "Q3"):
        bad = _make(client, data, own, {"quarter": quarter})
        assert bad.status_code == 422 and bad.json["code"] == "figures.bad_quarter", quarter
    bad = _make(client, data, own, {"quarter": "2026-Q2", "region": "41"})
    assert bad.status_code == 422 and bad.json["code"] == "figures.bad_region"


def test_only_its_maker_downloads_a_report_and_not_before_it_is_done(client, data, factory, db_session):
    from backend.jobs.models import Job

    supervisor = factory.user(Role.SUPERVISOR)
    job_id = _make(client, data, supervisor, {"quarter": "2026-Q2", "region": data.towns[0].code}).json["id"]
    other = client.get(f"{REPORT}/{job_id}", headers=data.world.headers(factory.user(Role.SUPERVISOR)))
    assert other.status_code == 403 and other.json["code"] == "forbidden.owner"
    text = _pdf_text(client.get(f"{REPORT}/{job_id}", headers=data.world.headers(supervisor)).data)
    town = data.towns[0]
    assert f"全部部门；{town.name}（{town.code}）" in text and data.towns[1].name not in text
    job = db_session.get(Job, job_id)
    job.status = "running"
    db_session.flush()
    pending = client.get(f"{REPORT}/{job_id}", headers=data.world.headers(supervisor))
    assert pending.status_code == 409 and pending.json["code"] == "job.not_ready"
    missing = client.get(f"{REPORT}/{uuid.uuid4().hex}", headers=data.world.headers(supervisor))
    assert missing.status_code == 404 and missing.json["code"] == "job.not_found"


def test_the_command_line_writes_the_same_report(app, data, tmp_path):
    f = data.world.field
    out = tmp_path / "通报.pdf"
    result = app.test_cli_runner().invoke(args=["figures", "report", "--quarter", "2026Q2", "--department",
                                                f.lead_dept.code, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "逾期未公示 2 项" in result.output
    text = _pdf_text(out.read_bytes())
    assert f"通报范围{f.lead_dept.name}；全部区划" in text and "四、逾期未公示的检查结果（共2项）" in text
    bad = app.test_cli_runner().invoke(args=["figures", "report", "--quarter", "2026-13", "-o", str(out)])
    assert bad.exit_code != 0 and "季度" in bad.output
