// The officer's devices (docs/sync.md §1.1): at most 10 active per account. When this phone is refused as one
// too many (409 sync.too_many_devices) the way out is to retire one no longer used; a retired phone
// (403 sync.client_retired) may no longer sync: its unsent work is exported, then it logs in afresh.
import { HttpError, errorBody, requestJSON, request } from "./api";
import { db, getKV } from "./db";

export interface Device {
  client_id: string; user_id?: number; label: string | null; created_at: string | null;
  last_push_at?: string | null; last_pull_at?: string | null; last_seen_at: string | null;
  last_mutation_id?: number; retired_at?: string | null;
}

/** GET /api/sync/clients: this account's devices, newest first. */
export async function listDevices(): Promise<Device[]> {
  return requestJSON<Device[]>("GET", "/api/sync/clients", { timeout: 20000 });
}

/** POST /api/sync/clients/<id>/retire (asking again changes nothing). */
export async function retireDevice(clientId: string): Promise<Device> {
  const r = await request("POST", `/api/sync/clients/${encodeURIComponent(clientId)}/retire`, { timeout: 20000 });
  if (r.status !== 200) throw new HttpError(r.status, await errorBody(r));
  return (await r.json()) as Device;
}

/** A device's name for people: its label, else when it was first used. */
export function deviceName(d: Pick<Device, "label" | "created_at">): string {
  if (d.label) return d.label;
  return d.created_at ? `${d.created_at.slice(0, 10)} 起使用的设备` : "未命名设备";
}

/**
 * At logout, with nothing of this phone's work left to send: its device ends with the login (the next login
 * starts a new one), so logging out and in does not eat into the account's ten. Best effort: offline, or a
 * device that never synced, changes nothing. Returns whether the server retired it.
 */
export async function retireOnLogout(): Promise<boolean> {
  const cid = await getKV<string | null>("client_id", null);
  if (!cid || (await db.outbox.count())) return false;
  try {
    await retireDevice(cid);
    return true;
  } catch {
    return false;
  }
}
