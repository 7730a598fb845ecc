// Storage the browser may evict: ask for persistence, show whether it was granted and how much
// room is left (navigator.storage).
export interface StorageState { persisted: boolean | null; usage: number | null; quota: number | null; low: boolean }

export const LOW_BYTES = 200 * 1024 * 1024;

export async function requestPersistence(): Promise<boolean | null> {
  if (!navigator.storage?.persist) return null;
  try {
    return (await navigator.storage.persisted()) || (await navigator.storage.persist());
  } catch {
    return null;
  }
}

export async function storageState(): Promise<StorageState> {
  const s = navigator.storage;
  const persisted = s?.persisted ? await s.persisted().catch(() => null) : null;
  const est = s?.estimate ? await s.estimate().catch(() => null) : null;
  const usage = est?.usage ?? null, quota = est?.quota ?? null;
  const low = usage !== null && quota !== null && (quota - usage < LOW_BYTES || usage / quota > 0.9);
  return { persisted, usage, quota, low };
}

export function mb(n: number | null): string {
  return n === null ? "未知" : n > 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GB` : `${(n / 1024 ** 2).toFixed(1)} MB`;
}
