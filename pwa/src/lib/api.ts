// HTTP to the server: bearer tokens, one refresh at a time across tabs, honest errors.
// A 401 auth.token_expired (or _invalid/_revoked) means: refresh once, then send the same request
// again (docs/sync.md §2). Only one tab refreshes (a spent refresh token presented twice ends the
// login); the others wait on the lock and pick up the new tokens from IndexedDB.
import type { ErrorBody, TokenOut } from "../api/types";
import { db, getKV, setKV, type Auth } from "./db";
import { channel, withLock } from "./locks";

export class NetworkError extends Error {
  constructor(message = "网络不通或服务器无应答") { super(message); this.name = "NetworkError"; }
}
export class HttpError extends Error {
  constructor(public status: number, public body: ErrorBody | null) {
    super(body?.message || `服务器返回 ${status}`);
    this.name = "HttpError";
  }
  get code(): string | undefined { return this.body?.code; }
}
/** A login that worked, for an account that has no work in this app (not an inspector, or not on the roster). */
export class NotInspector extends Error {
  constructor(public role: string, public roleLabel: string, public otherRole: boolean) {
    super(otherRole ? `本应用供执法检查人员使用（该账号是${roleLabel}）` : "该账号没有关联执法检查人员名录");
    this.name = "NotInspector";
  }
}
export class AuthLost extends Error {
  constructor(public code: string, message: string) { super(message); this.name = "AuthLost"; }
}

const RETRY_CODES = new Set(["auth.token_expired", "auth.token_invalid", "auth.token_revoked"]);
let refreshCount = 0;

export function refreshes(): number { return refreshCount; }

export async function currentAuth(): Promise<Auth | null> {
  return getKV<Auth | null>("auth", null);
}

export function deviceLabel(): string {
  const ua = navigator.userAgent;
  const m = ua.match(/\(([^)]+)\)/);
  const browser = /Edg\//.test(ua) ? "Edge" : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : /Firefox\//.test(ua) ? "Firefox" : "浏览器";
  return `${(m ? m[1].split(";").slice(-1)[0].trim() : "设备").slice(0, 60)} / ${browser}`.slice(0, 120);
}

interface Options {
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  auth?: boolean;
  timeout?: number;
}

async function rawFetch(method: string, path: string, headers: Record<string, string>, body: BodyInit | undefined,
                        timeout: number): Promise<Response> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeout);
  try {
    return await fetch(path, { method, headers, body, cache: "no-store", credentials: "omit", signal: ctrl.signal });
  } catch {
    throw new NetworkError();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The error an answer carries: its JSON body, else (an answer to HEAD has no body) the code the server puts in
 * the header ``X-Error-Code`` (docs/sync.md §2), with a plain message.
 */
export async function errorBody(r: Response): Promise<ErrorBody | null> {
  let body: ErrorBody | null = null;
  try {
    body = (await r.clone().json()) as ErrorBody;
  } catch {
    body = null;
  }
  const header = r.headers?.get?.("X-Error-Code") || null;
  if (body && typeof body === "object") return header && !body.code ? { ...body, code: header } : body;
  if (!header) return null;
  return { status: r.status, code: header, message: HEADER_MESSAGES[header] || `服务器拒绝（${r.status}）` } as ErrorBody;
}

const HEADER_MESSAGES: Record<string, string> = {
  "auth.token_expired": "登录凭据已过期", "auth.token_invalid": "登录凭据无效", "auth.token_revoked": "登录已被撤销",
  "auth.missing": "请先登录", "forbidden.media": "无权读取该文件", "upload.not_found": "上传会话不存在或已结束",
  "upload.expired": "上传会话已过期",
};

/** A request; with ``auth`` the bearer token, refreshed once on an expired token. */
export async function request(method: string, path: string, opts: Options = {}): Promise<Response> {
  const auth = opts.auth !== false;
  const headers: Record<string, string> = { ...(opts.headers || {}) };
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers["Content-Type"] = "application/json";
  }
  for (let attempt = 1; ; attempt++) {
    let sent: Auth | null = null;
    if (auth) {
      sent = await currentAuth();
      if (!sent || !sent.access) throw new AuthLost("auth.missing", "请先登录");
      headers.Authorization = `Bearer ${sent.access}`;
    }
    const r = await rawFetch(method, path, headers, body, opts.timeout ?? 30000);
    if (r.status === 401 && auth && attempt === 1 && sent) {
      const err = await errorBody(r);
      if (err?.code && RETRY_CODES.has(err.code)) {
        await refreshTokens(sent.access);
        continue;
      }
    }
    return r;
  }
}

export async function requestJSON<T>(method: string, path: string, opts: Options = {}, ok = [200]): Promise<T> {
  const r = await request(method, path, opts);
  if (!ok.includes(r.status)) throw new HttpError(r.status, await errorBody(r));
  return (await r.json()) as T;
}

/** Trade the refresh token for a new pair, unless another tab already did since ``failedAccess`` was sent. */
export async function refreshTokens(failedAccess: string): Promise<Auth> {
  const out = await withLock("refresh", async () => {
    const cur = await currentAuth();
    if (!cur || !cur.refresh) throw new AuthLost("auth.missing", "请先登录");
    if (cur.access !== failedAccess) return cur;   // another tab refreshed while we waited
    const r = await rawFetch("POST", "/api/v1/auth/refresh", { "Content-Type": "application/json" },
                             JSON.stringify({ refresh_token: cur.refresh }), 30000);
    if (r.status === 200) {
      const t = (await r.json()) as TokenOut;
      const next: Auth = { access: t.access_token, refresh: t.refresh_token, user: t.user || cur.user, saved_at: new Date().toISOString() };
      await setKV("auth", next);
      refreshCount += 1;
      channel?.postMessage({ type: "auth" });
      return next;
    }
    const err = await errorBody(r);
    if (r.status === 401) {
      // the login is over (expired, revoked, reused elsewhere): keep every record, ask for the password
      await setKV("auth", { ...cur, access: "", refresh: "" });
      await setKV("auth_lost", { code: err?.code, message: err?.message, at: new Date().toISOString() });
      channel?.postMessage({ type: "auth" });
      throw new AuthLost(err?.code || "auth.refresh_invalid", err?.message || "登录已失效，请重新登录");
    }
    throw new HttpError(r.status, err);
  });
  return out as Auth;
}

export async function login(username: string, password: string): Promise<Auth> {
  const r = await rawFetch("POST", "/api/v1/auth/login", { "Content-Type": "application/json" },
                           JSON.stringify({ username, password, device_label: deviceLabel() }), 30000);
  if (r.status !== 200) throw new HttpError(r.status, await errorBody(r));
  const t = (await r.json()) as TokenOut;
  if (t.user.role !== "inspector" || !t.user.inspector_id) {
    // nothing of this login is kept: the phone's data stays its officer's
    await rawFetch("POST", "/api/v1/auth/logout", { "Content-Type": "application/json", Authorization: `Bearer ${t.access_token}` },
                   JSON.stringify({ refresh_token: t.refresh_token }), 10000).catch(() => null);
    throw new NotInspector(String(t.user.role || ""), String(t.user.role_label || "非执法检查人员"), t.user.role !== "inspector");
  }
  const owner = await getKV<number | null>("owner_user_id", null);
  const unsent = await db.outbox.count();
  if (owner !== null && owner !== t.user.id && unsent > 0) {
    // this phone holds another officer's unsent work: never mix it with a new login
    await rawFetch("POST", "/api/v1/auth/logout", { "Content-Type": "application/json", Authorization: `Bearer ${t.access_token}` },
                   JSON.stringify({}), 10000).catch(() => null);
    throw new HttpError(409, { status: 409, code: "app.other_user", message: `本机还有其他人员未发送的 ${unsent} 条记录，请该人员登录发送或导出后再换人` } as ErrorBody);
  }
  const auth: Auth = { access: t.access_token, refresh: t.refresh_token, user: t.user, saved_at: new Date().toISOString() };
  await db.transaction("rw", db.kv, async () => {
    await setKV("auth", auth);
    await setKV("owner_user_id", t.user.id);
    await db.kv.delete("auth_lost");
  });
  channel?.postMessage({ type: "auth" });
  return auth;
}

/** End the login on the server (best effort) and forget it here. The caller checked the outbox. */
export async function logoutServer(): Promise<void> {
  const cur = await currentAuth();
  if (cur?.access) {
    await rawFetch("POST", "/api/v1/auth/logout", { "Content-Type": "application/json", Authorization: `Bearer ${cur.access}` },
                   JSON.stringify({ refresh_token: cur.refresh }), 10000).catch(() => null);
  }
}

// --- a co-signer's password, checked online before the signature is stored -----------------------

export interface VerifiedSigner { user_id: number; inspector_id: number; name: string; department_id: number; department_name: string }
export type SignerCheck =
  | { kind: "verified"; signer: VerifiedSigner }
  | { kind: "refused"; code: string; message: string }                 // wrong account or password, not a member …
  | { kind: "throttled"; message: string; retryAfter: number | null }  // too many attempts: wait
  | { kind: "unchecked"; reason: string };                             // no network or no answer: the server checks it later

/** POST /api/sync/signers/verify: the signer's own account and password, for this inspection's section or record. */
export async function verifySigner(body: { inspection_id: number; scope: "section" | "record"; department_id?: number | null;
                                           username: string; password: string }): Promise<SignerCheck> {
  const json: Record<string, unknown> = { inspection_id: body.inspection_id, scope: body.scope, username: body.username, password: body.password };
  if (body.scope === "section") json.department_id = body.department_id;
  let r: Response;
  try {
    r = await request("POST", "/api/sync/signers/verify", { json, timeout: 20000 });
  } catch (e) {
    if (e instanceof NetworkError) return { kind: "unchecked", reason: "没有网络" };
    throw e;
  }
  if (r.status === 200) return { kind: "verified", signer: (await r.json()) as VerifiedSigner };
  const err = await errorBody(r);
  if (r.status === 429) {
    const after = Number(r.headers.get("Retry-After") || "");
    return { kind: "throttled", message: err?.message || "尝试次数过多，请稍后再试", retryAfter: Number.isFinite(after) && after > 0 ? after : null };
  }
  if (r.status === 422 || r.status === 403) {
    return { kind: "refused", code: err?.code || "signature.signer_invalid", message: err?.message || "账号或密码不对" };
  }
  return { kind: "unchecked", reason: err?.message || `服务器暂时不能核验（${r.status}）` };
}
