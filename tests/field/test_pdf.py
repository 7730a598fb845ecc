"""The PDF 检查记录表 of a submitted record: content, embedded Chinese font, thumbnails, signatures, page flow,
the job that stores and links it, who may read it, and the missing-font error (both databases)."""
from __future__ import annotations

import io
import re
import subprocess
import uuid

from pypdf import PdfReader
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.directory.models import Inspector
from backend.inspections import pdf, record_pdf
from backend.inspections.models import Record, Signature
from backend.jobs.models import Job
from backend.media.models import Media, MediaRef
from backend.plans.models import TaskItem
from tests.field.builders import led_inspection
from tests.field.pdf_sample import PROBLEM, submitted_record

IF_MATCH_ANY = {"If-Match": "*"}


def squeeze(text: str) -> str:
    """Extracted text without whitespace (and the NULs pypdf leaves for two-byte CID codes)."""
    return re.sub(r"[\s\x00]+", "", text)


def text_of(data: bytes) -> str:
    return squeeze("".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def font_programs(reader: PdfReader) -> set[str]:
    """The embedded font-program keys (FontFile, FontFile2, FontFile3) of every font used."""
    found = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            described = descendants[0].get_object() if descendants else font
            descriptor = described["/FontDescriptor"].get_object()
            found |= {k for k in ("/FontFile", "/FontFile2", "/FontFile3") if k in descriptor}
    return found


def images(reader: PdfReader) -> list[tuple[int, int]]:
    """(width, height) of every image in the document, each image object once."""
    seen = {}
    for page in reader.pages:
        for ref in (page["/Resources"].get("/XObject") or {}).values():
            x = ref.get_object()
            if x["/Subtype"] == "/Image":
                seen[ref.idnum] = (x["/Width"], x["/Height"])
    return list(seen.values())


def get_pdf(field, user, query: str = ""):
    return field.client.get(f"/api/v1/inspections/{field.inspection.id}/record.pdf{query}",
                            headers=field.auth.headers(user))


def test_the_submitted_record_renders_and_a_pull_carries_its_pdf(field, db_session):
    sample = submitted_record(field)
    lead = sample["lead"]
    lead.pull()
    record = lead.docs["inspection"][field.inspection.id]["record"]
    sha = record["pdf_sha256"]
    assert record["state"] == "submitted" and re.fullmatch(r"[0-9a-f]{64}", sha)
    # the job ran after the submitting push, stored the file through media and referenced it
    [job] = db_session.scalars(select(Job).where(Job.name == record_pdf.JOB)).all()
    assert job.status == "done" and job.result["sha256"] == sha and job.params["inspection_id"] == field.inspection.id
    media = db_session.get(Media, sha)
    assert (media.kind, media.media_type, media.status) == ("pdf", "application/pdf", "ready")
    assert db_session.scalar(select(MediaRef.id).where(MediaRef.sha256 == sha,
                                                       MediaRef.inspection_id == field.inspection.id))
    assert db_session.scalar(select(AuditEntry.id).where(AuditEntry.action == "inspection.record_pdf"))

    r = get_pdf(field, field.other_officer)          # any member reads it
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.data[:5] == b"%PDF-" and r.headers["ETag"] == f'"{sha}"'
    assert r.headers["Cache-Control"] == "private, no-cache"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("inline; filename=\"record-") and "filename*=UTF-8''" in disposition
    from urllib.parse import quote, unquote
    assert quote(sample["business"]) in disposition and unquote(disposition.split("''", 1)[1]).startswith("检查记录表-")
    assert field.client.get(f"/api/media/{sha}", headers=field.auth.headers(field.lead_user)).data == r.data
    again = field.client.get(f"/api/v1/inspections/{field.inspection.id}/record.pdf",
                             headers={**field.auth.headers(field.lead_user), "If-None-Match": f'"{sha}"'})
    assert again.status_code == 304

    text = text_of(r.data)
    task = field.task
    for expected in ("市场监管领域随机抽查检查记录表", sample["business"], task.code, task.name,
                     field.inspection.target.uscc, sample["points"][0], sample["points"][-1], squeeze(PROBLEM),
                     sample["record_hash"], "王丽华", "第1页", "责令限期整改", "发现问题待后续处理", "违反其他规定",
                     "2025年度企业所得税纳税申报表", "公示截止日期"):
        assert squeeze(expected) in text, expected
    for member in lead.docs["inspection"][field.inspection.id]["group"]["members"]:
        assert member["name"] in text and member["cert_no"] in text
    sections = {s["department_id"]: s for s in lead.docs["inspection"][field.inspection.id]["sections"]}
    assert all(s["signed_hash"] in text for s in sections.values())
    assert "定位点距登记位置" in text               # the far fix's flag is shown

    reader = PdfReader(io.BytesIO(r.data))
    assert font_programs(reader) & {"/FontFile2", "/FontFile3"}          # the Chinese font is embedded
    assert all(not font.get_object()["/BaseFont"].startswith("/Helvetica")
               for page in reader.pages for font in page["/Resources"]["/Font"].values())
    pictures = images(reader)
    assert pictures.count((320, 240)) == 3           # the three photos, as their thumbnails (originals: 640 × 480)
    assert pictures.count((600, 200)) == 7           # signatures drawn from strokes: 3 on sections, 4 on the record


def test_rendering_is_idempotent(field, db_session, app):
    submitted_record(field)
    db_session.expire_all()                          # the phones' requests changed the rows this session holds
    record = db_session.get(Record, field.inspection.id)
    sha = record.pdf_sha256
    settings = pdf.Settings.from_config(app.config)
    # the same stored record renders to the same bytes (creation date = completion time, no random ids)
    assert pdf.render(db_session, field.inspection.id, settings).data == pdf.render(db_session, field.inspection.id,
                                                                                      settings).data
    # running the job again keeps the record's link
    from backend.actor import Actor
    from backend.jobs import services as jobs

    jobs.enqueue(db_session, app.extensions["shuangsui.jobs"], record_pdf.JOB, {"inspection_id": field.inspection.id},
                 Actor.system("test"))
    last = db_session.scalars(select(Job).where(Job.name == record_pdf.JOB).order_by(Job.created_at.desc())).first()
    db_session.refresh(last)
    assert last.status == "done" and last.result["skipped"] == "PDF 已生成"
    db_session.refresh(record)
    assert record.pdf_sha256 == sha
    assert db_session.scalars(select(Media).where(Media.kind == "pdf")).all() == [db_session.get(Media, sha)]


def test_the_job_emits_a_change_so_a_phone_already_up_to_date_learns_the_pdf(field, db_session, app):
    led_inspection(db_session, field.inspection.id, db_session.get(Inspector, field.lead_user.inspector_id), "submitted")
    phone = field.phone(field.lead_user)
    phone.pull()
    assert phone.docs["inspection"][field.inspection.id]["record"]["pdf_sha256"] is None
    assert phone.pull() == 0                                           # up to date
    from backend.actor import Actor
    from backend.jobs import services as jobs

    job = jobs.enqueue(db_session, app.extensions["shuangsui.jobs"], record_pdf.JOB,
                       {"inspection_id": field.inspection.id}, Actor.system("test"))
    db_session.refresh(job)
    assert job.status == "done", (job.error_code, job.error)
    assert phone.pull() >= 1
    sha = phone.docs["inspection"][field.inspection.id]["record"]["pdf_sha256"]
    assert sha == job.result["sha256"] and db_session.get(Media, sha).kind == "pdf"


def _forty_points(field, factory, db_session):
    item = factory.item(field.lead_dept, kind="key", check_points=40, name="食品经营许可与食品安全管理情况的检查",
                        category="食品安全检查", legal_basis="《食品安全法》第三十三条、第三十五条、第五十三条",
                        methods=["onsite", "documents"])
    field.task.items.append(TaskItem(item_id=item.id, department_id=field.lead_dept.id))
    db_session.flush()
    return item


LONG_PROBLEM = "".join(f"第{n}号货架上发现超过保质期的预包装食品，标签标示不清，生产批号无法辨认。" for n in range(1, 80))[:2000]
LONG_NOTE = "".join(f"现场询问负责人，其称进货查验记录由总部统一保管，账册未能当场提供（{n}）。" for n in range(1, 80))[:2000]


def test_forty_check_points_and_long_texts_flow_onto_following_pages(field, factory, db_session):
    item = _forty_points(field, factory, db_session)
    phone = field.phone(field.lead_user)
    values = {f"items.{item.id}.method": "documents",
              f"items.{item.id}.evidence": {"documents": [f"进货查验记录第{n}册" for n in range(1, 30)]}}
    cps = [cp.id for cp in item.check_points]
    for n, cp in enumerate(cps):
        values[f"points.{cp}.checked"] = True
        values[f"points.{cp}.result"] = "fail" if n % 5 == 0 else "pass"
        if n % 5 == 0:
            values[f"points.{cp}.problem"] = LONG_PROBLEM
            values[f"points.{cp}.handling"] = ["rectify", "transfer"]
        if n % 7 == 0:
            values[f"points.{cp}.note"] = LONG_NOTE
    phone.set_section(field.inspection.id, field.lead_dept.id, values)
    assert [r["status"] for r in phone.push()] == ["applied"]

    # before submission: 409 for the record, the lead's preview marked 草稿
    assert get_pdf(field, field.lead_user).json["code"] == "record.not_submitted"
    r = get_pdf(field, field.lead_user, "?draft=1")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "private, no-store" and "ETag" not in r.headers
    assert "%E8%8D%89%E7%A8%BF" in r.headers["Content-Disposition"]          # 草稿 in the file name
    reader = PdfReader(io.BytesIO(r.data))
    pages = len(reader.pages)
    assert pages >= 5
    text = text_of(r.data)
    assert "草稿" in text and f"第{pages}页共{pages}页" in text and "检查内容40" in text
    # nothing lost: every sentence of the long texts is there (8 problems, 6 notes; 批 and 账 occur nowhere else)
    assert text.count("批") == 8 * LONG_PROBLEM.count("批")
    assert text.count("账") == 6 * LONG_NOTE.count("账")
    # nothing overlaps: body text stays between the running head and the footer, and two lines starting
    # at the same x are at least a font size apart
    for number, page in enumerate(reader.pages, 1):
        placed = []

        def visit(text, cm, tm, _font, size, placed=placed):
            if squeeze(text) and cm[:4] == [1, 0, 0, 1]:       # the rotated 草稿 mark aside
                placed.append((round(tm[4], 1), tm[5], size, squeeze(text)))
        page.extract_text(visitor_text=visit)
        body = [p for p in placed if 40 < p[1] < 805]
        assert all(p[1] < 40 and re.search(r"页|任务|草稿|双随", p[3]) or p in body or p[1] >= 805
                   for p in placed), number
        assert all(p[1] <= 802.5 for p in body), number                     # below the top margin
        assert all(p[1] >= 45 for p in body), number                        # above the bottom margin
        by_x: dict[float, list] = {}
        for p in body:
            by_x.setdefault(p[0], []).append(p)
        for column in by_x.values():
            column.sort(key=lambda p: -p[1])
            for a, b in zip(column, column[1:]):
                assert a[1] - b[1] >= 0.95 * min(a[2], b[2]), (number, a, b)


def test_draft_only_for_the_lead_and_the_record_only_for_those_who_may_read_it(field, factory, db_session):
    assert get_pdf(field, field.other_officer, "?draft=1").json["code"] == "record.lead_only"
    assert get_pdf(field, field.other_officer).status_code == 409
    led_inspection(db_session, field.inspection.id, db_session.get(Inspector, field.lead_user.inspector_id), "submitted")
    outsiders = [factory.user(Role.INSPECTOR, inspector=factory.inspector(field.lead_dept)),
                 factory.user(Role.PLANNER, factory.department()), factory.user(Role.DEPT_ADMIN, factory.department())]
    for user in outsiders:
        r = get_pdf(field, user)
        assert r.status_code == 403 and r.json["code"] == "forbidden.department", user.role
        assert r.mimetype == "application/json"
    for user in (factory.user(Role.SUPERVISOR), factory.user(Role.PLANNER, field.other_dept), field.other_officer):
        assert get_pdf(field, user).status_code == 200
    assert field.client.get("/api/v1/inspections/2147483647/record.pdf",
                            headers=field.auth.headers(field.lead_user)).status_code == 404


def test_refusal_with_witness_outcome_not_public_and_void_signatures(field, db_session, app):
    lead_inspector = db_session.get(Inspector, field.lead_user.inspector_id)
    led_inspection(db_session, field.inspection.id, lead_inspector, "submitted")
    record = db_session.get(Record, field.inspection.id)
    record.data = {**record.data, "not_public": {"reason": "涉及国家秘密，依法不予公开"},
                   "outcome": {"code": "uncooperative", "note": "负责人拒绝开门", "photos": [], "gps": None},
                   "opinion": "当事人不配合检查"}
    rep = db_session.scalars(select(Signature).where(Signature.inspection_id == field.inspection.id,
                                                     Signature.role == "representative")).one()
    rep.role, rep.signer_name = "witness", "李见证"
    rep.signer_detail = {"refusal_reason": "代表拒绝在记录上签字", "phone": "13900000000"}
    db_session.add(Signature(id=str(uuid.uuid4()), inspection_id=field.inspection.id, scope="record", role="officer",
                             signer_name="作废的签名人", content_hash="0" * 64, strokes=[{"points": [[0, 0, 0]]}],
                             void_at=rep.created_at, void_reason="退回修改"))
    field.inspection.target.name = "𠀋𠁎记百货商行"                    # CJK Extension B: from the fallback font
    db_session.flush()
    data = pdf.render(db_session, field.inspection.id, pdf.Settings.from_config(app.config)).data
    text = text_of(data)
    assert "𠀋𠁎记百货商行" in text
    assert {str(f.get_object()["/BaseFont"]).split("+")[-1] for page in PdfReader(io.BytesIO(data)).pages
            for f in page["/Resources"]["/Font"].values()} == {"WenQuanYiZenHei", "NotoSansCJKSC"}
    for expected in ("被检查对象代表拒绝签名", "代表拒绝在记录上签字", "见证人：李见证", "不适合公开", "涉及国家秘密，依法不予公开",
                     "未能实施检查：不配合检查", "负责人拒绝开门", "当事人不配合检查"):
        assert squeeze(expected) in text, expected
    assert "作废的签名人" not in text


def test_a_missing_font_answers_a_clear_error_and_the_job_can_be_run_again(field, db_session, app, monkeypatch, auth,
                                                                            factory, tmp_path):
    lead_inspector = db_session.get(Inspector, field.lead_user.inspector_id)
    led_inspection(db_session, field.inspection.id, lead_inspector, "submittable")
    queue = app.extensions["shuangsui.jobs"]
    (tmp_path / "broken.ttf").write_bytes(b"\x00\x01\x00\x00 not a font")
    for missing in ("/nonexistent/NotoSansCJK-Regular.ttc", str(tmp_path / "broken.ttf"),
                    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):   # absent; not a font; no Chinese glyphs
        monkeypatch.setitem(app.config, "PDF_FONT", missing)
        monkeypatch.setitem(queue.config, "PDF_FONT", missing)
        if field.inspection.status != "completed":
            r = field.client.post(f"/api/v1/inspections/{field.inspection.id}/record/submit", json={},
                                  headers={**field.auth.headers(field.lead_user), **IF_MATCH_ANY})
            assert r.status_code == 200, r.json                              # submitting never waits for the PDF
            db_session.refresh(field.inspection)
        r = get_pdf(field, field.lead_user)
        assert r.status_code == 503 and r.json["code"] == "pdf.font_missing", (missing, r.status_code)
        assert "中文字体" in r.json["message"] and "fonts-wqy-zenhei" in r.json["message"]
    [job] = db_session.scalars(select(Job).where(Job.name == record_pdf.JOB)).all()
    assert (job.status, job.error_code) == ("failed", "pdf.font_missing")
    # once the font is there, an administrator runs the job again
    monkeypatch.setitem(app.config, "PDF_FONT", None)
    monkeypatch.setitem(queue.config, "PDF_FONT", None)
    admin = factory.user(Role.SYSADMIN)
    assert field.client.post(f"/api/v1/jobs/{job.id}/retry", headers=auth.headers(admin)).status_code == 202
    db_session.refresh(job)
    record = db_session.get(Record, field.inspection.id)
    db_session.refresh(record)
    assert job.status == "done" and record.pdf_sha256 == job.result["sha256"]
    assert get_pdf(field, field.lead_user).headers["ETag"] == f'"{record.pdf_sha256}"'


def test_page_one_renders_with_poppler(field, db_session, app, tmp_path):
    """pdftoppm (poppler-utils, installed by scripts/setup.sh --browser) draws page 1: ink in the title band."""
    from PIL import Image

    lead_inspector = db_session.get(Inspector, field.lead_user.inspector_id)
    led_inspection(db_session, field.inspection.id, lead_inspector, "submitted")
    data = pdf.render(db_session, field.inspection.id, pdf.Settings.from_config(app.config)).data
    (tmp_path / "r.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", "-singlefile", str(tmp_path / "r.pdf"),
                    str(tmp_path / "page")], check=True, capture_output=True, timeout=60)
    with Image.open(tmp_path / "page.png") as im:
        gray = im.convert("L")
        width, height = gray.size
        title = gray.crop((width // 4, 0, 3 * width // 4, height // 12))
        assert sum(title.histogram()[:128]) > 50 and title.getextrema()[0] < 100   # the title is drawn
