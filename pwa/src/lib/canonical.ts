// RFC 8785 (JCS) canonical JSON and SHA-256, as sync/canonical.py computes them: what the phone
// shows is what it signs (docs/sync.md §5.1).
import type { Json } from "../api/types";

export function canonical(value: Json | undefined): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error("JSON 不允许非有限数值");
    return JSON.stringify(value);          // ECMAScript number serialisation, as JCS requires
  }
  if (typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "[" + value.map((v) => canonical(v)).join(",") + "]";
  // keys sorted by UTF-16 code units: JavaScript's default string order
  const keys = Object.keys(value).filter((k) => value[k] !== undefined).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
}

export async function sha256Hex(data: ArrayBuffer | Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function digest(value: Json): Promise<string> {
  return sha256Hex(canonical(value));
}

export function sectionHash(inspectionId: number, departmentCode: string, content: Record<string, Json>): Promise<string> {
  return digest({ v: 1, kind: "section", inspection_id: inspectionId, department: departmentCode, content });
}

export function recordHash(inspectionId: number, taskCode: string, targetCode: string,
                           sections: Record<string, string | null>, content: Record<string, Json>): Promise<string> {
  return digest({ v: 1, kind: "record", inspection_id: inspectionId, task: taskCode, target: targetCode, sections,
                  content });
}

export function short(hash: string | null | undefined): string {
  return hash ? `${hash.slice(0, 8)}…${hash.slice(-4)}` : "—";
}
