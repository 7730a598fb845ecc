"""GET /api/public/draws: the public list of committed and drawn draws, newest first, paged and searched, with no
login and no personal data (task, lead department, date, candidates, drawn, links)."""
from __future__ import annotations

import json

from backend.directory.models import Inspector
from tests.api.draws.test_draw_flow import commit, seed


def test_the_public_lists_committed_and_drawn_draws_without_personal_data(client, scenario, db_session):
    drawn = scenario(code="SS-2026-PUB1")
    committed = scenario(code="SS-2026-PUB2")
    scenario(code="SS-2026-PUB3")                       # confirmed, never committed: not listed
    assert commit(client, drawn).status_code == 201
    assert seed(client, drawn).status_code == 200
    first = commit(client, committed).json

    r = client.get("/api/public/draws")                  # no login
    assert r.status_code == 200, r.json
    page = r.json
    assert page["total"] == 2 and [d["task_code"] for d in page["items"]] == ["SS-2026-PUB2", "SS-2026-PUB1"]
    row = page["items"][1]
    assert row["status"] == "drawn" and row["status_label"] == "已抽取" and row["seq"] == 1
    assert row["department"] == {"id": drawn.lead.id, "code": drawn.lead.code, "name": drawn.lead.name}
    assert row["task_name"] == "联合抽查任务" and row["drawn_at"] and len(row["date"]) == 10   # its day in Beijing
    assert row["candidates"] == sum(first["counts"]["targets"].values()) and 0 < row["drawn"] <= row["candidates"]
    assert row["url"] == "/tasks/SS-2026-PUB1?seq=1"
    assert row["record_url"] == "/api/public/draws/SS-2026-PUB1/record?seq=1"
    assert row["verify_url"].startswith("/draw/verify.html?record=")
    waiting = page["items"][0]
    assert waiting["status"] == "committed" and waiting["drawn_at"] is None and waiting["drawn"] > 0
    # no person: neither an officer's name nor a witness
    text = json.dumps(page, ensure_ascii=False)
    names = [n for (n,) in db_session.query(Inspector.name).all() if n and len(n) >= 2]
    assert not [n for n in names if n in text] and "公证员" not in text
    assert set(row) == {"task_code", "task_name", "seq", "status", "status_label", "department", "committed_at",
                        "drawn_at", "date", "candidates", "drawn", "url", "record_url", "verify_url"}

    # filters and pages, on the server
    def codes(query):
        return [d["task_code"] for d in client.get(f"/api/public/draws?{query}").json["items"]]

    assert codes("status=drawn") == ["SS-2026-PUB1"]
    assert codes("q=pub2") == ["SS-2026-PUB2"]
    assert codes(f"department_id={drawn.lead.id}") == ["SS-2026-PUB1"]
    assert codes("year=2026&page_size=1&page=2") == ["SS-2026-PUB1"]
    assert codes("year=2025") == []
    for bad in ("status=superseded", "year=99", "department_id=x", "page_size=1000", "q=" + "长" * 65):
        r = client.get(f"/api/public/draws?{bad}")
        assert r.status_code == 422 and r.json["message"], bad


def test_the_list_reads_each_row_once_and_no_draws_plan_or_result(database):
    """The task is joined once (not again by Draw.task's eager join), and a page reads neither a draw's plan nor
    its result (a drawn result names every pick)."""
    from backend.draws.services_record import public_draw_list_query

    sql = str(public_draw_list_query({"q": "抽查"}).compile(dialect=database.engine.dialect))
    assert sql.count("JOIN task") == 1 and sql.count("JOIN") == 2, sql
    assert "draw.result" not in sql and "draw.plan" not in sql
