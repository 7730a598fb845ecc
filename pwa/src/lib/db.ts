// The phone's store (IndexedDB through Dexie). Everything an officer entered lives here until the
// server has answered for it: the outbox is written in the same transaction as the data it carries
// (photos included), and the pulled documents are replaced only page by page with the cursor.
import Dexie, { type DBCore, type DBCoreMutateRequest, type Middleware, type Table } from "dexie";
import type { Change, InspectionDoc, Json, MutationResult, TaskDoc, UserOut } from "../api/types";
import { clearJournal } from "./journal";

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
  replaced_by?: number | null; // the server had processed this id with other content: the phone's version went again under this id
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
export interface Tombstone { id: number; reason_code: string; reason: string; at: string; name?: string }
export interface Rev { key: string; rev: number }

export interface Auth { access: string; refresh: string; user: UserOut; saved_at: string }

/**
 * A plain deep copy of what is about to be stored: IndexedDB stores by structured clone, which refuses a
 * Proxy (Vue's reactive objects are Proxies: "DataCloneError: … could not be cloned") and functions.
 * Objects and arrays are copied through whatever wraps them; binary data, dates and Blobs are kept as
 * they are (they clone); a function or a symbol is an error that names where it was.
 */
export function plain<T>(value: T, path = "值"): T {
  return copy(value, path, new Map()) as T;
}

function copy(v: unknown, path: string, seen: Map<object, unknown>): unknown {
  if (v === null || v === undefined || typeof v === "boolean" || typeof v === "number" || typeof v === "string"
      || typeof v === "bigint") return v;
  if (typeof v === "function" || typeof v === "symbol") throw new TypeError(`不能保存到手机：${path} 不是数据`);
  const o = v as object;
  if (o instanceof ArrayBuffer || ArrayBuffer.isView(o) || o instanceof Date || o instanceof RegExp
      || (typeof Blob !== "undefined" && o instanceof Blob)) return o;
  if (seen.has(o)) return seen.get(o);
  if (Array.isArray(o)) {
    const out: unknown[] = [];
    seen.set(o, out);
    for (let i = 0; i < o.length; i++) out.push(copy(o[i], `${path}[${i}]`, seen));
    return out;
  }
  if (o instanceof Map) {
    const out = new Map();
    seen.set(o, out);
    for (const [k, x] of o) out.set(copy(k, path, seen), copy(x, `${path}.${String(k)}`, seen));
    return out;
  }
  if (o instanceof Set) {
    const out = new Set();
    seen.set(o, out);
    for (const x of o) out.add(copy(x, path, seen));
    return out;
  }
  const out: Record<string, unknown> = {};
  seen.set(o, out);
  for (const k of Object.keys(o)) {
    const x = (o as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = copy(x, `${path}.${k}`, seen);
  }
  return out;
}

/** Every add and put of every table goes through ``plain``: no save path can hand IndexedDB a Proxy. */
const plainValues: Middleware<DBCore> = {
  stack: "dbcore",
  name: "shuangsui-plain-values",
  create(down) {
    return {
      ...down,
      table(name) {
        const table = down.table(name);
        return {
          ...table,
          mutate(req: DBCoreMutateRequest) {
            if ((req.type === "add" || req.type === "put") && req.values) {
              return table.mutate({ ...req, values: req.values.map((x) => plain(x, name)) } as DBCoreMutateRequest);
            }
            return table.mutate(req);
          },
        };
      },
    };
  },
};

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
    this.use(plainValues);
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
  clearJournal();
}
