"""The submitted record as a PDF 检查记录表: A4, Chinese, with photos, signatures and the record's hash.

Layout after the 市场监管领域随机抽查情况记录表 (research/domain.md §1c): the task and the business; the
visit; per department its items (method and evidence) and a table of check points (是否检查 | 检查结果 |
发现问题情况 | 处置情况 | 备注) with each point's photos, GPS fix and flags; the result categories,
follow-ups, opinion and publication choice; every valid signature; the record's content hash, each
section's signed hash, the completion date and the publication due date. Page numbers "第 n 页 共 m 页".

Long content flows: paragraphs through fpdf2's automatic page break, table rows through
:meth:`_Pdf.grid_row`, which cuts a row taller than the room left at a line boundary and continues
it on the next page under the repeated header row (a 2,000-character finding never overlaps the footer).

The output is a function of the stored record: the creation date is the completion time, fonts are
subset the same way, images are the same bytes, so rendering a submitted record twice gives the same
PDF (same SHA-256) while its thumbnails are unchanged.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
import logging
import re
from typing import Any, Callable
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import TextMode
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.directory.models import CheckPoint, Item
from backend.directory.rules import ITEM_KINDS, METHODS
from backend.errors import NotFound
from backend.inspections import bundle
from backend.inspections.deadlines import provisional_words
from backend.inspections.models import SIGNATURE_ROLES, Inspection, Signature
from backend.inspections.pdf_assets import (FontMissing, Fonts, draw_strokes, find_fonts, forget_fonts, photo_bytes,
                                             signature_image)
from backend.inspections.rules import (ATTACHMENT_KINDS, FOLLOWUP_ACTIONS, GPS_SOURCES, HANDLING, OUTCOMES,
                                       POINT_RESULTS, RESULT_CATEGORIES)

TITLE = "市场监管领域随机抽查检查记录表"
REINSPECTION_TITLE = "市场监管领域随机抽查复查记录表"     # a follow-up's 复查 (followups/reinspections.py)
FONT = "cjk"
WIDTH = 180.0                    # A4 minus 15 mm margins
BODY, SMALL, TINY = 9.0, 7.5, 6.5
PAD = 0.8                        # vertical padding inside a table cell (mm)
LABEL_FILL = (242, 242, 242)
PHOTO_W, PHOTO_H, CAPTION_H = 38.0, 28.0, 3.4
LONG_CELL = 120                  # characters: a longer finding or note is set full width under its row
POINT_HEAD = (("序号", 9), ("检查内容", 47), ("是否检查", 13), ("检查结果", 18), ("发现问题情况", 39),
              ("处置情况", 26), ("备注", 28))
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclasses.dataclass(frozen=True)
class Settings:
    media_dir: str
    font: str | None = None
    font_bold: str | None = None
    timezone: str = "Asia/Shanghai"
    thumb_edge: int = 320           # a photo's thumbnail made here is the one the server stores (MEDIA_*)
    public_max_edge: int = 2560

    @classmethod
    def from_config(cls, config, media_dir: str | None = None) -> "Settings":
        return cls(media_dir=str(media_dir or config["MEDIA_DIR"]), font=config.get("PDF_FONT") or None,
                   font_bold=config.get("PDF_FONT_BOLD") or None, timezone=str(config.get("TIMEZONE", "Asia/Shanghai")),
                   thumb_edge=int(config.get("MEDIA_THUMB_EDGE", 320)),
                   public_max_edge=int(config.get("MEDIA_PUBLIC_MAX_EDGE", 2560)))


@dataclasses.dataclass(frozen=True)
class Rendered:
    data: bytes
    pages: int


@dataclasses.dataclass(frozen=True)
class Cell:
    text: str
    width: float
    label: bool = False          # a grey label cell
    align: str = "L"


def _clean(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))


def _lh(size: float) -> float:
    """Line height in mm for a font size in points."""
    return size * 0.3528 * 1.38


class _Pdf(FPDF):
    """A4 pages with the running head, the 草稿 mark on drafts, and "第 n 页 共 m 页"."""

    def __init__(self, fonts: Fonts, *, draft: bool, running_head: str, footer_left: str, fallback: bool = False):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.set_margins(15, 14, 15)
        self.set_auto_page_break(True, margin=16)
        self.add_font(FONT, "", fonts.regular.path, collection_font_number=fonts.regular.index)
        self.strong = ""
        if fonts.bold is not None:
            self.add_font(FONT, "B", fonts.bold.path, collection_font_number=fonts.bold.index)
            self.strong = "B"
        if fallback and fonts.fallback is not None:   # only when the text has characters the font lacks
            self.add_font(FONT + "fb", "", fonts.fallback.path, collection_font_number=fonts.fallback.index)
            self.set_fallback_fonts([FONT + "fb"], exact_match=False)
        self.draft, self.running_head, self.footer_left = draft, running_head, footer_left
        self.alias_nb_pages()

    def use(self, size: float = BODY, bold: bool = False) -> None:
        self.set_font(FONT, self.strong if bold else "", size)

    def strong_text(self, bold: bool = True):
        """Bold text: the bold face when there is one, else the regular one filled and stroked thinly."""
        if not bold or self.strong:
            return contextlib.nullcontext()
        return self.local_context(text_mode=TextMode.FILL_STROKE, line_width=0.16)

    def header(self):
        if self.draft:
            self.use(96, bold=True)
            self.set_text_color(235, 222, 222)
            with self.rotation(35, x=self.w / 2, y=self.h / 2):
                self.text(self.w / 2 - 34, self.h / 2 + 12, "草稿")
            self.set_text_color(0, 0, 0)
        if self.page_no() > 1:
            self.use(TINY)
            self.set_text_color(110, 110, 110)
            self.set_xy(self.l_margin, 7)
            self.cell(WIDTH, 4, self.running_head, align="L")
            self.set_text_color(0, 0, 0)
            self.set_y(self.t_margin)

    def footer(self):
        self.set_y(-12)
        self.use(TINY)
        self.set_text_color(90, 90, 90)
        self.cell(WIDTH / 3, 5, self.footer_left, align="L")
        self.cell(WIDTH / 3, 5, f"第 {self.page_no()} 页 共 {{nb}} 页", align="C")
        self.cell(WIDTH / 3, 5, "草稿（未提交）" if self.draft else "双随 · 检查记录", align="R")
        self.set_text_color(0, 0, 0)

    # --- building blocks -------------------------------------------------------------------------------

    def room(self) -> float:
        return self.page_break_trigger - self.get_y()

    def ensure(self, height: float) -> None:
        """Start a new page unless ``height`` mm fit (keeps a heading with what follows it)."""
        if self.room() < height:
            self.add_page()

    def heading(self, text: str, size: float = 11.0) -> None:
        self.ensure(_lh(size) + 22)
        self.ln(2.5)
        self.use(size, bold=True)
        with self.strong_text():
            self.multi_cell(WIDTH, _lh(size) + 1, _clean(text), new_x="LMARGIN", new_y="NEXT", align="L")
        self.ln(0.8)

    def para(self, text: str, size: float = BODY, color: tuple[int, int, int] | None = None) -> None:
        self.use(size)
        if color:
            self.set_text_color(*color)
        self.multi_cell(WIDTH, _lh(size), _clean(text), new_x="LMARGIN", new_y="NEXT", align="L")
        self.set_text_color(0, 0, 0)

    def _lines(self, cell: Cell, size: float) -> list[str]:
        self.use(size, bold=cell.label)
        text = _clean(cell.text)
        if not text:
            return [""]
        return self.multi_cell(cell.width, _lh(size), text, dry_run=True, output="LINES", align="L") or [""]

    def grid_row(self, cells: list[Cell], size: float = BODY, repeat: Callable[[], None] | None = None) -> None:
        """One table row. A row taller than the room left is cut at a line and continued on the next page,
        after ``repeat`` (the table's header row) is drawn again."""
        lh = _lh(size)
        lines = [self._lines(c, size) for c in cells]
        total = max(len(col) for col in lines)
        start = 0
        while start < total:
            room = int((self.room() - 2 * PAD) // lh)
            left = total - start
            fresh = self.get_y() <= self.t_margin + 0.5
            if room < 1 or (room < min(left, 3) and not fresh):
                self.add_page()
                if repeat is not None:
                    repeat()
                continue
            take = max(1, min(room, left))
            height = take * lh + 2 * PAD
            x, y = self.l_margin, self.get_y()
            for cell, col in zip(cells, lines):
                if cell.label:
                    self.set_fill_color(*LABEL_FILL)
                    self.rect(x, y, cell.width, height, style="DF")
                else:
                    self.rect(x, y, cell.width, height)
                self.use(size, bold=cell.label)
                with self.strong_text(cell.label):
                    for k, line in enumerate(col[start:start + take]):
                        self.set_xy(x, y + PAD + k * lh)
                        self.cell(cell.width, lh, line, align=cell.align)
                x += cell.width
            self.set_xy(self.l_margin, y + height)
            start += take

    def photo_strip(self, photos: list[tuple[bytes | None, str]]) -> None:
        """Thumbnails in boxes, four to a line, each with a caption; they move to the next page whole."""
        if not photos:
            return
        gap = (WIDTH - 4 * PHOTO_W) / 3
        x, y = self.l_margin, self.get_y() + 1
        for data, caption in photos:
            if x + PHOTO_W > self.l_margin + WIDTH + 0.01:
                x, y = self.l_margin, y + PHOTO_H + CAPTION_H + 1.5
            if y + PHOTO_H + CAPTION_H > self.page_break_trigger:
                self.add_page()
                x, y = self.l_margin, self.get_y() + 1
            self.set_draw_color(170, 170, 170)
            self.rect(x, y, PHOTO_W, PHOTO_H)
            self.set_draw_color(0, 0, 0)
            placed = False
            if data:
                try:
                    self.image(io.BytesIO(data), x=x + 0.4, y=y + 0.4, w=PHOTO_W - 0.8, h=PHOTO_H - 0.8,
                               keep_aspect_ratio=True)
                    placed = True
                except Exception:  # noqa: BLE001 - an unreadable picture is shown as missing, never a failure
                    placed = False
            if not placed:
                self.use(SMALL)
                self.set_xy(x, y + PHOTO_H / 2 - 2)
                self.cell(PHOTO_W, 4, "（照片尚未上传或无法读取）", align="C")
            self.use(TINY)
            self.set_xy(x, y + PHOTO_H)
            self.cell(PHOTO_W, CAPTION_H, self.fit(caption, PHOTO_W), align="C")
            x += PHOTO_W + gap
        self.set_xy(self.l_margin, y + PHOTO_H + CAPTION_H + 1.5)

    def fit(self, text: str, width: float) -> str:
        text = _clean(text).replace("\n", " ")
        if self.get_string_width(text) <= width - 1:
            return text
        while text and self.get_string_width(text + "…") > width - 1:
            text = text[:-1]
        return text + "…"

    def signature(self, image: bytes | None, lines: list[str]) -> None:
        """A signature box (the drawn signature) with who signed, as what, and when, beside it."""
        box_w, box_h = 48.0, 16.0
        self.use(SMALL)
        text_w = WIDTH - box_w - 3
        wrapped = [ln for line in lines for ln in (self.multi_cell(text_w, _lh(SMALL), _clean(line), dry_run=True,
                                                                   output="LINES", align="L") or [""])]
        height = max(box_h, len(wrapped) * _lh(SMALL)) + 2
        self.ensure(height)
        x, y = self.l_margin, self.get_y()
        self.set_draw_color(170, 170, 170)
        self.rect(x, y, box_w, box_h)
        self.set_draw_color(0, 0, 0)
        if image:
            try:
                self.image(io.BytesIO(image), x=x + 0.5, y=y + 0.5, w=box_w - 1, h=box_h - 1, keep_aspect_ratio=True)
            except Exception:  # noqa: BLE001 - shown as missing
                image = None
        if not image:
            self.set_xy(x, y + box_h / 2 - 2)
            self.cell(box_w, 4, "（无签名图像）", align="C")
        self.use(SMALL)
        for k, line in enumerate(wrapped):
            self.set_xy(x + box_w + 3, y + k * _lh(SMALL))
            self.cell(text_w, _lh(SMALL), line)
        self.set_xy(self.l_margin, y + height)


# --- the record's content as text ---------------------------------------------------------------------------

class _Text:
    def __init__(self, timezone: str):
        self.zone = ZoneInfo(timezone)

    def when(self, value, *, date_only: bool = False) -> str:
        if not value:
            return "—"
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return _clean(value)
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(self.zone)
            return value.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M")
        return value.isoformat() if isinstance(value, dt.date) else _clean(value)

    def gps(self, fix) -> str:
        if not isinstance(fix, dict):
            return ""
        try:
            place = f"{float(fix['lat']):.6f}, {float(fix['lon']):.6f}"
        except (KeyError, TypeError, ValueError):
            return "定位数据有误"
        extra = []
        if isinstance(fix.get("accuracy"), (int, float)) and not isinstance(fix.get("accuracy"), bool):
            extra.append(f"精度 {fix['accuracy']:g} 米")
        if fix.get("datum"):
            extra.append(_clean(fix["datum"]))
        if fix.get("source"):
            extra.append(GPS_SOURCES.get(fix["source"], _clean(fix["source"])))
        if fix.get("time"):
            extra.append(self.when(fix["time"]))
        return place + (f"（{'，'.join(extra)}）" if extra else "")

    @staticmethod
    def person(p) -> str:
        if not isinstance(p, dict):
            return _clean(p)
        parts = [p.get(k) for k in ("position", "department") if p.get(k)]
        if p.get("cert_no"):
            parts.insert(0, f"执法证号 {p['cert_no']}")
        if p.get("phone"):
            parts.append(f"电话 {p['phone']}")
        return _clean(p.get("name") or "—") + (f"（{'，'.join(_clean(x) for x in parts)}）" if parts else "")

    @staticmethod
    def value(v, answer_type: str | None) -> str:
        if v is None or answer_type == "compliance":
            return ""
        if isinstance(v, bool):
            return "是" if v else "否"
        if isinstance(v, list):
            return "、".join(_clean(x) for x in v)
        return _clean(v)

    @staticmethod
    def evidence(ev) -> str:
        if not isinstance(ev, dict):
            return ""
        parts = []
        for key, label in (("documents", "审查材料"), ("sites", "监测网站或页面")):
            if ev.get(key):
                parts.append(f"{label}：" + "；".join(_clean(x) for x in ev[key]))
        for key, label in (("body", "机构"), ("report_no", "报告编号"), ("conclusion", "采信结论"), ("note", "说明")):
            if ev.get(key):
                parts.append(f"{label}：{_clean(ev[key])}")
        return "；".join(parts)


# --- gathering --------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class _Data:
    doc: dict
    task: dict
    inspection: Inspection
    departments: dict[int, dict]               # id → {id, code, name, role, items}
    points: dict[int, dict]                    # check point id → {id, seq, text, answer_type, item_id}
    items: dict[int, dict]
    signatures: list[Signature]
    original: dict | None = None               # a 复查's first inspection: id, group number, date, record hash

    @property
    def title(self) -> str:
        return REINSPECTION_TITLE if self.doc.get("reinspection") else TITLE


def _gather(session: Session, inspection_id: int) -> _Data:
    inspection = session.get(Inspection, inspection_id, populate_existing=True)
    if inspection is None:
        raise NotFound("检查记录不存在", code="inspection.not_found")
    [change] = bundle.inspection_changes(session, Actor.system("pdf"), [inspection_id], lead_view=True)
    if change["op"] != "put":
        raise NotFound(change["reason"], code=f"inspection.{change['reason_code']}")
    doc = change["data"]
    [task] = [t["data"] for t in bundle.task_changes(session, {inspection.task_id})]
    departments = {d["id"]: d for d in task["departments"]}
    items, points = {}, {}
    for d in task["departments"]:
        for it in d["items"]:
            items[it["id"]] = {**it, "department_id": d["id"]}
            for cp in it["check_points"]:
                points[cp["id"]] = {**cp, "item_id": it["id"]}
    # answers to check points retired since (or items taken off the task) are shown all the same
    answered = {int(p.split(".")[1]) for s in doc["sections"] for p in s["content"]
                if p.startswith("points.") and p.split(".")[1].isdigit()}
    unknown = answered - set(points)
    if unknown:
        for cp in session.scalars(select(CheckPoint).where(CheckPoint.id.in_(unknown))):
            points[cp.id] = {"id": cp.id, "seq": cp.seq, "text": cp.text, "answer_type": cp.answer_type,
                             "item_id": cp.item_id}
        for it in session.scalars(select(Item).where(Item.id.in_({points[c]["item_id"] for c in unknown
                                                                   if c in points}) - set(items))):
            items[it.id] = {"id": it.id, "code": it.code, "category": it.category, "name": it.name, "kind": it.kind,
                            "legal_basis": it.legal_basis, "department_id": it.department_id, "check_points": []}
    signatures = list(session.scalars(select(Signature).where(Signature.inspection_id == inspection_id,
                                                              Signature.void_at.is_(None))
                                      .order_by(Signature.created_at, Signature.id)))
    return _Data(doc, task, inspection, departments, points, items, signatures, _original(session, doc))


def _original(session: Session, doc: dict) -> dict | None:
    """A re-inspection's first inspection as the page names it (it was submitted: none of this changes)."""
    from backend.draws.models import InspectionGroup
    from backend.inspections.models import Record

    reinspection = doc.get("reinspection")
    if not reinspection:
        return None
    first = session.get(Inspection, reinspection["inspection_id"])
    if first is None:
        return {"id": reinspection["inspection_id"]}
    return {"id": first.id,
            "group_number": session.scalar(select(InspectionGroup.number).where(InspectionGroup.id == first.group_id)),
            "completed_on": first.completed_on.isoformat() if first.completed_on else reinspection.get("completed_on"),
            "record_hash": session.scalar(select(Record.content_hash).where(Record.inspection_id == first.id))}


# --- writing ---------------------------------------------------------------------------------------------------

class _Writer:
    def __init__(self, pdf: _Pdf, data: _Data, settings: Settings, draft: bool):
        self.pdf, self.data, self.settings, self.draft = pdf, data, settings, draft
        self.doc, self.t = data.doc, _Text(settings.timezone)
        self.media = self.doc.get("media") or {}
        self.shown_flags: set[int] = set()
        self.members = {m["inspector_id"]: m for m in self.doc["group"]["members"]}

    def dept_name(self, department_id) -> str:
        d = self.data.departments.get(department_id)
        if d:
            return d["name"]
        member = next((m for m in self.doc["group"]["members"] if m["department_id"] == department_id), None)
        return member["department_name"] if member else f"部门 {department_id}"

    def kv(self, *pairs: tuple[str, Any], label_w: float = 30.0) -> None:
        """A row of label/value pairs sharing the width."""
        value_w = (WIDTH - label_w * len(pairs)) / len(pairs)
        cells = []
        for label, value in pairs:
            cells += [Cell(label, label_w, label=True), Cell(_clean(value) or "—", value_w)]
        self.pdf.grid_row(cells)

    def photos_of(self, photos) -> list[tuple[bytes | None, str]]:
        out = []
        for n, p in enumerate(photos if isinstance(photos, list) else [], 1):
            if not isinstance(p, dict) or not isinstance(p.get("sha256"), str):
                continue
            sha = p["sha256"]
            caption = f"照片 {n} · {sha[:10]}"
            if p.get("caption"):
                caption = f"{_clean(p['caption'])} · {sha[:8]}"
            out.append((photo_bytes(self.settings.media_dir, sha, self.media.get(sha), thumb_edge=self.settings.thumb_edge,
                                    public_max_edge=self.settings.public_max_edge), caption))
        return out

    def flags_for(self, department_id, prefix: str) -> list[str]:
        """The messages of the flags on ``prefix`` (all those left when empty), each shown once."""
        out = []
        for f in self.doc["flags"]:
            if f["id"] in self.shown_flags or f["department_id"] != department_id:
                continue
            if not prefix or f["path"] == prefix or f["path"].startswith(prefix + "."):
                self.shown_flags.add(f["id"])
                out.append(_clean(f["message"]) + ("" if f.get("current", True) else "（此后已更新）"))
        return out

    # --- parts ---

    def title(self) -> None:
        pdf, doc, task = self.pdf, self.doc, self.data.task
        pdf.use(16, bold=True)
        with pdf.strong_text():
            pdf.cell(WIDTH, 9, self.data.title, align="C", new_x="LMARGIN", new_y="NEXT")
        if self.draft:
            pdf.para("（草稿：检查记录尚未提交，仅供组长核对，不作为正式记录）", SMALL, color=(180, 30, 30))
        pdf.ln(2)
        target = doc["target"]
        lead = next((m for m in doc["group"]["members"] if m["is_lead"]), None)
        self.kv(("任务名称", task["name"]))
        if doc.get("reinspection"):
            self.kv(("任务编号", task["code"]), ("复查组", f"组长 {lead['name']}" if lead else "—"))
            self.reinspected()
        else:
            number = doc["group"]["number"]
            self.kv(("任务编号", task["code"]), ("检查组", f"第 {number + 1} 组"
                                                         + (f"，组长 {lead['name']}" if lead else "")))
        self.kv(("被检查对象", target["name"]))
        self.kv(("统一社会信用代码/注册号", target.get("uscc") or target.get("reg_no") or target.get("code")),
                ("对象类型", target.get("type_label")))
        self.kv(("住所地址", target.get("address")))
        contact = target.get("contact") or {}
        self.kv(("法定代表人（负责人）", contact.get("legal_rep")), ("联系电话", contact.get("phone")))

    def reinspected(self) -> None:
        """A 复查: the inspection it follows up (by its 检查编号, group, date and record hash) and what was ordered."""
        task, again, first = self.data.task, self.doc["reinspection"], self.data.original or {}
        said = [f"检查编号 {first.get('id', again['inspection_id'])}"]
        if first.get("group_number") is not None:
            said.append(f"{task['code']} 第 {first['group_number'] + 1} 组")
        if first.get("completed_on"):
            said.append(f"{self.t.when(first['completed_on'], date_only=True)} 检查完成")
        if first.get("record_hash"):
            said.append(f"记录哈希 {first['record_hash'][:16]}…")
        self.kv(("原检查", "，".join(said)))
        ordered = f"责令限期整改（后续处置编号 {again['followup_id']}）"
        if again.get("due_on"):
            ordered += f"，整改期限 {self.t.when(again['due_on'], date_only=True)}"
        if again.get("note"):
            ordered += f"：{_clean(again['note'])}"
        self.kv(("复查事由", ordered))
        found = []
        for p in again.get("problems") or []:
            point = self.data.points.get(p.get("check_point_id")) or {}
            found.append("：".join(x for x in (_clean(point.get("text")), _clean(p.get("problem"))) if x) or "—")
        if found:
            self.kv(("原检查发现的问题", "；".join(found)))

    def visit(self) -> None:
        pdf, content = self.pdf, (self.doc["record"] or {}).get("content") or {}
        pdf.heading("一、检查基本情况")
        self.kv(("到达时间", self.t.when(content.get("arrived_at"))), ("离开时间", self.t.when(content.get("departed_at"))))
        officers = content.get("officers") or [
            {"name": m["name"], "cert_no": m["cert_no"], "department": m["department_name"]}
            for m in self.doc["group"]["members"]]
        self.kv(("检查人员及执法证号", "；".join(self.t.person(o) for o in officers)))
        rep = content.get("representative")
        self.kv(("被检查对象代表", self.t.person(rep) if rep else "—"))
        outcome = content.get("outcome")
        if outcome:
            self.outcome(outcome, None)

    def outcome(self, outcome: dict, department_id) -> None:
        label = OUTCOMES.get(outcome.get("code"), _clean(outcome.get("code")))
        text = f"未能实施检查：{label}" + (f"。{_clean(outcome['note'])}" if outcome.get("note") else "")
        self.pdf.grid_row([Cell("检查情况", 26, label=True), Cell(text, WIDTH - 26)])
        details = []
        if outcome.get("gps"):
            details.append("定位：" + self.t.gps(outcome["gps"]))
        details += ["【提示】" + f for f in self.flags_for(department_id, "outcome")]
        if details:
            self.pdf.grid_row([Cell("；".join(details), WIDTH)], size=SMALL)
        self.pdf.photo_strip(self.photos_of(outcome.get("photos")))

    def sections(self) -> None:
        pdf = self.pdf
        pdf.heading("二、各部门检查情况")
        by_dept = {s["department_id"]: s for s in self.doc["sections"]}
        order = list(self.data.departments) + [d for d in by_dept if d not in self.data.departments]
        numerals = "一二三四五六七八九十"
        for n, dept_id in enumerate(order):
            section = by_dept.get(dept_id)
            status = section["status_label"] if section else "未填写"
            pdf.heading(f"（{numerals[n % 10]}）{self.dept_name(dept_id)}　{status}", size=10)
            if section is None:
                pdf.para("该部门尚未填写检查内容。", SMALL)
                continue
            self.section(dept_id, section)

    def section(self, dept_id: int, section: dict) -> None:
        pdf, values = self.pdf, section["content"]
        if values.get("arrived_at") or values.get("departed_at"):
            self.kv(("到达时间", self.t.when(values.get("arrived_at"))), ("离开时间", self.t.when(values.get("departed_at"))))
        if values.get("officers"):
            self.kv(("本部门检查人员", "；".join(self.t.person(o) for o in values["officers"])))
        if values.get("outcome"):
            self.outcome(values["outcome"], dept_id)
        item_ids = [i["id"] for i in (self.data.departments.get(dept_id) or {}).get("items", [])]
        item_ids += sorted({self.data.points[int(p.split(".")[1])]["item_id"] for p in values
                            if p.startswith("points.") and p.split(".")[1].isdigit()
                            and int(p.split(".")[1]) in self.data.points} - set(item_ids))
        for n, item_id in enumerate(item_ids, 1):
            self.item(n, dept_id, self.data.items[item_id], values, section.get("server_times") or {})
        if values.get("note"):
            self.kv(("部门备注", values["note"]))
        others = self.flags_for(dept_id, "")
        if others:
            pdf.grid_row([Cell("【提示】" + "；".join(others), WIDTH)], size=SMALL)
        self.kv(("本部门内容签名哈希", section.get("signed_hash") or "（尚未签名）"), label_w=34)
        signers = [s for s in self.data.signatures if s.scope == "section" and s.department_id == dept_id]
        if signers:
            pdf.ln(1)
            pdf.ensure(_lh(SMALL) + 20)          # the caption stays with the first signature
            pdf.para(f"{self.dept_name(dept_id)}检查人员签名：", SMALL)
            for s in signers:
                self.signature(s)

    def item(self, n: int, dept_id: int, item: dict, values: dict, server_times: dict) -> None:
        pdf = self.pdf
        pdf.ensure(40)
        kind = ITEM_KINDS.get(item.get("kind"), "")
        pdf.grid_row([Cell(f"检查事项 {n}", 22, label=True),
                      Cell(f"{_clean(item.get('category'))}／{_clean(item['name'])}" + (f"（{kind}）" if kind else ""),
                           WIDTH - 22)])
        method = values.get(f"items.{item['id']}.method")
        pdf.grid_row([Cell("核查方式", 22, label=True), Cell(METHODS.get(method, _clean(method)) or "—", 36),
                      Cell("检查依据", 22, label=True), Cell(item.get("legal_basis") or "—", WIDTH - 80)])
        evidence = self.t.evidence(values.get(f"items.{item['id']}.evidence"))
        if evidence:
            pdf.grid_row([Cell("核查依据材料", 22, label=True), Cell(evidence, WIDTH - 22)])
        head = lambda: pdf.grid_row([Cell(t, w, label=True, align="C") for t, w in POINT_HEAD], size=SMALL)  # noqa: E731
        points = sorted((p for p in self.data.points.values() if p["item_id"] == item["id"]),
                        key=lambda p: (p.get("seq") or 0, p["id"]))
        pdf.ensure(_lh(SMALL) * 4 + 4 * PAD)
        head()
        for k, point in enumerate(points, 1):
            self.point(k, dept_id, point, values, server_times, head)

    def point(self, k: int, dept_id: int, point: dict, values: dict, server_times: dict, head) -> None:
        pdf, cp, t = self.pdf, point["id"], self.t
        get = lambda f: values.get(f"points.{cp}.{f}")  # noqa: E731
        checked = {True: "是", False: "否"}.get(get("checked"), "—")
        result = POINT_RESULTS.get(get("result"), "—")
        value = t.value(get("value"), point.get("answer_type"))
        if value:
            result += f"\n记录：{value}"
        handling = "、".join(HANDLING.get(h, _clean(h)) for h in (get("handling") or []))
        widths = [w for _, w in POINT_HEAD]
        # a long finding or note would make a narrow column pages tall: it goes full width under the row
        long = {f: _clean(get(f)) for f in ("problem", "note") if len(_clean(get(f))) > LONG_CELL}
        pdf.grid_row([Cell(str(k), widths[0], align="C"), Cell(point["text"], widths[1]),
                      Cell(checked, widths[2], align="C"), Cell(result, widths[3]),
                      Cell("（见本行下方）" if "problem" in long else get("problem") or "", widths[4]),
                      Cell(handling, widths[5]), Cell("（见本行下方）" if "note" in long else get("note") or "", widths[6])],
                      size=SMALL, repeat=head)
        for field, label in (("problem", "发现问题情况"), ("note", "备注")):
            if field in long:
                pdf.grid_row([Cell(label, widths[0] + widths[1], label=True), Cell(long[field], WIDTH - widths[0] - widths[1])],
                             size=SMALL, repeat=head)
        details = []
        if get("gps"):
            details.append("定位：" + t.gps(get("gps")))
        details += ["【提示】" + f for f in self.flags_for(dept_id, f"points.{cp}")]
        attachments = [a for a in (get("attachments") or []) if isinstance(a, dict)]
        if attachments:
            details.append("附件：" + "；".join(
                f"{_clean(a.get('name') or a.get('caption') or '附件')}（{ATTACHMENT_KINDS.get(a.get('kind'), '文件')}，"
                f"{str(a.get('sha256'))[:12]}）" for a in attachments))
        times = server_times.get(str(cp)) or {}
        if get("device_time") or times:
            details.append(f"填写时间：手机 {t.when(get('device_time'))}，服务器收到 {t.when(times.get('first_at'))}"
                           + (f"，最后更新 {t.when(times['updated_at'])}" if times.get("updated_at")
                              and times.get("updated_at") != times.get("first_at") else ""))
        if details:
            pdf.grid_row([Cell("；".join(details), WIDTH)], size=TINY, repeat=head)
        photos = self.photos_of(get("photos"))
        if photos:
            pdf.photo_strip(photos)

    def results(self) -> None:
        pdf, content = self.pdf, (self.doc["record"] or {}).get("content") or {}
        pdf.heading("三、检查结果及后续处置")
        cats = content.get("result_categories") or []
        self.kv(("检查结果", "；".join(RESULT_CATEGORIES.get(c, _clean(c)) for c in cats) or "—"))
        followups = [f for f in (content.get("followups") or []) if isinstance(f, dict)]
        widths = (10, 40, 44, 26, WIDTH - 120)
        head = lambda: pdf.grid_row([Cell(t, w, label=True, align="C") for t, w in  # noqa: E731
                                     zip(("序号", "后续处置措施", "负责部门", "完成期限", "说明"), widths)], size=SMALL)
        if followups:
            pdf.ensure(20)
            head()
            for n, f in enumerate(followups, 1):
                pdf.grid_row([Cell(str(n), widths[0], align="C"),
                              Cell(FOLLOWUP_ACTIONS.get(f.get("action"), _clean(f.get("action"))), widths[1]),
                              Cell(self.dept_name(f.get("department_id")), widths[2]),
                              Cell(_clean(f.get("due_on")) or "—", widths[3], align="C"),
                              Cell(f.get("note") or "", widths[4])], size=SMALL, repeat=head)
        else:
            self.kv(("后续处置措施", "无"))
        self.kv(("汇总检查意见", content.get("opinion") or "—"))
        not_public = content.get("not_public")
        self.kv(("是否公开", f"不适合公开。理由：{_clean(not_public.get('reason'))}" if isinstance(not_public, dict)
                 else "依法公示检查结果"))
        leftovers = self.flags_for(None, "")
        if leftovers:
            pdf.grid_row([Cell("【提示】" + "；".join(leftovers), WIDTH)], size=SMALL)

    def signature(self, s: Signature) -> None:
        image = signature_image(self.settings.media_dir, s.image_sha256) or draw_strokes(s.strokes)
        detail = s.signer_detail or {}
        if s.role == "witness":
            lines = [f"被检查对象代表拒绝签名。理由：{_clean(detail.get('refusal_reason')) or '—'}",
                     f"见证人：{_clean(s.signer_name)}" + (f"，电话 {_clean(detail['phone'])}" if detail.get("phone") else "")]
        elif s.role == "representative":
            extra = "，".join(_clean(x) for x in (detail.get("position"), detail.get("phone") and f"电话 {detail['phone']}")
                             if x)
            lines = [f"{_clean(s.signer_name)} · 被检查对象代表" + (f"（{extra}）" if extra else "")]
        else:
            member = self.members.get(s.signer_inspector_id) or {}
            lines = [f"{_clean(s.signer_name)} · {SIGNATURE_ROLES.get(s.role, s.role)} · 执法证号 {_clean(s.signer_cert_no) or '—'}"
                     + (f" · {member['department_name']}" if member.get("department_name") else "")]
        lines.append(f"手机签名时间 {self.t.when(s.device_time)} · 服务器收到 {self.t.when(s.created_at)}"
                     + (" · 在组长手机上由本人输入密码签名" if s.via == "lead_device" and s.role == "officer" else ""))
        self.pdf.signature(image, lines)

    def signatures(self) -> None:
        pdf = self.pdf
        pdf.heading("四、签名")
        record = [s for s in self.data.signatures if s.scope == "record"]
        officers = [s for s in record if s.role == "officer"]
        pdf.ensure(_lh(SMALL) + 20)
        pdf.para("检查人员签名：" if officers else "检查人员签名：（尚无）", SMALL)
        for s in officers:
            self.signature(s)
        others = [s for s in record if s.role != "officer"]
        pdf.ensure(_lh(SMALL) + 20)
        pdf.para("被检查对象代表签名：" if others else "被检查对象代表签名：（尚无）", SMALL)
        for s in others:
            self.signature(s)

    def facts(self) -> None:
        pdf, doc = self.pdf, self.doc
        pdf.heading("五、记录信息")
        depts = [self.dept_name(d) for d in self.data.departments] or sorted(
            {m["department_name"] for m in doc["group"]["members"]})
        self.kv(("检查执行部门", "、".join(depts)), label_w=44)
        deadline = doc.get("deadline") or {}
        due = deadline.get("due_on") or "—"
        if deadline.get("provisional"):
            words = provisional_words(deadline.get("provisional_periods") or [])
            due += f"（暂定：{words}）" if words else "（暂定：该年节假日安排尚未公布）"
        self.kv(("检查完成日期", deadline.get("completed_on") or "—"), ("公示截止日期", due), label_w=44)
        if deadline.get("clock_start_label") and deadline.get("start_on"):   # which day 0 the deadline counts from
            self.kv(("公示期限起算", f"{deadline['clock_start_label']}：{deadline['start_on']}"), label_w=44)
        record = doc["record"] or {}
        # a draft's content_hash is what it would be finalised with now: not a fixed hash yet
        fixed = record.get("content_hash") if record.get("state") in ("signing", "submitted") else None
        self.kv(("记录内容哈希（SHA-256）", fixed or "（尚未定稿）"), label_w=44)
        by_dept = {s["department_id"]: s for s in doc["sections"]}
        for dept_id in list(self.data.departments) + [d for d in by_dept if d not in self.data.departments]:
            section = by_dept.get(dept_id) or {}
            self.kv((f"{self.dept_name(dept_id)}签名哈希", section.get("signed_hash") or "（尚未签名）"), label_w=44)
        pdf.ln(1.5)
        pdf.para("说明：记录内容哈希是检查记录按 RFC 8785 规范化为 JSON 后计算的 SHA-256 值；各部门检查人员的签名针对"
                 "本部门内容签名哈希，全体检查人员和被检查对象代表的签名针对记录内容哈希，可据此核对本表与系统中保存的"
                 "检查记录是否一致。照片以其 SHA-256 的前几位标注，原件作为证据保存在系统中。", TINY, color=(80, 80, 80))


FINGERPRINT_VERSION = "record-pdf/2"     # change it when the layout changes: every cached PDF is made again


def gather(session: Session, inspection_id: int) -> _Data:
    """What the record's page prints, read once (for :func:`fingerprint` and :func:`render`)."""
    return _gather(session, inspection_id)


def fingerprint(data: _Data) -> str:
    """The SHA-256 of everything the page prints: the record as the office sees it (sections, signatures,
    flags, what the server knows of each photo, the deadline), the task's checklist and the layout's
    version. A draft has no content hash yet: its PDF is kept by this instead (``record_pdf``)."""
    import hashlib

    text = json.dumps([FINGERPRINT_VERSION, data.doc, data.task, data.original], ensure_ascii=False, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def render(session: Session, inspection_id: int, settings: Settings, *, draft: bool = False,
           data: _Data | None = None) -> Rendered:
    """The inspection's record as PDF bytes (``draft``: a preview marked 草稿); ``data`` when already gathered."""
    fonts = find_fonts(settings.font, settings.font_bold)
    data = data or _gather(session, inspection_id)
    record = data.doc["record"] or {}
    task, target = data.task, data.doc["target"]
    short_hash = (record.get("content_hash") or "")[:16]
    words = json.dumps([data.doc, task, [(s.signer_name, s.signer_detail) for s in data.signatures]],
                       ensure_ascii=False, default=str)
    try:
        pdf = _Pdf(fonts, draft=draft, running_head=f"{data.title} · {task['code']} · {target['name']}",
                   footer_left=f"任务 {task['code']}" + (f" · 记录哈希 {short_hash}…" if short_hash else ""),
                   fallback=bool(fonts.regular.lacks(words)))
    except Exception as exc:  # noqa: BLE001 - a font fpdf2 cannot embed (removed meanwhile, an odd format)
        forget_fonts()
        raise FontMissing(details={"font": fonts.regular.path, "error": f"{type(exc).__name__}: {exc}"[:300]}) from exc
    created = data.inspection.completed_at if not draft and data.inspection.completed_at else dt.datetime.now(
        dt.timezone.utc)
    pdf.set_creation_date(created)
    pdf.set_title(f"{'复查记录表' if data.doc.get('reinspection') else '检查记录表'} {task['code']} {target['name']}")
    pdf.set_author("双随 Shuangsui")
    pdf.set_subject(data.title)
    pdf.set_lang("zh-CN")
    pdf.add_page()
    writer = _Writer(pdf, data, settings, draft)
    writer.title()
    writer.visit()
    writer.sections()
    writer.results()
    writer.signatures()
    writer.facts()
    subset_log = logging.getLogger("fontTools.subset")
    level = subset_log.level
    subset_log.setLevel(logging.ERROR)    # "BDF NOT subset; dropped": Zen Hei's bitmap table is not needed
    try:
        data = bytes(pdf.output())
    finally:
        subset_log.setLevel(level)
    return Rendered(data, pdf.pages_count)
