// One tab at a time: Web Locks where the browser has them, else a lease in localStorage (every
// tab of an origin shares it) with BroadcastChannel telling the others when it is released.
const TAB = Math.random().toString(36).slice(2);
const LEASE_MS = 15000;

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

async function leaseLock<T>(name: string, ifAvailable: boolean, fn: () => Promise<T>,
                            signal?: AbortSignal): Promise<T | null> {
  const key = `lock:${name}`;
  for (;;) {
    if (signal?.aborted) return null;
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

export interface HeldLock {
  /** Let the lock go (or stop waiting for it). */
  release(): void;
}

/**
 * Hold the lock ``name`` for as long as this tab wants it: ``onChange(true)`` once it is ours (at once, or
 * when the tab holding it lets go — closing a tab releases its Web Locks), ``onChange(false)`` while
 * another tab holds it. Used so that one tab edits an inspection at a time (docs/decisions.md).
 */
export function holdLock(name: string, onChange: (mine: boolean) => void | Promise<void>): HeldLock {
  let release: () => void = () => {};
  const released = new Promise<void>((res) => { release = res; });
  const abort = new AbortController();
  let done = false;
  const hold = async () => {
    await onChange(true);
    await released;
    return true;
  };
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  void (async () => {
    let got: boolean | null;
    if (locks && typeof locks.request === "function") {
      got = await locks.request(`shuangsui:${name}`, { ifAvailable: true }, async (lock) => (lock ? hold() : null));
      if (got === null && !done) {
        await onChange(false);
        await locks.request(`shuangsui:${name}`, { signal: abort.signal }, hold).catch(() => null);
      }
    } else {
      got = await leaseLock(name, true, hold);
      if (got === null && !done) {
        await onChange(false);
        await leaseLock(name, false, hold, abort.signal);
      }
    }
  })();
  return { release() { done = true; abort.abort(); release(); } };
}
