// The outbox (docs/sync.md §3) and what the phone shows: the pulled documents with the pending
// mutations laid over them. Every write goes into the outbox in the same IndexedDB transaction as
// the data it needs (photos), with the next mutation id: ids stay gap-free across tabs because
// IndexedDB serialises read-write transactions.
import type { Content, InspectionDoc, Json, RecordDoc, SectionDoc } from "../api/types";
import { db, getKV, setKV, type Mutation, type PhotoMeta } from "./db";
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

/** Append a mutation (and store the photos it names) in one transaction; returns its id. */
export async function enqueue(name: string, args: Record<string, Json>, photos: NewPhoto[] = []): Promise<number> {
  return db.transaction("rw", [db.kv, db.outbox, db.photos, db.blobs, db.thumbs], async () => {
    for (const p of photos) {
      if (!(await db.photos.get(p.meta.sha256))) {
        await db.photos.put(p.meta);
        await db.blobs.put({ sha256: p.meta.sha256, data: p.data });
        await db.thumbs.put({ sha256: p.meta.sha256, data: p.thumb });
      }
    }
    const id = await getKV<number>("next_id", 1);
    const inspection = typeof args.inspection_id === "number" ? args.inspection_id : null;
    const m: Mutation = { id, name, args, device_time: isoLocal(), inspection_id: inspection, sent_at: null, attempts: 0 };
    await db.outbox.add(m);
    await setKV("next_id", id + 1);
    return id;
  });
}

async function fieldsWithBase(inspectionId: number, departmentId: number | null, values: Record<string, Json>) {
  const keys = Object.keys(values).map((p) => revKey(inspectionId, departmentId, p));
  const revs = await db.revs.bulkGet(keys);
  const fields: Record<string, Json> = {};
  Object.keys(values).forEach((p, i) => { fields[p] = { value: values[p], base_rev: revs[i]?.rev ?? 0 }; });
  return fields;
}

export async function setSection(inspectionId: number, departmentId: number, values: Record<string, Json>,
                                 photos: NewPhoto[] = []): Promise<number> {
  const fields = await fieldsWithBase(inspectionId, departmentId, values);
  return enqueue("section.set", { inspection_id: inspectionId, department_id: departmentId, fields }, photos);
}

export async function setRecord(inspectionId: number, values: Record<string, Json>): Promise<number> {
  const fields = await fieldsWithBase(inspectionId, null, values);
  return enqueue("record.set", { inspection_id: inspectionId, fields });
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
  hash: string | null;            // the hash fixed by the finalisation (the server's, or the one waiting to be sent)
  submitPending: boolean;
}

/** The lead's record with unsent record.* mutations over it (a finalisation waiting in the outbox counts). */
export function recordView(doc: InspectionDoc, outbox: Mutation[]): RecordView {
  const server = doc.record;
  const content: Content = server ? JSON.parse(JSON.stringify(server.content)) : {};
  const pending: Mutation[] = [];
  let state = server?.state ?? "draft";
  let hash = server?.content_hash ?? null;
  let submitPending = false;
  for (const m of outbox) {
    if (m.inspection_id !== doc.id || !m.name.startsWith("record.")) continue;
    if (m.name === "record.set") applyFields(content, m.args.fields as Record<string, Json>);
    if (m.name === "record.finalize") { state = "signing"; hash = String(m.args.content_hash); }
    if (m.name === "record.reopen") { state = "draft"; }
    if (m.name === "record.submit") submitPending = true;
    pending.push(m);
  }
  return { content, server, pending, state, hash, submitPending };
}
