// The logic of the office's admin screens: list forms and bodies, the calendar's month grids and notices,
// audit entries in words, the roles an admin may give.
import { describe, expect, it } from "vitest";
import { LISTS, bodyOf, formOf, isListKey, mayEdit, rowPath, splitTags } from "../office/lib/lists";
import { monthGrid, parseNotice, workingDays } from "../office/lib/calendar";
import { actionLabel, entryChanges, entryReason } from "../office/lib/audit";
import { grantable, passwordProblem } from "../office/lib/accounts";

describe("lists", () => {
  const targets = LISTS.targets;
  const row = { id: 7, name: "甘棠商贸", type: "enterprise", tags: ["食品经营", "餐饮"], phone: "0398-1", latitude: 34.7, risk_class: "B" };
  it("knows its lists and who edits them", () => {
    expect(isListKey("targets")).toBe(true);
    expect(isListKey("users")).toBe(false);
    expect(mayEdit(targets, "dept_admin")).toBe(true);
    expect(mayEdit(targets, "planner")).toBe(false);
    expect(mayEdit(LISTS.regions, "dept_admin")).toBe(false);
    expect(rowPath(LISTS.regions, { code: "411203" })).toBe("/api/v1/regions/411203");
    expect(rowPath(targets, row)).toBe("/api/v1/targets/7");
  });
  it("splits tags as the server does", () => {
    expect(splitTags(" 食品经营、餐饮，餐饮; 公共场所  ")).toEqual(["食品经营", "餐饮", "公共场所"]);
  });
  it("sends only what changed on an edit, cleared text as null", () => {
    const form = formOf(targets, row);
    expect(form.tags).toBe("食品经营、餐饮");
    expect(bodyOf(targets, form, row)).toEqual({});
    form.phone = "13800000002";
    form.tags = "餐饮";
    form.risk_class = "";
    form.latitude = "34.8";
    expect(bodyOf(targets, form, row)).toEqual({ phone: "13800000002", tags: ["餐饮"], risk_class: null, latitude: 34.8 });
  });
  it("sends the filled fields on a create, never a create-only field on an edit", () => {
    const form = formOf(targets, null);
    form.name = " 新对象 ";
    form.type = "enterprise";
    expect(bodyOf(targets, form, null)).toEqual({ name: "新对象", type: "enterprise" });
    const regions = LISTS.regions;
    const r = { code: "411203", name: "陕州区", level: "county", parent_code: "411200" };
    const f = formOf(regions, r);
    f.code = "999999";
    f.name = "陕州区（改）";
    expect(bodyOf(regions, f, r)).toEqual({ name: "陕州区（改）" });
  });
});

describe("the working-day calendar", () => {
  const cal = { year: 2026, restdays: [{ day: "2026-10-01", name: "国庆节" }, { day: "2026-10-03", name: "国庆节" }],
                workdays: [{ day: "2026-10-10", name: "国庆节" }], provisional_periods: [{ from: "2026-12-22", to: "2026-12-31", label: "" }] };
  it("lays a month out Monday first", () => {
    const weeks = monthGrid(cal, 10);              // 1 October 2026 is a Thursday
    expect(weeks[0].slice(0, 3)).toEqual([null, null, null]);
    expect(weeks[0][3]).toMatchObject({ date: "2026-10-01", kind: "holiday", name: "国庆节" });
    expect(weeks[0][5]).toMatchObject({ date: "2026-10-03", kind: "holiday" });
    expect(weeks[0][6]).toMatchObject({ date: "2026-10-04", kind: "weekend" });
    expect(weeks[1][5]).toMatchObject({ date: "2026-10-10", kind: "makeup" });
    expect(weeks.every((w) => w.length === 7)).toBe(true);
    expect(monthGrid(cal, 12).flat().find((c) => c?.date === "2026-12-25")?.provisional).toBe(true);
  });
  it("counts the working days", () => {
    const plain = { year: 2026, restdays: [], workdays: [], provisional_periods: [] };
    expect(workingDays(plain)).toBe(261);
    expect(workingDays(cal)).toBe(261 - 1 + 1);   // 1 October a Thursday off, 10 October a Saturday at work
  });
  it("reads a notice and says plainly what is wrong with one", () => {
    const ok = parseNotice('\uFEFF{"year": 2026, "title": " 通知 ", "holidays": [{"name": "春节", "from": "2026-02-15", "to": "2026-02-23", "workdays": ["2026-02-14"]}]}');
    expect(ok).toEqual({ year: 2026, title: "通知", ref: null, issued_on: null,
                         holidays: [{ name: "春节", from: "2026-02-15", to: "2026-02-23", workdays: ["2026-02-14"] }] });
    expect(parseNotice("{")).toMatch(/JSON/);
    expect(parseNotice('{"year": 2026, "title": "x", "holidays": []}')).toMatch(/holidays/);
    expect(parseNotice('{"year": 2026, "title": "x", "holidays": [{"name": "春节", "from": "2/15", "to": "2026-02-23"}]}')).toMatch(/第 1 项/);
  });
});

describe("audit entries and accounts", () => {
  it("says what an entry did", () => {
    expect(actionLabel("target.retire")).toBe("检查对象 · 停用");
    expect(actionLabel("targets.import")).toBe("检查对象名录库 · 导入");
    expect(actionLabel("something.odd")).toBe("something.odd");
    const e = { detail: { reason: "已迁出", changed: { phone: ["1", "2"], address: [null, "甘棠路"] } } };
    expect(entryReason(e)).toBe("已迁出");
    expect(entryChanges(e)).toEqual(["phone：1 → 2", "address：（空） → 甘棠路"]);
  });
  it("offers each admin the roles the server lets them give", () => {
    expect(grantable("sysadmin").map((r) => r.value)).toContain("supervisor");
    expect(grantable("dept_admin").map((r) => r.value)).toEqual(["dept_admin", "planner", "inspector", "publisher"]);
    expect(grantable("planner")).toEqual([]);
    expect(passwordProblem("short", "short")).toBe("密码至少 8 位");
    expect(passwordProblem("Long@2026", "Long@2025")).toBe("两次输入的密码不一致");
    expect(passwordProblem("Long@2026", "Long@2026")).toBe("");
  });
});
