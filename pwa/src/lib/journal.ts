// The typing journal: what the officer typed into a section and the outbox does not hold yet, written to
// localStorage synchronously at every keystroke. localStorage needs no event-loop turn to commit, so the
// text survives a tab closed or an app killed a moment after typing, when an IndexedDB write started then
// would be aborted with the page. The journal is emptied as soon as the outbox holds the same values, and
// whatever is left in it is put into the outbox when the app next opens (drafts.ts).
import type { Json } from "../api/types";

const PREFIX = "shuangsui:draft:";

export interface JournalEntry {
  inspection_id: number;
  department_id: number;
  values: Record<string, Json>;     // path → value, as section.set writes it
  at: string;
}

function storage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;                    // storage disabled: the debounced IndexedDB save still runs
  }
}

export function journalKey(inspectionId: number, departmentId: number): string {
  return `${PREFIX}${inspectionId}:${departmentId}`;
}

/** Record the values not yet in the outbox (none: forget the entry). False when localStorage refused. */
export function writeJournal(inspectionId: number, departmentId: number, values: Record<string, Json>): boolean {
  const s = storage();
  if (!s) return false;
  try {
    if (!Object.keys(values).length) s.removeItem(journalKey(inspectionId, departmentId));
    else s.setItem(journalKey(inspectionId, departmentId), JSON.stringify({ inspection_id: inspectionId,
      department_id: departmentId, values, at: new Date().toISOString() } satisfies JournalEntry));
    return true;
  } catch {
    return false;                   // full: the IndexedDB save is the only copy until it commits
  }
}

export function readJournal(inspectionId: number, departmentId: number): JournalEntry | null {
  const raw = storage()?.getItem(journalKey(inspectionId, departmentId));
  if (!raw) return null;
  try {
    const e = JSON.parse(raw) as JournalEntry;
    return e && typeof e.values === "object" && e.values ? e : null;
  } catch {
    return null;
  }
}

export function journalEntries(): JournalEntry[] {
  const s = storage();
  if (!s) return [];
  const out: JournalEntry[] = [];
  for (let i = 0; i < s.length; i++) {
    const key = s.key(i);
    const m = key?.slice(PREFIX.length).match(/^(\d+):(\d+)$/);
    if (!key?.startsWith(PREFIX) || !m) continue;
    const e = readJournal(Number(m[1]), Number(m[2]));
    if (e) out.push(e);
  }
  return out;
}

export function clearJournal(): void {
  const s = storage();
  if (!s) return;
  const keys: string[] = [];
  for (let i = 0; i < s.length; i++) {
    const key = s.key(i);
    if (key?.startsWith(PREFIX)) keys.push(key);
  }
  keys.forEach((k) => s.removeItem(k));
}
