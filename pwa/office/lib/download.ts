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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A large export answers 202 with its background job (docs/api.md): wait for it, then fetch its file. */
async function fileOfJob(first: Response, auth: boolean): Promise<Response> {
  const job = (await first.json()) as { id: string };
  for (;;) {
    await sleep(2000);
    const state = await api.requestJSON<{ status: string; error?: string | null }>("GET", `/api/v1/jobs/${encodeURIComponent(job.id)}`);
    if (state.status === "done") break;
    if (state.status === "failed") throw new Error(`后台导出失败：${state.error || "请稍后重试"}（作业 ${job.id}，见“后台作业”）`);
  }
  return api.request("GET", `/api/v1/jobs/${encodeURIComponent(job.id)}/file`, { auth, timeout: 120000 });
}

export async function download(path: string, fallback: string, auth = true): Promise<string> {
  let r = await api.request("GET", path, { auth, timeout: 120000 });
  if (r.status === 202) r = await fileOfJob(r, auth);
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
