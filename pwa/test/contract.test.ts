// The phone against every answer of the sync contract (docs/sync.md), with a fake server that answers as the
// contract says: a push stopped at the co-signer limit, a replayed id with other content, a cursor from the
// future, too many devices, a retired device, a distrusted device time, a late 回避, a HEAD whose 401 says
// why only in X-Error-Code. Nothing the officer did is lost, and every answer is told in words.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { InspectionDoc, Json } from "../src/api/types";
import { db, getKV, setKV, type PhotoMeta } from "../src/lib/db";
import { enqueue, recordView, renumber, setSection, takeBatch } from "../src/lib/outbox";
import { safeLabel, syncErrorWords, syncNow } from "../src/lib/sync";
import { counts } from "../src/lib/store";
import { canonical } from "../src/lib/canonical";
import { errorBody, HttpError, refreshes } from "../src/lib/api";
import { buildExport } from "../src/lib/exporting";
import { listDevices, retireDevice, retireOnLogout } from "../src/lib/devices";
import { upload } from "../src/lib/uploads";
import { clockWarning, describeMutation, describeRefusal, describeTombstone, undecidedConflicts } from "../src/lib/recordstate";
import { emptyStore, inspection } from "./helpers";

const CID = "0b5f3c2e-8d4a-4b6f-9a1e-2c3d4e5f6a7b";

interface Sent { method: string; path: string; body: unknown; headers: Headers }
interface Stored { hash: string; result: Record<string, Json> }

/** The server of docs/sync.md, small: exactly once, replays checked by hash, stops, devices, cursors. */
class FakeServer {
  last = 0;
  firsts = new Map<number, Stored>();
  values: Record<string, Json> = {};
  revs: Record<string, number> = {};
  head = 40;
  signerLimit = 10;
  devices: { client_id: string; label: string | null; created_at: string; last_seen_at: string | null; retired_at: string | null }[] = [];
  deviceLimit = 10;
  retired = new Set<string>();
  recused = new Map<number, string>();          // inspection → the declaration named
  distrustBefore = "2000-01-01";
  changes: unknown[] = [];
  tokens = new Set(["token"]);
  sent: Sent[] = [];

  private json(status: number, body: unknown): Response {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (status >= 400 && body && typeof body === "object" && "code" in body) headers["X-Error-Code"] = String((body as { code: string }).code);
    return new Response(JSON.stringify(body), { status, headers });
  }

  private claim(cid: string): Response | null {
    if (this.retired.has(cid)) {
      return this.json(403, { status: 403, code: "sync.client_retired", message: "该设备已被停用；请清除本应用的数据后重新登录，未发送的变更请先导出" });
    }
    if (!this.devices.some((d) => d.client_id === cid)) {
      const active = this.devices.filter((d) => !d.retired_at);
      if (active.length >= this.deviceLimit) {
        return this.json(409, { status: 409, code: "sync.too_many_devices", message: `你的账号已有 ${this.deviceLimit} 台在用的设备`,
          details: { limit: this.deviceLimit, devices: active } });
      }
      this.devices.unshift({ client_id: cid, label: "本机", created_at: "2026-12-06T02:00:00+00:00", last_seen_at: null, retired_at: null });
    }
    return null;
  }

  handle(method: string, path: string, body: unknown, headers: Headers): Response {
    this.sent.push({ method, path, body, headers });
    const token = (headers.get("Authorization") || "").replace("Bearer ", "");
    if (path === "/api/v1/auth/refresh") {
      this.tokens.add("fresh");
      return this.json(200, { access_token: "fresh", refresh_token: "refresh2", user: { id: 1 } });
    }
    if (!this.tokens.has(token)) {
      // an answer to HEAD has no body: the code is only in X-Error-Code (docs/sync.md §2)
      const h = { "X-Error-Code": "auth.token_expired", "Content-Type": "application/json" };
      return method === "HEAD" ? new Response(null, { status: 401, headers: h })
        : new Response(JSON.stringify({ status: 401, code: "auth.token_expired", message: "登录已过期" }), { status: 401, headers: h });
    }
    if (path === "/api/sync/push") return this.push(body as { client_id: string; mutations: { id: number; name: string; args: Record<string, Json>; device_time: string }[] });
    if (path.startsWith("/api/sync/pull")) return this.pull(new URL(path, "http://x").searchParams);
    if (path === "/api/sync/clients") return this.json(200, this.devices);
    const retire = path.match(/^\/api\/sync\/clients\/([^/]+)\/retire$/);
    if (retire && method === "POST") {
      const d = this.devices.find((x) => x.client_id === retire[1]);
      if (!d) return this.json(404, { status: 404, code: "sync.client_not_found", message: "设备不存在" });
      d.retired_at = d.retired_at || "2026-12-06T03:00:00+00:00";
      this.retired.add(d.client_id);
      return this.json(200, d);
    }
    if (method === "HEAD" && path.startsWith("/api/media/")) return new Response(null, { status: 200 });
    return this.json(404, { status: 404, code: "not_found", message: "没有" });
  }

  private push(b: { client_id: string; mutations: { id: number; name: string; args: Record<string, Json>; device_time: string }[] }): Response {
    const refused = this.claim(b.client_id);
    if (refused) return refused;
    for (const m of b.mutations) {
      if (m.id > this.last) break;
      const first = this.firsts.get(m.id)!;
      if (canonical({ name: m.name, args: m.args, device_time: m.device_time } as Json) !== first.hash) {
        return this.json(409, { status: 409, code: "sync.replay_mismatch", message: `第 ${m.id} 条变更此前已处理过，这次发送的内容与当时不同`,
          details: { mutation_id: m.id, name: m.name, first_result: first.result } });
      }
    }
    const results: Record<string, Json>[] = [];
    let signers = 0;
    let stopped: Record<string, Json> | undefined;
    for (const m of b.mutations) {
      if (m.id <= this.last) { results.push({ ...this.firsts.get(m.id)!.result, replayed: true }); continue; }
      if (m.id > this.last + 1) {
        stopped = { code: "sync.gap", expected: this.last + 1, got: m.id, message: "变更编号不连续" };
        break;
      }
      if (m.args.signer) {
        if (signers === this.signerLimit) {
          stopped = { code: "sync.signer_limit", expected: m.id, got: m.id, message: "本次推送核验的代签人已达上限，请接着推送" };
          break;
        }
        signers++;
      }
      const result = this.apply(m);
      this.firsts.set(m.id, { hash: canonical({ name: m.name, args: m.args, device_time: m.device_time } as Json), result });
      this.last = m.id;
      results.push(result);
    }
    return this.json(200, { client_id: b.client_id, last_mutation_id: this.last, results, ...(stopped ? { stopped } : {}) });
  }

  private apply(m: { id: number; name: string; args: Record<string, Json>; device_time: string }): Record<string, Json> {
    const iid = m.args.inspection_id as number;
    const out: Record<string, Json> = { id: m.id, status: "applied", inspection_id: iid };
    if (m.device_time < this.distrustBefore) out.device_time_ignored = true;
    const why = this.recused.get(iid);
    if (why) {
      return { id: m.id, status: "rejected", inspection_id: iid, code: "sync.recused",
               message: `你已回避该检查对象（${why}），不能再提交`, details: { reason: why } };
    }
    if (m.name === "conflict.resolve_many") out.resolved = m.args.conflict_ids as Json;
    if (m.name === "section.set" || m.name === "record.set") {
      const revs: Record<string, number> = {};
      for (const [p, w] of Object.entries(m.args.fields as Record<string, { value: Json }>)) {
        this.values[p] = w.value;
        revs[p] = this.revs[p] = (this.revs[p] || 0) + 1;
      }
      out.revs = revs;
    }
    return out;
  }

  private pull(q: URLSearchParams): Response {
    const refused = this.claim(q.get("client_id")!);
    if (refused) return refused;
    const cursor = q.get("cursor");
    if (cursor && Number(cursor) > this.head) {
      return this.json(409, { status: 409, code: "sync.cursor_ahead", message: "cursor 超过了服务器的变更序号", details: { head: String(this.head) } });
    }
    const changes = cursor ? [] : this.changes;
    return this.json(200, { cursor: String(this.head), has_more: false, last_mutation_id: this.last,
                            server_time: "2026-12-06T02:00:00Z", changes });
  }
}

let server: FakeServer;

beforeEach(async () => {
  await emptyStore();
  await setKV("auth", { access: "token", refresh: "refresh", user: { id: 1, username: "samr", role: "inspector", inspector_id: 1 }, saved_at: "" });
  await setKV("client_id", CID);
  await db.inspections.put(inspection());
  server = new FakeServer();
  vi.stubGlobal("fetch", async (input: string, init: RequestInit = {}) => {
    const body = typeof init.body === "string" ? JSON.parse(init.body) : null;
    return server.handle(init.method || "GET", input, body, new Headers(init.headers as HeadersInit));
  });
});
afterEach(() => { vi.unstubAllGlobals(); });

function pushes(): Sent[] { return server.sent.filter((s) => s.path === "/api/sync/push"); }

async function cosign(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await enqueue("record.sign", { inspection_id: 7, signature_id: crypto.randomUUID(), content_hash: "a".repeat(64),
      strokes: [{ points: [[1, 2, 0]] }], signer: { username: `member${i}`, password: "right" } });
  }
}

describe("a push the server stops at the co-signer limit (sync.signer_limit)", () => {
  it("is pushed again at once, not told as an error, until every co-signature is answered", async () => {
    await cosign(23);
    expect(await syncNow()).toBe("synced");
    expect(pushes().map((p) => (p.body as { mutations: unknown[] }).mutations.length)).toEqual([23, 13, 3]);
    expect(await db.outbox.count()).toBe(0);
    expect((await db.results.toArray()).map((r) => r.status)).toEqual(Array(23).fill("applied"));
    const last = (await counts()).last!;
    expect(last).toMatchObject({ ok: true, message: "已全部发送，服务器已确认" });
    expect(last.code).toBeUndefined();
    expect(JSON.stringify(await db.results.toArray())).not.toContain("right");        // passwords gone with the entries
  });

  it("a gap is still a fault, told in words", async () => {
    const words = syncErrorWords(new HttpError(409, { status: 409, code: "sync.gap", message: "变更编号不连续", details: { expected: 4, got: 6 } } as never));
    expect(words).toContain("服务器在等第 4 条");
    expect(words).not.toMatch(/sync\.|[a-z]+_[a-z]+/);
  });
});

describe("a replayed id with other content (409 sync.replay_mismatch)", () => {
  async function applyFirst(values: Record<string, Json>): Promise<void> {
    // what the server applied under id 1 first (another copy of this phone, restored from a backup, sent it)
    server.handle("POST", "/api/sync/push", { client_id: CID, mutations: [{ id: 1, name: "section.set",
      args: { inspection_id: 7, department_id: 3, fields: Object.fromEntries(Object.entries(values).map(([p, v]) => [p, { value: v, base_rev: 0 }])) },
      device_time: "2026-12-06T09:00:00+08:00" }] }, new Headers({ Authorization: "Bearer token" }));
    server.sent = [];
  }

  it("keeps the server's first answer for the id and sends the officer's version under the next id: nothing lost", async () => {
    await applyFirst({ "points.1.note": "服务器先收到的" });
    await setSection(7, 3, { "points.1.note": "本机的内容", "points.1.problem": "营业执照未悬挂" });
    expect(await syncNow()).toBe("synced");
    expect(server.values).toMatchObject({ "points.1.note": "本机的内容", "points.1.problem": "营业执照未悬挂" });
    const first = (await db.results.get(1))!;
    expect(first).toMatchObject({ status: "applied", replaced_by: 2, seen: 1 });
    expect(first.result).toMatchObject({ replayed: true, revs: { "points.1.note": 1 } });
    expect((await db.results.get(2))!.mutation.args.fields).toEqual({
      "points.1.note": { value: "本机的内容", base_rev: 0 }, "points.1.problem": { value: "营业执照未悬挂", base_rev: 0 } });
    expect(await db.outbox.count()).toBe(0);
    expect(await getKV("next_id", 0)).toBe(3);
    expect((await counts()).refused).toBe(0);
  });

  it("leaves out of the resent version what a later change of the officer writes (their latest value stays)", async () => {
    await applyFirst({ "points.1.note": "旧" });
    await setSection(7, 3, { "points.1.note": "较早的", "points.1.problem": "问题" });
    await setSection(7, 3, { "points.1.note": "最新的" });
    expect(await syncNow()).toBe("synced");
    expect(server.values).toMatchObject({ "points.1.note": "最新的", "points.1.problem": "问题" });
    expect((await db.results.get(3))!.mutation.args.fields).toEqual({ "points.1.problem": { value: "问题", base_rev: 0 } });
  });

  it("a version wholly written over later is not sent again", async () => {
    await db.outbox.add({ id: 1, name: "section.set", args: { inspection_id: 7, department_id: 3, fields: { "points.1.note": { value: "早", base_rev: 0 } } },
      device_time: "2026-12-06T09:01:00+08:00", inspection_id: 7, sent_at: null, attempts: 0 });
    await db.outbox.add({ id: 2, name: "section.set", args: { inspection_id: 7, department_id: 3, fields: { "points.1.note": { value: "晚", base_rev: 0 } } },
      device_time: "2026-12-06T09:02:00+08:00", inspection_id: 7, sent_at: null, attempts: 0 });
    await setKV("next_id", 3);
    expect(await renumber(1, { id: 1, status: "applied", inspection_id: 7 })).toEqual({ from: 1, to: null, dropped: ["points.1.note"] });
    expect((await db.outbox.toArray()).map((m) => m.id)).toEqual([2]);
    expect(await getKV("next_id", 0)).toBe(3);
  });
});

describe("the phone never produces a replay mismatch in normal use", () => {
  it("an exported mutation is never changed again, even while typing goes on (export read in one transaction)", async () => {
    await setSection(7, 3, { "points.1.note": "门" }, [], { coalesce: true });
    const typing = (async () => {
      for (const t of ["门头", "门头招", "门头招牌"]) await setSection(7, 3, { "points.1.note": t }, [], { coalesce: true });
    })();
    const [{ json }] = await Promise.all([buildExport(), typing]);
    const exported = JSON.parse(json).outbox as { id: number; args: Json; device_time: string }[];
    for (const m of exported) {
      const stored = (await db.outbox.get(m.id))!;
      expect(canonical({ args: stored.args, device_time: stored.device_time } as Json))
        .toBe(canonical({ args: m.args, device_time: m.device_time } as Json));
    }
    const all = await db.outbox.orderBy("id").toArray();
    expect((all[all.length - 1].args.fields as Record<string, { value: string }>)["points.1.note"].value).toBe("门头招牌");
  });

  it("two tabs: what one sends is what stays stored, whatever the other types meanwhile", async () => {
    await setSection(7, 3, { "points.1.note": "a" }, [], { coalesce: true });
    const [batch] = await Promise.all([takeBatch((all) => all),
      setSection(7, 3, { "points.1.note": "ab" }, [], { coalesce: true }),
      setSection(7, 3, { "points.1.note": "abc" }, [], { coalesce: true })]);
    for (const m of batch) expect(await db.outbox.get(m.id)).toEqual(m);
    expect(await syncNow()).toBe("synced");
    expect(server.values["points.1.note"]).toBe("abc");
    expect(pushes().every((p) => p.body !== null)).toBe(true);
    expect(server.sent.some((s) => s.path === "/api/sync/push" && s.headers.get("X-Device-Label"))).toBe(true);
  });

  it("a phone restored from an older backup gives new changes ids past what the server processed", async () => {
    server.last = 7;
    for (let id = 1; id <= 7; id++) server.firsts.set(id, { hash: "x", result: { id, status: "applied", inspection_id: 7 } });
    await setKV("next_id", 3);
    expect(await syncNow()).toBe("synced");                              // the pull says: last_mutation_id 7
    const id = await setSection(7, 3, { "points.1.note": "恢复后填写" });
    expect(id).toBe(8);
    expect(await syncNow()).toBe("synced");
    expect(server.values["points.1.note"]).toBe("恢复后填写");
  });
});

describe("a cursor beyond the server's changes (409 sync.cursor_ahead)", () => {
  it("drops the cursor, pulls everything again and keeps the outbox", async () => {
    await setKV("cursor", "999");
    server.changes = [{ type: "inspection", id: 7, op: "put", data: inspection(7, 3, { "points.1.note": "服务器上的" }) }];
    await db.inspections.clear();
    await enqueue("section.set", { inspection_id: 7, department_id: 3, fields: { "points.1.problem": { value: "未发送的", base_rev: 0 } } });
    expect(await syncNow()).toBe("synced");
    expect(await getKV("cursor", null)).toBe("40");
    expect((await db.inspections.get(7))?.sections[0].content["points.1.note"]).toBe("服务器上的");
    expect(server.values["points.1.problem"]).toBe("未发送的");
    const pulls = server.sent.filter((s) => s.path.startsWith("/api/sync/pull"));
    expect(pulls.map((p) => new URL(p.path, "http://x").searchParams.get("cursor"))).toEqual(["999", null]);
  });
});

describe("devices (docs/sync.md §1.1)", () => {
  function fill(n: number): void {
    for (let i = 0; i < n; i++) {
      server.devices.push({ client_id: `00000000-0000-4000-8000-00000000000${i}`, label: `旧手机 ${i}`, created_at: "2026-01-01T00:00:00+00:00",
                            last_seen_at: null, retired_at: null });
    }
  }

  it("one too many: told plainly with the devices to choose from; nothing is lost; retiring one lets this phone sync", async () => {
    fill(10);
    await setSection(7, 3, { "points.1.note": "在手机上" });
    const before = pushes().length;
    expect(await syncNow()).toBe("device");
    const last = (await counts()).last!;
    expect(last.code).toBe("sync.too_many_devices");
    expect(last.message).toContain("本账号已有 10 台在用的设备");
    expect(last.message).not.toMatch(/sync\.|POST|retire/);
    expect((last.details as { devices: unknown[] }).devices).toHaveLength(10);
    expect(await db.outbox.count()).toBe(1);
    expect(pushes().length).toBe(before + 1);
    const devices = await listDevices();
    await retireDevice(devices[3].client_id);
    expect(await syncNow()).toBe("synced");
    expect(server.values["points.1.note"]).toBe("在手机上");
  });

  it("logging out with nothing unsent ends this phone's device; with something unsent it stays", async () => {
    expect(await syncNow()).toBe("synced");                          // this phone is a device now
    await setSection(7, 3, { "points.1.note": "未发送" });
    expect(await retireOnLogout()).toBe(false);
    expect(server.devices.find((d) => d.client_id === CID)?.retired_at).toBeNull();
    expect(await syncNow()).toBe("synced");
    expect(await retireOnLogout()).toBe(true);
    expect(server.devices.find((d) => d.client_id === CID)?.retired_at).toBeTruthy();
  });

  it("retired: told plainly, never tried again, and its unsent work stays exportable", async () => {
    server.retired.add(CID);
    await setSection(7, 3, { "points.1.note": "停用前填写" });
    expect(await syncNow()).toBe("device");
    const last = (await counts()).last!;
    expect(last.code).toBe("sync.client_retired");
    expect(last.message).toContain("导出");
    const tried = server.sent.length;
    expect(await syncNow()).toBe("device");
    expect(server.sent.length).toBe(tried);                          // no request: nothing it could do
    const file = JSON.parse((await buildExport()).json);
    expect(file.outbox.map((m: { args: { fields: Record<string, { value: string }> } }) => m.args.fields["points.1.note"].value))
      .toEqual(["停用前填写"]);
    expect(await db.outbox.count()).toBe(1);
  });
});

describe("what the server's answers say, in words", () => {
  it("a device time the server did not believe: the phone's clock is wrong", async () => {
    server.distrustBefore = "2030";                                   // every time of this phone is "before"
    await setSection(7, 3, { "points.1.note": "时钟" });
    expect(await syncNow()).toBe("synced");
    const words = clockWarning(await db.results.toArray());
    expect(words).toMatch(/^手机时钟不准：有 1 条记录带的时间（如 20\d\d-.*）服务器没有采用/);
    expect(words).toContain("自动设置日期和时间");
    expect(clockWarning([])).toBe("");
  });

  it("a late 回避: the refusal names the declaration, the tombstone the business, and the officer's data stays", async () => {
    server.recused.set(7, "配偶在该企业任职");
    server.changes = [{ type: "inspection", id: 7, op: "del", reason_code: "recused", reason: "你已申报与该检查对象存在利害关系（配偶在该企业任职），已回避该检查" }];
    await setKV("cursor", null);
    await setSection(7, 3, { "points.1.note": "回避前填写" });
    expect(await syncNow()).toBe("pending");
    const [row] = await db.results.toArray();
    expect(row.status).toBe("rejected");
    const words = describeRefusal(row, {});
    expect(words).toContain("你已对该检查对象回避（配偶在该企业任职）");
    expect(words).toContain("这户由本部门其他检查人员继续检查");
    expect(words).not.toMatch(/sync\.recused/);
    expect((row.mutation.args.fields as Record<string, { value: string }>)["points.1.note"].value).toBe("回避前填写");
    const tomb = (await db.tombstones.get(7))!;
    expect(tomb.name).toBe("某某商店");
    expect(describeTombstone(tomb)).toBe("某某商店：已回避 — 你已申报与该检查对象存在利害关系（配偶在该企业任职），已回避该检查");
  });

  it("conflicts decided at once are no longer shown open once the server applied the decision", async () => {
    const doc = inspection();
    doc.conflicts = [1, 2].map((id) => ({ id, scope: "section", department_id: 3, path: `points.${id}.note`, base_rev: 0, server_value: "甲",
      server_rev: 1, client_value: "乙", client_user_id: 2, device_time: null, created_at: null, status: "open", choice: null, resolved_at: null }));
    await db.inspections.put(doc);
    await setKV("cursor", "40");                                     // the pull brings nothing new
    await enqueue("conflict.resolve_many", { inspection_id: 7, choice: "server", conflict_ids: [1, 2] });
    expect(await syncNow()).toBe("synced");
    const after = (await db.inspections.get(7))!;
    expect(after.conflicts.map((c) => [c.status, c.choice])).toEqual([["resolved", "server"], ["resolved", "server"]]);
    expect(undecidedConflicts(after, [])).toEqual([]);
  });

  it("a co-signer who must wait is told for how long", () => {
    const row = { name: "record.sign", mutation: { name: "record.sign", args: { signer: { username: "tax" } } } as never,
                  result: { id: 3, status: "rejected" as const, code: "auth.too_many_attempts", message: "…", details: { retry_after: 290 } } };
    expect(describeRefusal(row, {})).toBe("tax在组长手机上的会签（被拒绝：密码错误次数太多，暂时锁定（约 5 分钟后可再试））— 请稍后由本人重新签");
  });

  it("bulk conflict decisions are named in words and cover the conflicts they decide", () => {
    expect(describeMutation({ name: "conflict.resolve_many", args: { choice: "client", conflict_ids: [1, 2, 3] } }))
      .toBe("一次处理 3 处冲突（采用手机提交的值）");
    expect(describeMutation({ name: "conflict.resolve_many", args: { choice: "server" } })).toBe("一次处理全部冲突（保留服务器上的值）");
    const doc = { conflicts: [1, 2, 3].map((id) => ({ id, status: "open", department_id: id === 3 ? 4 : 3 })) } as unknown as InspectionDoc;
    expect(undecidedConflicts(doc, [{ name: "conflict.resolve_many", args: { conflict_ids: [1] } }]).map((c) => c.id)).toEqual([2, 3]);
    expect(undecidedConflicts(doc, [{ name: "conflict.resolve_many", args: { department_id: 3 } }]).map((c) => c.id)).toEqual([3]);
    expect(undecidedConflicts(doc, [{ name: "conflict.resolve", args: { conflict_id: 3 } }]).map((c) => c.id)).toEqual([1, 2]);
  });
});

describe("a HEAD's refusal is read from X-Error-Code", () => {
  it("errorBody takes the code from the header when the answer has no body", async () => {
    const r = new Response(null, { status: 401, headers: { "X-Error-Code": "auth.token_expired" } });
    expect(await errorBody(r)).toMatchObject({ status: 401, code: "auth.token_expired", message: "登录凭据已过期" });
    expect(await errorBody(new Response(null, { status: 404 }))).toBeNull();
  });

  it("an expired token on an upload's HEAD is refreshed and the HEAD sent again, the photo not refused", async () => {
    server.tokens = new Set(["fresh"]);                                // the phone's token has expired
    const meta: PhotoMeta = { sha256: "c".repeat(64), inspection_id: 7, type: "image/jpeg", kind: "photo", size: 3, width: 1, height: 1,
      created: "", uploaded: 0, offset: 0, upload_url: null, error: null };
    await db.photos.put(meta);
    await db.blobs.put({ sha256: meta.sha256, data: new Uint8Array([1, 2, 3]).buffer });
    const before = refreshes();
    await upload(meta);
    expect(refreshes()).toBe(before + 1);
    expect(await db.photos.get(meta.sha256)).toMatchObject({ uploaded: 1, error: null });
    expect(server.sent.filter((s) => s.method === "HEAD").map((s) => s.headers.get("Authorization"))).toEqual(["Bearer token", "Bearer fresh"]);
  });
});

describe("a draft record's content_hash is not a fixed hash", () => {
  const record = (state: "draft" | "signing" | "submitted") => ({ state, state_label: "", rev: 1, version: 1, content: {}, revs: {},
    content_hash: "d".repeat(64), submitted_at: null, pdf_sha256: null });
  const m = (id: number, name: string, args: Record<string, Json> = {}) => ({ id, name, args: { inspection_id: 7, ...args },
    device_time: "", inspection_id: 7, sent_at: null, attempts: 0 });

  it("is fixed only from the finalisation on, and no longer after a reopen", () => {
    const doc = inspection();
    expect(recordView({ ...doc, record: record("draft") }, []).hash).toBeNull();
    expect(recordView({ ...doc, record: record("signing") }, []).hash).toBe("d".repeat(64));
    expect(recordView({ ...doc, record: record("submitted") }, []).hash).toBe("d".repeat(64));
    expect(recordView({ ...doc, record: record("draft") }, [m(1, "record.finalize", { content_hash: "f".repeat(64) })]).hash).toBe("f".repeat(64));
    expect(recordView({ ...doc, record: record("signing") }, [m(1, "record.reopen", { reason: "改" })])).toMatchObject({ state: "draft", hash: null });
    expect(recordView({ ...doc, record: null }, []).hash).toBeNull();
  });
});


describe("the device label a push and a pull carry", () => {
  const asSent = (header: string) => new TextDecoder().decode(Uint8Array.from(header, (c) => c.charCodeAt(0)));
  it("sends other than ASCII as UTF-8 bytes, so the device list shows it as typed", () => {
    const header = safeLabel("华为 nova 9 / Chrome 120");
    expect([...header].every((c) => c.charCodeAt(0) <= 0xff)).toBe(true);   // a header holds bytes only
    expect(asSent(header)).toBe("华为 nova 9 / Chrome 120");
  });
  it("keeps 128 characters at most and no control character (the server refuses both, never cuts)", () => {
    expect(asSent(safeLabel("设".repeat(200)))).toBe("设".repeat(128));
    expect(asSent(safeLabel("a\tb\u0085c\u0000"))).toBe("a b c ");
  });
});
