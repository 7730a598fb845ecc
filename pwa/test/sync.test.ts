// What makes the phone say 已同步, and how a refusal is told: sync.ts and recordstate.ts against
// fake-indexeddb and a fake server (a fetch that answers as docs/sync.md says the server does).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { db, setKV } from "../src/lib/db";
import { enqueue, type NewPhoto } from "../src/lib/outbox";
import { headline, summary, syncNow, type Picture } from "../src/lib/sync";
import { counts, picture } from "../src/lib/store";
import { cosigners, describeMutation, describeRefusal, recordState, rememberCosigner, STATE_LABELS } from "../src/lib/recordstate";
import type { InspectionDoc } from "../src/api/types";

const none: Picture = { mutations: 0, photos: 0, refused: 0, last: null, phase: "" };
const synced = { at: "2026-04-08T09:00:00+08:00", ok: true, message: "已全部发送，服务器已确认" };

describe("headline: 已同步 only when it is true", () => {
  it("says 已同步 when nothing is unsent, no file waits, the last pull ended and no refusal is unseen", () => {
    expect(headline({ ...none, last: synced })).toEqual({ label: "已同步", tone: "confirmed", ok: true });
  });
  it("never says 已同步 with anything unsent, a file not on the server, an unseen refusal or a pull that did not end", () => {
    expect(headline({ ...none, last: synced, mutations: 1 })).toMatchObject({ label: "未发送 1", ok: false });
    expect(headline({ ...none, last: synced, photos: 2 })).toMatchObject({ label: "未发送 2", ok: false });
    expect(headline({ ...none, last: synced, refused: 1 })).toMatchObject({ label: "被拒绝 1", tone: "refused", ok: false });
    expect(headline({ ...none, last: { ...synced, ok: false, message: "网络不通" } })).toMatchObject({ label: "未同步", ok: false });
    expect(headline(none)).toMatchObject({ label: "尚未同步", ok: false });
  });
  it("shows the sync running now, not the last failure", () => {
    const failed = { ...none, last: { at: synced.at, ok: false, message: "网络不通，记录已保存在手机上，恢复后自动发送" } };
    expect(headline({ ...failed, phase: "push" })).toMatchObject({ label: "同步中…", tone: "busy", ok: false });
    expect(summary({ ...failed, phase: "push" }).text).toBe("正在同步：发送记录…");
    expect(summary(failed).text).toContain("网络不通");
    expect(summary({ ...none, last: synced, refused: 2 }).text).toContain("2 条被服务器拒绝");
  });
});

// --- a fake server ------------------------------------------------------------------------------

const DOC = {
  id: 7, status: "in_progress", status_label: "检查中", task_id: 3, stratum: "all", position: 0, started_at: null, completed_at: null,
  target: { id: 1, code: "T1", name: "某某商贸有限公司" },
  group: { id: 1, number: 0, members: [
    { inspector_id: 10, name: "王组长", cert_no: "A1", department_id: 1, department_code: "SAMR", department_name: "市场监管局", is_lead: true, user_id: 1 },
    { inspector_id: 11, name: "张三", cert_no: "B1", department_id: 2, department_code: "TAX", department_name: "税务局", is_lead: false, user_id: 2 }] },
  me: { inspector_id: 10, department_id: 1, is_lead: true },
  sections: [], signatures: [], record: null, conflicts: [], flags: [], deadline: null,
} as unknown as InspectionDoc;

type Handler = (method: string, path: string, body: unknown) => Response | Promise<Response>;
let server: Handler;
let seen: { method: string; path: string; body: unknown }[];

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** A push refuses every record.sign whose signer's password is not "right" (signature.signer_invalid). */
function honestServer(): Handler {
  let last = 0;
  return (method, path, body) => {
    if (path === "/api/sync/push") {
      const b = body as { mutations: { id: number; name: string; args: Record<string, unknown> }[] };
      const results = b.mutations.map((m) => {
        last = m.id;
        const signer = m.args.signer as { password?: string } | undefined;
        if (signer && signer.password !== "right") {
          return { id: m.id, status: "rejected", inspection_id: 7, code: "signature.signer_invalid", message: "签名人的账号或密码不正确" };
        }
        return { id: m.id, status: "applied", inspection_id: 7 };
      });
      return json(200, { client_id: "c", last_mutation_id: last, results });
    }
    if (path.startsWith("/api/sync/pull")) {
      return json(200, { cursor: "5", has_more: false, last_mutation_id: last, server_time: "2026-04-08T01:00:00Z", changes: [] });
    }
    return json(404, { status: 404, code: "not_found", message: "没有" });
  };
}

beforeEach(async () => {
  await Promise.all(db.tables.map((t) => t.clear()));
  await setKV("auth", { access: "token", refresh: "refresh", user: { id: 1, username: "lead", role: "inspector", inspector_id: 10 }, saved_at: "" });
  await db.inspections.put(DOC);
  seen = [];
  server = honestServer();
  vi.stubGlobal("fetch", async (input: string, init: RequestInit = {}) => {
    const body = typeof init.body === "string" ? JSON.parse(init.body) : null;
    seen.push({ method: init.method || "GET", path: input, body });
    return server(init.method || "GET", input, body);
  });
});
afterEach(() => { vi.unstubAllGlobals(); });

async function cosign(password: string, verified: boolean): Promise<number> {
  const signatureId = crypto.randomUUID();
  await rememberCosigner(signatureId, { name: "张三", inspector_id: 11, verified });
  return enqueue("record.sign", { inspection_id: 7, signature_id: signatureId, content_hash: "a".repeat(64),
    strokes: [{ points: [[1, 2, 0]] }], signer: { username: "tax_zhang", password } });
}

describe("a sync, as the phone reports it", () => {
  it("a co-signature the server refuses is never 已同步 until the officer has seen the refusal, told in words", async () => {
    await cosign("wrong", true);
    expect(await syncNow()).toBe("pending");
    const c = await counts();
    expect(c).toMatchObject({ mutations: 0, photos: 0, refused: 1 });
    expect(c.last?.ok).toBe(true);                          // everything left the phone and the pull ended …
    expect(headline(picture(c))).toMatchObject({ label: "被拒绝 1", ok: false });   // … but a refusal is unseen
    expect(c.last?.message).toBe("全部发出，但有 1 条被服务器拒绝");
    const [row] = await db.results.toArray();
    expect(JSON.stringify(row)).not.toContain("wrong");     // the password left with the outbox entry
    const words = describeRefusal(row, { doc: DOC });
    expect(words).toBe("张三在组长手机上的会签（被拒绝：账号或密码不对）— 请本人重新签");
    expect(words).not.toMatch(/record\.sign|第 \d+ 条/);
    expect(recordState(7, [], [row], [])).toBe("refused");
    expect(await cosigners()).toEqual({});                  // forgotten once the server answered
    await db.results.update(row.id, { seen: 1 });
    expect(headline(picture(await counts()))).toEqual({ label: "已同步", tone: "confirmed", ok: true });
  });

  it("offline, a co-signature is 待服务器核验 and nothing is called sent; once answered it is confirmed", async () => {
    server = () => { throw new TypeError("Failed to fetch"); };
    await cosign("right", false);
    expect(await syncNow()).toBe("offline");
    const outbox = await db.outbox.toArray();
    expect(outbox).toHaveLength(1);
    const state = recordState(7, outbox, await db.results.toArray(), [], await cosigners());
    expect(state).toBe("verifying");
    expect(STATE_LABELS[state]).toBe("待服务器核验");
    expect(Object.values(STATE_LABELS)).not.toContain("已发送");
    const c = await counts();
    expect(c.last).toMatchObject({ ok: false });
    expect(headline(picture(c))).toMatchObject({ label: "未发送 1", ok: false });
    // a plain write tried while offline is on the phone, not "sent"
    await enqueue("record.set", { inspection_id: 7, fields: { opinion: { value: "好", base_rev: 0 } } });
    await syncNow();
    expect(recordState(7, await db.outbox.toArray(), [], [], {})).toBe("verifying");
    expect(recordState(7, (await db.outbox.toArray()).filter((m) => m.name === "record.set"), [], [], {})).toBe("saved");

    server = honestServer();
    expect(await syncNow()).toBe("synced");
    const results = await db.results.toArray();
    expect(results.map((r) => r.status)).toEqual(["applied", "applied"]);
    expect(recordState(7, [], results, [], {})).toBe("confirmed");
    expect(headline(picture(await counts()))).toMatchObject({ label: "已同步", ok: true });
  });

  it("a file named by a change written while the sync runs goes up before that change is pushed", async () => {
    // the representative signs while a push is under way and 提交 follows at once: the push's loop takes both; the
    // server must hold the signature's image before it judges the submit (else record.media_missing, for nothing)
    const sha = "d".repeat(64);
    const image: NewPhoto = {
      meta: { sha256: sha, inspection_id: 7, type: "image/png", kind: "signature", size: 3, width: 1, height: 1,
              created: "2026-04-08T01:00:00Z", uploaded: 0, offset: 0, upload_url: null, error: null },
      data: new Uint8Array([1, 2, 3]).buffer, thumb: new Uint8Array([4]).buffer };
    const honest = honestServer();
    let written = false;
    server = async (method, path, body) => {
      if (path === "/api/sync/push" && !written) {
        written = true;
        await enqueue("record.representative", { inspection_id: 7, image_sha256: sha }, [image]);
        await enqueue("record.submit", { inspection_id: 7, content_hash: "a".repeat(64) });
      }
      if (method === "HEAD" && path === `/api/media/${sha}`) return new Response(null, { status: 200 });
      return honest(method, path, body);
    };
    await enqueue("record.set", { inspection_id: 7, fields: { opinion: { value: "好", base_rev: 0 } } });
    expect(await syncNow()).toBe("synced");
    const head = seen.findIndex((r) => r.method === "HEAD" && r.path === `/api/media/${sha}`);
    const submit = seen.findIndex((r) => r.path === "/api/sync/push"
      && (r.body as { mutations: { name: string }[] }).mutations.some((m) => m.name === "record.submit"));
    expect(head).toBeGreaterThanOrEqual(0);
    expect(submit).toBeGreaterThan(head);
    expect(await db.photos.where("uploaded").equals(0).count()).toBe(0);
  });

  it("names every change in words, never by its code", () => {
    const ctx = { doc: DOC, me: "王组长" };
    expect(describeMutation({ name: "record.sign", args: {} }, ctx)).toBe("王组长的会签");
    expect(describeMutation({ name: "section.sign", args: { department_id: 2 } }, ctx)).toBe("王组长对税务局检查内容的签名");
    expect(describeMutation({ name: "record.set", args: { fields: { opinion: {}, followups: {} } } }, ctx)).toBe("组长汇总记录的修改（汇总意见、后续处置）");
    expect(describeMutation({ name: "record.finalize", args: {} }, ctx)).toBe("组长汇总记录定稿");
    for (const name of ["section.set", "section.unsign", "record.representative", "record.refusal", "record.reopen", "record.submit", "conflict.resolve", "x.y"]) {
      expect(describeMutation({ name, args: {} }, ctx)).not.toMatch(/[a-z]+\.[a-z]+/);
    }
  });
});
