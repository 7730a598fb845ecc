// Each record's place on the way to the server, as the officer sees it.
import type { Mutation, PhotoMeta, ResultRow } from "./db";

export type RecordState = "saved" | "sent" | "confirmed" | "refused" | "none";
export const STATE_LABELS: Record<RecordState, string> = {
  saved: "已保存在手机", sent: "已发送", confirmed: "服务器已确认", refused: "被拒绝", none: "与服务器一致",
};

export function recordState(inspectionId: number, outbox: Mutation[], results: ResultRow[], photos: PhotoMeta[]): RecordState {
  if (results.some((r) => r.inspection_id === inspectionId && r.status === "rejected" && !r.seen)) return "refused";
  const mine = outbox.filter((m) => m.inspection_id === inspectionId);
  if (mine.some((m) => !m.sent_at) || photos.some((p) => p.inspection_id === inspectionId && !p.uploaded)) return "saved";
  if (mine.length) return "sent";
  if (results.some((r) => r.inspection_id === inspectionId)) return "confirmed";
  return "none";
}
