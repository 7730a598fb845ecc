// Plans and tasks as the planners' screens handle them (docs/api.md "A plan", "A task and its 会审", "The draw"):
// the shapes the API answers, the task form (items, departments, strata and ratios, filters) turned into the
// body the API takes, and the preview's counts in words. No network here: the screens call the API.

export interface DeptRef { id: number; code: string; name: string }
export interface PlanItemRow {
  item_id: number; code: string; name: string; category: string | null; kind: string; kind_label: string;
  ratio_cap_percent: number | null; department_id: number; department_code: string | null; retired: boolean;
}
export interface PlanDepartment { department_id: number; code: string; name: string; role: string; role_label: string }
export interface Ratio { num: number; den: number; min?: number | null; cap?: number | null }
export interface Plan {
  id: number; code: string; year: number; name: string; kind: string; kind_label: string; level: string; level_label: string;
  lead_department: DeptRef;
  lead_department_id: number; departments: PlanDepartment[]; items: PlanItemRow[]; ratio_rules: Record<string, Ratio>;
  batches: { id: number; seq: number; name: string; months: number[]; planned_count: number | null }[];
  description: string | null; status: string; status_label: string; version: number; published_at: string | null;
  approved_at: string | null; retired_at: string | null; retire_reason: string | null; updated_at: string;
}
// the level that set a plan (抽查覆盖率 is also counted by it: docs/figures.md)
export const PLAN_LEVELS = [{ value: "province", label: "省级" }, { value: "city", label: "市级" }, { value: "county", label: "县级" }];
export interface PlanVersion { version: number; reason: string | null; created_at?: string; [k: string]: unknown }
export interface TaskDepartment {
  department_id: number; code: string; name: string; role: string; role_label: string; members_per_group: number;
  status: string; status_label: string; reason: string | null; decided_by: number | null; decided_at: string | null;
}
export interface TaskFilters { regions?: string[]; industries?: string[]; types?: string[]; risk_classes?: string[]; tags?: string[] }
export interface Task {
  id: number; code: string; name: string; plan: { id: number; code: string; name: string; year: number };
  lead_department: DeptRef; status: string; status_label: string; departments: TaskDepartment[]; items: PlanItemRow[];
  filters: TaskFilters; directed: boolean; strata_mode: "risk" | "all"; strata: Record<string, Ratio>;
  exclusions: { inspected_this_year?: boolean; a_class_exempt?: boolean }; group_load: number; members_per_group: number;
  start_date: string | null; end_date: string | null; draw_date: string | null; description: string | null;
  cancel_reason: string | null; updated_at: string;
}
export interface Reason { code: string; message: string; details?: Record<string, unknown> }
export interface PreviewDept {
  code: string; name: string; members_per_group: number; available: number; needed: number; unqualified: number;
  required_qualifications: string[];
}
export interface Preview {
  can_draw: boolean; reasons: Reason[]; warnings: Reason[]; departments: PreviewDept[];
  targets: Record<string, number>; excluded: Record<string, number>; inspectors: Record<string, number>;
  conflicts: number; selected: Record<string, number>; groups: number; inspectors_needed: Record<string, number>;
}

export const RISK_STRATA = ["A", "B", "C", "D", "U"] as const;
export const STRATUM_LABELS: Record<string, string> = {
  A: "A 类（信用风险低）", B: "B 类（信用风险一般）", C: "C 类（信用风险较高）", D: "D 类（信用风险高）",
  U: "未分类", all: "全部（不分层）",
};
export const EXCLUSION_LABELS: Record<string, string> = {
  deregistered: "已注销", revoked: "已吊销", moved_out: "已迁出", inspected_this_year: "本年度已就同一事项被抽查",
  visit_cap: "本年度被检查次数已达上限", a_class_exempt: "A 类企业不在随机抽查计划内（无事不扰）", no_stratum: "所属风险类别未纳入本次抽查",
};
export const REPLACE_REASONS: Record<string, string> = { closed: "已关闭停业", deregistered: "已注销", revoked: "已吊销" };

export function stratumLabel(s: string): string { return STRATUM_LABELS[s] || s; }

/** The strata a task's mode and filters give: "all" alone, or the risk classes the filter allows (with U when none is named). */
export function strataFor(mode: "risk" | "all", riskClasses: readonly string[] = []): string[] {
  if (mode === "all") return ["all"];
  const allowed = riskClasses.filter((c) => (RISK_STRATA as readonly string[]).includes(c) && c !== "U");
  return allowed.length ? RISK_STRATA.filter((s) => allowed.includes(s)) : [...RISK_STRATA];
}

/** k = min(N, cap, max(min, ceil(num·N/den))) in integers (DRAW.md step 3). */
export function drawCount(n: number, r: Ratio): number {
  if (!(n > 0) || !(r.den > 0)) return 0;
  const prop = Math.floor((r.num * n + r.den - 1) / r.den);
  let k = Math.max(r.min ?? 0, prop);
  if (r.cap != null) k = Math.min(k, r.cap);
  return Math.min(n, k);
}

/** A ratio in words: 3/100（最少 1，最多 2）. */
export function ratioText(r: Ratio | null | undefined): string {
  if (!r) return "—";
  const extra = [r.min != null ? `最少 ${r.min}` : "", r.cap != null ? `最多 ${r.cap}` : ""].filter(Boolean).join("，");
  return `${r.num}/${r.den}${extra ? `（${extra}）` : ""}`;
}

/** Text typed in a box (commas, 、, spaces or new lines between) as a list without blanks or repeats. */
export function splitList(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(/[\s,，、;；]+/)) {
    const v = part.trim();
    if (v && !out.includes(v)) out.push(v);
  }
  return out;
}

export interface StratumRow { key: string; num: number | null; den: number | null; min: number | null; cap: number | null }
export interface DeptRow { department_id: number; code: string; name: string; lead: boolean; included: boolean; members_per_group: number }
export interface TaskForm {
  name: string; description: string; item_ids: number[]; departments: DeptRow[]; strata_mode: "risk" | "all";
  strata: StratumRow[]; regions: string; industries: string; types: string; tags: string; risk_classes: string[];
  inspected_this_year: boolean; a_class_exempt: boolean; group_load: number; start_date: string; end_date: string;
  draw_date: string;
}

/** The form of a task: the plan's departments (the task's own rows included, the others left out), its strata. */
export function formOf(task: Task, plan: Pick<Plan, "departments" | "ratio_rules"> | null): TaskForm {
  const rows: DeptRow[] = [];
  const seen = new Set<number>();
  for (const d of task.departments) {
    rows.push({ department_id: d.department_id, code: d.code, name: d.name, lead: d.role === "lead", included: true, members_per_group: d.members_per_group });
    seen.add(d.department_id);
  }
  for (const d of plan?.departments || []) {
    if (seen.has(d.department_id)) continue;
    rows.push({ department_id: d.department_id, code: d.code, name: d.name, lead: d.role === "lead", included: false, members_per_group: 1 });
  }
  rows.sort((a, b) => Number(b.lead) - Number(a.lead) || a.code.localeCompare(b.code));
  const f = task.filters || {};
  return {
    name: task.name, description: task.description || "", item_ids: task.items.map((i) => i.item_id), departments: rows,
    strata_mode: task.strata_mode, strata: strataRows(task.strata_mode, f.risk_classes || [], task.strata, plan?.ratio_rules || {}),
    regions: (f.regions || []).join(" "), industries: (f.industries || []).join(" "), types: (f.types || []).join(" "),
    tags: (f.tags || []).join(" "), risk_classes: [...(f.risk_classes || [])],
    inspected_this_year: task.exclusions?.inspected_this_year ?? true, a_class_exempt: task.exclusions?.a_class_exempt ?? true,
    group_load: task.group_load, start_date: task.start_date || "", end_date: task.end_date || "", draw_date: task.draw_date || "",
  };
}

/** The strata rows of a mode: the task's ratio where it has one, else the plan's rule, else blank (the system default). */
export function strataRows(mode: "risk" | "all", riskClasses: readonly string[], own: Record<string, Ratio>,
                           rules: Record<string, Ratio>): StratumRow[] {
  return strataFor(mode, riskClasses).map((key) => {
    const r = own[key] || rules[key];
    return { key, num: r?.num ?? null, den: r?.den ?? null, min: r?.min ?? null, cap: r?.cap ?? null };
  });
}

/** The lowest ratio cap (%) of the general items among ``itemIds``, with the item that sets it; null when none. */
export function lowestCap(items: readonly PlanItemRow[], itemIds: readonly number[]): { percent: number; code: string } | null {
  let best: { percent: number; code: string } | null = null;
  for (const i of items) {
    if (!itemIds.includes(i.item_id) || i.ratio_cap_percent == null) continue;
    if (!best || i.ratio_cap_percent < best.percent) best = { percent: i.ratio_cap_percent, code: i.code };
  }
  return best;
}

/** A ratio brought down to ``capPercent`` when above it (min and cap kept): 5/100 for 5 %, 25/1000 for 2.5 %. */
export function withinCap(r: Ratio, capPercent: number | null | undefined): Ratio {
  if (capPercent == null || r.num * 100 <= capPercent * r.den) return r;
  const scale = Number.isInteger(capPercent) ? 1 : Number.isInteger(capPercent * 10) ? 10 : 100;
  return { ...r, num: Math.round(capPercent * scale), den: 100 * scale };
}

/** The strata a new task starts with: the plan's ratios (else the cap itself), none above the items' lowest cap;
 *  without a cap and without plan rules, nothing (the system default applies). */
export function startingStrata(rules: Record<string, Ratio>, items: readonly PlanItemRow[], itemIds: readonly number[]): Record<string, Ratio> | undefined {
  const cap = lowestCap(items, itemIds);
  const out: Record<string, Ratio> = {};
  for (const key of RISK_STRATA) {
    const r = rules[key];
    if (r) out[key] = withinCap(r, cap?.percent);
    else if (cap) out[key] = withinCap({ num: 100, den: 100 }, cap.percent);
  }
  return Object.keys(out).length ? out : undefined;
}

/** Departments whose items are checked take part (an item's department must; the API refuses otherwise). */
export function includeItemDepartments(f: TaskForm, items: readonly PlanItemRow[]): void {
  for (const i of items) {
    if (!f.item_ids.includes(i.item_id)) continue;
    const row = f.departments.find((d) => d.department_id === i.department_id);
    if (row && !row.included) { row.included = true; if (!row.members_per_group) row.members_per_group = 1; }
  }
}

/** Problems the form has before it is sent (the API checks the rest and says so in its own words). */
export function formProblems(f: TaskForm, items: readonly PlanItemRow[] = []): string[] {
  const out: string[] = [];
  const cap = lowestCap(items, f.item_ids);
  if (!f.name.trim()) out.push("请填写任务名称");
  if (!f.item_ids.length) out.push("请至少选择一个抽查事项");
  const lead = f.departments.find((d) => d.lead);
  if (lead && lead.members_per_group < 1) out.push("牵头部门每组至少 1 人");
  const people = f.departments.filter((d) => d.included).reduce((n, d) => n + (d.members_per_group || 0), 0);
  if (people < 2) out.push("每组检查人员合计至少 2 人");
  for (const s of f.strata) {
    const any = s.num != null || s.den != null || s.min != null || s.cap != null;
    if (!any) continue;
    if (s.num == null || s.den == null) out.push(`${stratumLabel(s.key)}：请同时填写比例的分子和分母`);
    else if (s.den <= 0 || s.num < 0 || s.num > s.den) out.push(`${stratumLabel(s.key)}：比例须在 0/1 与 1/1 之间`);
    if (s.min != null && s.cap != null && s.cap < s.min) out.push(`${stratumLabel(s.key)}：最多抽取数不能小于最少抽取数`);
    if (cap && s.num != null && s.den && s.num * 100 > cap.percent * s.den) out.push(`${stratumLabel(s.key)}：比例 ${s.num}/${s.den} 超过一般检查事项 ${cap.code} 的比例上限 ${cap.percent}%`);
  }
  if (!(f.group_load >= 1)) out.push("每组检查对象数至少为 1");
  return out;
}

/** The PATCH body of a task from its form: every field the form edits. */
export function taskBody(f: TaskForm): Record<string, unknown> {
  const strata: Record<string, Ratio> = {};
  for (const s of f.strata) {
    if (s.num == null || s.den == null) continue;
    const r: Ratio = { num: s.num, den: s.den };
    if (s.min != null) r.min = s.min;
    if (s.cap != null) r.cap = s.cap;
    strata[s.key] = r;
  }
  const filters: TaskFilters = {};
  const lists: [keyof TaskFilters, string][] = [["regions", f.regions], ["industries", f.industries], ["types", f.types], ["tags", f.tags]];
  for (const [k, v] of lists) { const l = splitList(v); if (l.length) filters[k] = l; }
  if (f.strata_mode === "risk" && f.risk_classes.length) filters.risk_classes = [...f.risk_classes].sort();
  return {
    name: f.name.trim(), description: f.description.trim() || null, item_ids: f.item_ids,
    departments: f.departments.filter((d) => d.included || d.lead).map((d) => ({ department_id: d.department_id, members_per_group: d.members_per_group })),
    strata_mode: f.strata_mode, strata, filters,
    exclusions: { inspected_this_year: f.inspected_this_year, a_class_exempt: f.a_class_exempt },
    group_load: f.group_load, start_date: f.start_date || null, end_date: f.end_date || null, draw_date: f.draw_date || null,
  };
}

/** What the task's state allows, in the lead department's hands. */
export function editable(status: string): boolean { return ["draft", "consulting", "declined", "confirmed"].includes(status); }
export function sendable(status: string): boolean { return status === "draft" || status === "declined"; }
export function committable(status: string): boolean { return status === "confirmed"; }
export function cancellable(status: string): boolean { return ["draft", "consulting", "declined", "confirmed"].includes(status); }

/** The preview in one sentence: what will be drawn, or why it cannot run. */
export function previewSummary(p: Preview): string {
  const total = Object.values(p.selected || {}).reduce((a, b) => a + b, 0);
  const pool = Object.values(p.targets || {}).reduce((a, b) => a + b, 0);
  const people = Object.entries(p.inspectors_needed || {}).map(([d, n]) => `${d} ${n} 人`).join("、");
  const what = `从 ${pool} 户符合条件的检查对象中抽取 ${total} 户，分为 ${p.groups} 个检查组${people ? `，需检查人员 ${people}` : ""}`;
  if (!p.can_draw) return `暂不能抽取（条件满足后将${what}）。原因：${p.reasons.map((r) => r.message).join("；") || "未说明"}`;
  return `可以抽取：${what}。`;
}

/** The departments of the task whose 会审 waits for ``deptId``. */
export function awaitingDecision(task: Pick<Task, "status" | "departments">, deptId: number | null | undefined): boolean {
  if (task.status !== "consulting" || deptId == null) return false;
  return task.departments.some((d) => d.department_id === deptId && d.role !== "lead" && d.status === "pending");
}

export const TASK_STATUS_TYPES: Record<string, "info" | "warning" | "success" | "danger" | "primary"> = {
  draft: "info", consulting: "warning", declined: "danger", confirmed: "primary", committed: "warning", drawn: "success", cancelled: "info",
};
export const PLAN_STATUS_TYPES: Record<string, "info" | "warning" | "success"> = { draft: "info", approved: "warning", published: "success" };

/** A plan's default ratios as rows to edit (A–D, U), and back: rows without both numbers are left out (the
 *  system default applies); a row's min and cap are kept. */
export function ruleRows(rules: Record<string, Ratio>): StratumRow[] {
  return RISK_STRATA.map((key) => ({ key, num: rules[key]?.num ?? null, den: rules[key]?.den ?? null, min: rules[key]?.min ?? null, cap: rules[key]?.cap ?? null }));
}
export function rulesBody(rows: readonly StratumRow[], keep: Record<string, Ratio> = {}): Record<string, Ratio> {
  const out: Record<string, Ratio> = { ...keep };
  for (const r of rows) {
    delete out[r.key];
    if (r.num == null || r.den == null) continue;
    const v: Ratio = { num: r.num, den: r.den };
    if (r.min != null) v.min = r.min;
    if (r.cap != null) v.cap = r.cap;
    out[r.key] = v;
  }
  return out;
}

/** A draft plan's edit form: what it holds now (participants of a joint plan, items). */
export interface PlanEdit {
  name: string; description: string; level: string; rules: StratumRow[]; participants: number[]; item_ids: number[];
}
export function planEditOf(plan: Plan): PlanEdit {
  return {
    name: plan.name, description: plan.description || "", level: plan.level || "county", rules: ruleRows(plan.ratio_rules || {}),
    participants: plan.departments.filter((d) => d.role !== "lead").map((d) => d.department_id),
    item_ids: plan.items.map((i) => i.item_id),
  };
}
/** The PATCH body of a plan's edit: name, description, level, ratios; and, for a draft (only a draft's items and
 *  departments change here), the participants (a joint plan's) and the items when they changed. */
export function planEditBody(plan: Plan, e: PlanEdit, reason?: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: e.name.trim(), description: e.description.trim() || null, level: e.level,
    ratio_rules: rulesBody(e.rules, plan.ratio_rules || {}),
  };
  if (plan.status === "draft") {
    const was = planEditOf(plan);
    const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
    if (plan.kind === "joint" && !same(was.participants, e.participants)) body.participant_department_ids = [...e.participants];
    if (!same(was.item_ids, e.item_ids)) body.item_ids = [...e.item_ids];
  }
  if (reason) body.reason = reason;
  return body;
}
/** The items still choosable once the departments changed: those of the departments that remain. */
export function itemsWithin(itemIds: readonly number[], available: readonly { id: number }[]): number[] {
  return itemIds.filter((i) => available.some((x) => x.id === i));
}

/** The 会审 inbox's choices: where my department's decision stands (GET /api/v1/tasks `decision`). */
export const INBOX_DECISIONS: { value: string; label: string }[] = [
  { value: "pending", label: "待本部门会审" }, { value: "confirmed", label: "本部门已确认" }, { value: "declined", label: "本部门已退回" },
];
/** The inbox's fixed query (the URL's `decision` overrides it): my department, pending by default, and a pending
 *  task only while it is under 会审 (a draft not yet sent is pending too). */
export function inboxParams(decision: unknown, deptId: number | null | undefined): Record<string, string> {
  const d = typeof decision === "string" && INBOX_DECISIONS.some((x) => x.value === decision) ? decision : "pending";
  return { decision: d, ...(d === "pending" ? { status: "consulting" } : {}), ...(deptId ? { department_id: String(deptId) } : {}) };
}

/** A row of GET /api/v1/inspections (the office list): the fields the task's 复查 table shows. */
export interface InspectionRow {
  id: number; status: string; target_code: string; target_name: string; completed_on?: string | null;
  followup_id?: number | null;
}
export const INSPECTION_STATUS_LABELS: Record<string, string> = {
  assigned: "待检查", in_progress: "检查中", completed: "已完成", replaced: "已替换（对象无法检查）", superseded: "已被重新抽取取代",
};
/** The 复查 among the rows (a follow-up's re-inspection: ``followup_id`` set), as the task page lists them. */
export function reinspectionRows(rows: InspectionRow[]) {
  return rows.filter((r) => r.followup_id != null).map((r) => ({
    ...r, status_label: INSPECTION_STATUS_LABELS[r.status] ?? r.status, followup: followupLink(r.followup_id as number),
  }));
}
/** The office's follow-up register opened on one follow-up (FollowupsView reads ``?open=``). */
export function followupLink(id: number): { path: string; query: { open: string }; label: string } {
  return { path: "/followups", query: { open: String(id) }, label: `后续处置 #${id}` };
}
