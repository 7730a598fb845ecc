// Audit entries in words: "检查对象 · 停用" for target.retire; the reason and the changed fields from `detail`.
const ENTITIES: Record<string, string> = {
  target: "检查对象", targets: "检查对象名录库", item: "抽查事项", items: "抽查事项清单", check_point: "检查内容",
  inspector: "执法检查人员", inspectors: "执法检查人员名录库", expert: "专家", experts: "专家库", department: "部门",
  departments: "部门", region: "行政区划", regions: "行政区划", user: "账号", auth: "登录", plan: "年度抽查计划",
  task: "抽查任务", draw: "摇号", inspection: "检查", calendar: "工作日历", publication: "公示", followup: "后续处置",
  inspector_conflict: "回避声明", expert_conflict: "专家回避", sync: "离线记录",
};
const VERBS: Record<string, string> = {
  create: "新增", update: "修改", retire: "停用", unretire: "恢复", import: "导入", export: "导出", freeze: "冻结",
  unfreeze: "解冻", password: "重置密码", login: "登录", logout: "退出登录", declare: "声明", publish: "发布",
  approve: "批准", reopen: "退回", lockout_alert: "登录失败告警", refresh_reuse: "刷新令牌重复使用", signer_failed: "签名核验失败",
};

export function actionLabel(action: string): string {
  const i = action.lastIndexOf(".");
  if (i < 0) return VERBS[action] || action;
  const entity = action.slice(0, i), verb = action.slice(i + 1);
  const e = ENTITIES[entity], v = VERBS[verb];
  return e && v ? `${e} · ${v}` : e ? `${e} · ${verb}` : action;
}

export function entryReason(e: Record<string, unknown>): string {
  const d = (e.detail || {}) as Record<string, unknown>;
  return typeof d.reason === "string" ? d.reason : "";
}

/** The fields an entry changed, "name：旧 → 新" where the values are short. */
export function entryChanges(e: Record<string, unknown>): string[] {
  const changed = ((e.detail || {}) as Record<string, unknown>).changed;
  if (!changed || typeof changed !== "object") return [];
  return Object.entries(changed as Record<string, unknown>).map(([k, v]) => {
    if (Array.isArray(v) && v.length === 2) {
      const show = (x: unknown) => (x === null || x === undefined || x === "" ? "（空）" : typeof x === "object" ? JSON.stringify(x) : String(x));
      const text = `${k}：${show(v[0])} → ${show(v[1])}`;
      return text.length > 80 ? k : text;
    }
    return k;
  });
}

export const ENTITY_OPTIONS = Object.entries(ENTITIES).map(([value, label]) => ({ value, label: `${label}（${value}）` }));
