// The office's logic (office/lib): the URL-kept table state, the menu by role, jobs, dates in Beijing time.
import { describe, expect, it } from "vitest";
import { apiParams, readState, sortParam, withFilters, writeState } from "../office/lib/query";
import { homeFor, mayOpen, menuFor } from "../office/lib/menu";
import { badRows, finished, jobTitle, percent, pollDelay } from "../office/lib/jobs";
import { errorText, fieldErrors, fmtDate, fmtTime, todayShanghai } from "../office/lib/format";
import { dispositionName } from "../office/lib/download";
import { HttpError, NetworkError } from "../src/lib/http";

describe("table state in the URL", () => {
  it("reads page, size, sort and only the named filters; bad numbers fall back", () => {
    const s = readState({ page: "3", page_size: "50", sort: "-name", q: " 甘棠 ", other: "x", risk_class: "" }, ["q", "risk_class"]);
    expect(s).toEqual({ page: 3, pageSize: 50, sort: "-name", filters: { q: "甘棠" } });
    expect(readState({ page: "0", page_size: "abc" }, [])).toMatchObject({ page: 1, pageSize: 20 });
    expect(readState({ page_size: "100000" }, []).pageSize).toBe(200);
    expect(readState({ page: ["2", "5"] }, []).page).toBe(2);
  });
  it("writes a short query and the API's parameters", () => {
    const s = { page: 1, pageSize: 20, sort: "", filters: { q: "甘棠" } };
    expect(writeState(s)).toEqual({ q: "甘棠" });
    expect(writeState({ ...s, page: 2, pageSize: 50, sort: "name" })).toEqual({ q: "甘棠", page: "2", page_size: "50", sort: "name" });
    expect(apiParams(s, { department_id: "1" })).toBe("department_id=1&q=%E7%94%98%E6%A3%A0&page=1&page_size=20");
  });
  it("new filters go back to page 1", () => {
    const s = withFilters({ page: 7, pageSize: 50, sort: "name", filters: { q: "a" } }, { q: " ", risk_class: "D" });
    expect(s).toEqual({ page: 1, pageSize: 50, sort: "name", filters: { risk_class: "D" } });
  });
  it("turns Element Plus's sort into the query's", () => {
    expect(sortParam("name", "ascending")).toBe("name");
    expect(sortParam("name", "descending")).toBe("-name");
    expect(sortParam("name", null)).toBe("");
  });
});

describe("the menu by role", () => {
  it("gives each role its groups", () => {
    const keys = (r: string) => menuFor(r).map((g) => g.key);
    expect(keys("sysadmin")).toEqual(["lists", "plans", "figures", "jobs"]);
    expect(keys("dept_admin")).toEqual(["lists", "plans", "publication", "figures", "jobs"]);
    expect(keys("planner")).toEqual(["lists", "plans", "jobs"]);
    expect(keys("publisher")).toEqual(["publication", "jobs"]);
    expect(keys("supervisor")).toEqual(["lists", "plans", "figures", "jobs"]);
    expect(menuFor(null)).toEqual([]);
  });
  it("lands each role on its first screen and guards the others", () => {
    expect(homeFor("dept_admin")).toBe("/lists/targets");
    expect(homeFor("publisher")).toBe("/publication");
    expect(mayOpen("planner", "/accounts")).toBe(false);
    expect(mayOpen("dept_admin", "/accounts")).toBe(true);
    expect(mayOpen("publisher", "/lists/targets")).toBe(false);
    expect(mayOpen("publisher", "/jobs/abc")).toBe(true);
  });
});

describe("jobs", () => {
  const job = { id: "j", name: "directory.import", status: "running" as const, progress_done: 50, progress_total: 200,
                progress_percent: null, result: { list_title: "检查对象名录库", dry_run: true } };
  it("shows progress from the server's numbers", () => {
    expect(percent(job)).toBe(25);
    expect(percent({ ...job, progress_percent: 61.6 })).toBe(62);
    expect(percent({ ...job, status: "done", progress_percent: 10 })).toBe(100);
    expect(percent({ ...job, progress_total: 0 })).toBe(0);
    expect(finished(job)).toBe(false);
    expect(finished({ status: "failed" })).toBe(true);
  });
  it("names the job in words", () => {
    expect(jobTitle(job)).toBe("检查对象名录库校验（试导入）");
    expect(jobTitle({ name: "directory.import", result: { list_title: "检查对象名录库", dry_run: false } })).toBe("检查对象名录库导入");
    expect(jobTitle({ name: "unknown.job", result: null })).toBe("unknown.job");
  });
  it("polls quickly first, then slower", () => {
    expect(pollDelay(0)).toBeLessThan(pollDelay(10));
    expect(pollDelay(100)).toBe(2000);
  });
  it("lists an import's bad rows with their reasons", () => {
    const rows = badRows({ result: { errors: [{ row: 3, message: "第 3 行：信用风险分类：应为 A、B、C、D 之一",
                                                problems: [{ column: "信用风险分类", reason: "应为 A、B、C、D 之一" }] }] } });
    expect(rows).toEqual([{ row: 3, message: "第 3 行：信用风险分类：应为 A、B、C、D 之一",
                            problems: [{ column: "信用风险分类", reason: "应为 A、B、C、D 之一" }] }]);
    expect(badRows({ result: null })).toEqual([]);
  });
});

describe("dates and errors", () => {
  it("shows times in Beijing whatever the desk's zone", () => {
    expect(fmtTime("2026-11-30T17:05:00+00:00")).toBe("2026-12-01 01:05");
    expect(fmtTime(null)).toBe("—");
    expect(fmtDate("2026-11-30")).toBe("2026-11-30");
    expect(fmtDate("2026-11-30T16:30:00Z")).toBe("2026-12-01");
    expect(todayShanghai(new Date("2026-12-31T16:00:00Z"))).toBe("2027-01-01");
  });
  it("shows the API's message, never a code alone", () => {
    const e = new HttpError(422, { status: 422, code: "validation_error", message: "输入有误", errors: { json: { name: ["必填项"] } } } as never);
    expect(errorText(e)).toBe("输入有误");
    expect(fieldErrors(e)).toEqual(["name：必填项"]);
    expect(errorText(new NetworkError())).toBe("无法连接服务器，请检查网络后重试");
  });
  it("reads a download's file name", () => {
    expect(dispositionName("attachment; filename*=UTF-8''%E5%90%8D%E5%BD%95.xlsx", "x")).toBe("名录.xlsx");
    expect(dispositionName('attachment; filename="a.csv"', "x")).toBe("a.csv");
    expect(dispositionName(null, "x")).toBe("x");
  });
});
