// The supervisors' dashboard (docs/figures.md, docs/api.md "The supervisors' figures"): the filters as a query,
// periods, how a figure's number reads, which lists a figure has, its trend as an ECharts option.

export const FILTER_KEYS = ["period", "department_id", "region", "task_id", "plan_id"] as const;
export type Filters = Partial<Record<(typeof FILTER_KEYS)[number], string>>;

export interface Figure {
  key: string; label: string; numerator: number | null; denominator: number | null; rate: number | null;
  target: number | null; numerator_label: string; denominator_label: string; definition: string;
  spared_visits?: number; by_risk_class?: { risk_class: string; numerator: number; denominator: number; rate: number | null }[];
}
export interface SeriesPoint extends Figure { period: string }

/** The filters of a route query (only the known keys, trimmed, empty left out). */
export function readFilters(query: Record<string, unknown>): Filters {
  const out: Filters = {};
  for (const k of FILTER_KEYS) {
    const v = Array.isArray(query[k]) ? (query[k] as unknown[])[0] : query[k];
    if (typeof v === "string" && v.trim()) out[k] = v.trim();
  }
  return out;
}

/** The API's query string of ``filters`` and ``extra``. */
export function filterParams(filters: Filters, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...filters, ...extra })) if (v) p.set(k, v);
  return p.toString();
}

export type PeriodKind = "year" | "quarter" | "month";

/** What kind of period a text is ("2026", "2026-Q2", "2026-05"), or null. */
export function periodKind(p: string): PeriodKind | null {
  if (/^\d{4}$/.test(p)) return "year";
  if (/^\d{4}-Q[1-4]$/.test(p)) return "quarter";
  if (/^\d{4}-(0[1-9]|1[0-2])$/.test(p)) return "month";
  return null;
}

/** The periods a select offers for ``kind``: the last few years, their quarters or months, newest first. */
export function periodOptions(kind: PeriodKind, today: string, years = 3): { value: string; label: string }[] {
  const y0 = Number(today.slice(0, 4));
  const m0 = Number(today.slice(5, 7));
  const out: { value: string; label: string }[] = [];
  for (let y = y0; y > y0 - years; y--) {
    if (kind === "year") out.push({ value: String(y), label: `${y} 年` });
    else if (kind === "quarter") {
      for (let q = 4; q >= 1; q--) if (y < y0 || q <= Math.ceil(m0 / 3)) out.push({ value: `${y}-Q${q}`, label: `${y} 年第${"一二三四"[q - 1]}季度` });
    } else {
      for (let m = 12; m >= 1; m--) if (y < y0 || m <= m0) out.push({ value: `${y}-${String(m).padStart(2, "0")}`, label: `${y} 年 ${m} 月` });
    }
  }
  return out;
}

/** The period's words: "2026 年", "2026 年第二季度", "2026 年 5 月". */
export function periodLabel(p: string): string {
  const kind = periodKind(p);
  if (kind === "year") return `${p} 年`;
  if (kind === "quarter") return `${p.slice(0, 4)} 年第${"一二三四"[Number(p.slice(6)) - 1]}季度`;
  if (kind === "month") return `${p.slice(0, 4)} 年 ${Number(p.slice(5))} 月`;
  return p;
}

/** The quarter a day falls in ("2026-12-06" → "2026-Q4"); the one before with ``back``. */
export function quarterOf(day: string, back = 0): string {
  let y = Number(day.slice(0, 4));
  let q = Math.ceil(Number(day.slice(5, 7)) / 3) - back;
  while (q < 1) { q += 4; y -= 1; }
  return `${y}-Q${q}`;
}

/** A figure's headline: a percentage, departments per visit for `joint`, "—" when there is nothing to divide. */
export function rateText(f: Pick<Figure, "key" | "rate">): string {
  if (f.rate == null) return "—";
  if (f.key === "joint") return f.rate.toFixed(2);
  return `${(f.rate * 100).toFixed(1)}%`;
}

export function targetText(f: Pick<Figure, "key" | "target">): string {
  if (f.target == null) return "";
  return f.key === "joint" ? `目标 ${f.target}` : `目标 ${f.key === "coverage" ? "≥ " : ""}${Math.round(f.target * 1000) / 10}%`;
}

/** Below its target (a figure without one never is). */
export function belowTarget(f: Pick<Figure, "rate" | "target">): boolean {
  return f.target != null && f.rate != null && f.rate < f.target;
}

export type Part = "numerator" | "denominator" | "missing";
export const PART_LABELS: Record<Part, string> = { numerator: "分子", denominator: "分母", missing: "缺口" };

/** The lists a figure opens (docs/figures.md "The list behind a number"): risk_ratio and followup none,
 *  coverage only its numerator, joint (departments per visit) the visits it divides by. */
export function partsOf(key: string): Part[] {
  if (key === "risk_ratio" || key === "followup") return [];
  if (key === "coverage") return ["numerator"];
  if (key === "joint") return ["denominator"];
  return ["missing", "numerator", "denominator"];
}

/** What the missing part means in words for a figure (the link's text). */
export function missingLabel(key: string): string {
  switch (key) {
    case "on_time_publication": return "逾期公示或未公示";
    case "publication": return "未公示";
    case "completion": return "未完成";
    case "on_time_completion": return "未按时完成";
    case "mobile": return "非手机录入";
    case "problem_found": return "未发现问题";
    default: return "缺口";
  }
}

export const PUBLICATION_STATES: Record<string, { label: string; tag: "success" | "warning" | "danger" | "info" }> = {
  published: { label: "已公示", tag: "success" }, exempt: { label: "经批准不公开", tag: "info" },
  overdue: { label: "逾期未公示", tag: "danger" }, unpublished: { label: "未公示（未到期）", tag: "warning" },
  open: { label: "未提交", tag: "info" },
};

/** Whether a published row went out after its due day (Beijing day of published_at > publication_due_on). */
export function publishedLate(row: { published_at?: string | null; publication_due_on?: string | null }, beijingDay: (iso: string) => string): boolean {
  return !!row.published_at && !!row.publication_due_on && beijingDay(row.published_at) > row.publication_due_on;
}

/** The trend's ECharts option: the rate per month (percent, or departments per visit for joint), the target. */
export function trendOption(key: string, points: Pick<SeriesPoint, "period" | "rate" | "target" | "numerator" | "denominator">[]): Record<string, unknown> {
  const pct = key !== "joint";
  const data = points.map((p) => (p.rate == null ? null : pct ? Math.round(p.rate * 1000) / 10 : Math.round(p.rate * 100) / 100));
  const target = points.find((p) => p.target != null)?.target;
  return {
    animation: false,
    grid: { left: 36, right: 8, top: 8, bottom: 20 },
    tooltip: { trigger: "axis", valueFormatter: (v: number | null) => (v == null ? "—" : pct ? `${v}%` : String(v)) },
    xAxis: { type: "category", data: points.map((p) => p.period.slice(5) || p.period), axisLabel: { fontSize: 10 } },
    yAxis: { type: "value", min: 0, max: pct ? 100 : undefined, axisLabel: { fontSize: 10 } },
    series: [{
      type: "line", data, connectNulls: false, symbolSize: 5, name: "比率",
      markLine: target != null ? { silent: true, symbol: "none", data: [{ yAxis: pct ? target * 100 : target }], label: { show: false } } : undefined,
    }],
  };
}
