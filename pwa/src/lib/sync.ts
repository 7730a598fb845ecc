// The sync engine, mirroring sync/client.py: uploads, then push the outbox in batches (≤ 100
// mutations, ≤ 1 MB), then pull until has_more is false. One tab syncs at a time (a Web Lock);
// tokens are refreshed by api.ts. Nothing leaves the outbox until the server has answered for it.
import { reactive } from "vue";
import type { Change, InspectionDoc, Json, MutationResult, PullOut, PushOut, SectionDoc } from "../api/types";
import { AuthLost, HttpError, NetworkError, currentAuth, deviceLabel, errorBody, request } from "./api";
import { db, getKV, setKV, type Mutation, type ResultRow } from "./db";
import { channel, withLock } from "./locks";
import { advanceNextId, clientId, renumber, revKey, takeBatch, withoutPassword } from "./outbox";
import { cosigners } from "./recordstate";
import { upload } from "./uploads";
import { collectPhotos } from "./gc";

export const MAX_MUTATIONS = 100;
export const MAX_BATCH_BYTES = 1024 * 1024;
const BACKOFF = [1, 2, 5, 10, 30];

export interface LastSync {
  at: string;
  ok: boolean;            // outbox empty, every photo on the server, the last pull ended
  message: string;
  code?: string;
  details?: Record<string, unknown>;   // sync.too_many_devices: {limit, devices}
}

export type Phase = "" | "uploads" | "push" | "pull";

export const status = reactive({
  running: false,
  phase: "" as Phase,
  upload: null as null | { sha256: string; sent: number; total: number; index: number; count: number },
  online: navigator.onLine,
  failures: 0,
  nextRetry: 0,
  elsewhere: "" as Phase,          // another tab of this app is syncing (it holds the lock), in this phase
});

export const PHASE_LABELS: Record<Phase, string> = { uploads: "上传照片", push: "发送记录", pull: "接收更新", "": "" };

let elsewhereTimer: ReturnType<typeof setTimeout> | null = null;
channel?.addEventListener("message", (e: MessageEvent) => {
  if (e.data?.type !== "phase") return;
  status.elsewhere = e.data.phase as Phase;
  if (elsewhereTimer) clearTimeout(elsewhereTimer);
  // a tab closed mid-sync says nothing more: stop showing its sync after a while
  if (status.elsewhere) elsewhereTimer = setTimeout(() => { status.elsewhere = ""; }, 90000);
});

function setPhase(phase: Phase): void {
  status.phase = phase;
  status.running = phase !== "";
  channel?.postMessage({ type: "phase", phase });
}

/** What the phone says about its sync, from what it holds (never from hope). */
export interface Picture {
  mutations: number;      // in the outbox (not answered by the server)
  photos: number;         // files not yet on the server
  refused: number;        // refusals the officer has not acknowledged
  last: LastSync | null;
  phase: Phase;           // the sync running now (this tab or another), "" when none
}
export interface Headline { label: string; tone: "busy" | "refused" | "saved" | "confirmed" | "idle"; ok: boolean }

/** 已同步 only when the outbox is empty, every file is on the server, the last pull ended and every refusal was seen. */
export function headline(p: Picture): Headline {
  const unsent = p.mutations + p.photos;
  const ok = !p.phase && unsent === 0 && p.refused === 0 && !!p.last?.ok;
  if (p.phase) return { label: "同步中…", tone: "busy", ok };
  if (p.refused) return { label: `被拒绝 ${p.refused}`, tone: "refused", ok };
  if (unsent) return { label: `未发送 ${unsent}`, tone: "saved", ok };
  if (ok) return { label: "已同步", tone: "confirmed", ok };
  return { label: p.last ? "未同步" : "尚未同步", tone: "idle", ok };
}

/** The sync card's sentence: the phase running now, else the truth about what is on the phone. */
export function summary(p: Picture): { text: string; tone: string } {
  if (p.phase) return { text: `正在同步：${PHASE_LABELS[p.phase]}…`, tone: "busy" };
  const parts: string[] = [];
  if (p.mutations || p.photos) parts.push(`还有 ${p.mutations} 条记录、${p.photos} 张照片在手机上，未发送`);
  if (p.refused) parts.push(`${p.refused} 条被服务器拒绝，见下方原因和处理办法`);
  if (parts.length) return { text: parts.join("；"), tone: p.refused ? "bad" : "warn" };
  if (p.last?.ok) return { text: "已同步：全部发送，服务器已确认", tone: "ok" };
  return { text: p.last ? p.last.message : "尚未与服务器同步", tone: "warn" };
}

let retryTimer: ReturnType<typeof setTimeout> | null = null;

function encodeSize(m: Mutation): number {
  return new TextEncoder().encode(JSON.stringify({ id: m.id, name: m.name, args: m.args, device_time: m.device_time })).length + 1;
}

/** Batches of at most 100 mutations and under 1 MB, in id order (docs/sync.md §3). */
export function batches(outbox: Mutation[]): Mutation[][] {
  const out: Mutation[][] = [];
  let current: Mutation[] = [];
  let size = 64;
  for (const m of outbox) {
    const n = encodeSize(m);
    if (current.length && (current.length >= MAX_MUTATIONS || size + n > MAX_BATCH_BYTES - 1024)) {
      out.push(current);
      current = [];
      size = 64;
    }
    current.push(m);
    size += n;
  }
  if (current.length) out.push(current);
  return out;
}

// --- push -----------------------------------------------------------------------------------------

function patchDoc(doc: InspectionDoc, m: Mutation, res: MutationResult): boolean {
  // The server applied (some of) the write: show it now, before the next pull brings the document.
  if (res.status === "rejected") return false;
  if (m.name === "section.set" || m.name === "record.set") {
    const fields = m.args.fields as Record<string, { value: Json }>;
    const conflicting = new Set((res.conflicts || []).map((c) => c.path));
    const revs = (res.revs || {}) as Record<string, number>;
    let target: { content: Record<string, Json>; revs: Record<string, number> } | null = null;
    if (m.name === "section.set") {
      let s = doc.sections.find((x) => x.department_id === m.args.department_id);
      if (!s) {
        const code = doc.group.members.find((x) => x.department_id === m.args.department_id)?.department_code || "";
        s = { department_id: m.args.department_id as number, department_code: code, status: "open", status_label: "填写中",
              rev: 0, content: {}, revs: {}, content_hash: "", signed_hash: null, server_times: {}, updated_at: null } as SectionDoc;
        doc.sections.push(s);
      }
      target = s;
    } else if (doc.record) {
      target = doc.record;
    }
    if (!target) return false;
    for (const [path, w] of Object.entries(fields)) {
      if (conflicting.has(path)) continue;
      if (w.value === null || w.value === undefined) delete target.content[path];
      else target.content[path] = w.value;
      if (revs[path] !== undefined) target.revs[path] = revs[path];
    }
    return true;
  }
  if ((m.name === "conflict.resolve" || m.name === "conflict.resolve_many") && res.status === "applied") {
    // decided on the server: not shown as open again while the pull that follows is on its way
    const ids = new Set(m.name === "conflict.resolve" ? [Number(m.args.conflict_id)] : ((res.resolved || []) as number[]));
    let changed = false;
    for (const c of doc.conflicts) {
      if (ids.has(c.id) && c.status === "open") { c.status = "resolved"; c.choice = String(m.args.choice); changed = true; }
    }
    return changed;
  }
  if (m.name === "section.sign" && res.status === "applied") {
    const s = doc.sections.find((x) => x.department_id === m.args.department_id);
    if (s) { s.status = "signed"; s.status_label = "已签名（只读）"; s.signed_hash = String(m.args.content_hash); }
    return true;
  }
  return false;
}

async function storeResults(batch: Mutation[], body: PushOut): Promise<void> {
  const done = new Map<number, MutationResult>();
  for (const r of body.results || []) done.set(r.id as number, r as MutationResult);
  await db.transaction("rw", [db.outbox, db.results, db.revs, db.inspections, db.kv], async () => {
    const now = new Date().toISOString();
    const known = await cosigners();
    let forgotten = false;
    for (const m of batch) {
      const res = done.get(m.id);
      if (!res) continue;
      // a password typed on the lead's phone lives only in this outbox entry: gone with it
      let kept: Mutation = m;
      if (m.args.signer && typeof m.args.signer === "object") {
        const key = String(m.args.signature_id);
        const who = known[key];
        kept = withoutPassword(m, who?.name);
        if (who) { delete known[key]; forgotten = true; }
      }
      const row: ResultRow = { id: m.id, name: m.name, inspection_id: m.inspection_id,
        status: res.status as ResultRow["status"], result: res, mutation: kept, at: now, seen: res.status === "rejected" ? 0 : 1 };
      await db.results.put(row);
      await db.outbox.delete(m.id);
      const revs = (res.revs || {}) as Record<string, number>;
      if (m.inspection_id !== null && (m.name === "section.set" || m.name === "record.set")) {
        const dept = m.name === "section.set" ? (m.args.department_id as number) : null;
        for (const [path, rev] of Object.entries(revs)) {
          const key = revKey(m.inspection_id, dept, path);
          const old = await db.revs.get(key);
          await db.revs.put({ key, rev: Math.max(old?.rev ?? 0, rev) });
        }
      }
      if (m.inspection_id !== null) {
        const doc = await db.inspections.get(m.inspection_id);
        if (doc && patchDoc(doc, m, res)) await db.inspections.put(doc);
      }
    }
    await setKV("last_mutation_id", body.last_mutation_id);
    await advanceNextId(body.last_mutation_id);
    if (forgotten) await setKV("cosigners", known);
  });
}

/** A push the server stopped on purpose, not a fault: push again at once (docs/sync.md §3, §5.3). */
export const CONTINUE_AFTER = new Set(["sync.signer_limit"]);

async function push(): Promise<void> {
  const cid = await clientId();
  let renumbered = 0;
  for (;;) {
    // a mutation written while this sync ran (a signature drawn, a photo taken, then 提交) may name a file the
    // uploads before the push never saw: its bytes go first, so the server never judges a record.submit on a file
    // it has not got yet (record.media_missing, a refusal the officer would have to answer for nothing)
    if (await waitingUploads()) await uploads();
    // read and marked sent in one transaction: what is sent is what stays stored (outbox.ts, coalescing)
    const batch = await takeBatch((outbox) => batches(outbox)[0]);
    if (!batch.length) return;
    const r = await request("POST", "/api/sync/push", {
      json: { client_id: cid, mutations: batch.map((m) => ({ id: m.id, name: m.name, args: m.args, device_time: m.device_time })) },
      headers: { "X-Device-Label": safeLabel() },
      timeout: 60000,
    });
    if (r.status === 409) {
      const err = await errorBody(r);
      const details = (err?.details || {}) as { mutation_id?: number; first_result?: Record<string, Json> };
      if (err?.code === "sync.replay_mismatch" && typeof details.mutation_id === "number"
          && renumbered <= (await db.outbox.count())) {
        // an id the server processed before came with other content: it keeps its first answer for that id;
        // the phone's version goes again under the next id (outbox.ts renumber). Nothing is dropped.
        renumbered += 1;
        await renumber(details.mutation_id, details.first_result ?? null);
        continue;
      }
      throw new HttpError(r.status, err);
    }
    if (r.status !== 200) throw new HttpError(r.status, await errorBody(r));
    const body = (await r.json()) as PushOut;
    await storeResults(batch, body);
    const answered = (body.results || []).length;
    if (body.stopped) {
      const stop = body.stopped as { code?: string; message?: string; expected?: number; got?: number };
      if (stop.code && CONTINUE_AFTER.has(stop.code) && answered) continue;     // the next co-signers: at once
      throw new HttpError(409, { status: 409, code: stop.code || "sync.gap", message: stop.message || "变更编号不连续",
                                 details: { expected: stop.expected, got: stop.got } } as never);
    }
    if (!answered) throw new HttpError(500, { status: 500, code: "sync.no_progress", message: "服务器未处理任何变更" } as never);
  }
}

/** X-Device-Label as the server takes it (docs/sync.md §3): at most 128 characters, no control character,
 * other than ASCII sent as UTF-8 bytes (a header holds bytes only), so 华为 nova 9 is listed as typed. */
export function safeLabel(label: string = deviceLabel()): string {
  const chars = Array.from(label.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ")).slice(0, 128).join("");
  return String.fromCharCode(...new TextEncoder().encode(chars));
}

// --- pull -----------------------------------------------------------------------------------------

async function storeChange(change: Change): Promise<void> {
  if (change.type === "task") {
    if (change.op === "put" && change.data) await db.tasks.put(change.data as never);
    else await db.tasks.delete(change.id);
    return;
  }
  if (change.op === "del") {
    // the business's name stays with the reason, so the officer knows which inspection left and why
    const gone = await db.inspections.get(change.id);
    const before = await db.tombstones.get(change.id);
    await db.inspections.delete(change.id);
    await db.tombstones.put({ id: change.id, reason_code: change.reason_code || "", reason: change.reason || "",
                              at: new Date().toISOString(), name: gone?.target.name || before?.name });
    return;
  }
  const doc = change.data as InspectionDoc;
  await db.inspections.put(doc);
  await db.tombstones.delete(change.id);
  const revs: { key: string; rev: number }[] = [];
  for (const s of doc.sections) for (const [p, rev] of Object.entries(s.revs)) revs.push({ key: revKey(doc.id, s.department_id, p), rev });
  if (doc.record) for (const [p, rev] of Object.entries(doc.record.revs)) revs.push({ key: revKey(doc.id, null, p), rev });
  await db.revs.bulkPut(revs);
}

/** A stored cursor the server will not take (its data went back to an older backup, or this phone's did). */
const CURSOR_REFUSED = new Set(["sync.cursor_ahead", "sync.bad_cursor"]);

async function pull(): Promise<number> {
  const cid = await clientId();
  let stored = 0;
  let restarted = false;
  for (;;) {
    const cursor = await getKV<string | null>("cursor", null);
    const q = new URLSearchParams({ client_id: cid, limit: "100" });
    if (cursor) q.set("cursor", cursor);
    const r = await request("GET", `/api/sync/pull?${q}`, { timeout: 60000, headers: { "X-Device-Label": safeLabel() } });
    if (r.status !== 200) {
      const err = await errorBody(r);
      if (cursor && !restarted && err?.code && CURSOR_REFUSED.has(err.code)) {
        // drop the cursor and pull everything again; the outbox stays as it is (docs/sync.md §4)
        restarted = true;
        await setKV("cursor", null);
        continue;
      }
      throw new HttpError(r.status, err);
    }
    const body = (await r.json()) as PullOut;
    // the page and its cursor in one transaction: a cut never skips a change
    await db.transaction("rw", [db.tasks, db.inspections, db.tombstones, db.revs, db.kv], async () => {
      for (const c of body.changes || []) await storeChange(c as Change);
      await setKV("cursor", body.cursor);
      await setKV("last_mutation_id", body.last_mutation_id);
      await advanceNextId(body.last_mutation_id);
      await setKV("server_time", body.server_time);
    });
    stored += (body.changes || []).length;
    if (!body.has_more) return stored;
  }
}

// --- uploads --------------------------------------------------------------------------------------

/** Files on the phone not on the server yet, and not refused by it. */
async function waitingUploads(): Promise<number> {
  return db.photos.where("uploaded").equals(0).filter((p) => !p.error).count();
}

async function uploads(): Promise<number> {
  const waiting = (await db.photos.where("uploaded").equals(0).toArray()).filter((p) => !p.error);
  let failed = 0;
  for (let i = 0; i < waiting.length; i++) {
    const meta = waiting[i];
    try {
      await upload(meta, (sha256, sent, total) => { status.upload = { sha256, sent, total, index: i + 1, count: waiting.length }; });
    } catch (e) {
      if (e instanceof NetworkError || e instanceof AuthLost) throw e;
      // busy, or a login that could not be renewed (a HEAD's 401 says why in X-Error-Code): the file is not refused
      if (e instanceof HttpError && (e.status >= 500 || e.status === 429 || e.status === 401)) throw e;
      failed++;                               // this file was refused (reason kept on it); the others go on
    }
  }
  status.upload = null;
  return failed;
}

// --- one sync -------------------------------------------------------------------------------------

export type Outcome = "synced" | "pending" | "offline" | "error" | "auth" | "busy" | "device";

/** This phone may not sync as it is: too many devices on the account, or this one retired (docs/sync.md §1.1). */
export const DEVICE_CODES = new Set(["sync.too_many_devices", "sync.client_retired"]);

/** What went wrong with a whole sync, in plain words with what to do (never a code). */
export function syncErrorWords(e: unknown): string {
  if (e instanceof NetworkError || (e instanceof HttpError && [429, 502, 503, 504].includes(e.status))) {
    return "网络不通，记录已保存在手机上，恢复后自动发送";
  }
  if (!(e instanceof HttpError)) return `同步出错：${(e as Error)?.message || "未知原因"}（记录都保存在手机上）`;
  const details = (e.body as { details?: Record<string, unknown> } | null)?.details || {};
  switch (e.code) {
    case "sync.too_many_devices":
      return `本账号已有 ${details.limit ?? 10} 台在用的设备，本机不能再同步（记录都保存在本机上）：请在“同步”页停用一台不再使用的设备后再同步`;
    case "sync.client_retired":
      return "本机已被停用，不能再向服务器发送：请先导出未发送记录，再退出登录、重新登录";
    case "sync.client_not_yours":
      return "本机的设备编号属于其他账号，不能同步：请导出未发送记录后退出登录，再重新登录";
    case "forbidden.not_inspector":
      return "该账号不是执法检查人员，不能同步检查任务";
    case "sync.gap":
      return `手机上待发送的记录编号不连续（服务器在等第 ${details.expected ?? "?"} 条），没有发出：请导出未发送记录，交给系统管理员处理`;
    case "sync.replay_mismatch":
      return "手机上有一条记录与服务器此前收到的不一致，未能自动处理：请导出未发送记录，交给系统管理员处理";
    case "sync.batch_too_large":
      return "一条记录太大，服务器拒收：请导出未发送记录，交给系统管理员处理";
    default:
      return `同步出错：${e.message}（记录都保存在手机上）`;
  }
}

async function record(last: LastSync): Promise<void> {
  await setKV("last_sync", last);
  channel?.postMessage({ type: "sync" });
}

async function runOnce(): Promise<Outcome> {
  if (!(await currentAuth())?.access) return "auth";
  if (await getKV<unknown>("device_retired", null)) return "device";     // retired for good: nothing to try
  try {
    setPhase("uploads");
    const refusedPhotos = await uploads();
    setPhase("push");
    await push();
    setPhase("pull");
    await pull();
    await collectPhotos().catch(() => null);    // gc.ts: bytes the server confirmed, photos no record names
    const unsent = await db.outbox.count();
    const photos = await db.photos.where("uploaded").equals(0).count();
    const refused = await db.results.where("seen").equals(0).count();
    const ok = unsent === 0 && photos === 0;
    status.failures = 0;
    const message = !ok ? (refusedPhotos ? `有 ${refusedPhotos} 张照片被服务器拒绝` : `还有 ${unsent} 条记录、${photos} 张照片未发送`)
      : refused ? `全部发出，但有 ${refused} 条被服务器拒绝` : "已全部发送，服务器已确认";
    await record({ at: new Date().toISOString(), ok, message });
    return ok && !refused ? "synced" : "pending";
  } catch (e) {
    if (e instanceof AuthLost) {
      await record({ at: new Date().toISOString(), ok: false, code: e.code, message: "登录已失效，请重新登录后发送（记录都在手机上）" });
      return "auth";
    }
    const offline = e instanceof NetworkError || (e instanceof HttpError && [429, 502, 503, 504].includes(e.status));
    const code = e instanceof HttpError ? e.code : "network";
    const details = e instanceof HttpError ? (e.body as { details?: Record<string, unknown> } | null)?.details : undefined;
    if (code === "sync.client_retired") await setKV("device_retired", { at: new Date().toISOString() });
    if (!(code && DEVICE_CODES.has(code))) status.failures += 1;      // a device refused waits for the officer
    await record({ at: new Date().toISOString(), ok: false, code, message: syncErrorWords(e),
                   ...(code === "sync.too_many_devices" && details ? { details } : {}) });
    return offline ? "offline" : code && DEVICE_CODES.has(code) ? "device" : "error";
  } finally {
    setPhase("");
    status.upload = null;
  }
}

/** Sync now, unless another tab is syncing (then that tab's result shows here too). */
export async function syncNow(): Promise<Outcome> {
  if (retryTimer) { clearTimeout(retryTimer); retryTimer = null; }
  const outcome = (await withLock("sync", runOnce, true)) ?? "busy";
  if (outcome === "offline" || outcome === "error") {
    const delay = BACKOFF[Math.min(status.failures - 1, BACKOFF.length - 1)] * 1000;
    status.nextRetry = Date.now() + delay;
    retryTimer = setTimeout(() => { void syncNow(); }, delay);
  }
  return outcome;
}

let started = false;

/** Automatic sync: at start, on reconnect, when the app comes back to the front, and every minute. */
export function startAutoSync(periodMs = 60000): void {
  if (started) return;
  started = true;
  window.addEventListener("online", () => { status.online = true; void syncNow(); });
  window.addEventListener("offline", () => { status.online = false; });
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") void syncNow(); });
  setInterval(() => { if (navigator.onLine) void syncNow(); }, periodMs);
  void syncNow();
}

export async function lastSync(): Promise<LastSync | null> {
  return getKV<LastSync | null>("last_sync", null);
}
