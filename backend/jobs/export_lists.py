"""The lists exported through ``backend.jobs.exports`` (at once when small, as a job when large or asked):
the inspections behind a figure, the follow-up register (台帐), the 经营异常名录 review list and the national
publicity system's batch file. Each only names its domain's own query, rows and record; nothing is counted
here a second time.

``params`` is what the route parsed, as JSON (dates as ISO text, the caller's department scope applied).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from backend.jobs.exports import Export, register

BATCH = 1000


def _count(session, stmt) -> int:
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def _day(value):
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _today() -> str:
    return f"{dt.date.today():%Y%m%d}"


# --- the inspections behind a figure's number (GET /api/v1/figures/<figure>/items/export) ------------------

FIGURE_ITEM_HEADERS = ["检查编号", "任务编号", "任务名称", "任务截止日期", "检查对象", "对象代码", "区划代码", "风险等级",
                       "检查状态", "完成日期", "公示期限", "公示时间", "经批准不公开时间", "公示状态"]
PUBLICATION_STATES = {"published": "已公示", "exempt": "经批准不公开", "overdue": "逾期未公示",
                      "unpublished": "已提交未公示", "open": "未完成"}
INSPECTION_STATES = {"assigned": "待检查", "in_progress": "检查中", "completed": "已完成"}
PARTS = {"numerator": "分子", "denominator": "分母", "missing": "缺口"}


def _figure_scope(actor, params):
    from backend.figures import services

    return services.scope_of(actor, params)


def _figure_query(session, actor, params):
    from backend.figures import services

    services.settle(session)          # the figure facts reflect what this session wrote
    return services.items_query(session, _figure_scope(actor, params), params["figure"], params["part"])


def _figure_rows(session, actor, params):
    from backend.figures import services

    stmt = _figure_query(session, actor, params).execution_options(yield_per=BATCH)

    def text(v):
        return "" if v is None else v.isoformat(timespec="seconds") if isinstance(v, dt.datetime) else str(v)

    # one query, streamed (a server-side cursor on PostgreSQL): the list is sorted once, not once per batch
    for chunk in session.scalars(stmt).partitions():
        for r in services.item_rows(session, services.inspections_of(session, list(chunk))):
            yield [str(r["id"]), r["task_code"], r["task_name"], text(r["task_end_date"]), r["target_name"],
                   r["target_code"], r["region_code"] or "", r["risk_class"] or "",
                   INSPECTION_STATES.get(r["status"], r["status"]), text(r["completed_on"]),
                   text(r["publication_due_on"]), text(r["published_at"]), text(r["publication_exempt_at"]),
                   PUBLICATION_STATES.get(r["publication_state"], r["publication_state"])]


def _figure_name(params, fmt):
    from backend.figures.services import FIGURES

    label = FIGURES[params["figure"]].label if params.get("figure") in FIGURES else params.get("figure")
    return f"{label}-{PARTS.get(params.get('part'), '')}清单-{params.get('period') or dt.date.today().year}.{fmt}"


def _figure_record(session, actor, params, fmt, written):
    from backend.audit import services as audit

    audit.record(session, actor, "figures.export_items", "figure", params.get("figure"),
                 department_id=params.get("department_id"),
                 detail={**{k: v for k, v in params.items() if v is not None}, "format": fmt, "rows": written["rows"],
                         "job_id": written.get("job_id")})
    return None


register(Export(
    kind="figures.items", title="指标背后的检查清单", headers=FIGURE_ITEM_HEADERS,
    count=lambda s, a, p: _count(s, _figure_query(s, a, p)), rows=_figure_rows, file_name=_figure_name,
    ascii_name=lambda p, fmt: f"figure-{p.get('figure')}-{p.get('part')}-{p.get('period') or 'year'}.{fmt}",
    record=_figure_record))


# --- the follow-up register (GET /api/v1/followups/register.xlsx) -----------------------------------------

def _register_args(params):
    return {**params, "due_before": _day(params.get("due_before"))}


def _register_query(session, actor, params):
    from backend.followups import services

    return services.register_query(session, actor, _register_args(params))


def _register_record(session, actor, params, fmt, written):
    from backend.audit import services as audit

    audit.record(session, actor, "followup.export", "followup", None, department_id=actor.department_id,
                 detail={"rows": written["rows"], "job_id": written.get("job_id"),
                         **{k: v for k, v in params.items() if v is not None}})
    return None


def _register_headers():
    from backend.followups.services import REGISTER_HEADERS

    return REGISTER_HEADERS


def _register_rows(session, actor, params):
    from backend.followups import services

    return services.register_rows(session.scalars(_register_query(session, actor, params)))


register(Export(
    kind="followups.register", title="后续处置台帐", headers=_register_headers(),
    count=lambda s, a, p: _count(s, _register_query(s, a, p)), rows=_register_rows,
    file_name=lambda p, fmt: f"后续处置台帐_{_today()}.{fmt}", ascii_name=lambda p, fmt: f"followups_{_today()}.{fmt}",
    record=_register_record, formats=("xlsx",)))


# --- the 经营异常名录 review list (GET /api/v1/publication/abnormal/file) ------------------------------------

def _abnormal_args(params):
    return {"department_id": params.get("department_id"), "from_": _day(params.get("from")), "to": _day(params.get("to"))}


def _abnormal_query(actor, params):
    from backend.publication import exports

    return exports.abnormal_query(actor, _abnormal_args(params))


def _abnormal_rows(session, actor, params):
    from backend.publication import exports

    stmt = _abnormal_query(actor, params).execution_options(yield_per=BATCH)
    for chunk in session.execute(stmt).partitions():
        yield from (exports.abnormal_table(r) for r in exports.abnormal_rows(session, chunk))


def _abnormal_record(session, actor, params, fmt, written):
    from backend.audit.services import record as audit

    audit(session, actor, "abnormal.export", "inspection", None, department_id=actor.department_id,
          detail={"format": fmt, "rows": written["rows"], "from": params.get("from"), "to": params.get("to"),
                  "job_id": written.get("job_id")})
    return None


def _abnormal_headers():
    from backend.publication.exports import ABNORMAL_HEADERS

    return ABNORMAL_HEADERS


register(Export(
    kind="publication.abnormal", title="经营异常名录待审", headers=_abnormal_headers(),
    # an upper bound: the records mentioning the code (each row is checked exactly when written)
    count=lambda s, a, p: _count(s, _abnormal_query(a, p)),
    rows=_abnormal_rows, file_name=lambda p, fmt: f"经营异常名录待审_{_today()}.{fmt}",
    ascii_name=lambda p, fmt: f"abnormal_{_today()}.{fmt}", record=_abnormal_record))


# --- the national publicity system's batch file (GET /api/v1/publication/exports/file) --------------------

def _national_args(actor, params):
    from backend.publication import exports

    start, end = _day(params["from"]), _day(params["to"])
    exports.check_period(start, end)
    return exports.scope_department(actor, params.get("department_id")), start, end


def _national_count(session, actor, params):
    from backend.publication import exports

    return _count(session, exports.national_query(*_national_args(actor, params)))


def _national_rows(session, actor, params):
    from backend.publication import exports

    return exports.national_rows(session, *_national_args(actor, params))


def _national_record(session, actor, params, fmt, written):
    """Keep the export (``publication_export``, listed by GET /api/v1/publication/exports) and audit it."""
    from backend.audit.services import record as audit
    from backend.publication import exports
    from backend.publication.models import PublicationExport

    department_id, start, end = _national_args(actor, params)
    row = PublicationExport(department_id=department_id, period_from=start, period_to=end, format=fmt,
                            rows=written["rows"], sha256=written["sha256"], size=written["size"],
                            file_name=written["file_name"], source="api", job_id=written.get("job_id"),
                            created_by=actor.user_id)
    session.add(row)
    session.flush()
    audit(session, actor, "publication.export", "publication_export", row.id, department_id=department_id,
          detail={"from": start.isoformat(), "to": end.isoformat(), "format": fmt, "rows": written["rows"],
                  "sha256": written["sha256"]})
    return {"export_id": row.id, "download": exports.export_view(row)["download"]}


def _national_name(params, fmt):
    from backend.publication.exports import national_file_name

    return national_file_name(_day(params["from"]), _day(params["to"]), fmt)


def _national_headers():
    from backend.publication.exports import NATIONAL_HEADERS

    return NATIONAL_HEADERS


register(Export(
    kind="publication.national", title="抽查检查结果", headers=_national_headers(), count=_national_count,
    rows=_national_rows,
    file_name=_national_name,
    ascii_name=lambda p, fmt: f"publication_{_day(p['from']):%Y%m%d}-{_day(p['to']):%Y%m%d}.{fmt}",
    record=_national_record, keep=True))
