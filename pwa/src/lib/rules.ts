// The record's vocabulary and the rules checked before signing, finalising and submitting: one source with
// the server, schemas/field_rules.json, read at build time (rulebook.ts interprets its rules exactly as
// backend/inspections/rulebook.py does). The phone says what is missing before the officer signs or the lead
// finalises or submits, in the server's words; the server still has the last word (photos uploaded, what
// other phones sent meanwhile).
import type { Content, TaskItem } from "../api/types";
import { RULES, recordRules, sectionRules, submitRules, type DepartmentFacts, type ItemFacts, type MemberFacts } from "./rulebook";

const V = RULES.vocabulary;
const rule = (id: string) => [...RULES.section, ...RULES.record, ...RULES.submit].find((r) => r.id === id)!;

export const POINT_RESULTS: Record<string, string> = V.point_results;
export const HANDLING: Record<string, string> = V.handling;
export const OUTCOMES: Record<string, string> = V.outcomes;
export const RESULT_CATEGORIES: Record<string, string> = V.result_categories;
export const OUTCOME_CATEGORY: Record<string, string> = rule("record.outcome.category").implies!;
export const FOLLOWUP_ACTIONS: Record<string, string> = V.followup_actions;
export const METHODS: Record<string, string> = V.methods;
export const RECORD_STATES: Record<string, string> = V.record_states;
export { RISK_COLORS } from "./risk";

/** The first thing an outcome (no inspection) still lacks as evidence, or null. */
export function outcomeProblem(outcome: Record<string, unknown> | undefined): string | null {
  if (!outcome) return null;
  return sectionRules([], { outcome })[0]?.message ?? null;
}

/** Why this section cannot be signed yet (empty when it can). */
export function sectionProblems(items: TaskItem[], values: Content): string[] {
  const facts: ItemFacts[] = items.map((i) => ({ id: i.id, name: i.name, check_points: i.check_points
    .map((cp) => ({ id: cp.id, text: cp.text, required: cp.required, answer_type: cp.answer_type })) }));
  return sectionRules(facts, values).map((p) => p.message);
}

/** Why the lead cannot finalise the record yet (open conflicts aside: record.conflicts_open). `departments`:
 * the group's, each with its section as the phone sees it and who signed it. */
export function recordProblems(values: Content, departments: DepartmentFacts[]): string[] {
  return recordRules(values, departments).map((p) => p.message);
}

/** Who still has to sign the finalised record before the lead submits it. */
export function submitProblems(values: Content, members: MemberFacts[], signedBy: (number | null)[], representativeSigned: boolean): string[] {
  return submitRules(values, members, signedBy, representativeSigned).map((p) => p.message);
}

/** What the server will say (rejected mutations): the reason and what the officer can do. */
export function advice(code: string | undefined): string {
  const table: Record<string, string> = {
    "section.signed": "本部门内容已签名，不能再改；如确需修改，请组长撤回签名后重新填写",
    "section.incomplete": "按提示补全后重新签名",
    "section.conflicts_open": "与同事的修改有冲突，等组长处理后再签名",
    "signature.content_changed": "内容在签名前已被修改：请同步后核对，再签一次",
    "signature.signer_invalid": "签名人的账号或密码不对：请本人重新输入后再签",
    "signature.duplicate": "已经签过名，无需再签",
    "section.other_department": "只能填写本部门的检查内容",
    "record.lead_only": "只有检查组组长可以做这一步",
    "record.signing": "汇总记录已定稿待会签；如需修改，组长先退回修改",
    "record.incomplete": "按提示补全汇总记录后再定稿",
    "record.unsigned": "还有人员未签名",
    "record.media_missing": "有照片尚未上传，请在网络良好时同步后再提交",
    "record.conflicts_open": "先处理冲突，再定稿",
    "inspection.completed": "该检查已提交，不能再修改",
    "inspection.gone": "该检查已被替换或重新抽取，记录已导出可交给组长",
    "sync.not_participant": "你已不在该检查组（或已回避）",
    "validation_error": "有字段填写不合规定，请按提示修改后重新保存",
  };
  return (code && table[code]) || "请按服务器的说明处理，或联系系统管理员";
}
