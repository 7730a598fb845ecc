// One tab at a time: Web Locks where the browser has them, else a lease in localStorage (every
// tab of an origin shares it) with BroadcastChannel telling the others when it is released.
const TAB = Math.random().toString(36).slice(2);
const LEASE_MS = 15000;

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

async function leaseLock<T>(name: string, ifAvailable: boolean, fn: () => Promise<T>): Promise<T | null> {
  const key = `lock:${name}`;
  for (;;) {
    const now = Date.now();
    const held = JSON.parse(localStorage.getItem(key) || "null") as { tab: string; until: number } | null;
    if (!held || held.until < now || held.tab === TAB) {
      localStorage.setItem(key, JSON.stringify({ tab: TAB, until: now + LEASE_MS }));
      await sleep(30);                       // another tab may have written at the same moment
      const mine = JSON.parse(localStorage.getItem(key) || "null");
      if (mine && mine.tab === TAB) {
        const keep = setInterval(() => localStorage.setItem(key, JSON.stringify({ tab: TAB, until: Date.now() + LEASE_MS })), LEASE_MS / 3);
        try {
          return await fn();
        } finally {
          clearInterval(keep);
          localStorage.removeItem(key);
        }
      }
    }
    if (ifAvailable) return null;
    await sleep(100 + Math.random() * 200);
  }
}

/** Run ``fn`` holding the lock ``name`` (waiting for it); with ``ifAvailable``, give up (null) when held. */
export async function withLock<T>(name: string, fn: () => Promise<T>, ifAvailable = false): Promise<T | null> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (locks && typeof locks.request === "function") {
    return locks.request(`shuangsui:${name}`, { ifAvailable }, async (lock) => (lock ? fn() : null)) as Promise<T | null>;
  }
  return leaseLock(name, ifAvailable, fn);
}

export const channel: BroadcastChannel | null = typeof BroadcastChannel === "function" ? new BroadcastChannel("shuangsui") : null;
