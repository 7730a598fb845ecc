// The outbox: what is written to IndexedDB and when a pending write may still change.
import { beforeEach, describe, expect, it, vi } from "vitest";
import { isProxy, reactive, ref } from "vue";
import type { Json } from "../src/api/types";
import { db, setKV, type PhotoMeta } from "../src/lib/db";
import { enqueue, sectionView, setSection, takeBatch, updateSection, type NewPhoto } from "../src/lib/outbox";
import { emptyStore, inspection } from "./helpers";

function photo(sha: string): NewPhoto {
  const meta: PhotoMeta = { sha256: sha, inspection_id: 7, type: "image/jpeg", kind: "photo", size: 3, width: 1, height: 1,
    created: "2026-04-08T01:00:00Z", uploaded: 0, offset: 0, upload_url: null, error: null };
  return { meta, data: new Uint8Array([1, 2, 3]).buffer, thumb: new Uint8Array([4]).buffer };
}
const A = "a".repeat(64), B = "b".repeat(64), C = "c".repeat(64);

beforeEach(emptyStore);

describe("nothing reactive reaches IndexedDB", () => {
  it("enqueues reactive arguments and a reactive photo entry as plain data", async () => {
    const state = reactive({ photos: [{ id: "1", sha256: A, gps: { lat: 1, lon: 2 } }] });
    const meta = reactive(photo(B).meta);
    const id = await enqueue("section.set", {
      inspection_id: 7, department_id: 3,
      fields: { "points.1.photos": { value: state.photos as unknown as Json, base_rev: 0 } },
    }, [{ ...photo(B), meta }]);
    const stored = (await db.outbox.get(id))!;
    const value = (stored.args.fields as Record<string, { value: Json }>)["points.1.photos"].value;
    expect(value).toEqual([{ id: "1", sha256: A, gps: { lat: 1, lon: 2 } }]);
    expect(isProxy(value)).toBe(false);
    expect(() => structuredClone(stored)).not.toThrow();
    expect((await db.photos.get(B))?.sha256).toBe(B);
  });

  it("takes a second photo onto a list read from a reactive view while the first is unsent (issue 11 §1.1)", async () => {
    await db.inspections.put(inspection());
    await setSection(7, 3, { "points.1.photos": [{ id: "1", sha256: A }] }, [photo(A)]);
    // what the screen holds: the outbox in a Vue ref, the section shown over it
    const live = ref({ outbox: await db.outbox.toArray() });
    const shown = sectionView((await db.inspections.get(7))!, 3, live.value.outbox).content;
    const list = (shown["points.1.photos"] as Json[]).concat([{ id: "2", sha256: B }]);
    await setSection(7, 3, { "points.1.photos": list }, [photo(B)]);
    const third = (shown["points.1.photos"] as Json[]).concat([{ id: "2", sha256: B }, { id: "3", sha256: C }]);
    await setSection(7, 3, { "points.1.photos": third }, [photo(C)]);
    const view = sectionView((await db.inspections.get(7))!, 3, await db.outbox.toArray());
    expect((view.content["points.1.photos"] as { sha256: string }[]).map((p) => p.sha256)).toEqual([A, B, C]);
    expect(await db.photos.count()).toBe(3);
  });

  it("refuses what is not data with a clear error, and keeps nothing of that write", async () => {
    const args = { inspection_id: 7, department_id: 3, fields: { x: { value: (() => 1) as unknown as Json, base_rev: 0 } } };
    await expect(enqueue("section.set", args, [photo(A)])).rejects.toThrow(/不能保存到手机/);
    expect(await db.outbox.count()).toBe(0);
    expect(await db.photos.count()).toBe(0);
  });

  it("keeps every table plain, whatever path writes it", async () => {
    await setKV("some", reactive({ a: [1, { b: 2 }] }));
    await db.inspections.put(reactive(inspection()) as never);
    expect(isProxy((await db.kv.get("some"))!.value)).toBe(false);
    expect((await db.inspections.get(7))!.sections[0].department_code).toBe("SAMR");
  });
});

describe("writes from one screen", () => {
  it("two photos added at the same moment both stay (each list is read in its own write)", async () => {
    await db.inspections.put(inspection());
    const add = (sha: string) => updateSection(7, 3, (c) => ({
      "points.1.photos": [...((c["points.1.photos"] as Json[]) || []), { id: sha.slice(0, 4), sha256: sha }],
    }), [photo(sha)]);
    await Promise.all([add(A), add(B), add(C)]);
    const view = sectionView((await db.inspections.get(7))!, 3, await db.outbox.toArray());
    expect((view.content["points.1.photos"] as { sha256: string }[]).map((p) => p.sha256).sort()).toEqual([A, B, C]);
  });

  it("writes nothing when the computed values are empty", async () => {
    await db.inspections.put(inspection());
    expect(await updateSection(7, 3, () => null)).toBeNull();
    expect(await db.outbox.count()).toBe(0);
  });
});

describe("coalescing the typing", () => {
  async function fields() {
    return (await db.outbox.orderBy("id").toArray()).map((m) => m.args.fields);
  }

  it("replaces the last unsent write of the same field, keeping its first base_rev", async () => {
    await db.revs.put({ key: "7/3|points.1.note", rev: 4 });
    await setSection(7, 3, { "points.1.note": "门" }, [], { coalesce: true });
    await db.revs.put({ key: "7/3|points.1.note", rev: 9 });          // a pull meanwhile
    await setSection(7, 3, { "points.1.note": "门头" }, [], { coalesce: true });
    await setSection(7, 3, { "points.1.note": "门头招牌" }, [], { coalesce: true });
    expect(await fields()).toEqual([{ "points.1.note": { value: "门头招牌", base_rev: 4 } }]);
    expect(await db.outbox.count()).toBe(1);
  });

  it("never changes a write once it has left the phone", async () => {
    await setSection(7, 3, { "points.1.note": "门" }, [], { coalesce: true });
    const [sent] = await takeBatch((all) => all);
    expect(sent.sent_at).not.toBeNull();
    await setSection(7, 3, { "points.1.note": "门头" }, [], { coalesce: true });
    const all = await db.outbox.orderBy("id").toArray();
    expect(all.map((m) => (m.args.fields as Record<string, { value: string }>)["points.1.note"].value)).toEqual(["门", "门头"]);
    expect(all[0]).toEqual(sent);                                      // what was sent is what is stored
  });

  it("adds a new write for other fields, another section, after another write, or once exported", async () => {
    await setSection(7, 3, { "points.1.note": "a" }, [], { coalesce: true });
    await setSection(7, 3, { "points.2.note": "b" }, [], { coalesce: true });
    await setSection(7, 4, { "points.2.note": "c" }, [], { coalesce: true });
    await setSection(7, 4, { "points.2.note": "d" }, [], { coalesce: false });
    await setKV("exported_through", 4);
    await setSection(7, 4, { "points.2.note": "e" }, [], { coalesce: true });
    expect((await db.outbox.count())).toBe(5);
    expect(await db.kv.get("next_id")).toEqual({ key: "next_id", value: 6 });
  });

  it("takes a batch and marks it sent in one step", async () => {
    for (const t of ["a", "b", "c"]) await enqueue("record.set", { inspection_id: 7, fields: { opinion: { value: t, base_rev: 0 } } });
    const batch = await takeBatch((all) => all.slice(0, 2));
    expect(batch.map((m) => [m.id, m.attempts, m.sent_at !== null])).toEqual([[1, 1, true], [2, 1, true]]);
    expect((await db.outbox.get(3))!.sent_at).toBeNull();
    expect(await takeBatch(() => [])).toEqual([]);
  });
});

describe("persistent storage", () => {
  it("is asked for at the first save made offline, once", async () => {
    const persist = vi.fn(async () => true);
    Object.defineProperty(navigator, "storage", { configurable: true,
      value: { persist, persisted: async () => false, estimate: async () => ({}) } });
    const online = vi.spyOn(navigator, "onLine", "get").mockReturnValue(true);
    await setSection(7, 3, { "points.1.note": "在线" });
    expect(persist).not.toHaveBeenCalled();
    online.mockReturnValue(false);
    await setSection(7, 3, { "points.1.note": "离线" });
    await setSection(7, 3, { "points.1.note": "离线 2" });
    await vi.waitFor(() => expect(persist).toHaveBeenCalledTimes(1));
  });
});
