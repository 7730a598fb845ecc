// A publication deadline in words (lib/deadline.ts): the due day, where the clock starts, and which days are still
// provisional, in the same sentence as the PDF (the cases in tests/data/provisional-words.json run on the server too).
import { describe, expect, it } from "vitest";
import cases from "../../tests/data/provisional-words.json";
import { dueNote, dueOf, dueShort, dueStart, provisionalWords, type Period } from "../src/lib/deadline";

describe("provisionalWords", () => {
  for (const c of cases.cases) {
    it(c.name, () => { expect(provisionalWords(c.periods as Period[])).toBe(c.words); });
  }
});

describe("the deadline the phone shows", () => {
  const spring = cases.cases[1].periods as Period[];

  it("from the pulled inspection: due day, start and the provisional days", () => {
    const d = dueOf({ completed_on: "2027-01-29", due_on: "2027-03-02", provisional: true, provisional_periods: spring })!;
    expect(dueShort(d)).toBe("公示截止 2027-03-02（暂定）");
    expect(dueStart(d)).toBe("自检查完成日 2027-01-29 的次日起算 20 个工作日");
    expect(dueNote(d)).toBe(cases.cases[1].words);
    expect(dueNote(d)).toMatch(/^暂按.*计算，.*待国务院放假通知发布后确定$/);
  });

  it("says which start the deployment counts from, and day 0", () => {
    const d = dueOf({ completed_on: "2027-01-29", due_on: "2027-03-02", provisional: true, provisional_periods: spring,
                      start_on: "2027-01-28", clock_start_label: "自完成现场检查之日（第 0 天）起算" })!;
    expect(dueStart(d)).toBe("2027-01-28 为第 0 天（自完成现场检查之日起算），共 20 个工作日");
    const s = dueOf(null, { publication_due_on: "2026-03-30", completed_on: "2026-03-02", start_on: "2026-03-02",
                            clock_start_label: "自组长提交检查记录之日（第 0 天）起算" })!;
    expect(dueStart(s)).toBe("2026-03-02 为第 0 天（自组长提交检查记录之日起算），共 20 个工作日");
  });

  it("from the submit's answer before the next pull, and a final one with no note", () => {
    const d = dueOf(null, { status: "applied", completed_on: "2026-03-02", publication_due_on: "2026-03-30",
                            due_provisional: false, provisional_periods: [] })!;
    expect(d).toEqual({ completed_on: "2026-03-02", due_on: "2026-03-30", provisional: false, periods: [] });
    expect(dueShort(d)).toBe("公示截止 2026-03-30");
    expect(dueNote(d)).toBe("");
    expect(dueOf(null, null)).toBeNull();
    expect(dueOf({ due_on: null } as never, { status: "applied" })).toBeNull();
  });

  it("an older server's answer (provisional, no days named) still says it waits for the notice", () => {
    const d = dueOf({ completed_on: "2027-01-29", due_on: "2027-03-02", provisional: true })!;
    expect(dueNote(d)).toBe("暂按已知的节假日计算，待国务院放假通知发布后确定");
  });
});
