"""The quarterly 通报 (issue 12 §5) as a PDF, in the style of the 检查记录表 (``backend.inspections.pdf``): the
figures of the scope, per department and per region (town), and the overdue lists (results not published by
their due date, tasks past their end date with inspections not done, follow-ups past their deadline).

Every number comes from ``backend.figures.services`` (``figures``, ``population``, ``items_query``) and the
follow-ups' register query: nothing is counted here a second time, so the PDF says what
``GET /api/v1/figures`` says for the same filters. Made by a job (``figures.report``) whose progress counts
the tables built; ``POST /api/v1/figures/report`` starts it, ``GET /api/v1/figures/report/<job id>``
downloads the file; ``shuangsui figures report`` writes it from the command line.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.errors import InvalidInput
from backend.figures import services
from backend.figures.facts import FigureFact
from backend.inspections import pdf
from backend.jobs.registry import job

JOB = "figures.report"
TITLE = "“双随机、一公开”监管工作情况通报"
LIST_MAX = 200            # rows of each overdue list shown (the total is always given)
QUARTER_RE = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
QUARTER_WORDS = "一二三四"
NAME_W = 27.0
MATRIX_KEYS = list(services.FIGURES)


def quarter_scope(actor: Actor, quarter: str | None, department_id: int | None = None,
                  region: str | None = None) -> services.Scope:
    """The scope of a 通报: a quarter (``2026-Q3`` or ``2026Q3``), optionally a department and a region, checked
    against what ``actor`` may read exactly as the figures are (``services.scope_of``)."""
    m = QUARTER_RE.match(quarter.strip()) if isinstance(quarter, str) else None
    if m is None or not 2000 <= int(m.group(1)) <= 2100:
        raise InvalidInput("通报的期间应为季度，如 2026-Q3", code="figures.bad_quarter", details={"field": "quarter"})
    return services.scope_of(actor, {"period": f"{m.group(1)}-Q{m.group(2)}", "department_id": department_id,
                                     "region": region})


def quarter_words(period: services.Period) -> str:
    year, _, q = period.text.partition("-Q")
    return f"{year} 年第{QUARTER_WORDS[int(q) - 1]}季度" if q else period.text


# --- gathering ----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Report:
    scope: services.Scope
    department: str              # the issuing scope's words
    region: str
    generated_at: dt.datetime
    overall: list[dict]
    by_department: list[tuple[str, list[dict]]]
    by_region: list[tuple[str, list[dict]]]
    late_publication: tuple[int, list[dict]]
    late_tasks: tuple[int, list[dict]]
    late_followups: tuple[int, list[dict]]


def _departments(session: Session, scope: services.Scope):
    from backend.directory.models import Department
    from backend.plans.models import TaskDepartment

    if scope.department_id is not None:
        return list(session.scalars(select(Department).where(Department.id == scope.department_id)))
    tasks = services.population(scope, columns=(FigureFact.task_id,))
    ids = select(TaskDepartment.department_id).where(TaskDepartment.task_id.in_(tasks))
    return list(session.scalars(select(Department).where(Department.id.in_(ids)).order_by(Department.code)))


def _regions(session: Session, scope: services.Scope) -> list[tuple[str, str]]:
    """(code, name) of the towns (or counties, for businesses without a town) the population's businesses are in."""
    from backend.directory.models import Region, Target

    targets = services.population(scope, columns=(FigureFact.target_id,))
    codes = sorted(c for c in session.scalars(select(Target.region_code).where(Target.id.in_(targets)).distinct())
                   if c and services.REGION_RE.match(c))
    names = dict(session.execute(select(Region.code, Region.name).where(Region.code.in_(codes))).all()) if codes else {}
    return [(c, names.get(c) or c) for c in codes]


def _region_words(session: Session, code: str | None) -> str:
    from backend.directory.models import Region

    if not code:
        return "全部区划"
    name = session.scalar(select(Region.name).where(Region.code == code))
    return f"{name}（{code}）" if name else code


def _late_publication(session: Session, scope: services.Scope, today: dt.date) -> tuple[int, list[dict]]:

    services.settle(session)
    stmt = services.items_query(session, scope, "publication", "missing").where(FigureFact.publication_due_on < today)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    ids = list(session.scalars(stmt.limit(LIST_MAX)))
    return total, services.item_rows(session, services.inspections_of(session, ids))


def _late_tasks(session: Session, scope: services.Scope, today: dt.date) -> tuple[int, list[dict]]:
    from backend.directory.models import Department
    from backend.plans.models import Task

    services.settle(session)
    missing = (services.items_query(session, scope, "completion", "missing", columns=(FigureFact.task_id,))
               .where(FigureFact.task_end_date < today).order_by(None).subquery())
    not_done = dict(session.execute(select(missing.c.task_id, func.count()).group_by(missing.c.task_id)).all())
    if not not_done:
        return 0, []
    drawn = dict(session.execute(services.population(scope, columns=(FigureFact.task_id, func.count()))
                                 .where(FigureFact.task_id.in_(list(not_done))).group_by(FigureFact.task_id)).all())
    tasks = list(session.scalars(select(Task).where(Task.id.in_(list(not_done)))
                                 .order_by(Task.end_date, Task.code).limit(LIST_MAX)))
    leads = dict(session.execute(select(Department.id, Department.name)
                                 .where(Department.id.in_({t.lead_department_id for t in tasks}))).all())
    return len(not_done), [{"code": t.code, "name": t.name, "end_date": t.end_date, "not_done": not_done[t.id],
                            "drawn": drawn.get(t.id, 0), "lead": leads.get(t.lead_department_id, ""),
                            "days": (today - t.end_date).days} for t in tasks]


def _late_followups(session: Session, actor: Actor, scope: services.Scope, today: dt.date) -> tuple[int, list[dict]]:
    from backend.followups import services as followups
    from backend.followups.models import FOLLOWUP_STATES, Followup

    stmt = (followups.register_query(session, actor, {"overdue": True})
            .where(Followup.inspection_id.in_(services.population(scope))))
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = []
    for f in session.scalars(stmt.limit(LIST_MAX)):
        rows.append({"task": f.task.code if f.task else "", "target": f.target.name if f.target else "",
                     "department": f.department.name if f.department else "",
                     "action": followups.ACTIONS.get(f.action, f.action), "due_on": f.due_on,
                     "state": FOLLOWUP_STATES.get(f.state, f.state), "days": (today - f.due_on).days})
    return total, rows


def gather(session: Session, actor: Actor, scope: services.Scope,
           progress: Callable[[int, int, str], None] | None = None) -> Report:
    from backend.directory.models import Department
    from backend.inspections.deadlines import today_shanghai

    def step(done, total, message):
        if progress is not None:
            progress(done, total, message)

    today = today_shanghai()
    departments = _departments(session, scope)
    regions = _regions(session, scope)
    total = 1 + len(departments) + len(regions) + 3
    done = 0
    step(done, total, "正在统计总体情况")
    overall = services.figures(session, scope)
    done += 1
    by_department = []
    for d in departments:
        step(done, total, f"正在统计{d.name}")
        by_department.append((d.name, services.figures(session, dataclasses.replace(scope, department_id=d.id))))
        done += 1
    by_region = []
    for code, name in regions:
        step(done, total, f"正在统计{name}")
        by_region.append((f"{name}（{code}）" if name != code else code,
                          services.figures(session, dataclasses.replace(scope, region=code))))
        done += 1
    step(done, total, "正在整理逾期清单")
    late_publication = _late_publication(session, scope, today)
    late_tasks = _late_tasks(session, scope, today)
    late_followups = _late_followups(session, actor, scope, today)
    step(total, total, "正在生成 PDF")
    department = (session.get(Department, scope.department_id).name if scope.department_id is not None
                  else "全部部门")
    return Report(scope, department, _region_words(session, scope.region), dt.datetime.now(dt.timezone.utc),
                  overall, by_department, by_region, late_publication, late_tasks, late_followups)


# --- rendering ----------------------------------------------------------------------------------------------

def rate_text(figure: dict) -> str:
    if figure["rate"] is None:
        return "—"
    return f"{figure['rate']:.2f}" if figure["key"] == "joint" else f"{figure['rate'] * 100:.2f}%"


def count_text(figure: dict) -> str:
    return f"{figure['numerator']}/{figure['denominator']}"


def _target_text(figure: dict) -> str:
    return "—" if figure["target"] is None else f"{figure['target'] * 100:.0f}%"


def _day(value) -> str:
    return value.isoformat() if value else "—"


class _Writer:
    def __init__(self, out: pdf._Pdf, report: Report, tz: ZoneInfo):
        self.pdf, self.r, self.tz = out, report, tz

    def kv(self, label: str, value: str) -> None:
        self.pdf.grid_row([pdf.Cell(label, 30, True), pdf.Cell(value, pdf.WIDTH - 30)])

    def title(self) -> None:
        out, r = self.pdf, self.r
        out.use(16, bold=True)
        with out.strong_text():
            out.cell(pdf.WIDTH, 9, TITLE, align="C", new_x="LMARGIN", new_y="NEXT")
        out.use(11)
        out.cell(pdf.WIDTH, 7, f"（{quarter_words(r.scope.period)}）", align="C", new_x="LMARGIN", new_y="NEXT")
        out.ln(2)
        self.kv("通报范围", f"{r.department}；{r.region}")
        self.kv("统计期间", f"{r.scope.period.first.isoformat()} 至 {r.scope.period.last.isoformat()}"
                          f"（{r.scope.period.text}，按任务截止日期归属）")
        self.kv("生成时间", f"{r.generated_at.astimezone(self.tz):%Y-%m-%d %H:%M}（逾期按生成之日计）")
        self.kv("统计口径", "未公示即未检查：已提交且已公示（或经批准不适合公开）方计为完成。各指标定义见 docs/figures.md")

    def overall(self) -> None:
        out = self.pdf
        out.heading("一、总体情况")
        widths = (30, 24, 20, 16, 90)
        head = ["指标", "分子/分母", "比率", "目标", "口径（分子 / 分母）"]

        def header():
            out.grid_row([pdf.Cell(t, w, True) for t, w in zip(head, widths)], size=pdf.SMALL)

        header()
        for f in self.r.overall:
            out.grid_row([pdf.Cell(f["label"], widths[0]), pdf.Cell(count_text(f), widths[1]),
                          pdf.Cell(rate_text(f), widths[2]), pdf.Cell(_target_text(f), widths[3]),
                          pdf.Cell(f"{f['numerator_label']} / {f['denominator_label']}", widths[4])],
                         size=pdf.SMALL, repeat=header)
            for risk in f.get("by_risk_class") or []:
                rate = "—" if risk["rate"] is None else f"{risk['rate'] * 100:.2f}%"
                out.grid_row([pdf.Cell(f"　风险等级 {risk['risk_class']}", widths[0]),
                              pdf.Cell(f"{risk['numerator']}/{risk['denominator']}", widths[1]),
                              pdf.Cell(rate, widths[2]), pdf.Cell("—", widths[3]),
                              pdf.Cell("抽取时所在的风险等级分层", widths[4])], size=pdf.SMALL, repeat=header)
        joint = next(f for f in self.r.overall if f["key"] == "joint")
        out.para(f"联合检查为企业减少进门 {joint.get('spared_visits', 0)} 次（各部门单独检查需进门次数减去实际进门次数）。",
                 pdf.SMALL)

    def matrix(self, heading: str, first: str, rows: list[tuple[str, list[dict]]], empty: str) -> None:
        out = self.pdf
        out.heading(heading)
        if not rows:
            out.para(empty)
            return
        width = (pdf.WIDTH - NAME_W) / len(MATRIX_KEYS)

        def header():
            out.grid_row([pdf.Cell(first, NAME_W, True)]
                         + [pdf.Cell(services.FIGURES[k].label, width, True, "C") for k in MATRIX_KEYS], size=pdf.TINY)

        header()
        for name, figures in rows:
            by_key = {f["key"]: f for f in figures}
            out.grid_row([pdf.Cell(name, NAME_W)]
                         + [pdf.Cell(f"{rate_text(by_key[k])}\n{count_text(by_key[k])}", width, align="C")
                            for k in MATRIX_KEYS], size=pdf.TINY, repeat=header)
        out.para("每格上为比率，下为分子/分母；“—”为分母为 0。进一次门、查多项事为每次进门的部门数。", pdf.TINY)

    def table(self, heading: str, total: int, head: list[tuple[str, float]], rows: list[list[str]], empty: str) -> None:
        out = self.pdf
        out.heading(f"{heading}（共 {total} 项）")
        if not rows:
            out.para(empty)
            return

        def header():
            out.grid_row([pdf.Cell(t, w, True) for t, w in head], size=pdf.SMALL)

        header()
        for n, row in enumerate(rows, 1):
            out.grid_row([pdf.Cell(str(n), head[0][1], align="C")]
                         + [pdf.Cell(text, w) for text, (_, w) in zip(row, head[1:])], size=pdf.SMALL, repeat=header)
        if total > len(rows):
            out.para(f"仅列出前 {len(rows)} 项，其余见系统中的清单。", pdf.SMALL)

    def lists(self) -> None:
        r = self.r
        total, rows = r.late_publication
        self.table("四、逾期未公示的检查结果", total,
                   [("序号", 10), ("任务编号", 30), ("检查对象", 62), ("完成日期", 26), ("公示期限", 26), ("逾期天数", 26)],
                   [[x["task_code"], x["target_name"], _day(x["completed_on"]), _day(x["publication_due_on"]),
                     str((r.generated_at.astimezone(self.tz).date() - x["publication_due_on"]).days)] for x in rows],
                   "无。")
        total, rows = r.late_tasks
        self.table("五、逾期未完成的抽查任务", total,
                   [("序号", 10), ("任务编号", 30), ("任务名称", 58), ("牵头部门", 34), ("截止日期", 24),
                    ("未完成/抽取", 24)],
                   [[t["code"], t["name"], t["lead"], _day(t["end_date"]), f"{t['not_done']}/{t['drawn']}"]
                    for t in rows], "无。")
        total, rows = r.late_followups
        self.table("六、逾期未办结的后续处置", total,
                   [("序号", 10), ("任务编号", 28), ("检查对象", 48), ("负责部门", 30), ("处置方式", 24),
                    ("整改期限", 20), ("状态", 20)],
                   [[f["task"], f["target"], f["department"], f["action"], _day(f["due_on"]), f["state"]]
                    for f in rows], "无。")


def render(report: Report, settings: pdf.Settings) -> pdf.Rendered:
    from backend.inspections.pdf_assets import find_fonts

    fonts = find_fonts(settings.font, settings.font_bold)
    words = repr((report.department, report.region, report.by_department, report.by_region, report.late_publication,
                  report.late_tasks, report.late_followups))
    period = report.scope.period
    out = pdf._Pdf(fonts, draft=False, running_head=f"{TITLE} · {quarter_words(period)} · {report.department}",
                   footer_left=f"统计期间 {period.text} · {report.department}", fallback=bool(fonts.regular.lacks(words)))
    out.footer = lambda: _footer(out)
    out.set_creation_date(report.generated_at)
    out.set_title(f"{TITLE} {period.text} {report.department}")
    out.set_author("双随 Shuangsui")
    out.set_subject(TITLE)
    out.set_lang("zh-CN")
    out.add_page()
    w = _Writer(out, report, ZoneInfo(settings.timezone))
    w.title()
    w.overall()
    w.matrix("二、各部门情况", "部门", report.by_department, "本期没有部门参与的抽查任务。")
    w.matrix("三、各区划（乡镇）情况", "区划", report.by_region, "本期没有抽取的检查对象。")
    w.lists()
    return pdf.Rendered(bytes(out.output()), out.pages_count)


def _footer(out) -> None:
    out.set_y(-12)
    out.use(pdf.TINY)
    out.set_text_color(90, 90, 90)
    out.cell(pdf.WIDTH / 3, 5, out.footer_left, align="L")
    out.cell(pdf.WIDTH / 3, 5, f"第 {out.page_no()} 页 共 {{nb}} 页", align="C")
    out.cell(pdf.WIDTH / 3, 5, "双随 · 监管工作通报", align="R")
    out.set_text_color(0, 0, 0)


def file_name(report_scope: services.Scope, department: str | None = None) -> str:
    suffix = f"-{department}" if department and department != "全部部门" else ""
    region = f"-{report_scope.region}" if report_scope.region else ""
    return f"监管工作通报-{report_scope.period.text}{suffix}{region}.pdf".replace("/", "_")


def make(session: Session, actor: Actor, scope: services.Scope, settings: pdf.Settings,
         progress: Callable[[int, int, str], None] | None = None) -> tuple[Report, pdf.Rendered]:
    report = gather(session, actor, scope, progress)
    return report, render(report, settings)


# --- the job ------------------------------------------------------------------------------------------------

@job(JOB)
def report_job(ctx, quarter: str, department_id: int | None = None, region: str | None = None):
    """Gather the figures of the quarter (read transaction), render the PDF, store it, audit it."""
    from backend.audit import services as audit
    from backend.jobs.exports import _media_dir, spooled

    media_dir = _media_dir(ctx)
    settings = pdf.Settings.from_config(ctx.config or {}, media_dir)
    with ctx.db.session_scope(write=False) as session:
        scope = quarter_scope(ctx.actor, quarter, department_id, region)
        report, rendered = make(session, ctx.actor, scope, settings,
                                lambda done, total, message: ctx.progress(done, total, message, force=True))
    name = file_name(scope, report.department)
    with spooled(media_dir, lambda out: out.write(rendered.data), ".pdf") as file, \
            ctx.db.session_scope() as session:
        sha256, size = file.sha256, file.size
        file.keep(session, ctx.job_id)
        audit.record(session, ctx.actor, "figures.report", "figure", scope.period.text,
                     department_id=scope.department_id,
                     detail={"quarter": scope.period.text, "department_id": scope.department_id, "region": scope.region,
                             "sha256": sha256, "pages": rendered.pages, "job_id": ctx.job_id})
    return {"format": "pdf", "media_type": "application/pdf", "file_name": name,
            "ascii_name": f"report-{scope.period.text}.pdf", "sha256": sha256, "size": size, "pages": rendered.pages,
            "quarter": scope.period.text, "department_id": scope.department_id, "region": scope.region,
            "download": f"/api/v1/figures/report/{ctx.job_id}"}
