// The logic of the publishers' and supervisors' screens (office/lib/publication.ts, office/lib/figures.ts).
import { describe, expect, it } from "vitest";
import {
  daysLeftText, evidenceRequired, nextSteps, originalsOf, photoCaption, previewLines, publishBody, stateTag, stepBody, toggleTick,
  type PhotoChoice,
} from "../office/lib/publication";
import {
  belowTarget, filterParams, missingLabel, partsOf, periodKind, periodLabel, periodOptions, publishedLate, quarterOf, rateText,
  readFilters, targetText, trendOption,
} from "../office/lib/figures";

describe("the publication queue", () => {
  it("tags each state and says the working days left", () => {
    expect([stateTag("on_track"), stateTag("due_soon"), stateTag("overdue"), stateTag("x")]).toEqual(["success", "warning", "danger", "info"]);
    expect(daysLeftText(3)).toBe("还剩 3 个工作日");
    expect(daysLeftText(0)).toBe("今天到期");
    expect(daysLeftText(-4)).toBe("已逾期 4 个工作日");
    expect(daysLeftText(null)).toBe("—");
  });
});

describe("the public preview", () => {
  const content = {
    kind: "record", kind_label: "检查结果（牵头部门发布的整条记录）",
    plan: { code: "JH-1", name: "计划" }, task: { code: "SS-1", name: "任务", type_label: "定向抽查", joint_label: "联合抽查" },
    authorities: [{ code: "SAMR", name: "市场监管局", role_label: "牵头部门" }, { code: "TAX", name: "税务局", role_label: "参与部门" }],
    publisher: { code: "SAMR", name: "市场监管局" }, business: { name: "某公司", uscc: "914112033467020269", reg_no: null },
    items: [{ code: "I1", name: "营业执照", methods: [{ code: "onsite", label: "实地检查" }] }],
    completed_on: "2026-07-08", result_categories: [{ code: "no_problem", label: "未发现问题" }], remarks: null,
    record_hash: "5d0c", photos: [{ sha256: "ab", url: "/api/public/photos/ab" }],
  };
  it("shows every public field in the portal's order, nothing that is empty", () => {
    const lines = previewLines(content);
    expect(lines.map((l) => l.label)).toEqual(["检查对象", "统一社会信用代码", "抽查计划", "抽查任务", "任务类型", "检查机关", "公示机关",
      "检查事项", "检查完成日期", "检查结果", "现场照片", "检查记录哈希"]);
    expect(lines.find((l) => l.label === "检查机关")!.text).toBe("市场监管局（牵头部门）；税务局（参与部门）");
    expect(lines.find((l) => l.label === "检查事项")!.text).toBe("营业执照（实地检查）");
    expect(previewLines({ ...content, remarks: "已完成检查" }).find((l) => l.label === "备注")!.text).toBe("已完成检查");
    expect(previewLines(null)).toEqual([]);
  });
});

describe("what the publisher ticks and chooses", () => {
  const dept = { id: 1, code: "SAMR", name: "市场监管局" };
  const choices: PhotoChoice[] = [
    { sha256: "a1", department: dept, item: "营业执照", check_point: "亮照经营", public_sha256: "p1", ready: true },
    { sha256: "a2", department: dept, item: null, check_point: null, public_sha256: null, ready: false },
    { sha256: "a3", department: dept, item: "营业执照", check_point: "经营场所", public_sha256: "p3", ready: true },
  ];
  it("ticks in order, unticks, and never more than the maximum", () => {
    let t = toggleTick([], "a3");
    t = toggleTick(t, "a1");
    expect(t).toEqual(["a3", "a1"]);
    expect(toggleTick(t, "a3")).toEqual(["a1"]);
    expect(toggleTick(t, "a2", 2)).toEqual(["a3", "a1"]);
  });
  it("sends only what was typed, ticked or chosen (categories only where the part may set them)", () => {
    expect(publishBody({ remarks: "  ", photos: [] })).toEqual({});
    expect(publishBody({ remarks: " 已完成检查 ", photos: ["a1"], categories: ["no_problem"], categoriesEditable: false }))
      .toEqual({ remarks: "已完成检查", photos: ["a1"] });
    expect(publishBody({ remarks: "", photos: [], categories: ["other_violation"], categoriesEditable: true }))
      .toEqual({ result_categories: ["other_violation"] });
    expect(publishBody({ remarks: "", photos: [], categories: [], categoriesEditable: true })).toEqual({});
  });
  it("finds the original behind each public copy in the preview", () => {
    expect(originalsOf([{ sha256: "p3", url: "/api/public/photos/p3" }, { sha256: "zz", url: "" }], choices)).toEqual({ p3: "a3" });
    expect(originalsOf(undefined, choices)).toEqual({});
    expect(photoCaption(choices[0])).toBe("市场监管局 · 营业执照 · 亮照经营");
    expect(photoCaption(choices[1])).toBe("市场监管局");
  });
});

describe("a follow-up's steps", () => {
  it("follows the state machine", () => {
    expect(nextSteps("ordered")).toEqual(["reinspection"]);
    expect(nextSteps("unrectified")).toEqual(["transfer", "judicial"]);
    expect(nextSteps("to_transfer")).toEqual(["transfer", "judicial"]);
    expect(nextSteps("to_notify")).toEqual(["notify"]);
    expect(nextSteps("notified")).toEqual(["acknowledge"]);
    expect(nextSteps("rectified")).toEqual([]);
    expect(evidenceRequired("notify")).toBe(false);
    expect(evidenceRequired("reinspection")).toBe(true);
  });
  it("builds each step's body", () => {
    const ev = ["a".repeat(64)];
    expect(stepBody("reinspection", { date: "2026-06-15", findings: " 已整改 ", outcome: "rectified" }, ev))
      .toEqual({ inspected_on: "2026-06-15", findings: "已整改", outcome: "rectified", evidence: ev });
    expect(stepBody("notify", { date: "2026-06-15", department_id: "2", note: "" }, []))
      .toEqual({ notified_on: "2026-06-15", department_id: 2 });
    expect(stepBody("judicial", { date: "2026-06-15", authority: "公安", record_no: "1", note: "说明" }, ev))
      .toEqual({ transferred_on: "2026-06-15", authority: "公安", record_no: "1", note: "说明", evidence: ev });
    expect(stepBody("acknowledge", { date: "2026-06-16" }, ev)).toEqual({ received_on: "2026-06-16", evidence: ev });
  });
});

describe("the figures' filters and periods", () => {
  it("reads only the known filters and writes the API's query", () => {
    expect(readFilters({ period: "2026-Q2", department_id: "1", region: " ", other: "x", task_id: ["3", "4"] }))
      .toEqual({ period: "2026-Q2", department_id: "1", task_id: "3" });
    expect(filterParams({ period: "2026", region: "411203" }, { figure: "completion", part: "" })).toBe("period=2026&region=411203&figure=completion");
  });
  it("knows years, quarters and months", () => {
    expect([periodKind("2026"), periodKind("2026-Q4"), periodKind("2026-05"), periodKind("2026-13"), periodKind("26")])
      .toEqual(["year", "quarter", "month", null, null]);
    expect(periodLabel("2026-Q2")).toBe("2026 年第二季度");
    expect(periodLabel("2026-05")).toBe("2026 年 5 月");
    expect(periodOptions("quarter", "2026-05-10", 2).map((o) => o.value)).toEqual(["2026-Q2", "2026-Q1", "2025-Q4", "2025-Q3", "2025-Q2", "2025-Q1"]);
    expect(periodOptions("month", "2026-02-10", 1).map((o) => o.value)).toEqual(["2026-02", "2026-01"]);
    expect(periodOptions("year", "2026-02-10").map((o) => o.value)).toEqual(["2026", "2025", "2024"]);
    expect(quarterOf("2026-12-06")).toBe("2026-Q4");
    expect(quarterOf("2026-02-01", 1)).toBe("2025-Q4");
    expect(quarterOf("2026-02-01", 5)).toBe("2024-Q4");
  });
});

describe("a figure's number", () => {
  it("is a percentage, departments per visit for joint, — with nothing to divide", () => {
    expect(rateText({ key: "completion", rate: 0.733333 })).toBe("73.3%");
    expect(rateText({ key: "joint", rate: 2 })).toBe("2.00");
    expect(rateText({ key: "followup", rate: null })).toBe("—");
    expect(targetText({ key: "coverage", target: 0.03 })).toBe("目标 ≥ 3%");
    expect(targetText({ key: "completion", target: null })).toBe("");
    expect(belowTarget({ rate: 0.5, target: 0.9 })).toBe(true);
    expect(belowTarget({ rate: null, target: 0.9 })).toBe(false);
  });
  it("opens the lists the API has", () => {
    expect(partsOf("on_time_publication")).toEqual(["missing", "numerator", "denominator"]);
    expect(partsOf("coverage")).toEqual(["numerator"]);
    expect(partsOf("joint")).toEqual(["denominator"]);
    expect(partsOf("risk_ratio")).toEqual([]);
    expect(partsOf("followup")).toEqual([]);
    expect(missingLabel("on_time_publication")).toBe("逾期公示或未公示");
  });
  it("marks a result published after its due day (in Beijing)", () => {
    const day = (iso: string) => iso.slice(0, 10);
    expect(publishedLate({ published_at: "2026-05-26T07:00:00+00:00", publication_due_on: "2026-05-20" }, day)).toBe(true);
    expect(publishedLate({ published_at: "2026-05-20T07:00:00+00:00", publication_due_on: "2026-05-20" }, day)).toBe(false);
    expect(publishedLate({ published_at: null, publication_due_on: "2026-05-20" }, day)).toBe(false);
  });
  it("draws its trend in percent with the target line", () => {
    const o = trendOption("on_time_publication", [
      { period: "2026-01", rate: null, target: 1, numerator: 0, denominator: 0 },
      { period: "2026-02", rate: 0.833333, target: 1, numerator: 5, denominator: 6 },
    ]) as { xAxis: { data: string[] }; series: { data: (number | null)[]; markLine: { data: { yAxis: number }[] } }[] };
    expect(o.xAxis.data).toEqual(["01", "02"]);
    expect(o.series[0].data).toEqual([null, 83.3]);
    expect(o.series[0].markLine.data[0].yAxis).toBe(100);
    const j = trendOption("joint", [{ period: "2026-03", rate: 2, target: null, numerator: 4, denominator: 2 }]) as { series: { data: number[]; markLine?: unknown }[] };
    expect(j.series[0].data).toEqual([2]);
    expect(j.series[0].markLine).toBeUndefined();
  });
});

describe("the dashboard's prefetched figures", () => {
  it("are asked once when the route is entered, taken once by the screen with the same query", async () => {
    const { api } = await import("../office/lib/session");
    const { figuresFor, prefetchFigures } = await import("../office/figures/prefetch");
    const { vi } = await import("vitest");
    const calls: string[] = [];
    vi.spyOn(api, "requestJSON").mockImplementation(async (_m: string, path: string) => { calls.push(path); return { path } as never; });
    prefetchFigures("period=2026");
    expect(await figuresFor<{ path: string }>("period=2026")).toEqual({ path: "/api/v1/figures?period=2026" });
    expect(calls).toEqual(["/api/v1/figures?period=2026"]);
    await figuresFor("period=2026");                       // taken already: asked again
    prefetchFigures("period=2025");
    await figuresFor("period=2026-Q1");                    // another query: its own request
    expect(calls).toEqual(["/api/v1/figures?period=2026", "/api/v1/figures?period=2026", "/api/v1/figures?period=2025",
      "/api/v1/figures?period=2026-Q1"]);
  });
});
