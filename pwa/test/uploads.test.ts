// Uploads (docs/sync.md §7) against a fake tus server behind a fake fetch, with a fake clock for the link's
// speed: every byte arrives once and in order, a cut resumes from the server's offset, and the progress
// moves about every second whatever the link (a fixed 512 KB chunk looked frozen 11–13 s on a slow uplink).
import { beforeEach, describe, expect, it, vi } from "vitest";
import { db, setKV, type PhotoMeta } from "../src/lib/db";
import { CHUNK_MAX, CHUNK_MIN, nextChunkSize, upload } from "../src/lib/uploads";
import { sha256Hex } from "../src/lib/canonical";
import { emptyStore } from "./helpers";

/** What the app reads of an answer (status, headers, JSON body). */
class Answer {
  readonly headers: Headers;
  constructor(private body: string | null, init: { status: number; headers?: Record<string, string> }) {
    this.status = init.status;
    this.headers = new Headers(init.headers || {});
  }
  readonly status: number;
  clone(): Answer { return this; }
  async json(): Promise<unknown> {
    if (this.body === null) throw new SyntaxError("no body");
    return JSON.parse(this.body);
  }
}

interface FakeLink { bytesPerMs: number; cutAt?: number }

function tusServer(sha: string, length: number, link: FakeLink) {
  let clock = 0;
  let stored: Uint8Array | null = null;
  let session: { offset: number; bytes: Uint8Array } | null = null;
  const patches: number[] = [];
  let cut = link.cutAt;
  const fetch = vi.fn(async (url: string, init: RequestInit) => {
    const h = new Headers(init.headers as HeadersInit);
    expect(h.get("Authorization")).toBe("Bearer tok");
    const method = init.method;
    if (method === "HEAD" && url === `/api/media/${sha}`) return new Answer(null, { status: stored ? 200 : 404 });
    if (method === "POST" && url === "/api/uploads") {
      expect(Number(h.get("Upload-Length"))).toBe(length);
      session = { offset: 0, bytes: new Uint8Array(length) };
      return new Answer(JSON.stringify({ complete: false }), { status: 201,
        headers: { Location: "/api/uploads/1", "Upload-Offset": "0", "Content-Type": "application/json" } });
    }
    if (method === "HEAD" && url === "/api/uploads/1") {
      return new Answer(null, { status: 200, headers: { "Upload-Offset": String(session!.offset) } });
    }
    if (method === "PATCH" && url === "/api/uploads/1") {
      const body = new Uint8Array(init.body as ArrayBuffer);
      const at = Number(h.get("Upload-Offset"));
      if (at !== session!.offset) return new Answer(JSON.stringify({ code: "upload.offset_mismatch" }), { status: 409 });
      patches.push(body.byteLength);
      let take = body;
      if (cut !== undefined && at + body.byteLength > cut) {        // the line drops mid-chunk: what arrived is kept
        take = body.slice(0, cut - at);
        cut = undefined;
        session!.bytes.set(take, at);
        session!.offset += take.byteLength;
        clock += take.byteLength / link.bytesPerMs;
        throw new TypeError("Failed to fetch");
      }
      session!.bytes.set(take, at);
      session!.offset += take.byteLength;
      clock += take.byteLength / link.bytesPerMs;
      if (session!.offset === length) {
        stored = session!.bytes;
        return new Answer(JSON.stringify({ complete: true }), { status: 200 });
      }
      return new Answer(null, { status: 204, headers: { "Upload-Offset": String(session!.offset) } });
    }
    throw new Error(`unexpected ${method} ${url}`);
  });
  return { fetch, now: () => clock, patches, stored: () => stored };
}

async function stage(size: number): Promise<{ meta: PhotoMeta }> {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
  const sha256 = await sha256Hex(data);
  const meta: PhotoMeta = { sha256, inspection_id: 7, type: "image/jpeg", kind: "photo", size, width: 1, height: 1,
    created: "", uploaded: 0, offset: 0, upload_url: null, error: null };
  await db.photos.put(meta);
  await db.blobs.put({ sha256, data: data.buffer });
  return { meta };
}

beforeEach(async () => {
  await emptyStore();
  await setKV("auth", { access: "tok", refresh: "r", user: { id: 1 }, saved_at: "" });
});

describe("upload", () => {
  it("on a slow uplink, sends every byte in order and reports progress at least every 2 s", async () => {
    const { meta } = await stage(600 * 1024);
    const server = tusServer(meta.sha256, meta.size, { bytesPerMs: 40 });         // 40 KB/s
    vi.stubGlobal("fetch", server.fetch);
    const seen: [number, number][] = [];
    await upload(meta, (_sha, sent) => seen.push([server.now(), sent]), { now: server.now });
    expect(await sha256Hex(server.stored()!)).toBe(meta.sha256);
    const sent = seen.map(([, s]) => s);
    expect(sent[sent.length - 1]).toBe(meta.size);
    expect([...sent].sort((a, b) => a - b)).toEqual(sent);                         // only forward
    const gaps = seen.slice(1).map(([t], i) => t - seen[i][0]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2000);
    expect(Math.max(...server.patches.slice(1))).toBeLessThanOrEqual(64 * 1024);
    expect((await db.photos.get(meta.sha256))).toMatchObject({ uploaded: 1, offset: meta.size, upload_url: null });
  });

  it("on a fast link, grows the chunks so a photo takes few requests", async () => {
    const { meta } = await stage(3 * 1024 * 1024 + 123);
    const server = tusServer(meta.sha256, meta.size, { bytesPerMs: 10000 });      // 10 MB/s
    vi.stubGlobal("fetch", server.fetch);
    await upload(meta, () => {}, { now: server.now });
    expect(await sha256Hex(server.stored()!)).toBe(meta.sha256);
    expect(server.patches.length).toBeLessThanOrEqual(6);
  });

  it("after a cut mid-chunk, resumes from the server's offset", async () => {
    const { meta } = await stage(300 * 1024);
    const server = tusServer(meta.sha256, meta.size, { bytesPerMs: 100, cutAt: 100 * 1024 + 17 });
    vi.stubGlobal("fetch", server.fetch);
    await upload(meta, () => {}, { now: server.now });
    expect(await sha256Hex(server.stored()!)).toBe(meta.sha256);
    const heads = server.fetch.mock.calls.filter(([url, init]) => url === "/api/uploads/1" && init.method === "HEAD");
    expect(heads).toHaveLength(1);
  });

  it("skips a file the server already holds", async () => {
    const { meta } = await stage(1000);
    const fetch = vi.fn(async () => new Answer(null, { status: 200 }));
    vi.stubGlobal("fetch", fetch);
    const seen: number[] = [];
    await upload(meta, (_s, sent) => seen.push(sent));
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(seen).toEqual([1000]);
  });
});

describe("nextChunkSize", () => {
  it("aims at about a second, within bounds, growing at most fourfold", () => {
    expect(nextChunkSize(64 * 1024, 64 * 1024, 1600)).toBe(32 * 1024);           // 40 KB/s
    expect(nextChunkSize(64 * 1024, 64 * 1024, 10)).toBe(256 * 1024);            // fast: ×4
    expect(nextChunkSize(CHUNK_MAX, CHUNK_MAX, 1)).toBe(CHUNK_MAX);
    expect(nextChunkSize(CHUNK_MIN, 100, 10000)).toBe(CHUNK_MIN);
    expect(nextChunkSize(64 * 1024, 64 * 1024, 0)).toBe(256 * 1024);
  });
});
