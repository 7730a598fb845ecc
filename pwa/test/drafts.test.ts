// Saving as the officer types: the journal at every keystroke, the outbox after a pause, one write per
// pause (not per key), and what a closed tab left behind recovered when the app opens again.
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Json } from "../src/api/types";
import { db } from "../src/lib/db";
import { SAVE_DELAY_MS, SectionDrafts, editing, recoverAll, recoverJournal } from "../src/lib/drafts";
import { journalEntries, readJournal, writeJournal } from "../src/lib/journal";
import { sectionView, setSection } from "../src/lib/outbox";
import { emptyStore, inspection } from "./helpers";

beforeEach(async () => {
  await emptyStore();
  await db.inspections.put(inspection());
});

function saver() {
  return new SectionDrafts(7, 3, (values) => setSection(7, 3, values, [], { coalesce: true }));
}

function typeInto(d: SectionDrafts, path: string, text: string) {
  for (let i = 1; i <= text.length; i++) d.input(path, text.slice(0, i), { [path]: text.slice(0, i) });
}

async function shown(path: string): Promise<Json | undefined> {
  return sectionView((await db.inspections.get(7))!, 3, await db.outbox.toArray()).content[path];
}

describe("typing", () => {
  it("journals every keystroke at once, before any save", async () => {
    const d = saver();
    typeInto(d, "points.1.note", "门头");
    expect(readJournal(7, 3)?.values).toEqual({ "points.1.note": "门头" });
    expect(d.text["points.1.note"]).toBe("门头");
    expect(d.dirty).toBe(true);
    await d.flush();
  });

  it("saves into the outbox within the delay after the last keystroke, as one write", async () => {
    const d = saver();
    typeInto(d, "points.1.note", "门头招牌名称不一致");
    expect(await db.outbox.count()).toBe(0);
    await vi.waitFor(async () => expect(await db.outbox.count()).toBe(1), { timeout: SAVE_DELAY_MS * 4 });
    await d.flush();
    expect(await shown("points.1.note")).toBe("门头招牌名称不一致");
    expect(readJournal(7, 3)).toBeNull();                       // the outbox holds it: the journal is empty
    expect(SAVE_DELAY_MS).toBeLessThanOrEqual(300);
  });

  it("keeps replacing the unsent write while typing goes on, and starts a new one after it was sent", async () => {
    const d = saver();
    typeInto(d, "points.1.note", "门");
    await d.flush();
    typeInto(d, "points.1.note", "门头");
    await d.flush();
    expect(await db.outbox.count()).toBe(1);
    await db.outbox.update(1, { sent_at: "2026-04-08T01:00:00Z" });
    typeInto(d, "points.1.note", "门头招牌");
    await d.flush();
    const all = await db.outbox.orderBy("id").toArray();
    expect(all.map((m) => (m.args.fields as Record<string, { value: string }>)["points.1.note"].value)).toEqual(["门头", "门头招牌"]);
  });

  it("keeps what was typed when a save fails, and saves it with the next", async () => {
    let fail = true;
    const errors: unknown[] = [];
    const d = new SectionDrafts(7, 3, async (values) => {
      if (fail) throw new Error("磁盘已满");
      await setSection(7, 3, values, [], { coalesce: true });
    }, (e) => errors.push(e));
    typeInto(d, "points.1.note", "abc");
    await d.flush();
    expect(errors).toHaveLength(1);
    expect(readJournal(7, 3)?.values).toEqual({ "points.1.note": "abc" });
    fail = false;
    d.input("points.2.note", "x", { "points.2.note": "x" });
    await d.flush();
    expect(await shown("points.1.note")).toBe("abc");
    expect(await shown("points.2.note")).toBe("x");
    expect(d.dirty).toBe(false);
  });

  it("shows the saved value again once the field is left", async () => {
    const d = saver();
    typeInto(d, "points.1.note", "abc ");
    await d.leave("points.1.note");
    expect(d.text["points.1.note"]).toBeUndefined();
  });
});

describe("a tab closed while typing", () => {
  it("leaves its text in the journal; the next opening puts it into the outbox once", async () => {
    const dying = new SectionDrafts(7, 3, () => new Promise(() => {}));   // its save never completes
    typeInto(dying, "points.1.problem", "营业执照未悬挂");
    expect(await db.outbox.count()).toBe(0);
    expect(await recoverAll()).toBe(1);
    expect(await shown("points.1.problem")).toBe("营业执照未悬挂");
    expect(journalEntries()).toEqual([]);
    expect(await recoverAll()).toBe(0);
    expect(await db.outbox.count()).toBe(1);
  });

  it("skips values the phone already shows, and leaves alone an inspection this tab is editing", async () => {
    await setSection(7, 3, { "points.1.note": "已保存" });
    writeJournal(7, 3, { "points.1.note": "已保存" });
    expect(await recoverJournal(7)).toBe(0);
    writeJournal(7, 3, { "points.1.note": "新的" });
    editing.add(7);
    expect(await recoverAll()).toBe(0);
    editing.delete(7);
    expect(await recoverAll()).toBe(1);
    expect(await shown("points.1.note")).toBe("新的");
  });
});
