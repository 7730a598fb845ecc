// Which photos stay on the phone (docs/sync.md §7, "References and clean-up"), kept apart from photos.ts so
// the sync engine can run it without loading the photo code.
import { db } from "./db";

const SHA = /^[0-9a-f]{64}$/;

function hashesIn(value: unknown, out: Set<string>, depth = 0): void {
  if (depth > 40 || value === null || value === undefined) return;
  if (typeof value === "string") { if (SHA.test(value)) out.add(value); return; }
  if (typeof value !== "object" || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return;
  for (const v of Array.isArray(value) ? value : Object.values(value)) hashesIn(v, out, depth + 1);
}

/**
 * Remove the photos the phone no longer needs (docs/sync.md §7, "References and clean-up"):
 * * one that no record names — not an unsent mutation, not a pulled inspection, not a refusal the officer
 *   has yet to read — is deleted with its bytes and thumbnail (a photo removed before it was sent, or
 *   whose record was refused), whether it was uploaded or not;
 * * one the server confirmed holding (uploaded) whose records were all answered keeps its entry and
 *   thumbnail, and lets its bytes go.
 * Nothing else is touched: a photo an unsent mutation names keeps everything, uploaded or not. Runs in
 * one transaction with the stores it reads, so a photo being saved with its mutation is never seen half.
 */
export async function collectPhotos(): Promise<{ removed: number; freed: number }> {
  return db.transaction("rw", [db.outbox, db.inspections, db.results, db.photos, db.blobs, db.thumbs], async () => {
    const queued = new Set<string>(), named = new Set<string>();
    await db.outbox.each((m) => hashesIn(m.args, queued));
    await db.results.where("seen").equals(0).each((r) => hashesIn(r.mutation?.args, queued));
    await db.inspections.each((doc) => hashesIn([doc.sections, doc.record, doc.signatures], named));
    const stored = new Set(await db.blobs.toCollection().primaryKeys());
    let removed = 0, freed = 0;
    for (const p of await db.photos.toArray()) {
      if (queued.has(p.sha256)) continue;
      if (!named.has(p.sha256)) {
        await Promise.all([db.photos.delete(p.sha256), db.blobs.delete(p.sha256), db.thumbs.delete(p.sha256)]);
        removed += 1;
        freed += p.size;
      } else if (p.uploaded === 1 && stored.has(p.sha256)) {
        await db.blobs.delete(p.sha256);
        freed += p.size;
      }
    }
    return { removed, freed };
  });
}
