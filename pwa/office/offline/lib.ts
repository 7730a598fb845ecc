// 导入离线记录: the words and choices of the screen that imports a phone's exported outbox (docs/api.md, "An
// exported outbox, imported in the office"). Pure functions, tested in test/office-offline.test.ts.
import type { components } from "../../src/api/openapi";
import { fmtTime } from "../lib/format";

type S = components["schemas"];
export type OutboxImport = S["OutboxImportOut"];
export type OutboxImportRow = S["OutboxImportRowOut"];
export type Preview = S["ImportPreviewOut"];
export type Outcome = S["ImportOutcomeOut"];
export type Summary = S["ImportSummaryOut"];

export const IMPORTS_PATH = "/api/sync/imports";
export const ACCEPT = ".json,application/json";

/** One mutation's answer in words: 已采用 / 部分采用（冲突） / 被拒 / 此前已收到. */
export function outcomeLabel(o: Pick<Outcome, "status" | "replayed">): string {
  if (o.replayed) return "此前已收到";
  if (o.status === "applied") return "已采用";
  if (o.status === "conflict") return "部分采用（冲突）";
  if (o.status === "rejected") return "被拒";
  return String(o.status ?? "");
}

/** The tag colour of an outcome (Element Plus tag types). */
export function outcomeTone(o: Pick<Outcome, "status" | "replayed">): "success" | "info" | "warning" | "danger" {
  if (o.replayed) return "info";
  return o.status === "applied" ? "success" : o.status === "conflict" ? "warning" : "danger";
}

const MUTATION_NAMES: Record<string, string> = {
  "section.set": "填写检查内容", "section.sign": "部门内容签名", "section.unsign": "撤回部门内容签名",
  "record.set": "填写检查记录", "conflict.resolve": "处理冲突", "conflict.resolve_many": "处理冲突",
  "record.finalize": "汇总定稿", "record.reopen": "退回修改", "record.sign": "签名",
  "record.representative": "被检查人签名", "record.refusal": "被检查人拒签", "record.submit": "提交检查记录",
};

export function mutationLabel(name: string | null | undefined): string {
  if (!name) return "—";
  return MUTATION_NAMES[name] ? `${MUTATION_NAMES[name]}（${name}）` : name;
}

/** The counts of a result as one sentence. */
export function summaryText(s: Summary | null | undefined): string {
  if (!s) return "—";
  return `新采用 ${s.applied ?? 0} 条，冲突 ${s.conflict ?? 0} 条，被拒 ${s.rejected ?? 0} 条，此前已收到 ${s.replayed ?? 0} 条`;
}

/** The device as a person knows it: its label (the phone's 设备名称), else the officer's phone. Never its id. */
export function deviceName(p: Pick<Preview, "device" | "officer">): string {
  const label = p.device?.label?.trim();
  if (label) return label;
  return p.officer?.display_name ? `${p.officer.display_name}的手机` : "未命名的设备";
}

/** One line of the preview; `title`: what a tooltip adds (the device's id, for the support desk). */
export interface PreviewLine { key: string; text: string; title?: string }

function deviceLine(p: Preview): string {
  const named = Boolean(p.device?.label?.trim());
  const facts = [named ? p.officer?.display_name : "", p.exported_at ? `${fmtTime(p.exported_at)} 导出` : ""]
    .filter(Boolean).join("，");
  const state = p.device
    ? `，${p.device.last_mutation_id ? `服务器已收到第 ${p.device.last_mutation_id} 条为止` : "服务器尚未收到它的变更"}${p.device.retired_at ? "，已停用" : ""}`
    : "，服务器上还没有这台设备";
  return `设备：${deviceName(p)}${facts ? `（${facts}）` : ""}${state}`;
}

/** What the preview says, line by line, for the admin to read before confirming. */
export function previewLines(p: Preview): PreviewLine[] {
  const officer = p.officer;
  const lines: PreviewLine[] = [
    { key: "officer", text: `账号：${officer?.display_name ?? ""}（${officer?.username ?? ""}）${officer?.department_name ? `，${officer.department_name}` : ""}` },
    { key: "device", text: deviceLine(p), title: `设备编号：${p.client_id}` },
    { key: "mutations", text: `变更：共 ${p.mutations} 条${p.mutations ? `（第 ${p.first_id}–${p.last_id} 条）` : ""}；服务器已收到 ${p.already_received} 条（不会重复采用），将送达 ${p.to_deliver} 条` },
    { key: "photos", text: `照片：${p.photos} 张${p.photos_on_server ? `，其中 ${p.photos_on_server} 张服务器上已有` : ""}${p.photos_without_data ? `，${p.photos_without_data} 张导出时没有内容` : ""}` },
  ];
  if (p.unverifiable_signatures) {
    lines.push({ key: "signatures", text: `代签：${p.unverifiable_signatures} 个代签在导出时删去了密码，无法核验，将被拒（请代签人在手机上重新签名）` });
  }
  return lines;
}

/** The gap, in words, or "" when the ids follow on. */
export function gapText(p: Preview | null | undefined): string {
  const g = p?.gap;
  if (!g || !g.lost) return "";
  const [first, last] = g.lost;
  const span = first === last ? `第 ${first} 条` : `第 ${first}–${last} 条`;
  return `变更编号有缺口：${span}不在文件中（手机上已丢失）。补上缺口将先停用这台设备，再把其后 ${g.after} 条按服务器期待的编号送达；丢失的记录无法恢复。`;
}

/** Whether the confirm button may be pressed: a gap needs its own tick first. */
export function mayConfirm(p: Preview | null | undefined, closeGap: boolean): boolean {
  if (!p) return false;
  return !p.gap || closeGap;
}

/** The body of the confirmation. */
export function confirmBody(p: Preview, closeGap: boolean): { close_gap: boolean } {
  return { close_gap: Boolean(p.gap) && closeGap };
}

export type Phase = "pick" | "previewed" | "done";

/** The status's tag colour in the list. */
export function statusTone(status: string | undefined): "success" | "info" | "warning" | "danger" {
  switch (status) {
    case "imported": return "success";
    case "previewed": case "importing": return "warning";
    case "stopped": case "failed": case "interrupted": return "danger";
    default: return "info";
  }
}

/** A file's size in words. */
export function sizeText(bytes: number | null | undefined): string {
  const n = bytes ?? 0;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} 字节`;
}

/** The mutations a stopped import did not reach. */
export function notReached(result: OutboxImport["result"]): number {
  if (!result) return 0;
  return Math.max(0, (result.mutations ?? 0) - (result.outcomes?.length ?? 0));
}

/** What an interrupted import (its process died mid-import) means, and what confirming it again does. */
export const INTERRUPTED_TEXT = "导入进行中服务器进程中断（5 分钟没有进展）：已送达的记录保留。可重新确认导入：从头续完，"
  + "已送达的答为“此前已收到”，不会重复采用；正在补上的缺口按同样的新编号补上。";
