"""A 复查 on the phone (issue 12 §3): the department admin schedules the re-inspection of an open 责令限期整改
follow-up of the demo county's history; the officer's app pulls it and lists it as 复查, with what was ordered."""
from __future__ import annotations

from tests.e2e.browser import chromium
from tests.e2e.pwa_helpers import api, login, open_phone, pulled, token, wait_synced


def test_a_scheduled_reinspection_is_listed_as_fuzha_on_the_phone(server):
    base = server.url
    admin = token(base, "samr_admin")
    me = next(iter(pulled(base, "samr_inspector")["inspection"].values()))["me"]
    status, page_, _ = api(base, "GET", f"/api/v1/followups?department_id={me['department_id']}&state=ordered",
                           token=admin)
    assert status == 200 and page_["items"], page_
    followup = page_["items"][0]
    status, body, _ = api(base, "POST", f"/api/v1/followups/{followup['id']}/reinspections", token=admin,
                          body={"inspector_ids": [me["inspector_id"]]}, headers={"If-Match": followup["etag"]})
    assert status == 200, body
    rid = body["steps"][-1]["detail"]["inspection_id"]

    errors: list[str] = []
    with chromium() as browser:
        ctx, page = open_phone(browser, errors)
        try:
            login(page, base, "samr_inspector")
            wait_synced(page)
            row = page.locator(f'.task-row[data-id="{rid}"]')
            row.wait_for()
            assert row.locator(".reinspection-tag").inner_text() == "复查"
            assert followup["target_name"] in row.locator(".task-name").inner_text()
            assert followup["note"] in row.locator(".reinspection-note").inner_text()
            # the drawn inspections of the demo task are no 复查
            others = page.locator(".task-row:not([data-id='%d'])" % rid)
            assert others.count() >= 1 and others.locator(".reinspection-tag").count() == 0
            row.click()
            page.wait_for_selector(".reinspection-card")
            assert "复查组" in page.locator("#group-title").inner_text()
        finally:
            browser.close()
    assert not errors, errors


def test_the_office_task_page_lists_its_fuzha_and_links_each_to_its_followup(server):
    """A task's page in the office lists the follow-ups' 复查 of its businesses (the office list's ``followup_id``)
    apart from the drawn groups, each linking to the follow-up register opened on it."""
    from tests.e2e import office_helpers as o

    base = server.url
    admin = token(base, "samr_admin")
    status, page_, _ = api(base, "GET", "/api/v1/followups?state=ordered", token=admin)
    assert status == 200 and page_["items"], page_
    followup = page_["items"][0]
    status, body, _ = api(base, "POST", f"/api/v1/followups/{followup['id']}/reinspections", token=admin,
                          body={}, headers={"If-Match": followup["etag"]})
    assert status == 200, body
    rid = body["steps"][-1]["detail"]["inspection_id"]
    status, listed, _ = api(base, "GET", "/api/v1/inspections?reinspection=true", token=admin)
    assert status == 200 and [(r["id"], r["followup_id"]) for r in listed["items"]] == [(rid, followup["id"])]
    task_id = listed["items"][0]["task_id"]

    errors: list[str] = []
    with chromium() as browser:
        ctx, page = o.open_office(browser, errors)
        ctx.set_default_timeout(20000)
        o.login(page, base, "samr_admin")
        page.goto(f"{base}/office/tasks/{task_id}")
        row = page.locator(f'.reinspections tr:has(.reinspection-row[data-id="{rid}"])')
        row.wait_for()
        assert "复查" in row.inner_text() and followup["target_name"] in row.inner_text()
        assert row.locator(".followup-link").inner_text() == f"后续处置 #{followup['id']}"
        # the drawn groups show the business once at most (its first, drawn inspection; the group may be on another page)
        assert page.locator(f'.inspection-line:has-text("{followup["target_name"]}")').count() <= 1
        row.locator(".followup-link").click()
        page.wait_for_url(f"**/office/followups?open={followup['id']}")
        drawer = page.locator(".el-drawer")
        drawer.wait_for()
        assert f"后续处置：{followup['target_name']}" in drawer.inner_text()
        assert "安排复查" in drawer.inner_text()
        browser.close()
    assert not errors, errors
