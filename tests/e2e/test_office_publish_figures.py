"""The publishers' and supervisors' screens of the office in Debian's Chromium, on the demo county's year of
history (backend/demo/history.py: records published on time, late, corrected, exempt, overdue and not yet due;
follow-ups): a publisher reads a record's public preview and publishes it, the public search finds it by USCC
and shows no personal data; a second record asked 不适合公开 is approved by the department admin and leaves the
queue; a supervisor drills from a department's 按时公示率 to the late inspections, one record's PDF, and the list
as XLSX. axe-core on each screen: no serious or critical violation."""
from __future__ import annotations

import io
import json
import sqlite3

import pytest

from tests.e2e import office_helpers as o
from tests.e2e import pwa_helpers as h
from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e


def _no_serious(page, screen: str) -> None:
    found = h.axe_violations(page)
    assert not found, f"axe-core on {screen}:\n{h.describe_violations(found)}"


def _personal_data(db_path, target_code: str) -> list[str]:
    """Every officer's name and certificate number and phone, the business's legal representative, its phone and
    address: none of these may be in a public answer."""
    con = sqlite3.connect(db_path)
    try:
        words = [w for row in con.execute("SELECT name, cert_no, phone FROM inspector") for w in row if w]
        words += [w for row in con.execute("SELECT legal_rep, phone, address FROM target WHERE code = ?", (target_code,))
                  for w in row if w]
    finally:
        con.close()
    return [w for w in words if len(w) >= 2]


def _a_photo_in_the_record(tmp, inspection_id: int) -> str:
    """A photo taken at one check point of the record, stored and processed as an upload's job leaves it (its
    thumbnail and its copy without metadata made), named by the record (a bound reference, as a push makes)."""
    from sqlalchemy import select

    from backend.actor import Actor
    from backend.audit.keys import AuditSettings, configure
    from backend.db import Database
    from backend.demo.history import _png
    from backend.directory.models import CheckPoint
    from backend.inspections.models import Inspection, Section, SectionAnswer
    from backend.media import services as media
    from backend.plans.models import TaskItem
    from tests.conftest import TEST_AUDIT_KEY

    db = Database(f"sqlite:///{tmp / 'shuangsui.db'}")
    configure(db.engine, AuditSettings(key=TEST_AUDIT_KEY.encode()))
    system = Actor.system("e2e")
    try:
        with db.session_scope() as session:
            stored = media.add_generated(session, str(tmp / "media"), _png((180, 70, 40), 96), kind="photo",
                                         media_type="image/png", filename="门头.png", actor=system)
            sha = stored.sha256
            session.commit()
            media.process(session, media.MediaSettings.from_config({"MEDIA_DIR": str(tmp / "media")}), sha, system)
            inspection = session.get(Inspection, inspection_id)
            section = session.scalars(select(Section).where(Section.inspection_id == inspection_id)
                                      .order_by(Section.department_id)).first()
            point = session.scalars(select(CheckPoint.id).join(TaskItem, TaskItem.item_id == CheckPoint.item_id)
                                    .where(TaskItem.task_id == inspection.task_id,
                                           TaskItem.department_id == section.department_id)
                                    .order_by(CheckPoint.id)).first()
            session.add(SectionAnswer(section_id=section.id, check_point_id=point,
                                      data={"checked": True, "result": "pass",
                                            "photos": [{"id": "e2e-photo-1", "sha256": sha}]}))
            media.add_references(session, [sha], inspection_id, system)
            session.commit()
    finally:
        db.engine.dispose()
    return sha


def test_a_publisher_publishes_a_record_the_public_finds_it_and_an_exemption_is_approved(server):
    base = server.url
    errors: list[str] = []
    pub = h.token(base, "samr_publisher")
    status, queue, _ = h.api(base, "GET", "/api/v1/publication/queue", token=pub)
    assert status == 200 and queue["total"] >= 3, queue
    dues = [r["due_on"] for r in queue["items"]]
    assert dues == sorted(dues)                                    # by due date
    first, second = queue["items"][0], queue["items"][1]
    uscc = first["target_code"]
    photo = _a_photo_in_the_record(server.tmp, first["inspection_id"])
    with chromium() as browser:
        ctx, page = o.open_office(browser, errors)
        o.login(page, base, "samr_publisher")
        page.wait_for_url("**/office/publication")
        page.wait_for_selector(".publication-queue .queue-state")
        states = page.eval_on_selector_all(".queue-state", "els => els.map(e => e.dataset.state)")
        assert states[0] == "overdue" and set(states) <= {"on_track", "due_soon", "overdue"}
        assert "已逾期" in page.inner_text(".publication-queue")
        o.shot(page, "publish-queue")
        _no_serious(page, "待公示记录")

        # keyboard: the first row's 审核公示 link opens the record
        page.focus(".open-record >> nth=0")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/office/publication/{first['inspection_id']}")
        page.wait_for_selector(".public-preview dd")
        preview = page.inner_text(".public-preview")
        assert uscc in preview and first["target_name"] in preview and "检查记录哈希" in preview
        # no photo is public unless ticked: the thumbnail, ticked, and the preview shows the copy that will go out
        assert "公开的现场照片" in page.inner_text(".photo-picker")
        assert "现场照片" not in page.inner_text(".public-preview")
        page.wait_for_selector(".photo-choice img")
        page.check(f'.photo-choice input[data-sha256="{photo}"]')
        page.wait_for_selector(".public-preview .public-photos img")
        assert "现场照片1 张" in page.inner_text(".public-preview").replace("\n", "").replace("\t", "")
        page.fill("#remarks-input", "已完成检查，未发现问题")
        page.click("#preview-btn")
        h.wait_js(page, "document.querySelector('.public-preview').innerText.includes('已完成检查，未发现问题')")
        o.shot(page, "publish-preview")
        _no_serious(page, "公示审核")

        page.click("#publish-btn")
        page.click(".el-message-box__btns .el-button--primary")   # 确认公示
        page.wait_for_selector(".published-note")
        assert "公示结果编号" in page.inner_text(".published-note")
        page.wait_for_selector("#correct-btn")                     # published: now a correction, not a second publish

        # the public: found by its USCC, with the remarks and without any personal data
        status, found, _ = h.api(base, "GET", f"/api/public/results?uscc={uscc}")
        assert status == 200 and found["total"] >= 1, found
        mine = [r for r in found["items"] if r["inspection_id"] == first["inspection_id"] and r["kind"] == "record"]
        assert len(mine) == 1 and mine[0]["target_code"] == uscc
        status, one, raw = h.api(base, "GET", f"/api/public/results/{mine[0]['id']}")
        assert status == 200 and one["content"]["remarks"] == "已完成检查，未发现问题"
        [public_photo] = one["content"]["photos"]                 # the copy without metadata, never the original
        assert public_photo["sha256"] != photo and h.api(base, "GET", public_photo["url"])[0] == 200
        assert "published_by" not in one
        text = json.dumps(one, ensure_ascii=False)
        leaked = [w for w in _personal_data(server.tmp / "shuangsui.db", uscc) if w in text]
        assert not leaked, leaked
        assert not ({"inspectors", "officers", "signatures", "members", "legal_rep", "phone", "address"}
                    & set(one["content"]))

        # 不适合公开: the publisher asks, the department admin (another person of the lead department) approves
        page.goto(f"{base}/office/publication/{second['inspection_id']}")
        page.wait_for_selector("#exempt-btn")
        page.click("#exempt-btn")
        page.fill("#reason-input", "涉及正在办理的案件，公开可能影响调查")
        page.click(".reason-confirm")
        page.wait_for_selector(".exemption-line[data-status=requested]")
        assert page.is_disabled("#publish-btn")
        assert page.locator("#approve-btn").count() == 0           # never whoever asked
        o.shot(page, "publish-exemption")
        page.click("#logout-btn")
        o.login(page, base, "samr_admin")
        page.goto(f"{base}/office/publication/{second['inspection_id']}")
        page.wait_for_selector("#approve-btn")
        page.click("#approve-btn")
        page.fill("#reason-input", "同意不公开")
        page.click(".reason-confirm")
        page.wait_for_selector(".exemption-line[data-status=approved]")
        status, after, _ = h.api(base, "GET", "/api/v1/publication/queue?page_size=100", token=pub)
        left = {r["inspection_id"] for r in after["items"]}
        assert first["inspection_id"] not in left and second["inspection_id"] not in left

        # the follow-up register (台帐): open ones, one's steps, the XLSX
        page.goto(f"{base}/office/followups?state=open")
        page.wait_for_selector(".followups .el-table__row")
        o.shot(page, "publish-followups")
        _no_serious(page, "后续处置台帐")
        page.click(".followups .el-table__row >> nth=0")
        page.wait_for_selector(".el-drawer .followup-state")
        assert page.locator(".el-drawer .el-timeline-item").count() >= 1
        page.keyboard.press("Escape")
        with page.expect_download() as dl:
            page.click("#followups-export")
        from openpyxl import load_workbook

        rows = list(load_workbook(io.BytesIO(open(dl.value.path(), "rb").read())).active.iter_rows(values_only=True))
        assert rows[0][0] == "序号" and len(rows) > 1

        # one step of the state machine: a re-inspection found it rectified, with a stored photo as evidence
        da = h.token(base, "samr_admin")
        _, everything, _ = h.api(base, "GET", "/api/v1/followups?page_size=100", token=da)
        evidence = next(e for f in everything["items"] for st in f["steps"] for e in st["evidence"])
        page.goto(f"{base}/office/followups?state=ordered")
        page.wait_for_selector(".followups .el-table__row")
        target = page.inner_text(".followups .el-table__row >> nth=0 >> td >> nth=1").strip()
        page.click(".followups .el-table__row >> nth=0 >> text=办理")
        page.wait_for_selector(".el-drawer .step-reinspection")
        page.click(".el-drawer .step-reinspection")
        page.wait_for_selector("#step-findings")
        page.fill("#step-findings", "已按要求整改，现场核实无误")
        page.fill("#step-evidence", evidence)
        _no_serious(page, "后续处置：复查")
        page.click(".step-confirm")
        h.wait_js(page, "document.querySelector('.el-drawer .followup-state').innerText.includes('复查已整改')")
        _, closed, _ = h.api(base, "GET", "/api/v1/followups?state=rectified&page_size=100", token=da)
        assert target in {f["target_name"] for f in closed["items"]}
        browser.close()
    assert not errors, errors


def test_a_supervisor_drills_from_a_departments_on_time_rate_to_a_pdf_and_exports_the_list(server):
    base = server.url
    errors: list[str] = []
    sv = h.token(base, "supervisor")
    _, depts, _ = h.api(base, "GET", "/api/v1/departments?page_size=100", token=sv)
    samr = next(d for d in depts["items"] if d["code"] == "SAMR")
    with chromium() as browser:
        ctx, page = o.open_office(browser, errors)
        o.login(page, base, "supervisor")
        page.click('[data-path="/figures"]')
        page.wait_for_selector(".figure-card[data-figure=on_time_publication] .figure-number")
        page.wait_for_selector(".figure-card[data-figure=on_time_publication] .trend-chart canvas", timeout=30000)
        year = page.evaluate("new Date().getFullYear()")

        # a department: the filter, then its 按时公示率
        page.click("#filter-department")
        page.click(f".el-select-dropdown__item:has-text('{samr['name']}')")
        page.wait_for_url(f"**department_id={samr['id']}**")
        _, figs, _ = h.api(base, "GET", f"/api/v1/figures?department_id={samr['id']}", token=sv)
        on_time = next(f for f in figs["figures"] if f["key"] == "on_time_publication")
        assert on_time["numerator"] < on_time["denominator"]       # the history has late and unpublished ones
        card = ".figure-card[data-figure=on_time_publication]"
        counts = f"{on_time['numerator']} / {on_time['denominator']}"
        h.wait_js(page, f"document.querySelector('{card} .figure-counts').innerText.startsWith('{counts}')")
        page.wait_for_selector(".trend-chart canvas")
        o.shot(page, "figures-dashboard")
        _no_serious(page, "统计指标")

        page.focus(f"{card} .figure-number")                        # keyboard: the number opens its list
        page.keyboard.press("Enter")
        page.wait_for_url("**/office/figures/on_time_publication/items?**")
        assert "part=missing" in page.url and f"department_id={samr['id']}" in page.url
        page.wait_for_selector(".figure-items .pub-state")
        _, late, _ = h.api(base, "GET", "/api/v1/figures/on_time_publication/items?part=missing"
                           f"&department_id={samr['id']}&period={year}&page_size=100", token=sv)
        assert late["total"] == on_time["denominator"] - on_time["numerator"]
        assert f"共 {late['total']} 条" in page.inner_text(".figure-items .pager")
        shown = page.eval_on_selector_all(".figure-items .pub-state", "els => els.map(e => e.dataset.state)")
        assert set(shown) <= {"published", "overdue", "unpublished"}
        assert page.locator(".late-tag").count() >= 1 or "overdue" in shown
        o.shot(page, "figures-items")
        _no_serious(page, "指标清单")

        # one record's PDF
        with page.expect_download() as dl:
            page.click(".pdf-btn >> nth=0")
        pdf = open(dl.value.path(), "rb").read()
        assert pdf[:5] == b"%PDF-" and dl.value.suggested_filename.endswith(".pdf")

        # the list as XLSX, read back
        with page.expect_download() as dl:
            page.click("#items-export-xlsx")
        from openpyxl import load_workbook

        rows = list(load_workbook(io.BytesIO(open(dl.value.path(), "rb").read())).active.iter_rows(values_only=True))
        assert rows[0][:6] == ("检查编号", "任务编号", "任务名称", "任务截止日期", "检查对象", "对象代码")
        assert [r[5] for r in rows[1:]] == [i["target_code"] for i in late["items"]]
        assert dl.value.suggested_filename.endswith(".xlsx") and "按时公示率" in dl.value.suggested_filename

        # the table's export from the dashboard
        page.click(".back-link")
        page.wait_for_selector(".figure-card")
        with page.expect_download() as dl:
            page.click("#export-xlsx")
        table = {r[0]: r for r in load_workbook(io.BytesIO(open(dl.value.path(), "rb").read())).active.iter_rows(values_only=True)}
        assert table["按时公示率"][1:3] == (str(on_time["numerator"]), str(on_time["denominator"]))
        browser.close()
    assert not errors, errors


def test_a_participant_publisher_chooses_its_own_categories_and_the_public_reads_them(server):
    """谁检查、谁公开: a participating department's publisher publishes its part with its own result categories,
    chosen in the category select (the lead department's publisher has none: it publishes the submitted ones);
    the preview follows each choice and the public reads exactly what was chosen."""
    base = server.url
    errors: list[str] = []
    tax = h.token(base, "tax_publisher")
    status, queue, _ = h.api(base, "GET", "/api/v1/publication/queue?page_size=100", token=tax)
    assert status == 200 and queue["items"], queue
    row = next(r for r in queue["items"]
               if h.api(base, "GET", f"/api/v1/publication/inspections/{r['inspection_id']}",
                        token=tax)[1]["categories_editable"])
    iid = row["inspection_id"]
    with chromium() as browser:
        ctx, page = o.open_office(browser, errors)
        ctx.set_default_timeout(20000)
        o.login(page, base, "tax_publisher")
        page.goto(f"{base}/office/publication/{iid}")
        page.wait_for_selector(".public-preview dd")
        picker = page.locator(".category-picker")
        picker.wait_for()
        before = page.locator(".category-picker .el-tag").all_inner_texts()   # the part's own, as submitted
        assert before, "the select starts from the part's submitted categories"
        # The preview asked while no category is chosen (it shows the part's own) is held back until the preview of
        # the choice below has been shown, then let through: it arrives last, as it may under load (its answer
        # used to replace the newer one on screen). Made certain here rather than left to chance.
        held: list = []

        def hold_unchosen(route):
            if "result_categories" in (route.request.post_data or ""):
                route.continue_()
            else:
                held.append(route)
        page.route("**/api/v1/publication/inspections/*/preview", hold_unchosen)
        # replace them: clear each chosen one, then choose 未发现开展本次抽查涉及的经营活动
        for close in page.locator(".category-picker .el-tag .el-tag__close").all()[::-1]:
            close.click()
        for _ in range(100):      # the preview of "none chosen" is asked 250 ms after the last change
            if held:
                break
            page.wait_for_timeout(50)
        assert held, "clearing the categories asks a preview"
        page.click(".el-select:has(#categories-select)")
        page.click('.el-select-dropdown__item:has-text("未发现开展本次抽查涉及的经营活动") >> visible=true')
        page.keyboard.press("Escape")
        assert page.locator(".category-picker .el-tag").all_inner_texts() == ["未发现开展本次抽查涉及的经营活动"]
        h.wait_js(page, "document.querySelector('.public-preview').innerText.includes('未发现开展本次抽查涉及的经营活动')")
        for route in held:        # the older answers arrive now
            with page.expect_response(lambda r: r.request == route.request):
                route.continue_()
        page.unroute("**/api/v1/publication/inspections/*/preview")
        page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
        assert "未发现开展本次抽查涉及的经营活动" in page.inner_text(".public-preview")
        assert not any(label in page.inner_text(".public-preview") for label in before
                       if label != "未发现开展本次抽查涉及的经营活动")
        _no_serious(page, "公示审核（参与部门）")
        page.click("#publish-btn")
        page.click(".el-message-box__btns .el-button--primary")   # 确认公示
        page.wait_for_selector(".published-note")
        browser.close()
    assert not errors, errors
    status, found, _ = h.api(base, "GET", f"/api/public/results?uscc={row['target_code']}")
    assert status == 200, found
    [part] = [r for r in found["items"] if r["inspection_id"] == iid and r["kind"] == "department"]
    status, one, _ = h.api(base, "GET", f"/api/public/results/{part['id']}")
    assert status == 200 and [c["code"] for c in one["content"]["result_categories"]] == ["no_activity"], one
