// Photos and signature images to the server (docs/sync.md §7, tus 1.0 core + a SHA-256 check):
// HEAD /api/media/<sha256> first; else POST /api/uploads (Upload-Length, Upload-Metadata,
// Tus-Resumable) → Location + Upload-Offset; PATCH chunks with Upload-Offset; after a cut or a 409,
// HEAD the session for its offset and go on. Kept in this one module so the protocol can be adapted.
// Chunks follow the link: the first is small, each next one is sized to take about a second at the
// speed the last one went (32 KB to 4 MB), so the progress moves every second or so on a slow uplink
// (a fixed 512 KB chunk took 11–13 s there) and a cut costs at most about a second of sending.
import { db, type PhotoMeta } from "./db";
import { HttpError, NetworkError, errorBody, request } from "./api";

export const CHUNK_MIN = 32 * 1024;
export const CHUNK_FIRST = 64 * 1024;
export const CHUNK_MAX = 4 * 1024 * 1024;
export const CHUNK_TARGET_MS = 1000;
const TUS = { "Tus-Resumable": "1.0.0" };

export type Progress = (sha256: string, sent: number, total: number) => void;

export interface UploadOptions {
  now?: () => number;            // a clock in milliseconds (tests give their own)
}

/** The next chunk's size: what the link carried in ``ms`` for ``bytes``, scaled to about a second. */
export function nextChunkSize(previous: number, bytes: number, ms: number): number {
  const grown = Math.min(previous * 4, CHUNK_MAX);
  const want = ms > 0 ? (bytes / ms) * CHUNK_TARGET_MS : grown;
  const size = Math.min(want, grown);
  return Math.max(CHUNK_MIN, Math.min(CHUNK_MAX, Math.floor(size / 16384) * 16384));
}

function b64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

async function mark(sha256: string, patch: Partial<PhotoMeta>): Promise<void> {
  await db.photos.update(sha256, patch);
}

async function serverHas(sha256: string): Promise<boolean> {
  const r = await request("HEAD", `/api/media/${sha256}`);
  if (r.status === 200) return true;
  if (r.status === 404) return false;
  throw new HttpError(r.status, await errorBody(r));
}

async function sessionOffset(url: string): Promise<number | null> {
  const r = await request("HEAD", url, { headers: TUS });
  if (r.status === 404 || r.status === 410) return null;
  if (r.status !== 200 && r.status !== 204) throw new HttpError(r.status, await errorBody(r));
  return Number(r.headers.get("Upload-Offset") || "0");
}

async function createSession(meta: PhotoMeta): Promise<{ url: string | null; offset: number; done: boolean }> {
  const fields: [string, string][] = [["sha256", meta.sha256], ["filetype", meta.type], ["type", meta.type],
    ["filename", `${meta.kind === "signature" ? "signature" : "photo"}-${meta.sha256.slice(0, 12)}.${meta.type === "image/png" ? "png" : "jpg"}`]];
  if (meta.kind === "signature") fields.push(["kind", "signature"]);
  const r = await request("POST", "/api/uploads", {
    headers: { ...TUS, "Upload-Length": String(meta.size), "Upload-Metadata": fields.map(([k, v]) => `${k} ${b64(v)}`).join(",") },
  });
  if (r.status === 200) return { url: null, offset: meta.size, done: true };      // already stored
  if (r.status !== 201) {
    const err = await errorBody(r);
    if (r.status < 500 && r.status !== 429 && r.status !== 401) {
      await mark(meta.sha256, { error: err?.message || `服务器拒绝（${r.status}）` });   // refused: shown, not resent
    }
    throw new HttpError(r.status, err);
  }
  const body = (await r.clone().json().catch(() => null)) as { complete?: boolean } | null;
  if (body?.complete) return { url: null, offset: meta.size, done: true };
  const url = r.headers.get("Location");
  if (!url) throw new HttpError(502, null);
  return { url, offset: Number(r.headers.get("Upload-Offset") || "0"), done: false };
}

/** Send one stored file; resumes a session kept from an earlier cut. Throws NetworkError/HttpError. */
export async function upload(meta: PhotoMeta, progress: Progress = () => {}, opts: UploadOptions = {}): Promise<void> {
  const now = opts.now ?? (() => (typeof performance !== "undefined" ? performance.now() : Date.now()));
  const blob = await db.blobs.get(meta.sha256);
  if (!blob) throw new Error("照片数据在本机缺失");
  const data = blob.data;
  if (await serverHas(meta.sha256)) {
    await mark(meta.sha256, { uploaded: 1, offset: meta.size, upload_url: null, error: null });
    progress(meta.sha256, meta.size, meta.size);
    return;
  }
  let url = meta.upload_url;
  let offset = 0;
  if (url) {
    const known = await sessionOffset(url);
    if (known === null) url = null;
    else offset = known;
  }
  if (!url) {
    const s = await createSession(meta);
    if (s.done) {
      await mark(meta.sha256, { uploaded: 1, offset: meta.size, upload_url: null, error: null });
      progress(meta.sha256, meta.size, meta.size);
      return;
    }
    url = s.url;
    offset = s.offset;
    await mark(meta.sha256, { upload_url: url, offset });
  }
  let cuts = 0;
  let size = CHUNK_FIRST;
  for (;;) {
    progress(meta.sha256, offset, meta.size);
    const chunk = data.slice(offset, Math.min(offset + size, data.byteLength));
    const started = now();
    let r: Response;
    try {
      r = await request("PATCH", url!, { body: chunk, timeout: 60000,
        headers: { ...TUS, "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream" } });
    } catch (e) {
      if (!(e instanceof NetworkError) || ++cuts > 3) throw e;
      size = CHUNK_MIN;                                  // the link is poor: small steps until it proves better
      const known = await sessionOffset(url!);          // a cut: ask where the server stopped
      if (known === null) throw e;
      offset = known;
      continue;
    }
    if (r.status === 200) break;                        // the last byte: checked and stored
    if (r.status === 204) {
      const next = Number(r.headers.get("Upload-Offset") || offset + chunk.byteLength);
      size = nextChunkSize(size, next - offset, now() - started);
      offset = next;
      await mark(meta.sha256, { offset });
      if (offset >= meta.size) break;
      continue;
    }
    if (r.status === 409 || r.status === 400) {          // offsets disagree / a chunk cut short: resume
      if (++cuts > 5) throw new HttpError(r.status, await errorBody(r));
      await new Promise((res) => setTimeout(res, 300));
      const known = await sessionOffset(url!);
      if (known === null) { await mark(meta.sha256, { upload_url: null }); return upload({ ...meta, upload_url: null }, progress, opts); }
      offset = known;
      continue;
    }
    if (r.status === 404 || r.status === 410) {          // the session ended: finished after all, or start again
      await mark(meta.sha256, { upload_url: null, offset: 0 });
      if (await serverHas(meta.sha256)) break;
      return upload({ ...meta, upload_url: null, offset: 0 }, progress, opts);
    }
    const err = await errorBody(r);
    if (r.status >= 500 || r.status === 429) throw new HttpError(r.status, err);   // busy: the same bytes later
    await mark(meta.sha256, { upload_url: null, offset: 0, error: err?.message || `服务器拒绝（${r.status}）` });
    throw new HttpError(r.status, err);
  }
  await mark(meta.sha256, { uploaded: 1, offset: meta.size, upload_url: null, error: null });
  progress(meta.sha256, meta.size, meta.size);
}
