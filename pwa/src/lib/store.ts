// App-wide state of this tab: the login, and live views of IndexedDB (updated from every tab).
import { liveQuery } from "dexie";
import { onBeforeUnmount, reactive, ref, type Ref } from "vue";
import { currentAuth } from "./api";
import { db, getKV, type Auth } from "./db";
import { channel } from "./locks";
import type { LastSync, Picture } from "./sync";
import { status } from "./sync";

export const app = reactive({ auth: null as Auth | null, loaded: false, authLost: null as null | { code?: string; message?: string } });

export async function loadAuth(): Promise<void> {
  app.auth = await currentAuth();
  app.authLost = await getKV("auth_lost", null);
  app.loaded = true;
}

channel?.addEventListener("message", (e: MessageEvent) => {
  if (e.data?.type === "auth") void loadAuth();
});

/** A ref that follows a Dexie query (re-run when any tab changes the tables it read). */
export function useLive<T>(query: () => Promise<T>, initial: T): Ref<T> {
  const out = ref(initial) as Ref<T>;
  const sub = liveQuery(query).subscribe({ next: (v) => { out.value = v; }, error: (e) => console.error(e) });
  onBeforeUnmount(() => sub.unsubscribe());
  return out;
}

export interface Counts { mutations: number; photos: number; refused: number; last: LastSync | null }

/** The counts with the sync running now (in this tab or another): what headline() and summary() read. */
export function picture(c: Counts): Picture {
  return { ...c, phase: status.phase || status.elsewhere };
}

export async function counts(): Promise<Counts> {
  const [mutations, photos, refused, last] = await Promise.all([
    db.outbox.count(), db.photos.where("uploaded").equals(0).count(), db.results.where("seen").equals(0).count(),
    getKV<LastSync | null>("last_sync", null)]);
  return { mutations, photos, refused, last };
}
