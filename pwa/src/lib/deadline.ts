// The publication deadline as people read it (docs/sync.md §4.2, docs/deadlines.md): the due day is the 20th
// working day after the completion date (day 0), and while a State Council holiday notice it depends on is not
// published, it is provisional: the server names the provisional days, the phone says them in words
// (the same sentence as the PDF, backend/inspections/deadlines.py provisional_words).
import type { Json } from "../api/types";

export const PUBLICATION_WORKING_DAYS = 20;

export interface Period { from: string; to: string; year: number; holiday: string | null; label?: string }

export interface Due {
  completed_on: string | null;
  due_on: string;
  provisional: boolean;
  periods: Period[];
  /** day 0 of the 20 working days and which start the deployment counts from (docs/deadlines.md) */
  start_on?: string | null;
  start_label?: string | null;
}

/** The deadline the phone knows: the pulled one, else the submit's answer (before the next pull). */
export function dueOf(deadline: { completed_on?: string | null; due_on?: string | null; provisional?: boolean;
                                  provisional_periods?: Period[]; start_on?: string | null;
                                  clock_start_label?: string | null } | null | undefined,
                      submitted?: Record<string, Json | undefined> | null): Due | null {
  if (deadline?.due_on) {
    return { completed_on: deadline.completed_on ?? null, due_on: deadline.due_on, provisional: !!deadline.provisional,
             periods: deadline.provisional_periods || [], ...startOf(deadline.start_on, deadline.clock_start_label) };
  }
  if (submitted && typeof submitted.publication_due_on === "string") {
    return { completed_on: typeof submitted.completed_on === "string" ? submitted.completed_on : null,
             due_on: submitted.publication_due_on, provisional: submitted.due_provisional === true,
             periods: (submitted.provisional_periods as unknown as Period[] | undefined) || [],
             ...startOf(submitted.start_on, submitted.clock_start_label) };
  }
  return null;
}

function startOf(on: unknown, label: unknown): Pick<Due, "start_on" | "start_label"> {
  return typeof on === "string" && typeof label === "string" ? { start_on: on, start_label: label } : {};
}

/**
 * Which days are still provisional, in one sentence: "暂按法定节假日计算，2027-01-30 至 2027-02-04、2027-02-09 至
 * 2027-02-18（2027 年春节前后）的放假调休待国务院放假通知发布后确定". "" when the deadline is final.
 */
export function provisionalWords(periods: Period[]): string {
  if (!periods.length) return "";
  const named = periods.filter((p) => p.holiday).length;
  const basis = named === periods.length ? "法定节假日" : named === 0 ? "周一至周五" : "法定节假日和周一至周五";
  const groups: { key: string; year: number; holiday: string | null; spans: string[] }[] = [];
  for (const p of periods) {
    const key = `${p.year}|${p.holiday ?? ""}`;
    const span = p.from === p.to ? p.from : `${p.from} 至 ${p.to}`;
    const last = groups[groups.length - 1];
    if (last && last.key === key) last.spans.push(span);
    else groups.push({ key, year: p.year, holiday: p.holiday, spans: [span] });
  }
  const parts = groups.map((g) => `${g.spans.join("、")}（${g.year} 年${g.holiday ? `${g.holiday}前后` : "尚无放假安排"}）`);
  return `暂按${basis}计算，${parts.join("；")}的放假调休待国务院放假通知发布后确定`;
}

/** "公示截止 2027-03-02（暂定）" */
export function dueShort(d: Due): string {
  return `公示截止 ${d.due_on}${d.provisional ? "（暂定）" : ""}`;
}

/** Where the clock starts: "自检查完成日 2027-01-29 的次日起算 20 个工作日". */
export function dueStart(d: Due): string {
  if (d.start_on && d.start_label) {
    // "2027-01-29 为第 0 天（自组长提交检查记录之日起算），共 20 个工作日": which start the deployment counts from
    return `${d.start_on} 为第 0 天（${d.start_label.replace("（第 0 天）", "")}），共 ${PUBLICATION_WORKING_DAYS} 个工作日`;
  }
  return d.completed_on ? `自检查完成日 ${d.completed_on} 的次日起算 ${PUBLICATION_WORKING_DAYS} 个工作日` : "";
}

/** The note under a provisional due date; a provisional one the server named no day for still says so. */
export function dueNote(d: Due): string {
  if (!d.provisional) return "";
  return provisionalWords(d.periods) || "暂按已知的节假日计算，待国务院放假通知发布后确定";
}
