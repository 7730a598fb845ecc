// The HTTP client every front end shares (the phone app, the office, the public portal): bearer tokens,
// one refresh at a time across tabs, the API's errors as they are (`message` in plain Chinese).
// Where the tokens are kept is the caller's: the phone keeps them in IndexedDB (src/lib/api.ts), the
// office in localStorage (office/lib/session.ts). Nothing here imports a store, so a page that only
// reads public data loads none.
import type { ErrorBody, TokenOut, UserOut } from "../api/types";
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
export class AuthLost extends Error {
  constructor(public code: string, message: string) { super(message); this.name = "AuthLost"; }
}

/** A login as a client keeps it. */
export interface Tokens { access: string; refresh: string; user: UserOut; saved_at: string }

/** Where one front end keeps its login. */
export interface TokenStore {
  load(): Promise<Tokens | null>;
  save(tokens: Tokens): Promise<void>;
  /** The login is over (refresh refused with 401): forget the tokens, remember why. */
  lost(current: Tokens, code: string | undefined, message: string | undefined): Promise<void>;
  /** The name of the lock the tabs of this front end refresh under. */
  lockName: string;
}

export function deviceLabel(): string {
  const ua = navigator.userAgent;
  const m = ua.match(/\(([^)]+)\)/);
  const browser = /Edg\//.test(ua) ? "Edge" : /Chrome\//.test(ua) ? "Chrome" : /Safari\//.test(ua) ? "Safari" : /Firefox\//.test(ua) ? "Firefox" : "浏览器";
  return `${(m ? m[1].split(";").slice(-1)[0].trim() : "设备").slice(0, 60)} / ${browser}`.slice(0, 120);
}

export interface Options {
  json?: unknown;
  body?: BodyInit;
  headers?: Record<string, string>;
  auth?: boolean;
  timeout?: number;
}

export async function rawFetch(method: string, path: string, headers: Record<string, string>, body: BodyInit | undefined,
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

const RETRY_CODES = new Set(["auth.token_expired", "auth.token_invalid", "auth.token_revoked"]);

export interface Client {
  request(method: string, path: string, opts?: Options): Promise<Response>;
  requestJSON<T>(method: string, path: string, opts?: Options, ok?: number[]): Promise<T>;
  refreshTokens(failedAccess: string): Promise<Tokens>;
  /** How many refreshes this client made (tests). */
  refreshes(): number;
}

/**
 * A client keeping its login in ``store``. A 401 auth.token_expired (or _invalid/_revoked) means: refresh once,
 * then send the same request again (docs/sync.md §2). Only one tab refreshes (a spent refresh token presented
 * twice ends the login); the others wait on the lock and pick up the new tokens from the store.
 */
export function createClient(store: TokenStore): Client {
  let refreshCount = 0;

  async function refreshTokens(failedAccess: string): Promise<Tokens> {
    const out = await withLock(store.lockName, async () => {
      const cur = await store.load();
      if (!cur || !cur.refresh) throw new AuthLost("auth.missing", "请先登录");
      if (cur.access !== failedAccess) return cur;   // another tab refreshed while we waited
      const r = await rawFetch("POST", "/api/v1/auth/refresh", { "Content-Type": "application/json" },
                               JSON.stringify({ refresh_token: cur.refresh }), 30000);
      if (r.status === 200) {
        const t = (await r.json()) as TokenOut;
        const next: Tokens = { access: t.access_token, refresh: t.refresh_token, user: t.user || cur.user, saved_at: new Date().toISOString() };
        await store.save(next);
        refreshCount += 1;
        channel?.postMessage({ type: "auth" });
        return next;
      }
      const err = await errorBody(r);
      if (r.status === 401) {
        // the login is over (expired, revoked, reused elsewhere): ask for the password
        await store.lost(cur, err?.code, err?.message);
        channel?.postMessage({ type: "auth" });
        throw new AuthLost(err?.code || "auth.refresh_invalid", err?.message || "登录已失效，请重新登录");
      }
      throw new HttpError(r.status, err);
    });
    return out as Tokens;
  }

  async function request(method: string, path: string, opts: Options = {}): Promise<Response> {
    const auth = opts.auth !== false;
    const headers: Record<string, string> = { ...(opts.headers || {}) };
    let body = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers["Content-Type"] = "application/json";
    }
    for (let attempt = 1; ; attempt++) {
      let sent: Tokens | null = null;
      if (auth) {
        sent = await store.load();
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

  async function requestJSON<T>(method: string, path: string, opts: Options = {}, ok = [200]): Promise<T> {
    const r = await request(method, path, opts);
    if (!ok.includes(r.status)) throw new HttpError(r.status, await errorBody(r));
    return (await r.json()) as T;
  }

  return { request, requestJSON, refreshTokens, refreshes: () => refreshCount };
}
