// The draw ceremony's logic (docs/draw.md, DRAW.md): the draw as the API answers it, the commitment written for a
// projector, the dice as typed (the API is the judge; this only counts what it will count), the witnesses, the
// public record's links (the verifier page the public record names today).

export interface DrawCounts {
  targets: Record<string, number>; excluded: Record<string, number>; inspectors: Record<string, number>; conflicts: number;
  selected: Record<string, number>; groups: number; inspectors_needed: Record<string, number>;
  departments?: { code: string; name: string; members_per_group: number; available: number; needed: number }[];
}
export interface DrawResult {
  selected: Record<string, string[]>;
  groups: { targets: string[]; members: Record<string, string[]>; leader: string }[];
  replacements: { group: number; target: string; dept: string; out: string; in: string }[];
}
export interface Draw {
  task: string; seq: number; status: string; status_label: string; commitment: string; counts: DrawCounts;
  plan_hash?: string; targets_hash?: string; inspectors_hash?: string; committed_at: string | null;
  seed_source: string | null; dice: string | null; dice_entered: string | null; witnesses: string[] | null;
  seed: string | null; drawn_at: string | null; result: DrawResult | null; reason: string | null;
  superseded_reason: string | null; failed_attempts: unknown[]; abandoned_reason: string | null;
  record_url: string; verify_url: string;
}
export interface PublicRecordNames {
  names?: { targets?: Record<string, string>; inspectors?: Record<string, string> };
  departments?: Record<string, string>;
}

export const DICE_MIN = 20;
export const DICE_MAX = 200;

/** The digits the API will use: the text without its spaces and line breaks (it refuses anything else, saying where). */
export function diceDigits(entered: string): string {
  return entered.replace(/[ \t\r\n\u3000]+/g, "");
}

/** What to tell the witnesses while they type: how many digits so far, and whether the count is within 20–200. */
export function diceStatus(entered: string): { count: number; ok: boolean; hint: string } {
  const digits = diceDigits(entered);
  const bad = /[^0-9]/.exec(digits);
  const count = digits.length;
  if (bad) return { count, ok: false, hint: `含有非数字字符“${bad[0]}”，只能输入 0–9 的半角数字` };
  if (count < DICE_MIN) return { count, ok: false, hint: `已输入 ${count} 位，至少需要 ${DICE_MIN} 位` };
  if (count > DICE_MAX) return { count, ok: false, hint: `已输入 ${count} 位，最多 ${DICE_MAX} 位` };
  return { count, ok: true, hint: `已输入 ${count} 位数字` };
}

/** The witnesses' names as typed one a line (blank lines and repeats left out). */
export function witnessList(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n|[,，、;；]/)) {
    const v = line.trim();
    if (v && !out.includes(v)) out.push(v);
  }
  return out;
}

/** A hash in groups of 8 characters (read aloud and compared by eye on a projector). */
export function groupHex(hex: string | null | undefined, size = 8): string[] {
  if (!hex) return [];
  const out: string[] = [];
  for (let i = 0; i < hex.length; i += size) out.push(hex.slice(i, i + size));
  return out;
}

/** A site path as an absolute link (what a phone scanning the QR code opens). */
export function absolute(path: string, origin: string): string {
  if (/^https?:\/\//.test(path)) return path;
  return `${origin.replace(/\/$/, "")}${path.startsWith("/") ? "" : "/"}${path}`;
}

/** The public verifier's link for a task's draw (the one the API names, else built the same way). */
export function verifyPath(draw: Pick<Draw, "verify_url" | "task" | "seq">): string {
  if (draw.verify_url) return draw.verify_url;
  return `/draw/verify.html?record=${encodeURIComponent(`/api/public/draws/${draw.task}/record?seq=${draw.seq}`).replace(/%2F/g, "/")}`;
}

/** The current draw of a task's draws: the last one not superseded (a task has at most one). */
export function currentDraw<T extends Pick<Draw, "status" | "seq">>(draws: T[]): T | null {
  const live = draws.filter((d) => d.status !== "superseded" && d.status !== "abandoned" && d.status !== "void");
  const list = live.length ? live : [];
  return list.length ? list.reduce((a, b) => (b.seq > a.seq ? b : a)) : null;
}

export function sum(o: Record<string, number> | null | undefined): number {
  return Object.values(o || {}).reduce((a, b) => a + (b || 0), 0);
}

/** The draw's phase on the projector: before the commitment, awaiting the dice, drawn, or stopped. */
export type Phase = "none" | "committed" | "drawn" | "failed";
export function phaseOf(draw: Pick<Draw, "status"> | null): Phase {
  if (!draw) return "none";
  if (draw.status === "committed") return "committed";
  if (draw.status === "drawn") return "drawn";
  if (draw.status === "failed") return "failed";
  return "none";
}

/** A name for a real-world id of the record (a business, an inspector), the id when the record has none. */
export function nameOf(names: PublicRecordNames | null, kind: "targets" | "inspectors", id: string): string {
  return names?.names?.[kind]?.[id] || id;
}
