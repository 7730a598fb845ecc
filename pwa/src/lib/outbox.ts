// The outbox (docs/sync.md §3) and what the phone shows: the pulled documents with the pending
// mutations laid over them. Every write goes into the outbox in the same IndexedDB transaction as
// the data it needs (photos), with the next mutation id: ids stay gap-free across tabs because
// IndexedDB serialises read-write transactions.
import type { Content, InspectionDoc, Json, RecordDoc, SectionDoc } from "../api/types";
import { db, getKV, plain, setKV, type Mutation, type PhotoMeta, type ResultRow } from "./db";
import { requestPersistence } from "./storage";
import { isoLocal, uuid } from "./time";

export async function clientId(): Promise<string> {
  return db.transaction("rw", db.kv, async () => {
    let id = await getKV<string | null>("client_id", null);
    if (!id) {
      id = uuid();
      await setKV("client_id", id);
    }
    return id;
  });
}

export function revKey(inspectionId: number, departmentId: number | null, path: string): string {
  return `${inspectionId}/${departmentId ?? "record"}|${path}`;
}

export interface NewPhoto { meta: PhotoMeta; data: ArrayBuffer; thumb: ArrayBuffer }

/** The stores a mutation may touch when it is written (with the photos it names, and the state it reads). */
function writeStores() {
  return [db.kv, db.outbox, db.revs, db.inspections, db.photos, db.blobs, db.thumbs];
}

/**
 * Append a mutation (and store the photos it names) in one transaction; returns its id. The arguments
 * are deep-copied first (``plain``): what the officer's screen holds may be reactive (Vue Proxies), and
 * IndexedDB cannot store a Proxy.
 */
export async function enqueue(name: string, args: Record<string, Json>, photos: NewPhoto[] = []): Promise<number> {
  const data = plain(args, name);
  const files = photos.map((p) => ({ meta: plain(p.meta, "照片"), data: p.data, thumb: p.thumb }));
  const id = await db.transaction("rw", writeStores(), async () => {
    for (const p of files) {
      if (!(await db.photos.get(p.meta.sha256))) {
        await db.photos.put(p.meta);
        await db.blobs.put({ sha256: p.meta.sha256, data: p.data });
        await db.thumbs.put({ sha256: p.meta.sha256, data: p.thumb });
      }
    }
    const id = await getKV<number>("next_id", 1);
    const inspection = typeof data.inspection_id === "number" ? data.inspection_id : null;
    const m: Mutation = { id, name, args: data, device_time: isoLocal(), inspection_id: inspection, sent_at: null, attempts: 0 };
    await db.outbox.add(m);
    await setKV("next_id", id + 1);
    return id;
  });
  if (typeof navigator !== "undefined" && navigator.onLine === false) void persistOnce();
  return id;
}

async function fieldsWithBase(inspectionId: number, departmentId: number | null, values: Record<string, Json>) {
  const keys = Object.keys(values).map((p) => revKey(inspectionId, departmentId, p));
  const revs = await db.revs.bulkGet(keys);
  const fields: Record<string, Json> = {};
  Object.keys(values).forEach((p, i) => { fields[p] = { value: values[p], base_rev: revs[i]?.rev ?? 0 }; });
  return fields;
}

export interface SetOptions {
  /**
   * Replace the last mutation in the outbox instead of adding one, when it is a ``section.set`` of this
   * section writing exactly these paths that has never left the phone (``sent_at`` null) nor been
   * exported: typing saves every few hundred milliseconds without flooding the outbox. A mutation once
   * sent is never changed (the server answers a replayed id from its first send, and refuses a
   * different payload: 409 ``sync.replay_mismatch``). The replaced fields keep their first ``base_rev``:
   * the text was typed over what the officer saw then.
   */
  coalesce?: boolean;
}

function samePaths(a: Record<string, Json>, b: Record<string, Json>): boolean {
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k));
}

export async function setSection(inspectionId: number, departmentId: number, values: Record<string, Json>,
                                 photos: NewPhoto[] = [], opts: SetOptions = {}): Promise<number> {
  const plainValues = plain(values, "section.set");
  return db.transaction("rw", writeStores(), async () => {
    if (opts.coalesce && !photos.length) {
      const last = await db.outbox.orderBy("id").last();
      const exported = await getKV<number>("exported_through", 0);
      const fields = last?.args.fields as Record<string, { value: Json; base_rev: number }> | undefined;
      if (last && fields && last.name === "section.set" && last.sent_at === null && last.id > exported
          && last.inspection_id === inspectionId && last.args.department_id === departmentId
          && samePaths(fields, plainValues)) {
        const next: Record<string, Json> = {};
        for (const p of Object.keys(plainValues)) next[p] = { value: plainValues[p], base_rev: fields[p].base_rev };
        await db.outbox.put({ ...last, args: { ...last.args, fields: next }, device_time: isoLocal() });
        return last.id;
      }
    }
    const fields = await fieldsWithBase(inspectionId, departmentId, plainValues);
    return enqueue("section.set", { inspection_id: inspectionId, department_id: departmentId, fields }, photos);
  });
}

/**
 * Write fields computed from the section as it stands at the moment of writing (the pulled section with
 * the outbox over it, read in the same transaction): adding a photo to a list, toggling a handling,
 * changing one key of an object. Two such writes (two quick photos, two tabs) cannot read the same old
 * list and lose each other's entry. ``compute`` returns null to write nothing.
 */
export async function updateSection(inspectionId: number, departmentId: number,
                                    compute: (content: Content) => Record<string, Json> | null,
                                    photos: NewPhoto[] = []): Promise<number | null> {
  return db.transaction("rw", writeStores(), async () => {
    const doc = await db.inspections.get(inspectionId);
    if (!doc) throw new Error("本机没有这项检查");
    const outbox = await db.outbox.where("inspection_id").equals(inspectionId).sortBy("id");
    const values = compute(sectionView(doc, departmentId, outbox).content);
    if (!values || !Object.keys(values).length) return null;
    const fields = await fieldsWithBase(inspectionId, departmentId, plain(values, "section.set"));
    return enqueue("section.set", { inspection_id: inspectionId, department_id: departmentId, fields }, photos);
  });
}

export async function setRecord(inspectionId: number, values: Record<string, Json>): Promise<number> {
  const fields = await fieldsWithBase(inspectionId, null, plain(values, "record.set"));
  return enqueue("record.set", { inspection_id: inspectionId, fields });
}

/**
 * The next batch to push, marked as sent in the same transaction that reads it: what is sent is exactly
 * what is stored from then on (a mutation still being coalesced cannot change between the read and the
 * send). ``pick`` chooses the batch from the whole outbox in id order.
 */
export async function takeBatch(pick: (outbox: Mutation[]) => Mutation[]): Promise<Mutation[]> {
  return db.transaction("rw", db.outbox, async () => {
    const outbox = await db.outbox.orderBy("id").toArray();
    if (!outbox.length) return [];
    const now = new Date().toISOString();
    const batch = pick(outbox).map((m) => ({ ...m, sent_at: m.sent_at || now, attempts: m.attempts + 1 }));
    await db.outbox.bulkPut(batch);
    return batch;
  });
}

/** A mutation as kept with its answer: a co-signer's password never outlives its outbox entry (docs/sync.md §5.3). */
export function withoutPassword(m: Mutation, name?: string): Mutation {
  const kept: Mutation = { ...m, args: { ...m.args } };
  if (kept.args.signer && typeof kept.args.signer === "object") {
    kept.args.signer = { username: (kept.args.signer as Record<string, Json>).username ?? null,
                         ...(name ? { name } : {}) } as Json;
  }
  return kept;
}

/**
 * The server has processed this client's mutations up to ``lastMutationId``: the next id is past it. A phone
 * restored from an older backup (or whose data was copied) would otherwise give new changes ids the server has
 * already used, and they would be refused as replays of other content. Runs inside the caller's transaction
 * when there is one.
 */
export async function advanceNextId(lastMutationId: number | undefined | null): Promise<void> {
  if (typeof lastMutationId !== "number" || !Number.isFinite(lastMutationId)) return;
  await db.transaction("rw", db.kv, async () => {
    const next = await getKV<number>("next_id", 1);
    if (next <= lastMutationId) await setKV("next_id", lastMutationId + 1);
  });
}

const FIELD_WRITES = new Set(["section.set", "record.set"]);

function scopeOf(m: Pick<Mutation, "name" | "inspection_id" | "args">): string | null {
  if (!FIELD_WRITES.has(m.name)) return null;
  return `${m.inspection_id}/${m.name === "section.set" ? m.args.department_id : "record"}`;
}

export interface Renumbered { from: number; to: number | null; dropped: string[] }

/**
 * The server answered 409 ``sync.replay_mismatch`` for ``mutationId``: it processed that id before, with other
 * content, and keeps what it did then (``firstResult``). The phone keeps that answer for the id and sends its own
 * version again under the next free id, at the end of the outbox (docs/sync.md §3), so nothing the officer did is
 * dropped. One refinement keeps the officer's latest values: a field that a later change of theirs (still in the
 * outbox, or already answered) writes in the same section is left out of the resent version, which would
 * otherwise write an older value over the later one. A version left with no field is not resent. One
 * transaction; ``to`` is the new id (null when nothing was left to send).
 */
export async function renumber(mutationId: number, firstResult: Record<string, Json> | null): Promise<Renumbered> {
  return db.transaction("rw", [db.outbox, db.results, db.kv, db.revs], async () => {
    const m = await db.outbox.get(mutationId);
    if (!m) return { from: mutationId, to: null, dropped: [] };
    const now = new Date().toISOString();
    const first = { ...(firstResult || {}), id: mutationId, replayed: true } as Record<string, Json>;
    const status = (["applied", "conflict", "rejected"].includes(String(first.status)) ? first.status : "applied") as ResultRow["status"];
    let args = m.args;
    const dropped: string[] = [];
    const scope = scopeOf(m);
    if (scope) {
      const later = [...(await db.outbox.where("id").above(mutationId).toArray()),
                     ...(await db.results.where("id").above(mutationId).toArray()).map((r) => r.mutation)];
      const written = new Set<string>();
      for (const x of later) if (scopeOf(x) === scope) for (const p of Object.keys((x.args.fields as Record<string, Json>) || {})) written.add(p);
      const fields: Record<string, Json> = {};
      for (const [p, w] of Object.entries((m.args.fields as Record<string, Json>) || {})) {
        if (written.has(p)) dropped.push(p); else fields[p] = w;
      }
      args = { ...m.args, fields };
      // the server holds the revisions the first version wrote: this client wrote them (docs/sync.md §5, same client)
      const revs = (first.revs || {}) as Record<string, number>;
      for (const [path, rev] of Object.entries(revs)) {
        const key = revKey(m.inspection_id!, m.name === "section.set" ? (m.args.department_id as number) : null, path);
        const old = await db.revs.get(key);
        await db.revs.put({ key, rev: Math.max(old?.rev ?? 0, rev) });
      }
    }
    await db.outbox.delete(mutationId);
    let to: number | null = null;
    if (!scope || Object.keys((args.fields as Record<string, Json>) || {}).length) {
      to = Math.max(await getKV<number>("next_id", 1), mutationId + 1);
      await db.outbox.add({ ...m, id: to, args, sent_at: null, attempts: 0 });
      await setKV("next_id", to + 1);
    }
    const row: ResultRow = { id: mutationId, name: m.name, inspection_id: m.inspection_id, status,
      result: first as ResultRow["result"], mutation: withoutPassword(m), at: now, seen: 1, replaced_by: to };
    await db.results.put(row);
    return { from: mutationId, to, dropped };
  });
}

let persistAsked = false;

/** Ask the browser to keep this app's storage (not evict it) the first time something is saved offline. */
export async function persistOnce(): Promise<boolean | null> {
  if (persistAsked) return null;
  persistAsked = true;
  return requestPersistence();
}

// --- what the phone shows -------------------------------------------------------------------------

function applyFields(content: Content, fields: Record<string, Json>): void {
  for (const [path, w] of Object.entries(fields)) {
    const value = (w as { value: Json }).value;
    if (value === null || value === undefined) delete content[path];
    else content[path] = value;
  }
}

export interface SectionView {
  department_id: number;
  department_code: string;
  content: Content;
  status: "open" | "signed";
  pendingSign: boolean;          // a signature waits in the outbox
  pending: number;               // mutations not yet answered
  server: SectionDoc | null;
}

/** The section as the officer sees it: the pulled one with the unsent writes over it. */
export function sectionView(doc: InspectionDoc, departmentId: number, outbox: Mutation[]): SectionView {
  const server = doc.sections.find((s) => s.department_id === departmentId) || null;
  const code = server?.department_code || doc.group.members.find((m) => m.department_id === departmentId)?.department_code || "";
  const content: Content = server ? JSON.parse(JSON.stringify(server.content)) : {};
  let pending = 0;
  let pendingSign = false;
  for (const m of outbox) {
    if (m.inspection_id !== doc.id || m.args.department_id !== departmentId) continue;
    if (m.name === "section.set") {
      applyFields(content, m.args.fields as Record<string, Json>);
      pending++;
    } else if (m.name === "section.sign") {
      pendingSign = true;
      pending++;
    }
  }
  return { department_id: departmentId, department_code: code, content, status: server?.status || "open",
           pendingSign, pending, server };
}

export interface RecordView {
  content: Content;
  server: RecordDoc | null;
  pending: Mutation[];
  state: "draft" | "signing" | "submitted";
  /**
   * The hash fixed by the finalisation (the server's, or the one waiting to be sent); null while a draft. The
   * server's ``content_hash`` of a draft is only what the record would be finalised with now (docs/sync.md
   * §4.2): it changes with every write, so nothing may be signed or submitted against it.
   */
  hash: string | null;
  submitPending: boolean;
}

/** The lead's record with unsent record.* mutations over it (a finalisation waiting in the outbox counts). */
export function recordView(doc: InspectionDoc, outbox: Mutation[]): RecordView {
  const server = doc.record;
  const content: Content = server ? JSON.parse(JSON.stringify(server.content)) : {};
  const pending: Mutation[] = [];
  let state = server?.state ?? "draft";
  let hash = state === "draft" ? null : server?.content_hash ?? null;
  let submitPending = false;
  for (const m of outbox) {
    if (m.inspection_id !== doc.id || !m.name.startsWith("record.")) continue;
    if (m.name === "record.set") applyFields(content, m.args.fields as Record<string, Json>);
    if (m.name === "record.finalize") { state = "signing"; hash = String(m.args.content_hash); }
    if (m.name === "record.reopen") { state = "draft"; hash = null; }
    if (m.name === "record.submit") submitPending = true;
    pending.push(m);
  }
  return { content, server, pending, state, hash, submitPending };
}
