// Which photos stay on the phone: nothing is deleted until the server confirmed it or no record names it.
import { beforeEach, describe, expect, it } from "vitest";
import { db, type PhotoMeta } from "../src/lib/db";
import { collectPhotos } from "../src/lib/gc";
import { enqueue, setSection, takeBatch } from "../src/lib/outbox";
import { emptyStore, inspection } from "./helpers";

const A = "a".repeat(64), B = "b".repeat(64), C = "c".repeat(64), D = "d".repeat(64);

function photo(sha: string, uploaded: 0 | 1 = 0) {
  const meta: PhotoMeta = { sha256: sha, inspection_id: 7, type: "image/jpeg", kind: "photo", size: 1000, width: 1, height: 1,
    created: "2026-04-08T01:00:00Z", uploaded, offset: 0, upload_url: null, error: null };
  return { meta, data: new Uint8Array(1000).buffer, thumb: new Uint8Array(10).buffer };
}

async function state(sha: string) {
  return { meta: !!(await db.photos.get(sha)), blob: !!(await db.blobs.get(sha)), thumb: !!(await db.thumbs.get(sha)) };
}

beforeEach(emptyStore);

describe("collectPhotos", () => {
  it("keeps every photo an unsent mutation names, sent or not, uploaded or not", async () => {
    await setSection(7, 3, { "points.1.photos": [{ id: "1", sha256: A }] }, [photo(A)]);
    await setSection(7, 3, { "points.1.photos": null });             // removed again, not sent yet
    await takeBatch((all) => all.slice(0, 1));                         // the first is on its way
    await db.photos.update(A, { uploaded: 1 });
    expect(await collectPhotos()).toEqual({ removed: 0, freed: 0 });
    expect(await state(A)).toEqual({ meta: true, blob: true, thumb: true });
  });

  it("deletes a photo no record names, and lets the bytes of a confirmed one go", async () => {
    await enqueue("section.set", { inspection_id: 7, department_id: 3, fields: {} }, [photo(A), photo(B, 1), photo(C), photo(D, 1)]);
    await db.outbox.clear();                                           // every write answered
    // the server's section names C (not uploaded yet) and D (uploaded); A and B were removed before sending
    await db.inspections.put(inspection(7, 3, { "points.1.photos": [{ id: "3", sha256: C }, { id: "4", sha256: D }] }));
    expect(await collectPhotos()).toEqual({ removed: 2, freed: 3000 });
    expect(await state(A)).toEqual({ meta: false, blob: false, thumb: false });
    expect(await state(B)).toEqual({ meta: false, blob: false, thumb: false });
    expect(await state(C)).toEqual({ meta: true, blob: true, thumb: true });     // still to upload
    expect(await state(D)).toEqual({ meta: true, blob: false, thumb: true });    // on the server: thumbnail kept
  });

  it("keeps the photos of a refusal the officer has not read yet", async () => {
    await enqueue("section.set", { inspection_id: 7, department_id: 3, fields: {} }, [photo(A)]);
    const [m] = await db.outbox.toArray();
    await db.outbox.clear();
    await db.results.put({ id: 1, name: "section.set", inspection_id: 7, status: "rejected", result: {} as never,
      mutation: { ...m, args: { ...m.args, fields: { "points.1.photos": { value: [{ id: "1", sha256: A }], base_rev: 0 } } } },
      at: "", seen: 0 });
    await collectPhotos();
    expect((await state(A)).blob).toBe(true);
    await db.results.update(1, { seen: 1 });
    await collectPhotos();
    expect((await state(A)).meta).toBe(false);
  });
});
