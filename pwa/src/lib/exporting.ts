// A file with everything not yet on the server (the outbox, the records it concerns, the photos),
// so an officer can hand a day's work over when the phone cannot send it. Logging out with unsent
// records is allowed only after such an export.
import { db, getKV, setKV } from "./db";
import { clientId } from "./outbox";

function base64(buf: ArrayBuffer): string {
  const bytes = new Uint8Array(buf);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * The export, read in one transaction that also records what it holds (``exported_through``, ``exported_photos``):
 * from then on those mutations are never changed on this phone (outbox.ts does not coalesce typing into an
 * exported mutation), so the file and what the phone later sends under the same ids are byte for byte the same
 * (the server refuses a replayed id with other content: docs/sync.md §3).
 */
export async function buildExport(): Promise<{ json: string; maxId: number; name: string }> {
  const cid = await clientId();
  const payload = await db.transaction("rw", [db.outbox, db.photos, db.inspections, db.blobs, db.results, db.kv], async () => {
    const outbox = await db.outbox.orderBy("id").toArray();
    const photos = await db.photos.where("uploaded").equals(0).toArray();
    const ids = new Set([...outbox.map((m) => m.inspection_id), ...photos.map((p) => p.inspection_id)].filter((x) => x !== null));
    const inspections = (await db.inspections.bulkGet([...ids] as number[])).filter(Boolean);
    const blobs = await db.blobs.bulkGet(photos.map((p) => p.sha256));
    const auth = await getKV<{ user?: { username?: string; display_name?: string } } | null>("auth", null);
    const refused = await db.results.where("status").equals("rejected").toArray();
    const maxId = outbox.length ? outbox[outbox.length - 1].id : 0;
    await setKV("exported_through", Math.max(maxId, await getKV<number>("exported_through", 0)));
    await setKV("exported_photos", photos.map((p) => p.sha256));
    return {
      maxId,
      body: {
        kind: "shuangsui-outbox-export", version: 1, exported_at: new Date().toISOString(),
        client_id: cid, user: auth?.user ?? null,
        note: "本文件含尚未发送到服务器的检查记录与照片，请交给系统管理员在服务器上导入（shuangsui sync import）；勿外传。",
        outbox: outbox.map((m) => ({ ...m, args: stripPassword(m.args) })),
        refused, inspections,
        photos: photos.map((p, i) => ({ ...p, data_base64: blobs[i] ? base64(blobs[i]!.data) : null })),
      },
    };
  });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return { json: JSON.stringify(payload.body), maxId: payload.maxId, name: `掌上执法-未发送记录-${stamp}.json` };
}

function stripPassword(args: Record<string, unknown>): Record<string, unknown> {
  if (!args.signer || typeof args.signer !== "object") return args;
  return { ...args, signer: { username: (args.signer as { username?: string }).username, password: "（已删除）" } };
}

export async function downloadExport(): Promise<void> {
  const { json, name } = await buildExport();
  const url = URL.createObjectURL(new Blob([json], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** True when every unsent mutation and photo has been exported to a file since it was made. */
export async function exportCoversOutbox(): Promise<boolean> {
  const through = await getKV<number>("exported_through", 0);
  const last = await db.outbox.orderBy("id").last();
  const photos = new Set(await getKV<string[]>("exported_photos", []));
  const waiting = (await db.photos.where("uploaded").equals(0).primaryKeys()) as string[];
  return (!last || last.id <= through) && waiting.every((sha) => photos.has(sha));
}
