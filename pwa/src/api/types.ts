// Wire types. The protocol envelopes come from schemas/openapi.json (`npm run types` →
// openapi.d.ts); the documents a pull carries are free-form there (`data: Raw`), so their shape is
// written here from docs/sync.md §4.1–4.2.
import type { components } from "./openapi";

type S = components["schemas"];
export type TokenOut = Required<S["TokenOut"]>;
export type UserOut = S["UserOut"];
export type PushIn = S["PushIn"];
export type PushOut = S["PushOut"];
export type PullOut = S["PullOut"];
export type MutationResult = S["MutationResultOut"] & { conflicts?: { path: string; server_rev: number }[] };
export type ErrorBody = S["Error"] & { details?: Record<string, unknown> };

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type Content = Record<string, Json>;

export interface CheckPoint {
  id: number; seq: number; text: string; answer_type: string;
  options: string[] | null; required: boolean; guidance: string | null;
}
export interface TaskItem {
  id: number; code: string; category: string; name: string; kind: string;
  methods: { code: string; label: string }[]; legal_basis: string | null; check_points: CheckPoint[];
}
export interface TaskDoc {
  id: number; code: string; name: string; status: string; start_date: string | null; end_date: string | null;
  draw_date: string | null; lead_department_id: number; verify_url: string;
  departments: { id: number; code: string; name: string; role: string; items: TaskItem[] }[];
}
export interface Member {
  inspector_id: number; name: string; cert_no: string; department_id: number; department_code: string;
  department_name: string; is_lead: boolean; user_id: number | null;
}
export interface SectionDoc {
  department_id: number; department_code: string; status: "open" | "signed"; status_label: string; rev: number;
  content: Content; revs: Record<string, number>; content_hash: string; signed_hash: string | null;
  server_times: Record<string, { first_at: string | null; updated_at: string | null }>; updated_at: string | null;
}
export interface SignatureDoc {
  id: string; scope: "section" | "record"; department_id: number | null; role: string;
  signer_user_id: number | null; signer_inspector_id: number | null; signer_name: string;
  signer_cert_no: string | null; content_hash: string; image_sha256: string | null; via: string;
  device_time: string | null; server_time: string | null; void: boolean; void_reason: string | null;
}
export interface RecordDoc {
  state: "draft" | "signing" | "submitted"; state_label: string; rev: number; version: number; content: Content;
  revs: Record<string, number>; content_hash: string | null; submitted_at: string | null; pdf_sha256: string | null;
}
export interface ConflictDoc {
  id: number; scope: "section" | "record"; department_id: number | null; path: string; base_rev: number;
  server_value: Json; server_rev: number; client_value: Json; client_user_id: number | null;
  device_time: string | null; created_at: string | null; status: "open" | "resolved"; choice: string | null;
  resolved_at: string | null;
}
export interface FlagDoc {
  id: number; department_id: number | null; path: string; code: string; message: string;
  detail: Json; rev: number | null; current?: boolean; created_at: string | null;
}
export interface TargetCard {
  id: number; code: string; name: string; uscc: string | null; reg_no: string | null; type: string;
  type_label: string; address: string | null; region_code: string | null;
  location: { lat: number; lon: number; datum: string } | null;
  contact: { legal_rep: string | null; phone: string | null }; risk_class: string | null; risk_label: string;
  status: string;
  recent_results: { task_code: string; task_name: string; completed_on: string | null; result_categories: string[]; labels: string[] }[];
}
export interface InspectionDoc {
  id: number; status: "assigned" | "in_progress" | "completed"; status_label: string; task_id: number;
  stratum: string; position: number; started_at: string | null; completed_at: string | null;
  target: TargetCard; group: { id: number; number: number; members: Member[] };
  me: { inspector_id: number; department_id: number; is_lead: boolean } | null;
  sections: SectionDoc[]; signatures: SignatureDoc[]; record: RecordDoc | null; conflicts: ConflictDoc[];
  flags: FlagDoc[];
  deadline: { completed_on: string; due_on: string; provisional: boolean;
              provisional_periods?: { from: string; to: string; year: number; holiday: string | null; label: string }[];
              state: string; state_label: string } | null;
  /** a re-inspection (复查) of a follow-up (docs/sync.md §5.5); null for an inspection drawn */
  reinspection?: { followup_id: number; inspection_id: number; department_id: number; completed_on: string | null;
                   due_on: string | null; note: string | null; state: string;
                   problems: { check_point_id: number; problem: string | null }[] } | null;
}
export interface Change {
  type: "task" | "inspection"; id: number; op: "put" | "del";
  data?: TaskDoc | InspectionDoc; reason_code?: string; reason?: string;
}
