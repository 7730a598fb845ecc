"""The shared rule cases (tests/data/rule-cases.json) pushed to the server as a phone would: what
record.finalize answers is what the phone's rules say (pwa/test/rules.test.ts runs the same cases)."""
from __future__ import annotations

import json
import pathlib

import pytest

from backend.directory.models import Inspector
from tests.field.builders import RECORD, led_inspection

CASES = json.loads((pathlib.Path(__file__).resolve().parents[1] / "data/rule-cases.json").read_text("utf-8"))

# the record cases whose group is "every section signed by each of its officers" and whose values name no file
# and no department of the case's own (the test's group has its own departments)
THROUGH_THE_SERVER = [
    "nothing written yet: the visit, the result, the representative",
    "complete",
    "发现问题待后续处理 alone: which problem must be chosen too",
    "发现问题待后续处理 with 发现问题经责令已改正 still names no problem under it",
    "发现问题待后续处理 with one of its problems",
    "a problem under 发现问题待后续处理 chosen alone is a result of its own",
    "未发现问题 with another result",
    "未发现问题 with 发现问题待后续处理 alone: both rules",
]


def case_values(case: dict) -> dict:
    values = dict(CASES["bases"][case["base"]])
    for path, value in case["values"].items():
        if value is None:
            values.pop(path, None)
        else:
            values[path] = value
    return values


@pytest.mark.parametrize("name", THROUGH_THE_SERVER)
def test_record_finalize_answers_what_the_rules_file_says(field, db_session, name):
    case = next(c for c in CASES["record"] if c["name"] == name)
    assert case["group"] == "signed"
    iid = field.inspection.id
    led_inspection(db_session, iid, db_session.get(Inspector, field.lead_user.inspector_id), "finalizable")
    values = case_values(case)
    lead = field.phone(field.lead_user)
    lead.pull()
    lead.set_record(iid, {path: values.get(path) for path in sorted(set(RECORD) | set(values))})
    assert lead.push()[0]["status"] == "applied"
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": iid, "content_hash": lead.record_hash(iid)})
    [res] = lead.push()
    if case["problems"]:
        assert res["code"] == "record.incomplete"
        assert res["details"]["problems"] == [message for _rule, message in case["problems"]]
        assert res["message"] == "检查记录不完整：" + "；".join(message for _rule, message in case["problems"][:3])
    else:
        assert res["status"] == "applied", res
