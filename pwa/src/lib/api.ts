// HTTP to the server for the phone app: the shared client (src/lib/http.ts) with the officer's login kept in
// IndexedDB beside their work; the phone's own login rules (an inspector only, never another officer's unsent work).
import type { ErrorBody, TokenOut } from "../api/types";
import { db, getKV, setKV, type Auth } from "./db";
import { channel } from "./locks";
import { AuthLost, HttpError, NetworkError, createClient, deviceLabel, errorBody, rawFetch, type Options } from "./http";

export { AuthLost, HttpError, NetworkError, deviceLabel, errorBody };
/** A login that worked, for an account that has no work in this app (not an inspector, or not on the roster). */
export class NotInspector extends Error {
  constructor(public role: string, public roleLabel: string, public otherRole: boolean) {
    super(otherRole ? `本应用供执法检查人员使用（该账号是${roleLabel}）` : "该账号没有关联执法检查人员名录");
    this.name = "NotInspector";
  }
}

export async function currentAuth(): Promise<Auth | null> {
  return getKV<Auth | null>("auth", null);
}

// the phone's login lives in IndexedDB with the officer's work; a lost login keeps every record
const client = createClient({
  load: currentAuth,
  async save(next) { await setKV("auth", next); },
  async lost(cur, code, message) {
    await setKV("auth", { ...cur, access: "", refresh: "" });
    await setKV("auth_lost", { code, message, at: new Date().toISOString() });
  },
  lockName: "refresh",
});

export function refreshes(): number { return client.refreshes(); }

/** A request; with ``auth`` the bearer token, refreshed once on an expired token. */
export function request(method: string, path: string, opts: Options = {}): Promise<Response> {
  return client.request(method, path, opts);
}

export function requestJSON<T>(method: string, path: string, opts: Options = {}, ok = [200]): Promise<T> {
  return client.requestJSON<T>(method, path, opts, ok);
}

/** Trade the refresh token for a new pair, unless another tab already did since ``failedAccess`` was sent. */
export async function refreshTokens(failedAccess: string): Promise<Auth> {
  return client.refreshTokens(failedAccess);
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
