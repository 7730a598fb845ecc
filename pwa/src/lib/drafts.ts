// Saving as the officer types (docs/decisions.md, "Typed text is kept at every keystroke"):
// * every keystroke goes at once into the journal (journal.ts: localStorage, synchronous), so a tab
//   closed or an app killed right after typing keeps the text;
// * 250 ms after the last keystroke (and when the field is left, the page is hidden or closed, or the
//   screen is left) the values go into the outbox as a section.set that replaces the previous one of the
//   same field while it has not been sent (outbox.ts ``coalesce``): one mutation per pause, not per key;
// * the journal is emptied once the outbox holds the values; what a closed tab left in it is put into
//   the outbox by the next tab that edits that inspection, or when the app opens.
import { reactive } from "vue";
import type { Json } from "../api/types";
import { db } from "./db";
import { journalEntries, readJournal, writeJournal } from "./journal";
import { withLock } from "./locks";
import { sectionView, setSection } from "./outbox";
import { canonical } from "./canonical";

export const SAVE_DELAY_MS = 250;

/** Inspections this tab is editing (holding their edit lock): their journal is the tab's own. */
export const editing = new Set<number>();

export type Write = (values: Record<string, Json>) => Promise<unknown>;

export class SectionDrafts {
  /** The text of each field being typed, as typed (shown instead of the saved value while typing). */
  readonly text = reactive<Record<string, string>>({});
  private pending: Record<string, Json> = {};
  private inflight: Record<string, Json> = {};
  private timer: ReturnType<typeof setTimeout> | null = null;
  private chain: Promise<void> = Promise.resolve();
  private editedSince = new Map<string, number>();
  private seq = 0;

  constructor(readonly inspectionId: number, readonly departmentId: number, private write: Write,
              private onError: (e: unknown) => void = () => {}, private delay = SAVE_DELAY_MS) {}

  /** A keystroke in field ``key``: ``raw`` is what the field shows, ``values`` the paths it writes. */
  input(key: string, raw: string, values: Record<string, Json>): void {
    this.text[key] = raw;
    this.editedSince.set(key, ++this.seq);
    Object.assign(this.pending, values);
    this.journal();
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { void this.flush(); }, this.delay);
  }

  /** True while something typed is not in the outbox yet. */
  get dirty(): boolean {
    return Object.keys(this.pending).length > 0 || Object.keys(this.inflight).length > 0;
  }

  /** Put what was typed into the outbox now; resolves when it is committed (or failed: kept, retried). */
  flush(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    this.chain = this.chain.then(async () => {
      const values = this.pending;
      if (!Object.keys(values).length) return;
      this.pending = {};
      this.inflight = values;
      try {
        await this.write(values);
        this.inflight = {};
      } catch (e) {
        this.pending = { ...values, ...this.pending };
        this.inflight = {};
        this.onError(e);
      } finally {
        this.journal();
      }
    });
    return this.chain;
  }

  /**
   * The field was left: save, then show the saved value again (unless typing went on meanwhile). With
   * ``keep``, the typed text stays shown (fields merged into one value, whose other parts are read from it).
   */
  async leave(key: string, keep = false): Promise<void> {
    const at = this.editedSince.get(key);
    await this.flush();
    if (!keep && this.editedSince.get(key) === at && !this.dirty) {
      delete this.text[key];
      this.editedSince.delete(key);
    }
  }

  private journal(): void {
    writeJournal(this.inspectionId, this.departmentId, { ...this.inflight, ...this.pending });
  }
}

function same(a: Json | undefined, b: Json | undefined): boolean {
  return canonical(a ?? null) === canonical(b ?? null);
}

/**
 * Put what the journal holds for ``inspectionId`` into the outbox (the values the phone does not already
 * show), then forget it. The caller holds the inspection's edit lock (or it is known to be free).
 */
export async function recoverJournal(inspectionId: number): Promise<number> {
  let written = 0;
  const entries = journalEntries().filter((e) => e.inspection_id === inspectionId);
  for (const entry of entries) {
    const fresh = readJournal(entry.inspection_id, entry.department_id);
    if (!fresh) continue;
    const doc = await db.inspections.get(inspectionId);
    let values = fresh.values;
    if (doc) {
      const outbox = await db.outbox.where("inspection_id").equals(inspectionId).sortBy("id");
      const shown = sectionView(doc, entry.department_id, outbox).content;
      values = Object.fromEntries(Object.entries(values).filter(([p, v]) => !same(shown[p], v)));
    }
    if (Object.keys(values).length) {
      await setSection(inspectionId, entry.department_id, values, [], { coalesce: true });
      written += 1;
    }
    writeJournal(entry.inspection_id, entry.department_id, {});
  }
  if (entries.length) {
    // The tab that left this journal may have committed its last save as it closed, without telling the
    // other tabs (Dexie tells them after the commit, from that tab's script): write the inspection's
    // outbox rows again as they are stored, so every view of this tab reads them afresh.
    await db.transaction("rw", db.outbox, async () => {
      const rows = await db.outbox.where("inspection_id").equals(inspectionId).toArray();
      if (rows.length) await db.outbox.bulkPut(rows);
    });
  }
  return written;
}

/** At start: what tabs closed while typing left in the journal goes into the outbox (inspections no tab edits). */
export async function recoverAll(): Promise<number> {
  let written = 0;
  const ids = [...new Set(journalEntries().map((e) => e.inspection_id))].filter((id) => !editing.has(id));
  for (const id of ids) {
    written += (await withLock(`edit:${id}`, () => recoverJournal(id), true)) ?? 0;
  }
  return written;
}
