// The working-day calendar (GET /api/public/calendar/<year>, POST /api/v1/calendar/import): a year as twelve
// month grids, and the State Council's notice as the document docs/deadlines.md describes.
export interface Day { day: string; weekday?: string; name?: string | null }
export interface Period { from: string; to: string; label: string }
export interface CalendarYear {
  year: number; source: string; source_label: string; provisional: boolean; restdays: Day[]; workdays: Day[];
  provisional_periods: Period[]; notice: { title: string; ref?: string | null; issued_on?: string | null; imported_at?: string } | null;
}
export interface Holiday { name: string; from: string; to: string; workdays: string[] }
export interface Notice { year: number; title: string; ref?: string | null; issued_on?: string | null; holidays: Holiday[]; replace?: boolean }

export type DayKind = "work" | "weekend" | "holiday" | "makeup";
export interface Cell { date: string; day: number; kind: DayKind; name: string; provisional: boolean }

const pad = (n: number) => String(n).padStart(2, "0");
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** One month as weeks of seven cells (Monday first; null outside the month). */
export function monthGrid(cal: Pick<CalendarYear, "year" | "restdays" | "workdays" | "provisional_periods">, month: number): (Cell | null)[][] {
  const rest = new Map(cal.restdays.map((d) => [d.day, d.name || ""]));
  const work = new Map(cal.workdays.map((d) => [d.day, d.name || ""]));
  const days = new Date(Date.UTC(cal.year, month, 0)).getUTCDate();
  const lead = (new Date(Date.UTC(cal.year, month - 1, 1)).getUTCDay() + 6) % 7;
  const cells: (Cell | null)[] = Array(lead).fill(null);
  for (let d = 1; d <= days; d++) {
    const date = `${cal.year}-${pad(month)}-${pad(d)}`;
    const weekend = [0, 6].includes(new Date(Date.UTC(cal.year, month - 1, d)).getUTCDay());
    let kind: DayKind = weekend ? "weekend" : "work";
    let name = "";
    if (work.has(date)) { kind = "makeup"; name = work.get(date) || ""; }
    else if (rest.has(date)) { name = rest.get(date) || ""; kind = name ? "holiday" : weekend ? "weekend" : "holiday"; }
    const provisional = cal.provisional_periods.some((p) => p.from <= date && date <= p.to);
    cells.push({ date, day: d, kind, name, provisional });
  }
  while (cells.length % 7) cells.push(null);
  const weeks: (Cell | null)[][] = [];
  for (let i = 0; i < cells.length; i += 7) weeks.push(cells.slice(i, i + 7));
  return weeks;
}

/** Working days of a year by the calendar (Monday–Friday, less rest days, plus make-up days). */
export function workingDays(cal: Pick<CalendarYear, "year" | "restdays" | "workdays" | "provisional_periods">): number {
  let n = 0;
  for (let m = 1; m <= 12; m++) for (const w of monthGrid(cal, m)) for (const c of w) if (c && (c.kind === "work" || c.kind === "makeup")) n++;
  return n;
}

/** A notice from a JSON file, checked for its shape (the server checks the days); a Chinese problem else. */
export function parseNotice(text: string): Notice | string {
  let doc: unknown;
  try { doc = JSON.parse(text.replace(/^\uFEFF/, "")); } catch { return "文件不是有效的 JSON（格式见 docs/deadlines.md）"; }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return "文件内容应为一个 JSON 对象";
  const d = doc as Record<string, unknown>;
  if (!Number.isInteger(d.year)) return "缺少年份（year）";
  if (typeof d.title !== "string" || !d.title.trim()) return "缺少通知标题（title）";
  if (!Array.isArray(d.holidays) || !d.holidays.length) return "缺少放假安排（holidays）";
  const holidays: Holiday[] = [];
  for (const [i, h] of d.holidays.entries()) {
    const o = (h || {}) as Record<string, unknown>;
    if (typeof o.name !== "string" || typeof o.from !== "string" || typeof o.to !== "string" || !DATE.test(o.from) || !DATE.test(o.to)) {
      return `第 ${i + 1} 项放假安排应有 name、from、to（日期写作 YYYY-MM-DD）`;
    }
    const workdays = Array.isArray(o.workdays) ? o.workdays.map(String) : [];
    holidays.push({ name: o.name, from: o.from, to: o.to, workdays });
  }
  return { year: d.year as number, title: d.title.trim(), ref: typeof d.ref === "string" ? d.ref : null,
           issued_on: typeof d.issued_on === "string" ? d.issued_on : null, holidays };
}
