// Stored files the office may read (/api/media/<sha256>, …/thumb, …/public) shown in an <img>: the API wants the
// bearer token, an <img> cannot send it, so each is fetched once and shown through an object URL (the CSP allows
// blob: images), released when the screen that asked for it goes away.
import { onBeforeUnmount, reactive } from "vue";
import { api } from "./session";

export type MediaVariant = "thumb" | "public" | "";

export function mediaPath(sha256: string, variant: MediaVariant = "thumb"): string {
  return `/api/media/${encodeURIComponent(sha256)}${variant ? `/${variant}` : ""}`;
}

/** `urls[key]` is the object URL once fetched ("" while loading or when it failed: the caller shows text). */
export function useMediaUrls() {
  const urls = reactive<Record<string, string>>({});
  const asked = new Set<string>();
  let alive = true;
  async function want(sha256: string, variant: MediaVariant = "thumb"): Promise<void> {
    const key = `${variant}:${sha256}`;
    if (asked.has(key)) return;
    asked.add(key);
    try {
      const r = await api.request("GET", mediaPath(sha256, variant));
      if (!r.ok) return;
      const url = URL.createObjectURL(await r.blob());
      if (alive) urls[key] = url;
      else URL.revokeObjectURL(url);
    } catch {
      asked.delete(key);   // a network failure: asked again next time
    }
  }
  function url(sha256: string, variant: MediaVariant = "thumb"): string {
    void want(sha256, variant);
    return urls[`${variant}:${sha256}`] || "";
  }
  onBeforeUnmount(() => {
    alive = false;
    for (const u of Object.values(urls)) if (u) URL.revokeObjectURL(u);
  });
  return { url, want };
}
