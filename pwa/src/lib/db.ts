// The phone's store (IndexedDB through Dexie). Everything an officer entered lives here until the
// server has answered for it: the outbox is written in the same transaction as the data it carries
// (photos included), and the pulled documents are replaced only page by page with the cursor.
import Dexie, { type Table } from "dexie";
import type { Change, InspectionDoc, Json, MutationResult, TaskDoc, UserOut } from "../api/types";

export interface Mutation {
  id: number;                 // the client's mutation id: 1, 2, 3 … with no gaps
  name: string;
  args: Record<string, Json>;
  device_time: string;
  inspection_id: number | null;
  sent_at: string | null;     // first time it left the phone (its answer may have been lost)
  attempts: number;
}
export interface ResultRow {     // the server's answer for a mutation, kept to show (and the mutation with it)
  id: number;
  name: string;
  inspection_id: number | null;
  status: "applied" | "conflict" | "rejected";
  result: MutationResult;
  mutation: Mutation;
  at: string;
  seen: 0 | 1;                // a refusal the officer has acknowledged
}
export interface PhotoMeta {
  sha256: string;
  inspection_id: number | null;
  type: string;               // image/jpeg, or image/png for signatures
  kind: "photo" | "signature";
  size: number;
  width: number;
  height: number;
  created: string;
  uploaded: 0 | 1;            // 1 once the server holds it (HEAD 200 or the upload completed)
  offset: number;             // bytes the server acknowledged
  upload_url: string | null;  // the resumable session (Location)
  error: string | null;       // the server's refusal, if any
}
export interface Blob_ { sha256: string; data: ArrayBuffer }
export interface Thumb { sha256: string; data: ArrayBuffer }
export interface KV { key: string; value: unknown }
export interface Tombstone { id: number; reason_code: string; reason: string; at: string }
export interface Rev { key: string; rev: number }

export interface Auth { access: string; refresh: string; user: UserOut; saved_at: string }

export class ShuangsuiDB extends Dexie {
  kv!: Table<KV, string>;
  tasks!: Table<TaskDoc, number>;
  inspections!: Table<InspectionDoc, number>;
  tombstones!: Table<Tombstone, number>;
  outbox!: Table<Mutation, number>;
  results!: Table<ResultRow, number>;
  revs!: Table<Rev, string>;
  photos!: Table<PhotoMeta, string>;
  blobs!: Table<Blob_, string>;
  thumbs!: Table<Thumb, string>;

  constructor(name = "shuangsui") {
    super(name);
    this.version(1).stores({
      kv: "key",
      tasks: "id",
      inspections: "id",
      tombstones: "id",
      outbox: "id, inspection_id",
      results: "id, inspection_id, status, seen",
      revs: "key",
      photos: "sha256, inspection_id, uploaded",
      blobs: "sha256",
      thumbs: "sha256",
    });
  }
}

export const db = new ShuangsuiDB();

export async function getKV<T>(key: string, fallback: T): Promise<T> {
  const row = await db.kv.get(key);
  return row === undefined ? fallback : (row.value as T);
}

export function setKV(key: string, value: unknown): Promise<string> {
  return db.kv.put({ key, value });
}

export type { Change };

/** Forget everything on this phone (after a clean logout, or a different officer logging in). */
export async function wipeLocal(keepKeys: string[] = []): Promise<void> {
  await db.transaction("rw", [db.kv, db.tasks, db.inspections, db.tombstones, db.outbox, db.results, db.revs,
                              db.photos, db.blobs, db.thumbs], async () => {
    const keep = await db.kv.bulkGet(keepKeys);
    await Promise.all([db.kv.clear(), db.tasks.clear(), db.inspections.clear(), db.tombstones.clear(),
                       db.outbox.clear(), db.results.clear(), db.revs.clear(), db.photos.clear(), db.blobs.clear(),
                       db.thumbs.clear()]);
    await db.kv.bulkPut(keep.filter((k): k is KV => !!k));
  });
}
