// Background jobs (backend/jobs, docs/api.md "Import and export"): imports, exports, the PDF record. A job is
// followed by polling GET /api/v1/jobs/<id>; the server keeps it, so a screen left is found again under
// 后台作业 (GET /api/v1/jobs lists the caller's own).
import type { components } from "../../src/api/openapi";

export type JobStatus = "queued" | "running" | "retrying" | "done" | "failed";
export type Job = Omit<components["schemas"]["JobOut"], "id" | "name" | "status" | "status_label" | "progress_percent"> & {
  id: string; name: string; status: JobStatus; status_label?: string; progress_percent?: number | null;
};

export const JOB_TITLES: Record<string, string> = {
  "directory.import": "名录导入",
  "directory.export": "名录导出",
  "inspections.render_pdf": "检查记录表 PDF",
  "jobs.selfcheck": "自检作业",
  "export.file": "清单导出",
  "figures.report": "季度通报 PDF",
  "publication.export": "国家公示系统导出",
  "publication.render_notice": "检查结果告知书",
};

export const STATUS_LABELS: Record<string, string> = {
  queued: "排队中", running: "进行中", retrying: "等待重试", done: "已完成", failed: "失败",
};

export function jobTitle(job: Pick<Job, "name" | "result">): string {
  const base = JOB_TITLES[job.name] || job.name;
  const r = (job.result || {}) as { list_title?: string; dry_run?: boolean };
  if (job.name === "directory.import") return `${r.list_title || "名录"}${r.dry_run ? "校验（试导入）" : "导入"}`;
  if (job.name === "directory.export" && r.list_title) return `${r.list_title}导出`;
  return base;
}

export function finished(job: Pick<Job, "status">): boolean {
  return job.status === "done" || job.status === "failed";
}

/** 0–100 for the bar: the server's percent, else done/total, else nothing known yet (0). */
export function percent(job: Pick<Job, "status" | "progress_percent" | "progress_done" | "progress_total">): number {
  if (job.status === "done") return 100;
  if (typeof job.progress_percent === "number") return Math.max(0, Math.min(100, Math.round(job.progress_percent)));
  if (job.progress_total && job.progress_total > 0) return Math.max(0, Math.min(100, Math.round((100 * (job.progress_done || 0)) / job.progress_total)));
  return 0;
}

/** How long to wait before asking again: quick at first, then every 2 s (a long import is not hammered). */
export function pollDelay(polls: number): number {
  return polls < 5 ? 400 : polls < 20 ? 1000 : 2000;
}

/** The bad rows of a failed import (`result.errors`: `{row, message, problems: [{column, reason}]}`). */
export interface BadRow { row: number | null; message: string; problems: { column: string | null; reason: string }[] }
export function badRows(job: Pick<Job, "result">): BadRow[] {
  const errors = ((job.result || {}) as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return [];
  return errors.map((e) => {
    const o = (e || {}) as Record<string, unknown>;
    const problems = Array.isArray(o.problems)
      ? o.problems.map((p) => { const q = (p || {}) as Record<string, unknown>; return { column: typeof q.column === "string" ? q.column : null, reason: String(q.reason ?? "") }; })
      : [];
    return { row: typeof o.row === "number" ? o.row : null, message: typeof o.message === "string" ? o.message : problems.map((p) => p.reason).join("；"), problems };
  });
}
