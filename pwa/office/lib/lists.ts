// The lists of 一单两库 as the office shows them: each one's API, filters, columns and editable fields
// (from schemas/directory.py; the codes and their Chinese labels from backend/directory/rules.py).
export type ListKey = "targets" | "items" | "inspectors" | "experts" | "departments" | "regions";
export interface Option { value: string; label: string }
export interface Column { key: string; label: string; width?: number; minWidth?: number; value?: (row: Row) => string }
export interface Filter { key: string; label: string; options?: Option[] }
export interface Field { key: string; label: string; kind?: "text" | "textarea" | "select" | "multi" | "tags" | "number"; options?: Option[]; required?: boolean; createOnly?: boolean }
export type Row = Record<string, unknown>;

export interface ListSpec {
  key: ListKey; title: string; short: string; api: string; idKey: "id" | "code"; entity: string;
  columns: Column[]; filters: Filter[]; fields: Field[];
  /** who may add, change, retire and import (the API says the same); the rest read and export */
  editRoles: readonly string[];
}

const opts = (m: Record<string, string>): Option[] => Object.entries(m).map(([value, label]) => ({ value, label }));
export const TARGET_TYPES = opts({ enterprise: "企业", individual: "个体工商户", cooperative: "农民专业合作社", branch: "分支机构",
                                   product: "产品", project: "项目", activity: "活动" });
export const TARGET_STATUSES = opts({ active: "存续", closed: "歇业/关闭", deregistered: "注销", revoked: "吊销", moved_out: "迁出" });
export const RISK_CLASSES = opts({ A: "A 信用风险低", B: "B 信用风险一般", C: "C 信用风险较高", D: "D 信用风险高" });
export const ITEM_KINDS = opts({ key: "重点检查事项", general: "一般检查事项" });
export const INSPECTOR_STATUSES = opts({ active: "在岗", on_leave: "休假/请假", transferred: "调离" });
export const EXPERT_STATUSES = opts({ active: "在库", suspended: "暂停" });
export const REGION_LEVELS = opts({ province: "省", city: "市", county: "县/区", town: "乡镇/街道" });
export const METHODS = opts({ onsite: "实地检查", documents: "书面检查", online: "网络监测", testing: "检验检测",
                              agency: "委托专业机构", adopt: "采信其他部门结果" });
const RETIRED: Filter = { key: "include_retired", label: "停用的", options: [{ value: "true", label: "含已停用" }] };

const ADMINS = ["sysadmin", "dept_admin"] as const;
const list = (v: unknown) => (Array.isArray(v) ? v.join("、") : v == null ? "" : String(v));

export const LISTS: Record<ListKey, ListSpec> = {
  targets: {
    key: "targets", title: "检查对象名录库", short: "检查对象", api: "/api/v1/targets", idKey: "id", entity: "target",
    editRoles: ADMINS,
    filters: [{ key: "q", label: "名称、代码或地址" }, { key: "risk_class", label: "信用风险分类", options: RISK_CLASSES },
              { key: "type", label: "对象类型", options: TARGET_TYPES }, { key: "status", label: "经营状态", options: TARGET_STATUSES },
              { key: "region", label: "行政区划代码" }, RETIRED],
    columns: [
      { key: "code", label: "代码", width: 190 }, { key: "name", label: "名称", minWidth: 220 },
      { key: "type_label", label: "类型", width: 100 }, { key: "risk_class", label: "风险", width: 64 },
      { key: "status_label", label: "状态", width: 80 }, { key: "address", label: "住所", minWidth: 220 },
      { key: "tags", label: "标签", minWidth: 120, value: (r) => list(r.tags) },
    ],
    fields: [
      { key: "uscc", label: "统一社会信用代码" }, { key: "reg_no", label: "注册号" }, { key: "code", label: "对象编码（无代码的对象）" },
      { key: "name", label: "名称", required: true }, { key: "type", label: "对象类型", kind: "select", options: TARGET_TYPES, required: true },
      { key: "address", label: "住所（经营场所）" }, { key: "region_code", label: "行政区划代码" },
      { key: "industry_code", label: "行业代码" }, { key: "risk_class", label: "信用风险分类", kind: "select", options: RISK_CLASSES },
      { key: "tags", label: "标签", kind: "tags" }, { key: "status", label: "经营状态", kind: "select", options: TARGET_STATUSES },
      { key: "legal_rep", label: "法定代表人" }, { key: "phone", label: "联系电话" },
      { key: "longitude", label: "经度", kind: "number" }, { key: "latitude", label: "纬度", kind: "number" },
    ],
  },
  items: {
    key: "items", title: "抽查事项清单", short: "抽查事项", api: "/api/v1/items", idKey: "id", entity: "item", editRoles: ADMINS,
    filters: [{ key: "q", label: "名称或编码" }, { key: "kind", label: "事项类型", options: ITEM_KINDS },
              { key: "method", label: "检查方式", options: METHODS }, { key: "object_type", label: "对象类型", options: TARGET_TYPES }, RETIRED],
    columns: [
      { key: "code", label: "编码", width: 110 }, { key: "category", label: "抽查类别", width: 150 },
      { key: "name", label: "事项名称", minWidth: 240 }, { key: "kind_label", label: "类型", width: 120 },
      { key: "method_labels", label: "检查方式", width: 180, value: (r) => list(r.method_labels) },
      { key: "department_name", label: "检查主体", minWidth: 180 },
    ],
    fields: [
      { key: "code", label: "编码", required: true }, { key: "category", label: "抽查类别", required: true },
      { key: "name", label: "事项名称", required: true }, { key: "kind", label: "事项类型", kind: "select", options: ITEM_KINDS, required: true },
      { key: "object_types", label: "检查对象类型", kind: "multi", options: TARGET_TYPES, required: true },
      { key: "methods", label: "检查方式", kind: "multi", options: METHODS, required: true },
      { key: "legal_basis", label: "检查依据", kind: "textarea", required: true }, { key: "frequency", label: "抽查频次" },
      { key: "ratio_cap_percent", label: "抽查比例上限（%）", kind: "number" }, { key: "remark", label: "备注", kind: "textarea" },
    ],
  },
  inspectors: {
    key: "inspectors", title: "执法检查人员名录库", short: "执法检查人员", api: "/api/v1/inspectors", idKey: "id", entity: "inspector",
    editRoles: ADMINS,
    filters: [{ key: "q", label: "姓名或执法证号" }, { key: "status", label: "状态", options: INSPECTOR_STATUSES },
              { key: "qualification", label: "执法资格" }, { key: "expertise", label: "专长" }, RETIRED],
    columns: [
      { key: "cert_no", label: "执法证号", width: 170 }, { key: "name", label: "姓名", width: 100 },
      { key: "department_name", label: "部门", minWidth: 200 }, { key: "position", label: "职务", minWidth: 160 },
      { key: "qualifications", label: "执法资格", minWidth: 160, value: (r) => list(r.qualifications) },
      { key: "expertise", label: "专长", minWidth: 120, value: (r) => list(r.expertise) }, { key: "status_label", label: "状态", width: 90 },
    ],
    fields: [
      { key: "cert_no", label: "执法证号", required: true }, { key: "name", label: "姓名", required: true },
      { key: "phone", label: "联系电话" }, { key: "region_code", label: "行政区划代码" }, { key: "position", label: "职务" },
      { key: "qualifications", label: "执法资格", kind: "tags" }, { key: "expertise", label: "专长", kind: "tags" },
      { key: "status", label: "状态", kind: "select", options: INSPECTOR_STATUSES },
    ],
  },
  experts: {
    key: "experts", title: "专家库", short: "专家", api: "/api/v1/experts", idKey: "id", entity: "expert", editRoles: ADMINS,
    filters: [{ key: "q", label: "姓名或编号" }, { key: "status", label: "状态", options: EXPERT_STATUSES }, { key: "field", label: "专业领域" }, RETIRED],
    columns: [
      { key: "code", label: "编号", width: 150 }, { key: "name", label: "姓名", width: 100 },
      { key: "organization", label: "单位", minWidth: 220 }, { key: "title", label: "职称", width: 130 },
      { key: "fields", label: "专业领域", minWidth: 150, value: (r) => list(r.fields) }, { key: "status_label", label: "状态", width: 80 },
    ],
    fields: [
      { key: "code", label: "编号", required: true }, { key: "name", label: "姓名", required: true },
      { key: "organization", label: "单位" }, { key: "title", label: "职称" }, { key: "fields", label: "专业领域", kind: "tags" },
      { key: "phone", label: "联系电话" }, { key: "status", label: "状态", kind: "select", options: EXPERT_STATUSES },
    ],
  },
  departments: {
    key: "departments", title: "部门", short: "部门", api: "/api/v1/departments", idKey: "id", entity: "department", editRoles: ["sysadmin"],
    filters: [{ key: "q", label: "代码或名称" }, { key: "region", label: "行政区划代码" }, RETIRED],
    columns: [
      { key: "code", label: "代码", width: 120 }, { key: "name", label: "名称", minWidth: 260 },
      { key: "short_name", label: "简称", width: 160 }, { key: "region_code", label: "行政区划", width: 120 },
    ],
    fields: [
      { key: "code", label: "代码", required: true, createOnly: true }, { key: "name", label: "名称", required: true },
      { key: "short_name", label: "简称" }, { key: "region_code", label: "行政区划代码" },
    ],
  },
  regions: {
    key: "regions", title: "行政区划", short: "行政区划", api: "/api/v1/regions", idKey: "code", entity: "region", editRoles: ["sysadmin"],
    filters: [{ key: "q", label: "代码或名称" }, { key: "level", label: "级别", options: REGION_LEVELS }, { key: "prefix", label: "代码前缀" }, RETIRED],
    columns: [
      { key: "code", label: "代码", width: 130 }, { key: "name", label: "名称", minWidth: 200 },
      { key: "level_label", label: "级别", width: 110 }, { key: "parent_code", label: "上级代码", width: 130 },
    ],
    fields: [
      { key: "code", label: "代码", required: true, createOnly: true }, { key: "name", label: "名称", required: true },
      { key: "level", label: "级别", kind: "select", options: REGION_LEVELS }, { key: "parent_code", label: "上级代码" },
    ],
  },
};

export const LIST_ORDER: ListKey[] = ["items", "targets", "inspectors", "experts", "departments", "regions"];

export function isListKey(v: unknown): v is ListKey {
  return typeof v === "string" && v in LISTS;
}

export function mayEdit(spec: ListSpec, role: string | null | undefined): boolean {
  return !!role && spec.editRoles.includes(role);
}

/** Split a tag text as the server does (，,；;、 and spaces), trimmed, unique, in order. */
export function splitTags(text: string): string[] {
  const out: string[] = [];
  for (const t of text.split(/[，,；;、\s]+/)) if (t && !out.includes(t)) out.push(t);
  return out;
}

/** The form's values from a row (tags as text, arrays as arrays, nothing as ""). */
export function formOf(spec: ListSpec, row: Row | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of spec.fields) {
    const v = row ? row[f.key] : undefined;
    if (f.kind === "tags") out[f.key] = Array.isArray(v) ? v.join("、") : v ?? "";
    else if (f.kind === "multi") out[f.key] = Array.isArray(v) ? [...v] : [];
    else out[f.key] = v ?? "";
  }
  return out;
}

/** The request body: on create every filled field; on edit only what changed. Empty text → null (cleared). */
export function bodyOf(spec: ListSpec, form: Record<string, unknown>, row: Row | null): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const before = row ? formOf(spec, row) : null;
  for (const f of spec.fields) {
    if (row && f.createOnly) continue;
    const v = form[f.key];
    if (before && JSON.stringify(before[f.key]) === JSON.stringify(v)) continue;
    let out: unknown;
    if (f.kind === "tags") out = splitTags(String(v ?? ""));
    else if (f.kind === "multi") out = Array.isArray(v) ? v : [];
    else if (f.kind === "number") out = v === "" || v == null ? null : Number(v);
    else out = typeof v === "string" ? (v.trim() === "" ? null : v.trim()) : v;
    if (!row && (out === null || (Array.isArray(out) && out.length === 0 && !f.required))) continue;
    body[f.key] = out;
  }
  return body;
}

/** The path of one row: regions by their code, the others by id. */
export function rowPath(spec: ListSpec, row: Row): string {
  return `${spec.api}/${encodeURIComponent(String(row[spec.idKey]))}`;
}
