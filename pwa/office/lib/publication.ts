// The publishers' screens (docs/api.md "Publishing results (公示)", "Follow-ups (后续处置)"): the queue's states,
// what the public preview shows, and which step of a follow-up's state machine comes next.

export type QueueState = "on_track" | "due_soon" | "overdue";

export const QUEUE_STATES: { value: QueueState; label: string; tag: "success" | "warning" | "danger" }[] = [
  { value: "on_track", label: "正常", tag: "success" },
  { value: "due_soon", label: "即将到期", tag: "warning" },
  { value: "overdue", label: "已逾期", tag: "danger" },
];

export function stateTag(state: string): "success" | "warning" | "danger" | "info" {
  return QUEUE_STATES.find((s) => s.value === state)?.tag ?? "info";
}

/** "还剩 3 个工作日" / "今天到期" / "已逾期 4 个工作日" for a queue row's working_days_left. */
export function daysLeftText(days: number | null | undefined): string {
  if (days == null) return "—";
  if (days > 0) return `还剩 ${days} 个工作日`;
  if (days === 0) return "今天到期";
  return `已逾期 ${-days} 个工作日`;
}

/** The public document's lines as the public portal shows them (label, text), in the order it shows them. */
export interface PreviewLine { label: string; text: string }
interface Named { code?: string; name?: string; label?: string; role_label?: string; department?: string; methods?: { label: string }[] }

export function previewLines(content: Record<string, unknown> | null | undefined): PreviewLine[] {
  if (!content) return [];
  const c = content as Record<string, unknown>;
  const out: PreviewLine[] = [];
  const add = (label: string, text: string | null | undefined) => { if (text) out.push({ label, text }); };
  const named = (v: unknown) => (v && typeof v === "object" ? (v as Named) : null);
  const business = named(c.business) as { name?: string; uscc?: string | null; reg_no?: string | null } | null;
  add("检查对象", business?.name);
  add("统一社会信用代码", business?.uscc || business?.reg_no || "");
  const plan = named(c.plan);
  add("抽查计划", plan ? `${plan.name}（${plan.code}）` : "");
  const task = named(c.task) as (Named & { type_label?: string; joint_label?: string }) | null;
  add("抽查任务", task ? `${task.name}（${task.code}）` : "");
  add("任务类型", task ? [task.type_label, task.joint_label].filter(Boolean).join("，") : "");
  const auths = Array.isArray(c.authorities) ? (c.authorities as Named[]) : [];
  add("检查机关", auths.map((a) => (a.role_label ? `${a.name}（${a.role_label}）` : a.name || "")).join("；"));
  add("公示机关", named(c.publisher)?.name);
  const items = Array.isArray(c.items) ? (c.items as Named[]) : [];
  add("检查事项", items.map((i) => `${i.name}${i.methods?.length ? `（${i.methods.map((m) => m.label).join("、")}）` : ""}`).join("；"));
  add("检查完成日期", typeof c.completed_on === "string" ? c.completed_on : "");
  const cats = Array.isArray(c.result_categories) ? (c.result_categories as Named[]) : [];
  add("检查结果", cats.map((x) => x.label || x.code || "").join("、"));
  add("备注", typeof c.remarks === "string" ? c.remarks : "");
  const photos = Array.isArray(c.photos) ? c.photos : [];
  if (photos.length) add("现场照片", `${photos.length} 张（已去除拍摄时间、位置等信息）`);
  add("检查记录哈希", typeof c.record_hash === "string" ? c.record_hash : "");
  return out;
}

// --- what the publisher chooses: photos ticked, a participant's own result categories ----------------------

/** A photo the publication status offers (GET /api/v1/publication/inspections/<id> `photos`). */
export interface PhotoChoice {
  sha256: string; department: { id: number; code: string; name: string }; item: string | null; check_point: string | null;
  public_sha256: string | null; ready: boolean;
}

/** Tick or untick one photo, keeping the order they were ticked in (the public document's order); never more
 * than ``max``: a tick beyond it is refused (the same list is returned). */
export function toggleTick(ticked: readonly string[], sha: string, max = 9): string[] {
  if (ticked.includes(sha)) return ticked.filter((s) => s !== sha);
  return ticked.length >= max ? [...ticked] : [...ticked, sha];
}

/** The body of preview / publish / correct: the public remarks when typed, the ticked photos when any, and a
 * participating department's categories when it may set them and chose some. */
export function publishBody(o: { remarks: string; photos: readonly string[]; categories?: readonly string[] | null;
  categoriesEditable?: boolean }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o.remarks.trim()) out.remarks = o.remarks.trim();
  if (o.photos.length) out.photos = [...o.photos];
  if (o.categoriesEditable && o.categories && o.categories.length) out.result_categories = [...o.categories];
  return out;
}

/** For each photo of a preview (its public copy's SHA-256), the original it was made from: the office shows the
 * copy through /api/media/<original>/public, as the public URL answers only once a version is published. */
export function originalsOf(contentPhotos: unknown, choices: readonly PhotoChoice[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(contentPhotos)) return out;
  for (const p of contentPhotos as { sha256?: string }[]) {
    const c = choices.find((x) => x.public_sha256 && x.public_sha256 === p?.sha256);
    if (c && p.sha256) out[p.sha256] = c.sha256;
  }
  return out;
}

/** A photo's caption under its thumbnail: department · item · check point (what is known). */
export function photoCaption(c: PhotoChoice): string {
  return [c.department?.name, c.item, c.check_point].filter(Boolean).join(" · ");
}

// --- follow-ups ------------------------------------------------------------------------------------------

export type StepKind = "reinspection" | "transfer" | "judicial" | "notify" | "acknowledge";

export const STEP_TITLES: Record<StepKind, string> = {
  reinspection: "复查", transfer: "移送办案机构（立案）", judicial: "移送司法机关", notify: "抄告相关部门", acknowledge: "登记回执",
};

/** The steps a follow-up in ``state`` may take next (docs/api.md's table); a closed one takes none. */
export function nextSteps(state: string): StepKind[] {
  switch (state) {
    case "ordered": return ["reinspection"];
    case "unrectified":
    case "to_transfer": return ["transfer", "judicial"];
    case "to_notify": return ["notify"];
    case "notified": return ["acknowledge"];
    default: return [];
  }
}

/** Whether a step needs evidence files (all but a 抄告, where they are optional). */
export function evidenceRequired(step: StepKind): boolean {
  return step !== "notify";
}

/** The body of a step's POST from the dialog's fields (dates YYYY-MM-DD, empty optional fields left out). */
export function stepBody(step: StepKind, f: Record<string, string>, evidence: string[]): Record<string, unknown> {
  const opt = (k: string) => (f[k]?.trim() ? { [k]: f[k].trim() } : {});
  switch (step) {
    case "reinspection": return { inspected_on: f.date, findings: (f.findings || "").trim(), outcome: f.outcome || "rectified", evidence };
    case "transfer": return { filed_on: f.date, agency: (f.agency || "").trim(), case_no: (f.case_no || "").trim(), evidence };
    case "judicial": return { transferred_on: f.date, authority: (f.authority || "").trim(), record_no: (f.record_no || "").trim(), ...opt("note"), evidence };
    case "notify": return { notified_on: f.date, department_id: Number(f.department_id), ...opt("note"), ...(evidence.length ? { evidence } : {}) };
    case "acknowledge": return { received_on: f.date, ...opt("note"), evidence };
  }
}
