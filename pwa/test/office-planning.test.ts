// The planners' screens' logic (office/planning/lib.ts) and the draw ceremony's (office/draws/ceremony.ts).
import { describe, expect, it } from "vitest";
import {
  awaitingDecision, drawCount, followupLink, reinspectionRows, formOf, inboxParams, itemsWithin, planEditBody, planEditOf, formProblems, includeItemDepartments, lowestCap, previewSummary, ruleRows, rulesBody, startingStrata, withinCap, ratioText, splitList, strataFor, strataRows, taskBody,
  type Plan, type Preview, type Task,
} from "../office/planning/lib";
import { absolute, currentDraw, diceDigits, diceStatus, groupHex, nameOf, phaseOf, sum, verifyPath, witnessList } from "../office/draws/ceremony";
import { mayOpen, menuFor } from "../office/lib/menu";

function task(over: Partial<Task> = {}): Task {
  return {
    id: 5, code: "SS-2026-005", name: "联合抽查", plan: { id: 1, code: "JH-2026-DEMO", name: "计划", year: 2026 },
    lead_department: { id: 1, code: "SAMR", name: "市场监管局" }, status: "draft", status_label: "草稿",
    departments: [{ department_id: 1, code: "SAMR", name: "市场监管局", role: "lead", role_label: "牵头部门", members_per_group: 2,
                    status: "confirmed", status_label: "已确认", reason: null, decided_by: null, decided_at: null }],
    items: [{ item_id: 9, code: "SAMR-009", name: "事项", category: null, kind: "key", kind_label: "重点检查事项", ratio_cap_percent: null,
              department_id: 1, department_code: "SAMR", retired: false }],
    filters: {}, directed: false, strata_mode: "risk", strata: { D: { num: 3, den: 100, min: 1 } },
    exclusions: { inspected_this_year: true, a_class_exempt: false }, group_load: 5, members_per_group: 2,
    start_date: null, end_date: "2026-09-30", draw_date: null, description: null, cancel_reason: null, updated_at: "",
    ...over,
  };
}
const plan = {
  departments: [{ department_id: 1, code: "SAMR", name: "市场监管局", role: "lead", role_label: "牵头部门" },
                { department_id: 2, code: "TAX", name: "税务局", role: "participant", role_label: "参与部门" }],
  ratio_rules: { A: { num: 1, den: 100 }, D: { num: 5, den: 100 } },
};

describe("draw counts (DRAW.md step 3)", () => {
  it("k = min(N, cap, max(min, ceil(num·N/den))) in integers", () => {
    expect(drawCount(98, { num: 1, den: 100 })).toBe(1);
    expect(drawCount(100, { num: 3, den: 100 })).toBe(3);
    expect(drawCount(101, { num: 3, den: 100 })).toBe(4);
    expect(drawCount(15, { num: 3, den: 100, min: 1, cap: 2 })).toBe(1);
    expect(drawCount(119, { num: 3, den: 100, cap: 3 })).toBe(3);
    expect(drawCount(2, { num: 1, den: 100, min: 5 })).toBe(2);
    expect(drawCount(0, { num: 1, den: 1 })).toBe(0);
    expect(drawCount(10, { num: 0, den: 100 })).toBe(0);
  });
  it("writes a ratio in words", () => {
    expect(ratioText({ num: 3, den: 100, min: 1, cap: 2 })).toBe("3/100（最少 1，最多 2）");
    expect(ratioText({ num: 1, den: 100 })).toBe("1/100");
    expect(ratioText(null)).toBe("—");
  });
});

describe("the task form", () => {
  it("strata follow the mode and the risk classes the filters allow", () => {
    expect(strataFor("all")).toEqual(["all"]);
    expect(strataFor("risk")).toEqual(["A", "B", "C", "D", "U"]);
    expect(strataFor("risk", ["D", "B"])).toEqual(["B", "D"]);
    const rows = strataRows("risk", ["D", "A"], { D: { num: 3, den: 100, min: 1 } }, plan.ratio_rules);
    expect(rows).toEqual([{ key: "A", num: 1, den: 100, min: null, cap: null }, { key: "D", num: 3, den: 100, min: 1, cap: null }]);
  });
  it("lists the plan's departments, the task's own first, and the body the API takes", () => {
    const f = formOf(task(), plan);
    expect(f.departments.map((d) => [d.code, d.included, d.lead])).toEqual([["SAMR", true, true], ["TAX", false, false]]);
    f.departments[1].included = true;
    f.regions = "411203, 411202 411203";
    f.industries = "F52、";
    f.risk_classes = ["D", "B"];
    f.strata = strataRows("risk", f.risk_classes, {}, plan.ratio_rules);
    f.strata[0].num = 2; f.strata[0].den = 100; f.strata[0].cap = 4;
    const body = taskBody(f);
    expect(body.departments).toEqual([{ department_id: 1, members_per_group: 2 }, { department_id: 2, members_per_group: 1 }]);
    expect(body.filters).toEqual({ regions: ["411203", "411202"], industries: ["F52"], risk_classes: ["B", "D"] });
    expect(body.strata).toEqual({ B: { num: 2, den: 100, cap: 4 }, D: { num: 5, den: 100 } });
    expect(body.exclusions).toEqual({ inspected_this_year: true, a_class_exempt: false });
    expect(body).toMatchObject({ end_date: "2026-09-30", start_date: null, description: null, group_load: 5, item_ids: [9] });
  });
  it("says what is missing before sending", () => {
    const f = formOf(task(), plan);
    expect(formProblems(f)).toEqual([]);
    f.item_ids = [];
    f.departments[0].members_per_group = 1;
    f.strata = [{ key: "A", num: 5, den: null, min: null, cap: null }, { key: "B", num: 5, den: 2, min: 3, cap: 1 }];
    expect(formProblems(f)).toEqual([
      "请至少选择一个抽查事项", "每组检查人员合计至少 2 人", "A 类（信用风险低）：请同时填写比例的分子和分母",
      "B 类（信用风险一般）：比例须在 0/1 与 1/1 之间", "B 类（信用风险一般）：最多抽取数不能小于最少抽取数",
    ]);
  });
  it("keeps ratios within a general item's cap and takes in the departments of the items checked", () => {
    const items = [task().items[0], { ...task().items[0], item_id: 37, code: "TAX-002", ratio_cap_percent: 3, department_id: 2, department_code: "TAX" },
                   { ...task().items[0], item_id: 38, code: "TAX-003", ratio_cap_percent: 2.5, department_id: 2, department_code: "TAX" }];
    expect(lowestCap(items, [9])).toBeNull();
    expect(lowestCap(items, [9, 37, 38])).toEqual({ percent: 2.5, code: "TAX-003" });
    expect(withinCap({ num: 10, den: 100, min: 1 }, 3)).toEqual({ num: 3, den: 100, min: 1 });
    expect(withinCap({ num: 10, den: 100 }, 2.5)).toEqual({ num: 25, den: 1000 });
    expect(withinCap({ num: 1, den: 100 }, 3)).toEqual({ num: 1, den: 100 });
    expect(startingStrata({}, items, [9])).toBeUndefined();
    expect(startingStrata({ A: { num: 1, den: 100 } }, items, [9, 37])).toEqual({
      A: { num: 1, den: 100 }, B: { num: 3, den: 100 }, C: { num: 3, den: 100 }, D: { num: 3, den: 100 }, U: { num: 3, den: 100 } });
    const f = formOf(task(), plan);
    f.item_ids = [9, 37];
    includeItemDepartments(f, items);
    expect(f.departments.map((d) => [d.code, d.included, d.members_per_group])).toEqual([["SAMR", true, 2], ["TAX", true, 1]]);
    f.strata = [{ key: "D", num: 5, den: 100, min: null, cap: null }];
    expect(formProblems(f, items)).toEqual(["D 类（信用风险高）：比例 5/100 超过一般检查事项 TAX-002 的比例上限 3%"]);
  });
  it("edits a plan's default ratios: rows without both numbers left out, min and cap kept, other keys kept", () => {
    const rows = ruleRows({ D: { num: 3, den: 100, min: 1 }, all: { num: 1, den: 100 } });
    expect(rows.map((r) => r.key)).toEqual(["A", "B", "C", "D", "U"]);
    rows[0].num = 1; rows[0].den = 100;
    rows[1].num = 2;
    rows[3].num = 5;
    expect(rulesBody(rows, { D: { num: 3, den: 100, min: 1 }, all: { num: 1, den: 100 } }))
      .toEqual({ all: { num: 1, den: 100 }, A: { num: 1, den: 100 }, D: { num: 5, den: 100, min: 1 } });
  });
  it("splits typed lists on spaces, commas and 、 without repeats", () => {
    expect(splitList(" a, b，c、a\nd ")).toEqual(["a", "b", "c", "d"]);
    expect(splitList("")).toEqual([]);
  });
  it("knows which tasks wait for my department's 会审", () => {
    const t = task({ status: "consulting", departments: [...task().departments,
      { department_id: 2, code: "TAX", name: "税务局", role: "participant", role_label: "参与部门", members_per_group: 1,
        status: "pending", status_label: "待会审", reason: null, decided_by: null, decided_at: null }] });
    expect(awaitingDecision(t, 2)).toBe(true);
    expect(awaitingDecision(t, 1)).toBe(false);
    expect(awaitingDecision({ ...t, status: "draft" }, 2)).toBe(false);
    expect(awaitingDecision(t, null)).toBe(false);
  });
  it("says in one sentence what the preview finds", () => {
    const p: Preview = { can_draw: true, reasons: [], warnings: [], departments: [], targets: { A: 98, D: 15 }, excluded: {},
                         inspectors: { SAMR: 8 }, conflicts: 0, selected: { A: 1, D: 1 }, groups: 1, inspectors_needed: { SAMR: 2, TAX: 1 } };
    expect(previewSummary(p)).toBe("可以抽取：从 113 户符合条件的检查对象中抽取 2 户，分为 1 个检查组，需检查人员 SAMR 2 人、TAX 1 人。");
    expect(previewSummary({ ...p, can_draw: false, reasons: [{ code: "task.not_confirmed", message: "任务尚未会审通过" }] }))
      .toBe("暂不能抽取（条件满足后将从 113 户符合条件的检查对象中抽取 2 户，分为 1 个检查组，需检查人员 SAMR 2 人、TAX 1 人）。原因：任务尚未会审通过");
  });
});

describe("a plan's edit", () => {
  const item = (item_id: number, department_id: number) => ({ item_id, code: `I${item_id}`, name: "事项", category: null, kind: "key",
    kind_label: "重点检查事项", ratio_cap_percent: null, department_id, department_code: null, retired: false });
  const draft = {
    id: 1, code: "JH-1", year: 2026, name: "计划", kind: "joint", kind_label: "联合计划", lead_department: { id: 1, code: "SAMR", name: "市场监管局" },
    lead_department_id: 1, departments: plan.departments, items: [item(9, 1), item(37, 2)], ratio_rules: { A: { num: 1, den: 100 } },
    batches: [], description: null, level: "city", level_label: "市级", status: "draft", status_label: "草稿", version: 1, published_at: null, approved_at: null,
    retired_at: null, retire_reason: null, updated_at: "",
  } as Plan;
  it("starts from what the plan holds", () => {
    const e = planEditOf(draft);
    expect(e.participants).toEqual([2]);
    expect(e.item_ids).toEqual([9, 37]);
    expect(e.rules.find((r) => r.key === "A")).toMatchObject({ num: 1, den: 100 });
  });
  it("sends a draft's items and participants only when they changed, never a published plan's", () => {
    const e = planEditOf(draft);
    expect(planEditBody(draft, e)).toEqual({ name: "计划", description: null, level: "city", ratio_rules: { A: { num: 1, den: 100 } } });
    e.item_ids = [37, 9];                                   // the same items in another order: unchanged
    expect(planEditBody(draft, e)).not.toHaveProperty("item_ids");
    e.item_ids = [9];
    e.participants = [];
    expect(planEditBody(draft, e)).toMatchObject({ item_ids: [9], participant_department_ids: [] });
    const published = { ...draft, status: "published" } as Plan;
    const body = planEditBody(published, e, "调整名称");
    expect(body).not.toHaveProperty("item_ids");
    expect(body.reason).toBe("调整名称");
  });
  it("keeps only the items of the departments that remain", () => {
    expect(itemsWithin([9, 37], [{ id: 9 }])).toEqual([9]);
  });
});

describe("the 会审 inbox", () => {
  it("asks the server for my department's pending tasks under 会审 unless the URL says otherwise", () => {
    expect(inboxParams(undefined, 2)).toEqual({ decision: "pending", status: "consulting", department_id: "2" });
    expect(inboxParams("confirmed", 2)).toEqual({ decision: "confirmed", department_id: "2" });
    expect(inboxParams("nonsense", null)).toEqual({ decision: "pending", status: "consulting" });
  });
});

describe("the ceremony", () => {
  it("counts the dice digits as the API will, and says what is wrong", () => {
    expect(diceDigits("31415 92653\n58979　32384")).toBe("31415926535897932384");
    expect(diceStatus("31415 92653 58979 32384")).toEqual({ count: 20, ok: true, hint: "已输入 20 位数字" });
    expect(diceStatus("123")).toMatchObject({ ok: false, hint: "已输入 3 位，至少需要 20 位" });
    expect(diceStatus("31415 92653 58979 3238a").hint).toBe("含有非数字字符“a”，只能输入 0–9 的半角数字");
    expect(diceStatus("1".repeat(201))).toMatchObject({ ok: false, count: 201 });
  });
  it("reads the witnesses one a line", () => {
    expect(witnessList("公证员王某\n\n企业代表李某、公证员王某\r\n")).toEqual(["公证员王某", "企业代表李某"]);
  });
  it("groups a hash for the projector and builds absolute links", () => {
    expect(groupHex("0123456789abcdef01", 8)).toEqual(["01234567", "89abcdef", "01"]);
    expect(groupHex(null)).toEqual([]);
    expect(absolute("/draw/verify.html?x=1", "http://10.0.0.2:5000/")).toBe("http://10.0.0.2:5000/draw/verify.html?x=1");
    expect(absolute("https://a.example/x", "http://b")).toBe("https://a.example/x");
    expect(verifyPath({ verify_url: "", task: "SS-2026-001", seq: 1 })).toBe("/draw/verify.html?record=/api/public/draws/SS-2026-001/record%3Fseq%3D1");
    expect(verifyPath({ verify_url: "/x", task: "T", seq: 2 })).toBe("/x");
  });
  it("finds the current draw and its phase", () => {
    const draws = [{ seq: 1, status: "superseded" }, { seq: 2, status: "committed" }];
    expect(currentDraw(draws)).toEqual({ seq: 2, status: "committed" });
    expect(currentDraw([{ seq: 1, status: "abandoned" }])).toBeNull();
    expect(phaseOf(null)).toBe("none");
    expect(phaseOf({ status: "drawn" })).toBe("drawn");
    expect(phaseOf({ status: "failed" })).toBe("failed");
    expect(sum({ A: 1, B: 3 })).toBe(4);
    expect(nameOf({ names: { targets: { X: "甲公司" } } }, "targets", "X")).toBe("甲公司");
    expect(nameOf(null, "inspectors", "SAMR-1")).toBe("SAMR-1");
  });
});

describe("the menu", () => {
  it("offers 会审待办 to planners and admins, not to supervisors; the ceremony falls under 抽查任务", () => {
    expect(menuFor("planner").find((g) => g.key === "plans")?.entries.map((e) => e.path)).toEqual(["/plans", "/tasks", "/consult"]);
    expect(menuFor("supervisor").find((g) => g.key === "plans")?.entries.map((e) => e.path)).toEqual(["/plans", "/tasks"]);
    expect(mayOpen("supervisor", "/consult")).toBe(false);
    expect(mayOpen("planner", "/tasks/3/ceremony")).toBe(true);
    expect(mayOpen("publisher", "/tasks/3/ceremony")).toBe(false);
  });
});

describe("a task's 复查 (office list rows with followup_id)", () => {
  it("keeps the re-inspections only, labels their status and links each to its follow-up", () => {
    const rows = reinspectionRows([
      { id: 1, status: "completed", target_code: "T1", target_name: "甲", followup_id: null },
      { id: 7, status: "assigned", target_code: "T2", target_name: "乙", followup_id: 12 },
      { id: 8, status: "completed", target_code: "T3", target_name: "丙", completed_on: "2026-05-02", followup_id: 13 },
      { id: 9, status: "in_progress", target_code: "T4", target_name: "丁" },
    ]);
    expect(rows.map((r) => [r.id, r.status_label, r.followup.label])).toEqual([[7, "待检查", "后续处置 #12"], [8, "已完成", "后续处置 #13"]]);
    expect(rows[0].followup).toEqual({ path: "/followups", query: { open: "12" }, label: "后续处置 #12" });
    expect(reinspectionRows([])).toEqual([]);
  });
  it("links the register opened on a follow-up", () => {
    expect(followupLink(3)).toEqual({ path: "/followups", query: { open: "3" }, label: "后续处置 #3" });
  });
});
