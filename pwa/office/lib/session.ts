// The office's login: the shared HTTP client (src/lib/http.ts) with the tokens in localStorage, under a key of
// the office's own (the phone app keeps its officer's login in IndexedDB, never mixed with a desk's).
// Every tab of the office shares the login; logging out in one logs out all (the `storage` event).
import { reactive } from "vue";
import type { TokenOut, UserOut } from "../../src/api/types";
import { HttpError, createClient, deviceLabel, errorBody, rawFetch, type Tokens, type TokenStore } from "../../src/lib/http";

export const KEY = "shuangsui.office.auth";

export const session = reactive({ user: null as UserOut | null, lost: "" });

function read(): Tokens | null {
  try {
    const t = JSON.parse(localStorage.getItem(KEY) || "null") as Tokens | null;
    return t && t.access ? t : null;
  } catch {
    return null;
  }
}

const store: TokenStore = {
  async load() { return read(); },
  async save(t) { localStorage.setItem(KEY, JSON.stringify(t)); session.user = t.user; },
  async lost(_cur, _code, message) {
    localStorage.removeItem(KEY);
    session.user = null;
    session.lost = message || "登录已失效，请重新登录";
  },
  lockName: "office-refresh",
};

export const api = createClient(store);

export function loadSession(): void {
  session.user = read()?.user ?? null;
}

if (typeof window !== "undefined") {
  window.addEventListener("storage", (e) => { if (e.key === KEY) loadSession(); });
}

export async function login(username: string, password: string): Promise<UserOut> {
  const r = await rawFetch("POST", "/api/v1/auth/login", { "Content-Type": "application/json" },
                           JSON.stringify({ username, password, device_label: `业务办公 ${deviceLabel()}`.slice(0, 120) }), 30000);
  if (r.status !== 200) throw new HttpError(r.status, await errorBody(r));
  const t = (await r.json()) as TokenOut;
  await store.save({ access: t.access_token, refresh: t.refresh_token, user: t.user, saved_at: new Date().toISOString() });
  session.lost = "";
  return t.user;
}

/** End the login on the server (best effort) and forget it here. */
export async function logout(): Promise<void> {
  const cur = read();
  localStorage.removeItem(KEY);
  session.user = null;
  if (cur?.access) {
    await rawFetch("POST", "/api/v1/auth/logout", { "Content-Type": "application/json", Authorization: `Bearer ${cur.access}` },
                   JSON.stringify({ refresh_token: cur.refresh }), 10000).catch(() => null);
  }
}
