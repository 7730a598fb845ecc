"""docs/sync.md is exact: its examples run against the app (Flask test client), and the server says nothing the
text does not (issue 11: "docs/sync.md says everything a client needs, and nothing the server does not do").

* every ```json block of the text is read: requests are sent, answers compared with what the server answers
  (the convention at the top of docs/sync.md: every key shown is sent, with a value of the same type; an
  object ending with ``"…": "…"`` may have more; ``"…"``, or text ending in ``…``, stands for any text
  starting with what comes before the ``…``);
* the key lists the text gives (``{a, b, …}``: a device, an inspection's parts, a stored file) are the keys the
  server sends;
* every error code the sync and upload code can answer is named in the text, and every field a push result
  can carry is in its table of result fields.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path

import pytest

from tests.api.media import files
from tests.field.conftest import build_field
from tests.field.test_merge import GPS, everyone_signs_on_the_leads_phone, representative_signs_and_submit, \
    sign_and_finalise

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "sync.md"
TEXT = DOC.read_text(encoding="utf-8")

# the ids the examples use, replaced by the scenario's own
DOC_CLIENT = "3f1c2a4e-8b7d-4c1e-9a3f-2d6e8b0c4a17"
DOC_INSPECTION, DOC_DEPARTMENT, DOC_POINT, DOC_TASK = 1207, 3, 88, 7
# values that must be equal, not just of the same type
EXACT = {"status", "code", "type", "op", "reason_code", "role", "answer_type", "kind", "state", "scope"}


@pytest.fixture()
def field(app, client, factory, auth, db_session):
    return build_field(app, client, factory, auth, db_session)


# --- reading the text -------------------------------------------------------------------------------------------

def json_blocks() -> list[tuple[int, str]]:
    """(line, text) of every ```json block (indented ones too: inside a list item)."""
    out, lines, i = [], TEXT.splitlines(), 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith("```json"):
            indent = len(lines[i]) - len(lines[i].lstrip())
            start, body = i + 1, []
            i += 1
            while not lines[i].strip().startswith("```"):
                body.append(lines[i][indent:])
                i += 1
            out.append((start, "\n".join(body)))
        i += 1
    return out


def block_after(marker: str) -> tuple[int, str]:
    """The first ```json block after the first line holding ``marker``."""
    at = TEXT.index(marker)
    line = TEXT[:at].count("\n") + 1
    return next((n, b) for n, b in json_blocks() if n > line)


def keys_of(text: str) -> list[str]:
    """The top-level names of a key list ``{a, b (x/y), c {…}, d?: [{…}]}`` (braces optional)."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    depth, flat = 0, []
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            flat.append(ch)
    names = []
    for part in "".join(flat).split(","):
        match = re.match(r'\s*"?([a-z_][a-z0-9_]*)', part)
        if match:
            names.append(match.group(1))
    return names


def key_list_after(marker: str) -> list[str]:
    """The key list in the first backticked ``{…}`` or ``[{…}]`` after ``marker``."""
    rest = TEXT[TEXT.index(marker) + len(marker):]
    match = re.search(r"`(\[?\{[^`]*\}\]?)`", rest)
    assert match, marker
    return keys_of(match.group(1))


def inspection_table() -> dict[str, str]:
    """§4.2: key → the content cell of its row."""
    part = TEXT[TEXT.index("### 4.2 Inspection"):TEXT.index("## 5. Mutations")]
    rows = {}
    for line in part.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("`"):
            for key in re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", cells[0])):
                rows[key] = "|".join(cells[1:])
    return rows


# --- comparing --------------------------------------------------------------------------------------------------

def mismatches(doc, real, where: str = "") -> list[str]:
    """Where ``real`` does not have the shape ``doc`` shows (the convention of docs/sync.md)."""
    if isinstance(doc, dict):
        if not isinstance(real, dict):
            return [f"{where}: 应为对象，实为 {real!r}"[:200]]
        shown = {k for k in doc if k != "…"}
        out = [f"{where}: 文档有 {k}，服务器没有" for k in sorted(shown - set(real))]
        if "…" not in doc:
            out += [f"{where}: 服务器有 {k}，文档没有" for k in sorted(set(real) - shown)]
        for k in sorted(shown & set(real)):
            exact = k in EXACT and isinstance(doc[k], str) and re.fullmatch(r"[a-z_.…]+", doc[k])
            out += mismatches(doc[k], real[k], f"{where}.{k}") if not exact else \
                ([] if doc[k] == real[k] or (isinstance(doc[k], str) and doc[k].endswith("…")
                                             and isinstance(real[k], str)) else [f"{where}.{k}: 文档 {doc[k]!r}，服务器 {real[k]!r}"])
        return out
    if isinstance(doc, list):
        if not isinstance(real, list) or len(real) < len(doc):
            return [f"{where}: 应为至少 {len(doc)} 项的数组，实为 {real!r}"[:200]]
        return [m for i, d in enumerate(doc) for m in mismatches(d, real[i], f"{where}[{i}]")]
    if isinstance(doc, str):
        if not isinstance(real, str):
            return [f"{where}: 应为文字，实为 {real!r}"[:200]]
        if doc.endswith("…") and not real.startswith(doc[:-1]):
            return [f"{where}: 应以 {doc[:-1]!r} 开头，实为 {real!r}"]
        return []
    if isinstance(doc, bool) or doc is None:
        return [] if doc is real or (doc is None and real is None) else [f"{where}: 文档 {doc!r}，服务器 {real!r}"]
    if isinstance(doc, int):
        return [] if isinstance(real, int) and not isinstance(real, bool) else [f"{where}: 应为整数，实为 {real!r}"]
    return [] if isinstance(real, type(doc)) else [f"{where}: 类型不同：{doc!r} / {real!r}"]


def _ids(text: str, field, cp: int, task_id: int | None = None) -> str:
    """An example's ids made the scenario's."""
    text = text.replace(f'"inspection_id": {DOC_INSPECTION}', f'"inspection_id": {field.inspection.id}')
    text = text.replace(f'"id": {DOC_INSPECTION}', f'"id": {field.inspection.id}')
    text = text.replace(f'"department_id": {DOC_DEPARTMENT}', f'"department_id": {field.lead_dept.id}')
    text = text.replace(f"points.{DOC_POINT}.", f"points.{cp}.")
    if task_id is not None:
        text = text.replace(f'"id": {DOC_TASK},', f'"id": {task_id},')
    return text


def _push(field, user, body, **headers):
    return field.client.post("/api/sync/push", data=json.dumps(body, ensure_ascii=False),
                             content_type="application/json", headers={**field.auth.headers(user), **headers})


def _note(mid: int, field) -> dict:
    return {"id": mid, "name": "section.set", "device_time": "2026-04-08T09:00:00+08:00",
            "args": {"inspection_id": field.inspection.id, "department_id": field.lead_dept.id,
                     "fields": {"note": {"value": f"第 {mid} 次记录", "base_rev": 0}}}}


# --- §3 and §4: the push and the pull, as the text shows them ---------------------------------------------------------

def test_the_push_and_the_pull_of_the_text_run_as_shown(field, db_session):
    cp = field.points(field.lead_item)[0]
    field.task.draw_date = dt.date(2026, 3, 25)      # the day the planner set for the draw (null until then)
    db_session.flush()
    user = field.lead_user
    # the phone of the example: its server has processed mutations up to 40
    r = _push(field, user, {"client_id": DOC_CLIENT, "mutations": [_note(i, field) for i in range(1, 41)]})
    assert r.status_code == 200 and r.json["last_mutation_id"] == 40, r.json
    line, request = block_after("## 3. Push")
    body = json.loads(_ids(request, field, cp))
    assert body["client_id"] == DOC_CLIENT and [m["id"] for m in body["mutations"]] == [41, 42], f"docs/sync.md:{line}"
    r = _push(field, user, body, **{"X-Device-Label": "HUAWEI nova 9 / Chrome 120"})
    assert r.status_code == 200, (line, r.json)
    line, answer = next((n, b) for n, b in json_blocks() if n > line)
    problems = mismatches(json.loads(_ids(answer, field, cp)), r.json)
    assert not problems, f"docs/sync.md:{line}\n" + "\n".join(problems) + "\n" + json.dumps(r.json, ensure_ascii=False)

    # the pull: its request line names the query the text gives (a cursor of another server aside)
    pull_at = TEXT.index("## 4. Pull")
    request_line = re.search(r"GET (/api/sync/pull\?\S+)", TEXT[pull_at:]).group(1)
    assert {"client_id", "cursor", "limit"} == {kv.split("=")[0] for kv in request_line.split("?")[1].split("&")}
    r = field.client.get(f"/api/sync/pull?client_id={DOC_CLIENT}&limit=100",
                         headers={**field.auth.headers(user), "X-Device-Label": "HUAWEI nova 9 / Chrome 121"})
    assert r.status_code == 200, r.json
    line, answer = block_after("## 4. Pull")
    problems = mismatches(json.loads(_ids(answer, field, cp, task_id=field.task.id)), r.json)
    assert not problems, f"docs/sync.md:{line}\n" + "\n".join(problems)
    assert r.json["last_mutation_id"] == 42
    assert r.json["server_time"].endswith("Z") and re.fullmatch(r"[0-9.]+", r.json["cursor"])

    # the task of §4.1 has every key the server sends, and no other
    line, task = block_after("### 4.1 Task")
    real = next(c["data"] for c in r.json["changes"] if c["type"] == "task")
    problems = mismatches(json.loads(task), real)
    assert not problems, f"docs/sync.md:{line}\n" + "\n".join(problems)

    # §1.1: the device list, with the label of the latest pull (a pull replaces the label, as a push does)
    devices = field.client.get("/api/sync/clients", headers=field.auth.headers(user)).json
    assert set(devices[0]) == set(key_list_after("`GET /api/sync/clients` (the officer): their devices, newest first:"))
    assert devices[0]["label"] == "HUAWEI nova 9 / Chrome 121" and devices[0]["last_mutation_id"] == 42


def test_the_parts_of_an_inspection_are_those_of_the_text(field, db_session):
    """§4.2: the keys of the table, and the key list of each part, against a record carried through to the end
    (signatures, a deadline) and one with a conflict and a flag."""
    lead = field.phone(field.lead_user)
    sign_and_finalise(field, lead)
    everyone_signs_on_the_leads_phone(field, lead)
    representative_signs_and_submit(field, lead, lead.docs["inspection"][field.inspection.id]["record"]["content_hash"])
    assert lead.push()[-1]["status"] == "applied"
    lead.pull()
    done = lead.docs["inspection"][field.inspection.id]
    # the second business: two officers write one field (a conflict), with a fix (a flag: no registered location)
    second = field.inspections[1]
    cp = field.points(field.lead_item)[0]
    a, b = field.phone(field.lead_officer), field.phone(field.lead_user)
    photo = a.upload(files.photo(seed=11), "image/jpeg")
    a.set_section(second.id, field.lead_dept.id, {f"points.{cp}.note": "甲", f"points.{cp}.gps": GPS, f"points.{cp}.photos": [
        {"id": str(uuid.uuid4()), "sha256": photo, "taken_at": "2026-04-08T09:31:00+08:00"}]})
    a.push()
    b.set_section(second.id, field.lead_dept.id, {f"points.{cp}.note": "乙"})
    assert b.push()[0]["status"] == "conflict"
    b.pull()
    open_one = b.docs["inspection"][second.id]
    assert open_one["conflicts"] and open_one["flags"]

    rows = inspection_table()
    assert set(rows) == set(done), f"§4.2 的表格与服务器不同：{sorted(set(rows) ^ set(done))}"

    def sample(key):
        for doc in (done, open_one):
            value = doc[key]
            if isinstance(value, list) and value:
                return value[0]
            if isinstance(value, dict) and value:
                return value
        raise AssertionError(f"no {key} to compare")

    for key in ("group", "me", "record", "deadline", "sections", "signatures", "conflicts", "flags"):
        cell = rows[key]
        listed = keys_of(re.search(r"`(\[?\{[^`]*\}\]?)`", cell).group(1))
        assert set(listed) == set(sample(key)), f"§4.2 {key}：文档 {sorted(listed)}，服务器 {sorted(sample(key))}"
    members = keys_of(re.search(r"members: (\[\{[^]]*\}\])", rows["group"]).group(1))
    assert set(members) == set(done["group"]["members"][0])
    target = keys_of(re.search(r"`([^`]*)`", rows["target"]).group(1))
    assert set(target) == set(done["target"])
    media = open_one["media"][photo]
    listed = keys_of(re.search(r"else `(\{[^`]*\})`", rows["media"]).group(1))
    assert set(listed) == set(media)


# --- §3: every field a result carries is in the table --------------------------------------------------------------

def test_every_result_field_is_in_the_table(field):
    part = TEXT[TEXT.index("### Result fields"):TEXT.index("## 4. Pull")]
    documented = {k for line in part.splitlines() if line.startswith("| `")
                  for k in re.findall(r"`([a-z_]+)`", line.split("|")[1])}
    lead = field.phone(field.lead_user)
    seen: set[str] = set()
    real = lead.transport.request

    def request(method, path, headers, body):
        r = real(method, path, headers, body)
        if path == "/api/sync/push" and r.status == 200:
            for result in r.json["results"]:
                seen.update(result)
        return r
    lead.transport.request = request
    sign_and_finalise(field, lead)
    everyone_signs_on_the_leads_phone(field, lead)
    representative_signs_and_submit(field, lead, lead.docs["inspection"][field.inspection.id]["record"]["content_hash"])
    lead.enqueue("conflict.resolve_many", {"inspection_id": field.inspections[1].id, "choice": "server"})
    lead.enqueue("record.set", {"inspection_id": field.inspections[1].id,
                                "fields": {"opinion": {"value": 1, "base_rev": 0}}})
    lead.push()
    assert {"revs", "content_hash", "publication_due_on", "resolved", "errors"} <= seen
    assert seen <= documented, f"结果字段不在 §3 的表格中：{sorted(seen - documented)}"


# --- §7: the upload of the text ----------------------------------------------------------------------------------------

def test_the_upload_of_the_text_runs_as_shown(field):
    headers = field.auth.headers(field.lead_user)
    data = files.photo(seed=7)
    line, declaration = block_after("2. **Declare the file.**")
    body = json.loads(declaration)
    assert set(body) == {"sha256", "length", "media_type", "filename", "kind"}, f"docs/sync.md:{line}"
    body.update(sha256=files.sha(data), length=len(data))
    r = field.client.post("/api/uploads", json=body, headers=headers)
    assert r.status_code == 201, r.json
    assert {"Location", "Upload-Offset", "Upload-Length", "Upload-Expires"} <= set(r.headers.keys())
    assert r.headers["Tus-Resumable"] == "1.0.0" and r.headers["Cache-Control"] == "no-store"
    line, answer = next((n, b) for n, b in json_blocks() if n > line)
    problems = mismatches(json.loads(answer), r.json)
    assert not problems, f"docs/sync.md:{line}\n" + "\n".join(problems)
    r = field.client.patch(r.headers["Location"], data=data, headers={
        **headers, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"})
    assert r.status_code == 200 and r.json["complete"] is True, r.json
    assert r.headers["Content-Location"] == f"/api/media/{files.sha(data)}"
    listed = key_list_after("`media` in these answers is")
    assert set(listed) == set(r.json["media"]), f"§7 media：文档 {sorted(listed)}，服务器 {sorted(r.json['media'])}"
    # declared again: already stored, and readable by its holder
    r = field.client.post("/api/uploads", json=body, headers=headers)
    assert r.status_code == 200 and r.json["id"] is None and r.json["complete"] is True
    assert r.json["offset"] == r.json["length"] == len(data) and r.json["expires_at"] is None
    head = field.client.head(f"/api/media/{files.sha(data)}", headers=headers)
    assert head.status_code == 200 and head.headers["X-Media-Kind"] == "photo"
    assert head.headers["Cache-Control"] == "no-store"
    got = field.client.get(f"/api/media/{files.sha(data)}", headers=headers)
    assert got.status_code == 200 and got.data == data and got.headers["ETag"] == f'"{files.sha(data)}"'
    assert got.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"] == f"inline; filename={files.sha(data)[:16]}.jpg"


# --- §1.1: the refusal of a device too many ------------------------------------------------------------------------------

def test_a_device_too_many_is_refused_with_the_devices_the_text_lists(field, monkeypatch):
    monkeypatch.setitem(field.app.config, "SYNC_MAX_CLIENTS", 1)
    headers = field.auth.headers(field.lead_user)
    assert field.client.get(f"/api/sync/pull?client_id={uuid.uuid4()}", headers=headers).status_code == 200
    r = field.client.get(f"/api/sync/pull?client_id={uuid.uuid4()}", headers=headers)
    assert r.status_code == 409 and r.json["code"] == "sync.too_many_devices"
    marker = "409 `sync.too_many_devices`, `details: "
    assert set(r.json["details"]) == set(keys_of(TEXT[TEXT.index(marker) + len(marker) - 1:].split("`")[0]))
    device = keys_of(re.search(r"devices: (\[\{[^]]*\}\])", TEXT).group(1))
    assert set(r.json["details"]["devices"][0]) == set(device)
    # retiring answers the device as listed, retired
    gone = r.json["details"]["devices"][0]["client_id"]
    r = field.client.post(f"/api/sync/clients/{gone}/retire", headers=headers)
    assert r.status_code == 200 and r.json["client_id"] == gone and r.json["retired_at"]
    assert field.client.get(f"/api/sync/pull?client_id={gone}", headers=headers).json["code"] == "sync.client_retired"


# --- every code the server can answer is in the text -----------------------------------------------------------------

SOURCES = ["sync/engine.py", "sync/protocol.py", "backend/inspections/sync_routes.py", "backend/inspections/handlers.py",
           "backend/inspections/syncing.py", "backend/inspections/signers.py", "backend/inspections/devices.py",
           "backend/inspections/access.py", "backend/inspections/media_access.py", "backend/media/routes.py",
           "backend/media/services.py", "backend/media/common.py", "backend/media/uploads.py",
           "backend/media/references.py", "backend/media/upkeep.py", "backend/media/checks.py"]
# codes that never reach a client of the sync protocol (a background job's failure, recorded on the file)
NOT_ANSWERED = {"media.process_failed"}


def test_every_code_the_sync_and_upload_code_answers_is_named_in_the_text():
    codes = set()
    for name in SOURCES:
        source = (ROOT / name).read_text(encoding="utf-8")
        codes |= set(re.findall(r'(?:Refused\(|code=)"([a-z_]+(?:\.[a-z_]+)+|[a-z_]+)"', source))
        if 'Refused(f"record.{record.state}"' in source:
            codes |= {"record.draft", "record.signing", "record.submitted"}
    missing = sorted(c for c in codes - NOT_ANSWERED if not re.search(rf"(?<![a-z_.]){re.escape(c)}(?![a-z_])", TEXT))
    assert not missing, f"docs/sync.md 未提到这些错误代码：{missing}"


@pytest.mark.parametrize("query, code", [
    ("", "validation_error"), ("client_id=3F1C2A4E-8B7D-4C1E-9A3F-2D6E8B0C4A17", "sync.bad_client"),
    (f"client_id={DOC_CLIENT}&limit=0", "validation_error"), (f"client_id={DOC_CLIENT}&limit=501", "validation_error"),
    (f"client_id={DOC_CLIENT}&cursor=abc", "sync.bad_cursor"), (f"client_id={DOC_CLIENT}&cursor=99999", "sync.cursor_ahead"),
])
def test_a_pull_is_refused_as_the_text_says(field, query, code):
    r = field.client.get(f"/api/sync/pull?{query}", headers=field.auth.headers(field.lead_user))
    assert r.json["code"] == code and r.headers["X-Error-Code"] == code
    assert r.status_code == (409 if code == "sync.cursor_ahead" else 422)
    if code == "sync.cursor_ahead":
        assert isinstance(r.json["details"]["head"], str)


def test_a_mutation_is_refused_with_the_codes_of_the_table(field):
    """§5.4: a few refusals the text added (section.not_signed, record.draft, section.empty, signature.empty)."""
    insp, dept = field.inspection.id, field.lead_dept.id
    sid = str(uuid.uuid4())
    mutations = [
        {"id": 1, "name": "section.unsign", "args": {"inspection_id": insp, "department_id": dept, "reason": "重新检查"}},
        {"id": 2, "name": "record.sign", "args": {"inspection_id": insp, "signature_id": sid, "content_hash": "a" * 64,
                                                  "strokes": [{"points": [[0, 0, 0]]}]}},
        {"id": 3, "name": "section.sign", "args": {"inspection_id": insp, "department_id": dept, "signature_id": sid,
                                                   "content_hash": "a" * 64, "strokes": [{"points": [[0, 0, 0]]}]}},
        {"id": 4, "name": "section.sign", "args": {"inspection_id": insp, "department_id": dept, "signature_id": sid,
                                                   "content_hash": "a" * 64, "strokes": []}},
        {"id": 5, "name": "section.sign", "args": {"inspection_id": insp, "department_id": dept, "signature_id": sid,
                                                   "content_hash": "a" * 64, "strokes": [{"points": []}]}},
        {"id": 6, "name": "record.representative", "args": {"inspection_id": insp, "signature_id": sid,
                                                             "content_hash": "a" * 64, "strokes": [{"points": [[1, 1, 1]]}]}},
    ]
    r = _push(field, field.lead_user, {"client_id": str(uuid.uuid4()), "mutations": mutations})
    assert [x.get("code") for x in r.json["results"]] == [
        "section.not_signed", "record.draft", "section.empty", "signature.empty", "signature.empty", "record.draft"]


# --- §5.1: what is signed, computed from the text alone -------------------------------------------------------------

def _jcs(value) -> bytes:
    """RFC 8785 for the values a record holds (text, integers, booleans, null, lists, objects): keys sorted by
    UTF-16 code units, no whitespace, UTF-8."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return b"{" + b",".join(_jcs(k) + b":" + _jcs(v) for k, v in items) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(_jcs(v) for v in value) + b"]"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def test_the_hashes_pulled_are_those_the_text_says_how_to_compute(field):
    import hashlib

    cp = field.points(field.lead_item)[0]
    phone = field.phone(field.lead_user)
    phone.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.result": "pass", f"points.{cp}.note": "门头 ✓ 𠀀",
                                                                f"points.{cp}.checked": True, "officers": []})
    phone.push()
    phone.pull()
    doc = phone.docs["inspection"][field.inspection.id]
    section = next(s for s in doc["sections"] if s["department_id"] == field.lead_dept.id)
    signed = {"v": 1, "kind": "section", "inspection_id": field.inspection.id, "department": section["department_code"],
              "content": section["content"]}
    assert hashlib.sha256(_jcs(signed)).hexdigest() == section["content_hash"]
    codes = list(dict.fromkeys(m["department_code"] for m in doc["group"]["members"]))
    record = {"v": 1, "kind": "record", "inspection_id": field.inspection.id, "task": field.task.code,
              "target": doc["target"]["code"], "sections": {c: None for c in codes}, "content": doc["record"]["content"]}
    assert hashlib.sha256(_jcs(record)).hexdigest() == doc["record"]["content_hash"]


def test_a_device_of_another_department_is_not_an_admins_to_retire(field, factory):
    from backend.auth.roles import Role

    device = str(uuid.uuid4())
    assert field.client.get(f"/api/sync/pull?client_id={device}", headers=field.auth.headers(field.lead_user)).status_code == 200
    stranger = factory.user(Role.DEPT_ADMIN, field.other_dept)
    r = field.client.post(f"/api/sync/clients/{device}/retire", headers=field.auth.headers(stranger))
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"
    r = field.client.post(f"/api/sync/clients/{device}/retire", headers=field.auth.headers(field.other_officer))
    assert r.status_code == 404 and r.json["code"] == "sync.client_not_found"
    own = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    r = field.client.post(f"/api/sync/clients/{device}/retire", headers=field.auth.headers(own))
    assert r.status_code == 200 and r.json["retired_at"]
    assert field.client.post(f"/api/sync/clients/{device}/retire", headers=field.auth.headers(own)).json == r.json


def test_a_gap_and_a_signer_check_answer_the_keys_of_the_text(field):
    from tests.factories import PASSWORD

    r = _push(field, field.lead_user, {"client_id": str(uuid.uuid4()), "mutations": [_note(1, field), _note(3, field)]})
    assert r.status_code == 200 and r.json["last_mutation_id"] == 1
    stopped = r.json["stopped"]
    assert set(stopped) == set(keys_of(re.search(r'"stopped": (\{"code": "sync\.gap"[^}]*\})', TEXT).group(1)))
    assert (stopped["code"], stopped["expected"], stopped["got"]) == ("sync.gap", 2, 3)
    r = field.client.post("/api/sync/signers/verify", headers=field.auth.headers(field.lead_user), json={
        "inspection_id": field.inspection.id, "scope": "section", "department_id": field.lead_dept.id,
        "username": field.lead_officer.username, "password": PASSWORD})
    assert r.status_code == 200, r.json
    marker = "`POST /api/sync/signers/verify`"
    answer = re.search(r"→ `200 (\{[^}]*\})`", TEXT[TEXT.index(marker):]).group(1)
    assert set(r.json) == set(keys_of(answer))


@pytest.mark.parametrize("label, stored", [("华为 nova 9 / Chrome 120", "华为 nova 9 / Chrome 120"),
                                           ("HUAWEI nova 9", "HUAWEI nova 9"), ("caf\xe9", "caf\xe9")])
def test_a_device_label_in_utf8_is_read_as_such(field, label, stored):
    """§3: an HTTP header travels as bytes read as ISO-8859-1; a label sent in UTF-8 is shown as sent."""
    wire = label.encode("utf-8").decode("latin-1") if label.isascii() or "华" in label else label
    r = field.client.get(f"/api/sync/pull?client_id={uuid.uuid4()}",
                         headers={**field.auth.headers(field.lead_user), "X-Device-Label": wire})
    assert r.status_code == 200, r.json
    assert field.client.get("/api/sync/clients", headers=field.auth.headers(field.lead_user)).json[0]["label"] == stored


def test_a_device_label_with_a_c1_control_character_is_refused(field):
    r = field.client.get(f"/api/sync/pull?client_id={uuid.uuid4()}",
                         headers={**field.auth.headers(field.lead_user), "X-Device-Label": "ab\x85cd"})
    assert r.status_code == 422 and r.json["code"] == "sync.bad_label"


@pytest.mark.parametrize("body, where", [
    ([], "_schema"), ({"client_id": DOC_CLIENT, "mutations": [], "x": 1}, "_schema"),
    ({"client_id": DOC_CLIENT.upper(), "mutations": [{"id": 1, "name": "section.set", "args": {}}]}, "client_id"),
    ({"client_id": DOC_CLIENT, "mutations": "[]"}, "mutations"), ({"client_id": DOC_CLIENT, "mutations": [7]}, "mutations.0"),
    ({"client_id": DOC_CLIENT, "mutations": [{"id": 2, "name": "a.b", "args": {}}, {"id": 2, "name": "a.b", "args": {}}]},
     "mutations.1"),
])
def test_a_bad_batch_names_where_as_the_text_says(field, body, where):
    r = _push(field, field.lead_user, body)
    assert r.status_code == 422 and r.json["code"] == "sync.bad_batch" and where in r.json["errors"], r.json
