"""A 复查 on the phone (issue 12 §3): the department admin schedules the re-inspection of an open 责令限期整改
follow-up of the demo county's history; the officer's app pulls it and lists it as 复查, with what was ordered."""
from __future__ import annotations

from playwright.sync_api import sync_playwright

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
    with sync_playwright() as p:
        browser, ctx, page = open_phone(p, errors)
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
