// The portal's logic (no Vue here, tested by Vitest): reading the public API, telling what a search box holds,
// hashing a file in the browser, dates in Beijing time.
import { HttpError, NetworkError, errorBody } from "../../src/lib/http";

export interface Page<T> { items: T[]; total: number; page: number; page_size: number; pages: number }

/** GET a public JSON answer (no login); the API's error as an HttpError carrying its Chinese message. */
export async function getJSON<T>(path: string, params: Record<string, string | number | boolean | null | undefined> = {}): Promise<T> {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") query.set(k, String(v));
  const url = query.toString() ? `${path}?${query}` : path;
  let r: Response;
  try {
    r = await fetch(url, { headers: { Accept: "application/json" }, credentials: "omit" });
  } catch {
    throw new NetworkError();
  }
  if (!r.ok) throw new HttpError(r.status, await errorBody(r));
  return (await r.json()) as T;
}

/** A message for people from whatever was thrown. */
export function messageOf(exc: unknown): string {
  if (exc instanceof HttpError && exc.status === 404) return exc.body?.message || "未找到";
  if (exc instanceof Error) return exc.message;
  return String(exc);
}

// 统一社会信用代码: 18 characters of 0-9 and A-Z without I, O, S, V, Z; an old registration number: 13 or 15 digits
const USCC = /^[0-9A-HJ-NP-RTUW-Y]{2}\d{6}[0-9A-HJ-NP-RTUW-Y]{10}$/;
const REG_NO = /^\d{13}$|^\d{15}$/;
const SHA256 = /^[0-9a-f]{64}$/;

export type Search = { uscc: string } | { hash: string } | { q: string } | null;

/** What a search box holds: a USCC (or registration number), a SHA-256, or part of a business's name. */
export function classifySearch(text: string): Search {
  const t = text.trim().replace(/\s+/g, " ");
  if (!t) return null;
  const compact = t.replace(/[\s-]/g, "").toUpperCase();
  if (USCC.test(compact) || REG_NO.test(compact)) return { uscc: compact };
  if (SHA256.test(compact.toLowerCase())) return { hash: compact.toLowerCase() };
  return { q: t.slice(0, 64) };
}

export function isSha256(text: string): boolean {
  return SHA256.test(text.trim().toLowerCase());
}

export function toHex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** SHA-256 of a file (a PDF the business was given), computed here: nothing is uploaded. */
export async function fileSha256(file: Blob): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
}

/** A date or time of the API (UTC) in Beijing time, as people write it. */
export function beijing(iso: string | null | undefined, withTime = false): string {
  if (!iso) return "—";
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) {
    const [y, m, d] = iso.split("-").map(Number);
    return `${y}年${m}月${d}日`;
  }
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  const parts = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "numeric", day: "numeric",
    ...(withTime ? { hour: "2-digit", minute: "2-digit", hour12: false } : {}),
  }).formatToParts(when);
  const get = (t: string) => parts.find((p) => p.type === t)?.value || "";
  const date = `${get("year")}年${get("month")}月${get("day")}日`;
  return withTime ? `${date} ${get("hour")}:${get("minute")}` : date;
}

/** The page of the portal a task's draw is verified on (the address the draw ceremony's QR code shows). */
export function taskPath(code: string, seq?: number | null): string {
  return `/tasks/${encodeURIComponent(code)}${seq ? `?seq=${seq}` : ""}`;
}

/** The public record's API address of a task's draw (the current draw, or the seq-th). */
export function recordPath(code: string, seq?: number | null): string {
  return `/api/public/draws/${encodeURIComponent(code)}/record${seq ? `?seq=${seq}` : ""}`;
}

// The verifier is not bundled: its files stay in public/draw/ (one copy for the standalone page, the portal and
// the tests that check it against the Python verifier), loaded when a page verifies.
const VERIFIER = "/draw/verifier.js";

export interface VerifierOptions { form?: boolean; recordUrl?: string | null; params?: string }

/** Put the draw verifier into `root` (see public/draw/verifier.js); settles when its first check ends. */
export async function mountVerifier(root: HTMLElement, options: VerifierOptions): Promise<void> {
  const m = (await import(/* @vite-ignore */ VERIFIER)) as { mountVerifier(root: HTMLElement, o: VerifierOptions): Promise<void> };
  await m.mountVerifier(root, options);
}

/** A row of the public list of draws (GET /api/public/draws): no person is named in it. */
export interface DrawRow {
  task_code: string; task_name: string; seq: number; status: string; status_label: string;
  department: { id: number; code: string; name: string }; committed_at: string; drawn_at: string | null; date: string;
  candidates: number; drawn: number; url: string; record_url: string; verify_url: string;
}

/** The list's query for the API from the page's URL: the search, the year (four digits), the status, the page. */
export function drawListParams(query: Record<string, unknown>): Record<string, string> {
  const str = (v: unknown) => (typeof v === "string" ? v.trim() : "");
  const out: Record<string, string> = { page_size: "20" };
  if (str(query.q)) out.q = str(query.q).slice(0, 64);
  if (/^\d{4}$/.test(str(query.year))) out.year = str(query.year);
  if (["committed", "drawn"].includes(str(query.status))) out.status = str(query.status);
  if (/^[1-9]\d{0,5}$/.test(str(query.page))) out.page = str(query.page);
  return out;
}

/** "从 282 户中抽取 8 户" (or "将从 … 抽取" while the dice are still to come). */
export function drawCountText(row: Pick<DrawRow, "status" | "candidates" | "drawn">): string {
  return row.status === "drawn" ? `从 ${row.candidates} 户中抽取 ${row.drawn} 户` : `将从 ${row.candidates} 户中抽取 ${row.drawn} 户`;
}
