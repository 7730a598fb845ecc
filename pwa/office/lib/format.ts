// Dates and times as the office shows them: Asia/Shanghai whatever the desk's own zone, Chinese words.
import { HttpError, NetworkError, AuthLost } from "../../src/lib/http";

const ZONE = "Asia/Shanghai";
const dateTime = new Intl.DateTimeFormat("zh-CN", {
  timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
});
const dateOnly = new Intl.DateTimeFormat("zh-CN", { timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit" });

function parts(f: Intl.DateTimeFormat, d: Date): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of f.formatToParts(d)) out[p.type] = p.value;
  return out;
}

/** An ISO time as 2026-11-30 10:34 (Beijing time); "—" when there is none. */
export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = parts(dateTime, d);
  return `${p.year}-${p.month}-${p.day} ${p.hour === "24" ? "00" : p.hour}:${p.minute}`;
}

/** A date (YYYY-MM-DD kept as it is; a time's day in Beijing). */
export function fmtDate(value: string | null | undefined): string {
  if (!value) return "—";
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  const p = parts(dateOnly, d);
  return `${p.year}-${p.month}-${p.day}`;
}

/** Today in Beijing, YYYY-MM-DD. */
export function todayShanghai(now: Date = new Date()): string {
  const p = parts(dateOnly, now);
  return `${p.year}-${p.month}-${p.day}`;
}

/** What to show for an error: the API's own message (never a code alone), or plain words. */
export function errorText(e: unknown): string {
  if (e instanceof HttpError) return e.message || `服务器返回 ${e.status}`;
  if (e instanceof NetworkError) return "无法连接服务器，请检查网络后重试";
  if (e instanceof AuthLost) return e.message || "请先登录";
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Field problems of a 422 (`errors: {json: {name: ["必填项"]}}`) as lines "字段：问题". */
export function fieldErrors(e: unknown): string[] {
  if (!(e instanceof HttpError) || !e.body) return [];
  const errors = (e.body as { errors?: unknown }).errors;
  const out: string[] = [];
  const walk = (v: unknown, path: string[]) => {
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) out.push(`${path.join(".") || "请求"}：${v.join("；")}`);
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, k === "json" || k === "query" || k === "form" ? path : [...path, k]);
  };
  walk(errors, []);
  return out;
}
