"""The notice to the business (检查结果告知书): a PDF made when a result is published, in the style of the
检查记录表 (``backend.inspections.pdf``), from the published document only (the whitelist of ``redaction``), so
it holds nothing the public answer does not. A job (``publication.render_notice``) renders it after the
publication commits, stores it with the inspection's files and then calls :func:`notify_business`.

Sending the notice by SMS or e-mail is not built here: the reminders work adds a ``Notifier`` interface in
``backend.notifications``; :func:`notify_business` is the hook it plugs into (for now it only logs).
"""
from __future__ import annotations

import dataclasses
import logging
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.errors import Forbidden, NotFound
from backend.inspections import pdf
from backend.inspections.pdf_assets import find_fonts
from backend.media import storage
from backend.publication.models import PublishedResult

JOB = "publication.render_notice"
TITLE = "检查结果告知书"
RETRY_AFTER_S = 2
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Pending:
    job_id: str
    job_status: str

    def body(self) -> dict:
        return {"state": "rendering", "job_id": self.job_id, "job_status": self.job_status,
                "retry_after": RETRY_AFTER_S, "message": "检查结果告知书正在生成，请稍候再取"}


def notify_business(session: Session, result: PublishedResult, notice_sha256: str) -> None:
    """Tell the business its result (the hook for ``backend.notifications``' Notifier: SMS or e-mail). Logs only."""
    log.info("notify_business: result %s (inspection %s, %s) notice %s — no notifier configured, logged only",
             result.id, result.inspection_id, result.target_name, notice_sha256[:16])


def render(row: PublishedResult, settings: pdf.Settings) -> pdf.Rendered:
    """The notice as PDF bytes, from the published document alone."""
    doc = row.document
    fonts = find_fonts(settings.font, settings.font_bold)
    business = doc["business"]
    code = business.get("uscc") or business.get("reg_no") or "—"
    words = repr(doc)
    out = pdf._Pdf(fonts, draft=False, running_head=f"{TITLE} · {doc['task']['code']} · {business['name']}",
                   footer_left=f"公示编号 {row.id} · 第 {row.version} 版", fallback=bool(fonts.regular.lacks(words)))
    out.footer = lambda: _footer(out)
    published = row.published_at.astimezone(ZoneInfo(settings.timezone))
    out.set_creation_date(row.published_at)
    out.set_title(f"{TITLE} {doc['task']['code']} {business['name']}")
    out.set_author("双随 Shuangsui")
    out.set_subject(TITLE)
    out.set_lang("zh-CN")
    out.add_page()
    out.use(16, bold=True)
    with out.strong_text():
        out.cell(pdf.WIDTH, 10, TITLE, align="C", new_x="LMARGIN", new_y="NEXT")
    out.ln(2)
    out.para(f"{business['name']}（统一社会信用代码/注册号：{code}）：")
    authorities = "、".join(a["name"] for a in doc["authorities"])
    out.para(f"    根据{doc['plan']['name']}（{doc['plan']['code']}），{authorities}于 {doc['completed_on']} 对你单位"
             f"完成了{doc['task']['joint_label']}（{doc['task']['type_label']}，任务编号 {doc['task']['code']}，"
             f"{doc['task']['name']}）。现将检查结果告知如下：")
    out.heading("一、检查事项")
    widths = (12, 98, 70)
    out.grid_row([pdf.Cell("序号", widths[0], True, "C"), pdf.Cell("检查事项", widths[1], True),
                  pdf.Cell("检查主体（检查方式）", widths[2], True)])
    for n, item in enumerate(doc["items"], 1):
        methods = "、".join(m["label"] for m in item["methods"]) or "—"
        out.grid_row([pdf.Cell(str(n), widths[0], align="C"), pdf.Cell(f"{item['name']}（{item['code']}）", widths[1]),
                      pdf.Cell(f"{item['department']}（{methods}）", widths[2])])
    if not doc["items"]:
        out.para("（本次未检查具体事项）")
    out.heading("二、检查结果")
    out.para("；".join(c["label"] for c in doc["result_categories"]) + "。")
    if doc.get("remarks"):
        out.para(f"备注：{doc['remarks']}")
    out.heading("三、公示")
    out.para(f"    本结果已于 {published:%Y-%m-%d} 由{doc['publisher']['name']}依法向社会公示（公示编号 {row.id}，第 "
             f"{row.version} 版），可在公示系统按公示编号或检查记录哈希查询核对。你单位如对检查结果有异议，可自收到本"
             f"告知书之日起向{doc['publisher']['name']}书面提出，并提供相关证明材料。")
    out.use(pdf.SMALL)
    out.para(f"检查记录哈希（SHA-256）：{doc.get('record_hash') or '—'}", size=pdf.SMALL)
    from backend.publication.redaction import document_sha256

    out.para(f"公示内容哈希（SHA-256）：{document_sha256(doc)}", size=pdf.SMALL)
    out.ln(8)
    out.use(pdf.BODY)
    out.cell(pdf.WIDTH, 6, doc["publisher"]["name"], align="R", new_x="LMARGIN", new_y="NEXT")
    out.cell(pdf.WIDTH, 6, f"{published:%Y 年 %m 月 %d 日}", align="R", new_x="LMARGIN", new_y="NEXT")
    return pdf.Rendered(bytes(out.output()), out.pages_count)


def _footer(out) -> None:
    out.set_y(-12)
    out.use(pdf.TINY)
    out.set_text_color(90, 90, 90)
    out.cell(pdf.WIDTH / 3, 5, out.footer_left, align="L")
    out.cell(pdf.WIDTH / 3, 5, f"第 {out.page_no()} 页 共 {{nb}} 页", align="C")
    out.cell(pdf.WIDTH / 3, 5, "双随 · 检查结果告知书", align="R")
    out.set_text_color(0, 0, 0)


def file_name(row: PublishedResult) -> str:
    return f"检查结果告知书-{row.task_code}-{row.target_name}-{row.version}.pdf".replace("/", "_")


def link(session: Session, settings: pdf.Settings, result_id: int, rendered: pdf.Rendered, actor: Actor) -> dict:
    """Store the rendered notice, make it the result's, tell the business (the hook); commits."""
    from backend.media import services as media

    row = session.scalar(select(PublishedResult).where(PublishedResult.id == result_id).with_for_update()
                         .execution_options(populate_existing=True))
    if row.notice_sha256 and storage.get(settings.media_dir).exists(row.notice_sha256):
        session.commit()
        return {"result_id": result_id, "sha256": row.notice_sha256, "skipped": "告知书已生成"}
    stored = media.add_generated(session, settings.media_dir, rendered.data, kind="pdf", media_type="application/pdf",
                                 filename=file_name(row), actor=actor)
    media.add_references(session, [stored.sha256], row.inspection_id, Actor.system("notice"))
    row.notice_sha256 = stored.sha256
    audit.record(session, actor, "publication.notice", "published_result", row.id, department_id=row.department_id,
                 detail={"sha256": stored.sha256, "size": len(rendered.data), "pages": rendered.pages})
    notify_business(session, row, stored.sha256)
    session.commit()
    return {"result_id": result_id, "sha256": stored.sha256, "size": len(rendered.data), "pages": rendered.pages}


def schedule(session: Session, queue, actor: Actor, result_id: int):
    """Enqueue the rendering of a result just published (after its commit; ``enqueue`` commits the job)."""
    from backend.jobs import services as jobs

    if queue is None:
        return None
    return jobs.enqueue(session, queue, JOB, {"result_id": result_id}, actor, max_attempts=2)


def _own(actor: Actor, row: PublishedResult) -> None:
    from backend.publication.results import _forbid_role

    _forbid_role(actor)
    if actor.department_id != row.department_id:
        raise Forbidden("只能下载本部门发布的检查结果告知书", code="forbidden.department")


def fetch(session: Session, actor: Actor, result_id: int, settings: pdf.Settings, queue):
    """The notice's stored file (its SHA-256 in ``storage.get(settings.media_dir)``), or the job making it
    (started when none is under way)."""
    from backend.jobs.models import Job

    row = session.get(PublishedResult, result_id)
    if row is None:
        raise NotFound("公示结果不存在", code="result.not_found")
    _own(actor, row)
    if row.notice_sha256 and storage.get(settings.media_dir).exists(row.notice_sha256):
        return row, row.notice_sha256
    active = session.scalars(select(Job).where(Job.name == JOB, Job.status.in_(("queued", "running", "retrying")))
                             .order_by(Job.created_at.desc())).all()
    mine = next((j for j in active if (j.params or {}).get("result_id") == result_id), None)
    if mine is not None:
        return row, Pending(mine.id, mine.status)
    from backend.inspections.record_pdf import RenderFailed

    job = schedule(session, queue, actor, result_id)
    if job is None:
        raise RenderFailed(message="后台任务队列不可用，暂时无法生成检查结果告知书")
    session.expire_all()
    row = session.get(PublishedResult, result_id)
    if row.notice_sha256 and storage.get(settings.media_dir).exists(row.notice_sha256):   # run at once (tests, CLI)
        return row, row.notice_sha256
    job = session.get(Job, job.id)
    if job.status == "failed":
        raise RenderFailed(message="检查结果告知书生成失败，请稍后再试", details={"job_id": job.id})
    return row, Pending(job.id, job.status)

