"""Acceptance of the office's admin screens (issue 13, screen 1) in Debian's Chromium at 1366×768.

A system administrator imports a targets CSV with one bad row: the dry run names the row and the reason and
writes nothing; the fixed file passes the dry run, is imported with its progress bar at 100 %, and the new
businesses are found by search; one is changed and retired with a reason, its history shows both; the list
is exported; the audit log shows the import, and verifying the chain says it is whole. Accounts (create,
freeze with a reason, reset the password), the working-day calendar and the jobs are opened too. axe-core on
every screen: no serious or critical violation. Screenshots: docs/screenshots/office-*.png."""
from __future__ import annotations

import pytest

from tests.e2e import office_helpers as o
from tests.e2e import pwa_helpers as h
from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e

HEADER = ("统一社会信用代码,注册号,对象编码,检查对象名称,对象类型,住所（经营场所）,行政区划代码,行业代码,信用风险分类,标签,"
          "经度,纬度,坐标系,登记状态,法定代表人,联系电话,维护部门")
GOOD = ("91411203W0RB7F17RN,,,三门峡市陕州区甘棠商贸有限公司,企业,河南省三门峡市陕州区甘棠路 8 号,411203,F5211,B,食品经营,"
        "111.1035,34.7206,GCJ-02,存续,赵一,0398-1234567,SAMR")
SECOND = ",,,三门峡市陕州区召公餐饮管理有限公司,企业,河南省三门峡市陕州区召公路 21 号,411203,H6210,C,餐饮,,,,存续,钱二,13800000001,SAMR"
BAD_USCC, GOOD_USCC = "914112034KDC96PGYX", "914112034KDC96PGYR"


def csv(*rows: str) -> dict:
    return {"name": "targets.csv", "mimeType": "text/csv", "buffer": "\n".join((HEADER, *rows)).encode("utf-8")}


def choose(page, trigger: str, text: str) -> None:
    """Pick ``text`` in the Element Plus select ``trigger``, and wait for its list to close."""
    page.click(trigger)
    option = f".el-select-dropdown__item:visible:has-text('{text}')"
    page.click(option)
    page.wait_for_selector(option, state="hidden")


def test_admin_imports_targets_fixes_a_bad_row_and_the_audit_chain_is_whole(server):
    base = server.url
    errors: list[str] = []
    found: dict[str, list] = {}

    def check(page, screen: str) -> None:
        found[screen] = h.axe_violations(page)

    with chromium() as browser:
        ctx, page = o.open_office(browser, errors)
        page.goto(f"{base}/office/")
        page.wait_for_selector("#login-btn")
        check(page, "登录")
        o.shot(page, "login")
        o.login(page, base, "admin")

        # the targets: one page from the server, filters in the URL
        page.goto(f"{base}/office/lists/targets?risk_class=D")
        page.wait_for_selector(".data-table .el-table__row")
        assert "共 " in page.inner_text(".pager .total")
        check(page, "名录库")
        o.shot(page, "lists")

        # import: the dry run finds the bad row, nothing is written
        page.click(".import-btn")
        page.wait_for_selector("#import-file")
        page.set_input_files("#import-file", csv(GOOD, BAD_USCC + SECOND))
        page.click(".import-check")
        page.wait_for_selector('.import-verdict[data-verdict="bad"]')
        assert page.inner_text(".bad-rows-table .bad-row-no").strip() == "3"
        reason = page.inner_text(".bad-rows-table .bad-row-reason")
        assert "第 3 行" in reason and "校验位" in reason, reason
        assert page.get_attribute(".job-progress", "data-status") == "failed"
        assert page.is_disabled(".import-run")
        check(page, "导入（校验未通过）")
        o.shot(page, "import-bad-row")

        # the fixed file: the dry run passes, then the import, its bar at 100 %
        page.set_input_files("#import-file", csv(GOOD, GOOD_USCC + SECOND))
        page.click(".import-check")
        page.wait_for_selector('.import-verdict[data-verdict="ok"]')
        assert "新增 2 条" in page.inner_text('.import-verdict[data-verdict="ok"]')
        page.click(".import-run")
        page.wait_for_selector('.import-verdict[data-verdict="imported"]')
        bar = page.locator(".job-progress")
        assert bar.get_attribute("data-status") == "done" and bar.get_attribute("data-percent") == "100"
        assert "导入完成" in page.inner_text(".job-progress")
        o.shot(page, "import-done")
        page.keyboard.press("Escape")

        # found by search (the URL keeps the query)
        page.goto(f"{base}/office/lists/targets")
        page.fill(".filter-q input", "召公餐饮")
        page.click(".filter-apply")
        page.wait_for_url("**q=*")
        page.wait_for_selector(f".data-table .el-table__row:has-text('{GOOD_USCC}')")
        assert page.locator(".data-table .el-table__row").count() == 1

        # change it, then retire it with a reason; the history shows both
        page.click(".row-edit")
        page.wait_for_selector("#f-phone")
        page.fill("#f-phone", "13800000002")
        check(page, "修改检查对象")
        page.click(".row-save")
        page.wait_for_selector(".row-save", state="hidden")
        page.click(".row-retire")
        page.wait_for_selector(".reason-input textarea")
        page.click(".reason-confirm")                          # no reason: refused here
        h.wait_text(page, "请填写理由")
        page.fill(".reason-input textarea", "已迁出本辖区")
        check(page, "停用（理由）")
        page.click(".reason-confirm")
        page.wait_for_selector(".reason-confirm", state="hidden")
        h.wait_text(page, "没有符合条件的检查对象")               # retired: no longer listed by default
        page.goto(f"{base}/office/lists/targets?q=召公餐饮&include_retired=true")
        page.wait_for_selector(".data-table .el-table__row:has-text('已停用')")
        page.click(".row-history-btn")
        page.wait_for_selector(".audit-entry:has-text('停用')")
        history = page.inner_text(".row-history")
        assert "已迁出本辖区" in history and "修改" in history and "phone" in history
        check(page, "历史")
        o.shot(page, "history")
        page.keyboard.press("Escape")

        # an item's check points: one added, then retired with a reason
        page.goto(f"{base}/office/lists/items?q=SAMR-009")
        page.wait_for_selector(".data-table .el-table__row:has-text('SAMR-009')")
        page.click(".row-history-btn")
        page.wait_for_selector(".cp-add")
        page.wait_for_selector(".check-points.loaded li")   # the item's points listed, not the box before its answer
        before = page.locator(".check-points li").count()
        page.click(".cp-add")
        page.fill("#cp-text", "是否公示食品安全管理人员信息")
        page.click(".cp-save")
        page.wait_for_selector(".check-points li:has-text('是否公示食品安全管理人员信息')")
        assert page.locator(".check-points li").count() == before + 1
        page.click(".check-points li:has-text('是否公示食品安全管理人员信息') .cp-retire")
        page.fill(".reason-input textarea", "与第 1 项重复")
        page.click(".reason-confirm")
        page.wait_for_selector(".check-points li.retired:has-text('是否公示食品安全管理人员信息')")
        check(page, "检查内容")
        o.shot(page, "check-points")
        page.keyboard.press("Escape")

        # export the list (a job, then the file)
        page.goto(f"{base}/office/lists/targets?risk_class=B")
        page.wait_for_selector(".data-table .el-table__row")
        page.click(".export-btn")
        with page.expect_download() as dl:
            page.click(".el-dropdown-menu__item:has-text('导出 CSV')")
        text = open(dl.value.path(), encoding="utf-8-sig").read()
        assert text.startswith("统一社会信用代码") and "91411203W0RB7F17RN" in text

        # the audit log shows the import, and the chain is whole
        page.goto(f"{base}/office/audit?action=targets.import")
        page.wait_for_selector(".audit-file")
        assert "targets.csv" in page.inner_text(".audit-file")
        page.click(".verify-btn")
        page.wait_for_selector('.verify-report[data-ok="true"]')
        assert "审计链完整" in page.inner_text(".verify-report")
        check(page, "审计日志")
        o.shot(page, "audit")

        # accounts: create one, freeze it with a reason, reset a password
        page.goto(f"{base}/office/accounts")
        page.wait_for_selector(".data-table .el-table__row")
        check(page, "账号")
        page.click(".add-account")
        page.fill("#acc-username", "samr_new_planner")
        page.fill("#acc-name", "新计划编制员")
        choose(page, ".acc-role", "计划编制人员")
        choose(page, ".acc-dept", "市场监督管理局")
        page.fill("#acc-pw", "Plan@2026x")
        page.fill("#acc-pw2", "Plan@2026x")
        check(page, "新建账号")
        page.click(".acc-save")
        page.wait_for_selector(".acc-save", state="hidden")
        page.goto(f"{base}/office/accounts?q=samr_new_planner")
        page.wait_for_selector(".data-table .el-table__row:has-text('samr_new_planner')")
        page.click(".acc-freeze")
        page.fill(".reason-input textarea", "岗位调整，暂停使用")
        page.click(".reason-confirm")
        page.wait_for_selector(".data-table .el-table__row:has-text('已冻结')")
        o.shot(page, "accounts")
        page.click(".acc-reset")
        page.fill("#reset-pw", "short")
        page.fill("#reset-pw2", "short")
        page.click(".reset-save")
        h.wait_text(page, "密码至少 8 位")
        page.fill("#reset-pw", "Reset@2026y")
        page.fill("#reset-pw2", "Reset@2026y")
        page.click(".reset-save")
        page.wait_for_selector(".reset-save", state="hidden")
        status, body, _ = h.api(base, "POST", "/api/v1/auth/login",
                                body={"username": "samr_new_planner", "password": "Reset@2026y"})
        assert status == 401, body                          # frozen: the new password does not open it

        # the working-day calendar: the year in twelve months
        page.goto(f"{base}/office/calendar?year=2026")
        page.wait_for_selector(".month")
        assert page.locator(".month").count() == 12
        assert page.locator('td.holiday[data-date="2026-10-01"]').count() == 1
        assert page.locator('td.makeup[data-date="2026-02-14"]').count() == 1
        check(page, "工作日历")
        o.shot(page, "calendar")

        # the jobs: the imports and the export found again
        page.goto(f"{base}/office/jobs")
        page.wait_for_selector(".data-table .el-table__row")
        assert "检查对象名录库导入" in page.inner_text(".data-table")
        check(page, "后台作业")
        page.click(".data-table .el-table__row a")
        page.wait_for_selector(".job-progress[data-status]")
        check(page, "作业详情")
        browser.close()

    bad = {screen: v for screen, v in found.items() if v}
    assert not bad, "\n".join(f"{s}:\n{h.describe_violations(v)}" for s, v in bad.items())
    assert not errors, errors
