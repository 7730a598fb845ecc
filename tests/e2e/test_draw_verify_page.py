"""The public draw verifier page (pwa/public/draw/verify.html) in headless Chromium.

pwa/public is served by Python's http.server on a free port; records are served by
Playwright routes under /records/. The JavaScript verifier must agree with the Python
one: same verdict and the same differences, word for word.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import http.server
import json
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import rfc8785

from backend.draws.verify import verify_record
from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
PUBLIC = ROOT / "pwa" / "public"
VECTORS = json.loads((ROOT / "tests" / "data" / "draw-vectors.json").read_text(encoding="utf-8"))
CASES = VECTORS["draws"]
MATCH = "验证通过：与公布结果一致"
DONE = ('#verdict[data-status="match"], #verdict[data-status="mismatch"], #verdict[data-status="error"], '
        '#verdict[data-status="committed"]')


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=PUBLIC))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.records = {}

    def serve(route):
        body = pg.records.get(urlparse(route.request.url).path)
        if body is None:
            route.fulfill(status=404, body="not found")
        else:
            route.fulfill(status=200, content_type="application/json; charset=utf-8", body=body)

    pg.route(lambda url: urlparse(url).path.startswith("/records/"), serve)
    yield pg
    context.close()
    assert errors == []


STRATA = {"all": "不分层（全部检查对象）", "A": "A 类（信用风险低）", "B": "B 类（信用风险一般）", "C": "C 类（信用风险较高）",
          "D": "D 类（信用风险高）", "U": "未分类"}


def publish(page, name, data):
    path = f"/records/{name}.json"
    page.records[path] = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return path


def open_record(page, path):
    page.goto(f"/draw/verify.html?record={path}")
    page.wait_for_selector(DONE, timeout=60_000)
    return page.inner_text("#verdict")


@pytest.mark.parametrize("n", range(len(CASES)), ids=[c["task"] for c in CASES])
def test_vector_record_matches(page, n):
    case = CASES[n]
    assert open_record(page, publish(page, f"case-{n}", case)) == MATCH
    section = page.locator(".record")
    text = section.inner_text()
    for value in (case["task"], case["commitment"], case["dice"], case["seed"]):
        assert value in text
    assert f"检查组（{len(case['result']['groups'])} 组）" in text
    assert f"回避替换（{len(case['result']['replacements'])} 项）" in text
    first = case["result"]["groups"][0]
    assert first["leader"] in page.locator("table.groups tbody tr").first.inner_text()
    for rep in case["result"]["replacements"]:
        assert rep["in"] in page.locator("table.replacements").inner_text()
    for stratum, ids in case["result"]["selected"].items():
        assert f"{STRATA.get(stratum, f'分层 {stratum}')}：{len(ids)} 个" in text
    # groups are numbered from 1 for people, as in the PDF and the officers' app
    assert page.locator("table.groups tbody tr").first.locator("td").first.inner_text() == "第 1 组"


def test_tampered_record_shows_the_difference(page):
    record = copy.deepcopy(CASES[1])
    right = record["result"]["groups"][2]["leader"]
    record["result"]["groups"][2]["leader"] = "SAMR-000000"
    verdict = open_record(page, publish(page, "tampered", record))
    assert page.get_attribute("#verdict", "data-status") == "mismatch"
    assert verdict == "验证未通过：共 1 处不同"
    assert page.locator(".differences li").all_inner_texts() == [
        f"result.groups[2].leader: 记录为 SAMR-000000，重新计算为 {right}"]


def test_changed_dice_shows_the_seed_first(page):
    record = copy.deepcopy(CASES[0])
    record["dice"] = "0" * 20
    record["result"]["groups"][1]["leader"] = "x"
    verdict = open_record(page, publish(page, "dice", record))
    differences = page.locator(".differences li").all_inner_texts()
    assert verdict == f"验证未通过：共 {len(differences)} 处不同" and len(differences) > 1
    assert differences[0].startswith("seed: 记录为 ")
    assert differences == verify_record(record).differences  # every one, not the first and a count


def test_vectors_file_with_several_records(page):
    assert open_record(page, publish(page, "vectors", VECTORS)) == f"{MATCH}（共 {len(CASES)} 条记录）"
    assert page.locator(".record").count() == len(CASES)


def test_pasted_record(page):
    page.goto("/draw/verify.html")
    page.fill("#paste", json.dumps(CASES[0]))
    page.click("#verify-button")
    page.wait_for_selector(DONE)
    assert page.inner_text("#verdict") == MATCH


def test_chosen_file(page, tmp_path):
    path = tmp_path / "record.json"
    path.write_text(json.dumps(CASES[1], ensure_ascii=False), encoding="utf-8")
    page.goto("/draw/verify.html")
    page.set_input_files("#file", str(path))
    page.click("#verify-button")
    page.wait_for_selector(DONE)
    assert page.inner_text("#verdict") == MATCH


def test_bad_inputs(page):
    assert open_record(page, publish(page, "broken", "{not json")).startswith("无法验证：不是有效的 JSON")
    assert open_record(page, "/records/missing.json") == "无法验证：无法下载记录（HTTP 404）：/records/missing.json"
    page.goto("/draw/verify.html?record=https://example.org/record.json")
    page.wait_for_selector(DONE)
    assert page.inner_text("#verdict").startswith("无法验证：只能加载本站的记录地址")


def _tampered_records():
    base = CASES[1]

    def make(change):
        record = copy.deepcopy(base)
        change(record)
        return record

    sel = base["result"]["selected"]
    return {
        "swapped": make(lambda r: r["result"]["selected"]["C"].reverse()),
        "removed-candidate": make(lambda r: r["targets"].pop(0)),
        "removed-selected": make(lambda r: r.update(targets=[t for t in r["targets"] if t["id"] != sel["B"][0]])),
        "dice": make(lambda r: r.update(dice="1" * 20)),
        "leader": make(lambda r: r["result"]["groups"][3].update(leader="x")),
        "replacement": make(lambda r: r["result"]["replacements"][0].update(group=1, out="EPB-1")),
        "no-replacements": make(lambda r: r["result"].update(replacements=[])),
        "extra-group": make(lambda r: r["result"]["groups"].append(r["result"]["groups"][0])),
        "missing-stratum": make(lambda r: r["result"]["selected"].pop("A")),
        "members": make(lambda r: r["result"]["groups"][0]["members"].update(EPB=[], XYZ=["a"])),
        "bad-plan": make(lambda r: r["plan"].update(group_load=0)),
        "too-few": make(lambda r: r.update(inspectors=r["inspectors"][:10])),
        "shape": make(lambda r: (r.pop("seed"), r["targets"][2].update(id=7), r["conflicts"].append(["a"]))),
        "algorithm": make(lambda r: r.update(algorithm="dsr/v0")),
        "not-object": [],
        "duplicate": make(lambda r: r["targets"].append({"id": r["targets"][0]["id"], "stratum": "D"})),
        "separator": make(lambda r: r["inspectors"][5].update(id="SAMR|1")),
        "unknown-dept": make(lambda r: r["inspectors"].append({"id": "X-1", "dept": "XYZ"})),
        "empty-stratum": make(lambda r: (r["plan"]["strata"].update(E={"num": 1, "den": 2, "min": 3}),
                                         r.update(targets=[t for t in r["targets"] if t["stratum"] != "B"]))),
        "unicode": make(lambda r: (r["plan"].update(note="检查 𝒳 \u2028 é", 中文={"b": 1, "a": [True, None, 0.5]}),
                                   r["result"]["groups"][0].update(leader="\U0001d4b3"))),
        "many-shapes": make(lambda r: [t.update(id=n) for n, t in enumerate(r["targets"][:30])]),
        "group-targets": make(lambda r: (r["result"]["groups"][0].pop("targets"), r["result"]["groups"][1].update(
            targets="x"), r["result"]["groups"][2].update(targets=[1, None]))),
        "extra-stratum": make(lambda r: r["result"]["selected"].update(E=["x"], F=[])),
        "lists": make(lambda r: (r["result"]["selected"]["C"].extend(["X1", "X2"]), r["result"]["groups"].pop(),
                                 r["result"]["groups"][2]["targets"].reverse(),
                                 r["result"]["replacements"].append({"group": 3, "target": "t", "dept": "EPB",
                                                                     "out": "o", "in": "i"}))),
        "target-replacements": make(lambda r: r.update(target_replacements=[
            {"stratum": "C", "out": sel["C"][4], "in": "X", "reason": "closed"},
            {"stratum": "C", "out": sel["C"][4], "in": "Y", "reason": "unreachable"},
            {"stratum": "Q", "out": "a", "in": "b", "reason": "closed"},
            {"stratum": "A", "out": "nobody", "in": "Z", "reason": "revoked"}])),
        "target-replacements-shape": make(lambda r: r.update(target_replacements=[
            "x", {"stratum": 1, "out": None}, {"stratum": "A", "out": "a", "in": "b", "reason": "closed", "at": 5}])),
        "target-replacements-type": make(lambda r: r.update(target_replacements={"a": 1})),
        "before-seed-changed": make(lambda r: (r.update(dice=None, seed=None, result=None, target_replacements=[]),
                                               r["targets"].pop())),
        "before-seed-replaced": make(lambda r: (r.update(dice=None, seed=None, result=None,
                                                         target_replacements=[{"stratum": "A"}]))),
        "draw-hashes": make(lambda r: r.update(draw={"plan_hash": "0", "targets_hash": 1, "seq": 2})),
        "seed-without-result": make(lambda r: r.update(result=None)),
        **{f"failed-{n}": record for n, record in enumerate(_failed_and_expert_records(bad=True))},
    }


def test_javascript_and_python_verifiers_agree(page):
    page.goto("/draw/verify.html")
    records = _tampered_records()
    got = page.evaluate(
        """async (records) => {
            const { verifyRecord } = await import('/draw/dsr.js');
            const out = {};
            for (const [name, record] of Object.entries(records)) out[name] = (await verifyRecord(record)).differences;
            return out;
        }""",
        records,
    )
    for name, record in records.items():
        expected = verify_record(record).differences
        assert expected, name
        assert got[name] == expected, name


def test_javascript_primitives(page):
    page.goto("/draw/verify.html")
    objects = [
        {"b": 1, "a": [True, False, None], "": "x", "é": "\u0007\u001f\"\\/", "\U0001f600": 1, "\uffff": 2},
        {"strata": {"A": {"num": 1, "den": 100, "min": 1}}, "lead": "SAMR", "members": {"SAMR": 2}, "group_load": 5},
        [0, -0.0, 1e21, 1.5, -7, 123456789012345, 0.1, 1e-7],
        "中文\u2028\u2029",
    ]
    got = page.evaluate(
        """async ([tickets, objects]) => {
            const m = await import('/draw/dsr.js');
            const out = { tickets: [], canonical: objects.map((o) => m.canonicalJSON(o)) };
            for (const t of tickets) out.tickets.push(m.toHex(await m.ticket(t.seed, ...t.parts)));
            out.sizes = [[381, {num: 3, den: 100}], [0, {num: 1, den: 100, min: 5}], [1000, {num: 30, den: 100, cap: 40}],
                         [300, {num: 1, den: 100, min: 5}], [1e12 + 1, {num: 1, den: 3}]].map(([n, r]) => m.stratumSize(n, r));
            out.order = ["é", "\\uffff", "z", "\\ud83d\\ude00", "e"].sort(m.compareCodePoints);
            out.seed = await m.seedFrom("ab", "123");
            return out;
        }""",
        [VECTORS["tickets"], objects],
    )
    assert got["tickets"] == [t["ticket"] for t in VECTORS["tickets"]]
    assert got["canonical"] == [rfc8785.dumps(o).decode("utf-8") for o in objects]
    assert got["sizes"] == [12, 0, 40, 5, 333333333334]
    assert got["order"] == sorted(["é", "\uffff", "z", "\U0001f600", "e"])
    assert got["seed"] == hashlib.sha256(b"dsr/v1|seed|ab|123").hexdigest()


def _honest_records():
    """Records that pass: with target replacements from the reserve, and before the seed."""
    from backend.draws.algorithm import draw, record_inputs

    base = CASES[1]
    targets, inspectors, conflicts = record_inputs(base)
    reserve = draw(base["task"], base["plan"], targets, inspectors, conflicts, base["seed"], reserve=3).target_reserve
    sel = base["result"]["selected"]
    replaced = copy.deepcopy(base)
    replaced["target_replacements"] = [
        {"stratum": "C", "out": sel["C"][4], "in": reserve["C"][0], "reason": "closed", "reason_label": "已关闭停业",
         "at": "2026-04-02T01:30:00+00:00"},
        {"stratum": "C", "out": reserve["C"][0], "in": reserve["C"][1], "reason": "deregistered"},
        {"stratum": "A", "out": sel["A"][0], "in": reserve["A"][0], "reason": "revoked"},
    ]
    committed = copy.deepcopy(base)
    committed.update(dice=None, seed=None, result=None, target_replacements=[],
                     draw={"seq": 1, "status": "committed", "committed_at": "2026-04-01T02:00:00+00:00"})
    good = _failed_and_expert_records(bad=False)
    return {"replaced": replaced, "committed": committed, "edge": CASES[2], "failed": good[0], "experts": good[1]}


def _failed_and_expert_records(bad: bool) -> list:
    """The unit tests' failed draw and draw with experts; damaged in every way they check if ``bad``."""
    from tests.unit.draws import test_verify_facts as facts

    if not bad:
        return [facts.failed(), facts.with_experts()]
    out = []
    for change in (lambda r: r.update(conflicts=CASES[1]["conflicts"]),
                   lambda r: r["draw"]["failed_attempts"][0].update(error="draw.too_few_inspectors"),
                   lambda r: r["draw"]["failed_attempts"][0].update(dice="9" * 20),
                   lambda r: r["draw"].update(failed_attempts=[7, {"dice": 1}])):
        record = facts.failed()
        change(record)
        out.append(record)
    for change in (lambda r: r["expert_recusals"].pop(),
                   lambda r: r["expert_recusals"].reverse(),
                   lambda r: r.update(expert_conflicts=[["EX-1"], ["EX-1", 5], "x"]),
                   lambda r: r.update(expert_recusals={}),
                   lambda r: r["plan"].update(experts=[{"group": "0", "id": 1}, "EX"])):
        record = facts.with_experts()
        change(record)
        out.append(record)
    return out


def test_javascript_and_python_agree_on_honest_records(page):
    page.goto("/draw/verify.html")
    records = _honest_records()
    got = page.evaluate(
        """async (records) => {
            const { verifyRecord, verdictOf } = await import('/draw/dsr.js');
            const out = {};
            for (const [name, record] of Object.entries(records)) {
                const r = await verifyRecord(record);
                out[name] = [r.ok, r.seeded, r.differences, verdictOf(r)];
            }
            return out;
        }""",
        records,
    )
    for name, record in records.items():
        report = verify_record(record)
        assert report.ok, (name, report.differences)
        assert got[name] == [True, report.seeded, [], report.verdict], name
    assert got["committed"][1] is False and got["committed"][3] == "承诺值一致；尚未录入随机数，尚无抽取结果"


def test_record_before_the_seed_on_the_page(page):
    record = _honest_records()["committed"]
    assert open_record(page, publish(page, "committed", record)) == "承诺值一致；尚未录入随机数，尚无抽取结果"
    assert page.get_attribute("#verdict", "data-status") == "committed"
    text = page.locator(".record").inner_text()
    assert record["commitment"] in text and "（尚未录入随机数）" in text and "✓ 一致" in text


def test_target_replacements_on_the_page(page):
    record = _honest_records()["replaced"]
    record["draw"] = {"dice_entered": "3141 5926 5358 9793 2384", "seq": 1}
    record["dice"] = CASES[1]["dice"]
    assert open_record(page, publish(page, "replaced", record)) == MATCH
    rows = page.locator("table.target-replacements tbody tr").all_inner_texts()
    assert len(rows) == 3 and "已关闭停业（closed）" in rows[0] and "2026/4/2 09:30:00（北京时间）" in rows[0]
    assert record["target_replacements"][1]["in"] in rows[1] and "已注销（deregistered）" in rows[1]
    assert "检查对象替换（3 项）" in page.locator(".record").inner_text()
    assert page.inner_text(".dice-entered") == "3141 5926 5358 9793 2384"
    # the replacement changed to another target: named, every difference listed
    record["target_replacements"][0]["in"] = record["target_replacements"][2]["in"]
    verdict = open_record(page, publish(page, "replaced-bad", record))
    assert verdict == "验证未通过：共 2 处不同"
    assert page.locator(".differences li").all_inner_texts() == verify_record(record).differences
