"""Every published draw record carries the audit chain's head at commitment and at seed, so
whoever keeps a copy holds a point of the chain (issue 6 §1.4); checkers of dsr/v1 ignore it."""
from __future__ import annotations

import json

from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.draws.verify import verify_record


def _entry(db_session, action, task_code):
    return db_session.scalars(select(AuditEntry).where(AuditEntry.action == action,
                                                       AuditEntry.entity_id == f"{task_code}#1")).one()


def test_the_record_anchors_the_audit_chain(client, scenario, db_session, app, tmp_path):
    s = scenario()
    assert client.post(f"/api/v1/tasks/{s.task.id}/draw/commit", headers=s.headers).status_code == 201
    record = client.get(f"/api/public/draws/{s.task.code}/record").get_json()
    committed = _entry(db_session, "draw.commit", s.task.code)
    assert record["audit_anchor"] == {"commit": {"seq": committed.id, "hash": committed.hash,
                                                 "at": committed.at.isoformat()}, "seed": None}

    r = client.post(f"/api/v1/tasks/{s.task.id}/draw/seed", headers=s.headers, json={"source": "csprng"})
    assert r.status_code == 200, r.json
    record = client.get(f"/api/public/draws/{s.task.code}/record").get_json()
    drawn = _entry(db_session, "draw.result", s.task.code)
    assert drawn.id > committed.id
    assert record["audit_anchor"]["commit"]["hash"] == committed.hash
    assert record["audit_anchor"]["seed"] == {"seq": drawn.id, "hash": drawn.hash, "at": drawn.at.isoformat()}
    assert verify_record(record).ok  # not part of dsr/v1: the checker ignores it

    path = tmp_path / "record.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["audit", "verify", "--record", str(path)])
    assert result.exit_code == 0 and "核对锚点 2 个" in result.output, result.output
