// Shared by the unit tests: an empty store before each test, and a small pulled inspection.
import type { InspectionDoc } from "../src/api/types";
import { db } from "../src/lib/db";

export async function emptyStore(): Promise<void> {
  await db.open();
  await Promise.all(db.tables.map((t) => t.clear()));
  localStorage.clear();
}

export function inspection(id = 7, departmentId = 3, content: Record<string, unknown> = {}): InspectionDoc {
  return {
    id, status: "in_progress", status_label: "检查中", task_id: 1, stratum: "all", position: 1, started_at: null,
    completed_at: null, target: { id: 1, code: "T1", name: "某某商店", location: null } as never,
    group: { id: 1, number: 1, members: [{ inspector_id: 1, name: "王五", cert_no: "X1", department_id: departmentId,
      department_code: "SAMR", department_name: "市场监管局", is_lead: true, user_id: 1 }] },
    me: { inspector_id: 1, department_id: departmentId, is_lead: true },
    sections: [{ department_id: departmentId, department_code: "SAMR", status: "open", status_label: "填写中", rev: 1,
      content: content as never, revs: {}, content_hash: "", signed_hash: null, server_times: {}, updated_at: null }],
    signatures: [], record: null, conflicts: [], flags: [], deadline: null,
  };
}
