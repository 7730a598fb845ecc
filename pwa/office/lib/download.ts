// Files behind the login (exports, templates): fetched with the bearer token, saved under the server's name.
import { HttpError, errorBody } from "../../src/lib/http";
import { api } from "./session";

/** The file name of a Content-Disposition header (RFC 5987 filename* first), else ``fallback``. */
export function dispositionName(header: string | null, fallback: string): string {
  if (!header) return fallback;
  const star = header.match(/filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/);
  if (star) {
    try { return decodeURIComponent(star[1].trim().replace(/^"|"$/g, "")); } catch { /* fall through */ }
  }
  const plain = header.match(/filename\s*=\s*"?([^";]+)"?/);
  return plain ? plain[1].trim() : fallback;
}

export async function download(path: string, fallback: string, auth = true): Promise<string> {
  const r = await api.request("GET", path, { auth, timeout: 120000 });
  if (r.status !== 200) throw new HttpError(r.status, await errorBody(r));
  const name = dispositionName(r.headers.get("Content-Disposition"), fallback);
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return name;
}
