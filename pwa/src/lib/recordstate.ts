// Each record's place on the way to the server, and every change the officer made, told in plain
// words (never a mutation's code name or its number in the outbox).
import type { ConflictDoc, InspectionDoc, Json, TaskDoc } from "../api/types";
import type { Mutation, PhotoMeta, ResultRow } from "./db";
import { getKV, setKV } from "./db";

// "sent" is gone on purpose: a mutation the phone tried to send but the server did not answer for may
// never have left the phone. What the server has not answered for is on the phone, and says so.
export type RecordState = "saved" | "verifying" | "confirmed" | "refused" | "none";
export const STATE_LABELS: Record<RecordState, string> = {
  saved: "在手机上，未发送", verifying: "待服务器核验", confirmed: "服务器已确认", refused: "被拒绝", none: "与服务器一致",
};

/** A signature made on the lead's phone for another officer: who, and whether the server has checked the password yet. */
export interface Cosigner { name: string; inspector_id: number | null; verified: boolean }
export type Cosigners = Record<string, Cosigner>;

export async function cosigners(): Promise<Cosigners> {
  return getKV<Cosigners>("cosigners", {});
}

/** Kept by the signature's id (args.signature_id), written before the signature enters the outbox. */
export async function rememberCosigner(signatureId: string, who: Cosigner): Promise<void> {
  const all = await cosigners();
  all[signatureId] = who;
  await setKV("cosigners", all);
}

export function cosignerOf(m: Pick<Mutation, "args">, known: Cosigners): Cosigner | null {
  return m.args.signer ? known[String(m.args.signature_id)] || null : null;
}

/** A co-signature waiting in the outbox whose password the server has not checked yet. */
export function awaitsCheck(m: Pick<Mutation, "args">, known: Cosigners): boolean {
  return !!m.args.signer && !cosignerOf(m, known)?.verified;
}

export function recordState(inspectionId: number, outbox: Mutation[], results: ResultRow[], photos: PhotoMeta[],
                            known: Cosigners = {}): RecordState {
  if (results.some((r) => r.inspection_id === inspectionId && r.status === "rejected" && !r.seen)) return "refused";
  const mine = outbox.filter((m) => m.inspection_id === inspectionId);
  if (mine.some((m) => awaitsCheck(m, known))) return "verifying";
  if (mine.length || photos.some((p) => p.inspection_id === inspectionId && !p.uploaded)) return "saved";
  if (results.some((r) => r.inspection_id === inspectionId)) return "confirmed";
  return "none";
}

// --- what a change is, in words -----------------------------------------------------------------

const POINT_FIELDS: Record<string, string> = {
  result: "结果", problem: "发现的问题", handling: "处置情况", note: "备注", photos: "照片", value: "填写的内容", gps: "定位",
  checked: "是否检查", device_time: "填写时间", attachments: "附件",
};
const ITEM_FIELDS: Record<string, string> = { method: "检查方式", evidence: "检查依据的材料" };
const TOP_FIELDS: Record<string, string> = {
  arrived_at: "到达时间", departed_at: "离开时间", officers: "到场检查人员", representative: "被检查对象代表",
  outcome: "无法检查的情形", result_categories: "检查结果", followups: "后续处置", not_public: "不适合公开", opinion: "汇总意见",
  note: "备注",
};

/** A field's name for people: ``points.88.result`` → 第 3 项检查内容的结果. */
export function pathLabel(path: string, task?: TaskDoc | null): string {
  const parts = path.split(".");
  if (parts[0] === "points" && parts.length >= 3) {
    const cp = Number(parts[1]);
    const point = task?.departments.flatMap((d) => d.items.flatMap((i) => i.check_points)).find((p) => p.id === cp);
    const where = point ? `第 ${point.seq} 项检查内容“${point.text.slice(0, 16)}${point.text.length > 16 ? "…" : ""}”` : "一项检查内容";
    return `${where}的${POINT_FIELDS[parts[2]] || "内容"}`;
  }
  if (parts[0] === "items" && parts.length >= 3) {
    const item = task?.departments.flatMap((d) => d.items).find((i) => i.id === Number(parts[1]));
    return `${item ? `事项“${item.name}”` : "一个事项"}的${ITEM_FIELDS[parts[2]] || "内容"}`;
  }
  return TOP_FIELDS[path] || "一项内容";
}

export interface Context {
  doc?: InspectionDoc | null;
  task?: TaskDoc | null;
  cosigner?: Cosigner | null;
  me?: string | null;          // the phone's officer
}

function deptName(ctx: Context, id: Json | undefined): string {
  const m = ctx.doc?.group.members.find((x) => x.department_id === id);
  return m?.department_name || "本部门";
}

function fieldList(ctx: Context, fields: Json | undefined): string {
  const paths = Object.keys((fields as Record<string, Json>) || {});
  const names = [...new Set(paths.map((p) => pathLabel(p, ctx.task)))];
  if (!names.length) return "";
  return names.length > 3 ? `${names.slice(0, 3).join("、")}等 ${names.length} 项` : names.join("、");
}

/** What a mutation was, in words: "张三在组长手机上的会签", "市场监管局检查内容的修改（…）". */
export function describeMutation(m: Pick<Mutation, "name" | "args">, ctx: Context = {}): string {
  const a = m.args;
  const signer = a.signer as { username?: string; name?: string } | undefined;
  const who = signer ? `${ctx.cosigner?.name || signer.name || signer.username || "其他组员"}在组长手机上` : ctx.me || "本人";
  switch (m.name) {
    case "section.set": {
      const f = fieldList(ctx, a.fields);
      return `${deptName(ctx, a.department_id)}检查内容的修改${f ? `（${f}）` : ""}`;
    }
    case "section.sign": return `${who}对${deptName(ctx, a.department_id)}检查内容的签名`;
    case "section.unsign": return `撤回${deptName(ctx, a.department_id)}检查内容的签名`;
    case "record.set": {
      const f = fieldList(ctx, a.fields);
      return `组长汇总记录的修改${f ? `（${f}）` : ""}`;
    }
    case "record.finalize": return "组长汇总记录定稿";
    case "record.sign": return `${who}的会签`;
    case "record.representative": return "被检查对象代表的签名";
    case "record.refusal": return "代表拒签及见证人记录";
    case "record.reopen": return "退回修改汇总记录";
    case "record.submit": return "提交检查记录";
    case "conflict.resolve": {
      const c = ctx.doc?.conflicts.find((x) => x.id === a.conflict_id);
      return `处理冲突${c ? `（${pathLabel(c.path, ctx.task)}）` : ""}`;
    }
    case "conflict.resolve_many": {
      const n = Array.isArray(a.conflict_ids) ? a.conflict_ids.length : null;
      const how = a.choice === "client" ? "采用手机提交的值" : "保留服务器上的值";
      return `一次处理${n ? ` ${n} 处` : "全部"}冲突（${how}）`;
    }
    default: return "一项修改";
  }
}

// why the server refused, short, and what to do, for the officer
const REASONS: Record<string, string> = {
  "signature.signer_invalid": "账号或密码不对",
  "signature.content_changed": "签名前内容已被修改",
  "signature.duplicate": "已经签过名",
  "signature.empty": "签名是空的",
  "signature.not_participant": "签名人不在本检查组",
  "section.signed": "本部门内容已签名，不能再改",
  "section.incomplete": "内容不完整",
  "section.conflicts_open": "还有冲突未处理",
  "section.other_department": "不是本部门的内容",
  "record.lead_only": "只有组长可以做这一步",
  "record.signing": "汇总记录已定稿待会签",
  "record.submitted": "检查记录已提交",
  "record.incomplete": "汇总记录不完整",
  "record.unsigned": "还有人员未签名",
  "record.media_missing": "有照片尚未上传",
  "record.conflicts_open": "还有冲突未处理",
  "record.content_changed": "定稿前内容已被修改",
  "inspection.completed": "该检查已提交，不能再改",
  "inspection.gone": "该检查已被替换或重新抽取",
  "inspection.not_found": "服务器上没有这项检查",
  "sync.not_participant": "你已不在该检查组",
  "sync.recused": "你已对该检查对象回避",
  "auth.too_many_attempts": "密码错误次数太多，暂时锁定",
  "validation_error": "有内容不合规定",
  "conflict.limit": "这户检查待组长处理的冲突太多",
  "conflict.not_found": "冲突已不存在",
  "conflict.resolved": "冲突已经处理过",
  "section.empty": "本部门还没有填写任何内容",
  "section.not_signed": "本部门内容尚未签名",
  "signature.duplicate_id": "这个签名已经发送过",
  "record.no_representative": "汇总记录中没有被检查对象代表的姓名",
  "sync.unknown_mutation": "服务器不认识这种修改（本应用版本过旧）",
  "sync.server_error": "服务器处理时出错",
};
const WHAT_TO_DO: Record<string, string> = {
  "signature.signer_invalid": "请本人重新签",
  "signature.content_changed": "请同步后核对内容，再签一次",
  "signature.duplicate": "无需再签",
  "signature.empty": "请重新手写签名",
  "signature.not_participant": "只能由本组人员签名",
  "section.signed": "如确需修改，请组长撤回签名后重新填写",
  "section.incomplete": "按提示补全后重新签名",
  "section.conflicts_open": "等组长处理冲突后再签名",
  "section.other_department": "只能填写本部门的检查内容",
  "record.lead_only": "请组长在自己的手机上操作",
  "record.signing": "如需修改，请组长先退回修改",
  "record.submitted": "无需再改",
  "record.incomplete": "按提示补全汇总记录后再定稿",
  "record.unsigned": "请未签名的人员签名后再提交",
  "record.media_missing": "请在网络良好时同步，照片上传后再提交",
  "record.conflicts_open": "先处理冲突，再定稿",
  "record.content_changed": "请同步后核对，再定稿",
  "inspection.completed": "如有错误请联系组长",
  "inspection.gone": "记录可导出交给组长",
  "inspection.not_found": "请同步后再看",
  "sync.not_participant": "如有疑问请联系组长",
  "sync.recused": "这户由本部门其他检查人员继续检查；已填写的内容可导出交给组长",
  "auth.too_many_attempts": "请稍后由本人重新签",
  "validation_error": "请按提示修改后重新保存",
  "conflict.limit": "内容仍保存在手机上：请组长先处理冲突，然后点“重新发送”",
  "conflict.not_found": "无需再处理",
  "conflict.resolved": "无需再处理",
  "section.empty": "填写检查内容后再签名",
  "section.not_signed": "无需撤回",
  "signature.duplicate_id": "无需再签",
  "record.no_representative": "先在汇总记录中填写代表姓名，再请代表签名",
  "sync.unknown_mutation": "请刷新或更新本应用后重新操作；内容可导出交给组长",
  "sync.server_error": "服务器已记录该错误：请稍后点“重新发送”，仍不行请联系系统管理员",
};

/** Refusals whose change may simply be sent again as a new one once the cause is gone (docs/sync.md §6). */
export const RESENDABLE = new Set(["conflict.limit", "sync.server_error"]);

export function refusalReason(code: string | undefined, message?: string | null, details?: unknown): string {
  const why = (details as { reason?: unknown } | null | undefined)?.reason;
  if (code === "sync.recused" && typeof why === "string" && why) return `${REASONS[code]}（${why}）`;
  const wait = Number((details as { retry_after?: unknown } | null | undefined)?.retry_after);
  if (code === "auth.too_many_attempts" && wait > 0) return `${REASONS[code]}（约 ${Math.ceil(wait / 60)} 分钟后可再试）`;
  return (code && REASONS[code]) || message || "服务器未说明原因";
}

export function whatToDo(code: string | undefined): string {
  return (code && WHAT_TO_DO[code]) || "请按上面的说明处理，或联系组长、系统管理员";
}

/** A refused change, whole: "张三在组长手机上的会签（被拒绝：账号或密码不对）— 请本人重新签". */
export function describeRefusal(row: Pick<ResultRow, "name" | "mutation" | "result">, ctx: Context = {}): string {
  const what = describeMutation(row.mutation, ctx);
  return `${what}（被拒绝：${refusalReason(row.result.code, row.result.message, row.result.details)}）— ${whatToDo(row.result.code)}`;
}

// --- what else the server's answers say, in words ---------------------------------------------------

/**
 * Changes whose time the server did not believe (``device_time_ignored``: before 2000, or more than a day
 * ahead of the server's clock, docs/sync.md §3): the phone's clock is wrong. One sentence, or "" when none.
 */
export function clockWarning(results: Pick<ResultRow, "result" | "mutation">[]): string {
  const off = results.filter((r) => r.result?.device_time_ignored === true);
  if (!off.length) return "";
  const times = [...new Set(off.map((r) => r.mutation?.device_time).filter(Boolean))].slice(0, 2).join("、");
  return `手机时钟不准：有 ${off.length} 条记录带的时间${times ? `（如 ${times}）` : ""}服务器没有采用，按服务器收到的时间记录。` +
    "请在手机设置里打开“自动设置日期和时间”";
}

export const TOMBSTONE_LABELS: Record<string, string> = {
  replaced: "检查对象已替换", superseded: "任务已重新抽取", recused: "已回避", not_member: "已不在检查组",
};

/** Why an inspection left this phone, in words: "某某商店：已回避 — 你已申报…". */
export function describeTombstone(t: { name?: string; reason_code: string; reason: string }): string {
  const label = TOMBSTONE_LABELS[t.reason_code] || "已移出";
  return `${t.name || "一户检查"}：${label}${t.reason ? ` — ${t.reason}` : ""}`;
}

/** The inspection's open conflicts that no decision waiting in the outbox covers (one by one, or many at once). */
export function undecidedConflicts(doc: Pick<InspectionDoc, "conflicts"> | null | undefined,
                                   outbox: Pick<Mutation, "name" | "args">[]): ConflictDoc[] {
  return (doc?.conflicts || []).filter((x) => x.status === "open"
    && !outbox.some((m) => (m.name === "conflict.resolve" && m.args.conflict_id === x.id)
      || (m.name === "conflict.resolve_many" && (Array.isArray(m.args.conflict_ids)
        ? m.args.conflict_ids.includes(x.id)
        : m.args.department_id === undefined || m.args.department_id === null || m.args.department_id === x.department_id))));
}
