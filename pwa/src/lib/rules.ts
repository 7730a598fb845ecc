// The record's vocabulary (backend/inspections/rules.py) and the rules checked before signing,
// mirroring the server's section.incomplete (backend/inspections/checks.py): the phone says what is
// missing before the officer signs, the server still has the last word.
import type { Content, TaskItem } from "../api/types";

export const POINT_RESULTS: Record<string, string> = { pass: "符合", fail: "不符合", na: "不涉及" };
export const HANDLING: Record<string, string> = { none: "无须后续处置", rectify: "责令限期整改", transfer: "移送办案机构", notify: "抄告相关部门" };
export const OUTCOMES: Record<string, string> = {
  unreachable: "通过登记的住所（经营场所）无法联系",
  closed: "已关闭停业或正在组织清算",
  uncooperative: "不配合检查",
  no_activity: "未发现开展本次抽查涉及的经营活动",
};
export const RESULT_CATEGORIES: Record<string, string> = {
  no_problem: "未发现问题", pending_followup: "发现问题待后续处理", unpublished_info: "未按规定公示应当公示的信息",
  false_info: "公示信息隐瞒真实情况弄虚作假", unreachable: "通过登记的住所（经营场所）无法联系", other_violation: "违反其他规定",
  corrected: "发现问题经责令已改正", no_activity: "未发现开展本次抽查涉及的经营活动", closed: "已关闭停业或正在组织清算",
  uncooperative: "不配合检查情节严重", deregistered: "注销", revoked: "吊销", cancelled: "撤销", moved_out: "迁出",
};
export const OUTCOME_CATEGORY: Record<string, string> = { unreachable: "unreachable", closed: "closed", uncooperative: "uncooperative", no_activity: "no_activity" };
export const FOLLOWUP_ACTIONS: Record<string, string> = { rectify: "责令限期整改", transfer: "移送办案机构", notify: "抄告相关部门", none: "无须后续处置" };
export const METHODS: Record<string, string> = { onsite: "实地检查", documents: "书面检查", online: "网络监测", testing: "检验检测", agency: "委托专业机构", adopt: "采信其他部门结果" };
export const RISK_COLORS: Record<string, string> = { A: "#2e7d32", B: "#1565c0", C: "#ef6c00", D: "#c62828" };

function evidenceProblem(method: string, evidence: Record<string, unknown> | undefined): string | null {
  const e = evidence || {};
  if (method === "documents" && !(e.documents as unknown[] | undefined)?.length) return "书面检查须列出审查的材料";
  if (method === "online" && !(e.sites as unknown[] | undefined)?.length) return "网络监测须列出监测的网站或页面";
  if (["testing", "agency", "adopt"].includes(method)) {
    const missing = ([["body", "机构"], ["report_no", "报告编号"], ["conclusion", "采信的结论"]] as const)
      .filter(([k]) => !e[k]).map(([, label]) => label);
    if (missing.length) return `须填写${missing.join("、")}`;
  }
  return null;
}

export function outcomeProblem(outcome: Record<string, unknown> | undefined): string | null {
  if (!outcome) return null;
  const label = OUTCOMES[outcome.code as string] || String(outcome.code);
  if (!(outcome.photos as unknown[] | undefined)?.length) return `“${label}”须有照片作为证据`;
  if (!outcome.gps) return `“${label}”须有定位作为证据`;
  return null;
}

/** Why this section cannot be signed yet (empty when it can). */
export function sectionProblems(items: TaskItem[], values: Content): string[] {
  const outcome = values.outcome as Record<string, unknown> | undefined;
  if (outcome) {
    const p = outcomeProblem(outcome);
    return p ? [p] : [];
  }
  const problems: string[] = [];
  for (const item of [...items].sort((a, b) => a.id - b.id)) {
    const method = values[`items.${item.id}.method`] as string | undefined;
    if (!method) { problems.push(`事项“${item.name}”未选择检查方式`); continue; }
    const p = evidenceProblem(method, values[`items.${item.id}.evidence`] as Record<string, unknown> | undefined);
    if (p) problems.push(`事项“${item.name}”：${p}`);
  }
  const points = items.flatMap((i) => i.check_points).sort((a, b) => a.id - b.id);
  for (const cp of points) {
    const text = cp.text.slice(0, 30);
    const result = values[`points.${cp.id}.result`];
    if (result === undefined || result === null) {
      if (cp.required) problems.push(`检查内容“${text}”未填写结果`);
      continue;
    }
    const photos = (values[`points.${cp.id}.photos`] as unknown[] | undefined) || [];
    if (cp.answer_type === "photo" && result !== "na" && !photos.length) problems.push(`检查内容“${text}”须拍照`);
    if (result === "fail") {
      if (!(values[`points.${cp.id}.problem`] || values[`points.${cp.id}.note`])) problems.push(`检查内容“${text}”不符合，须写明发现的问题`);
      if (!photos.length) problems.push(`检查内容“${text}”不符合，须有照片`);
      if (!(values[`points.${cp.id}.handling`] as unknown[] | undefined)?.length) problems.push(`检查内容“${text}”不符合，须选择处置情况`);
    }
  }
  return problems;
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
