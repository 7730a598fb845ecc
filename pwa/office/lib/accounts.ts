// Accounts (GET/POST/PATCH /api/v1/users …): the roles in words, and who may give which role.
import type { Option } from "./lists";

export const ROLES: Option[] = [
  { value: "sysadmin", label: "系统管理员" }, { value: "dept_admin", label: "部门管理员" },
  { value: "planner", label: "计划编制人员" }, { value: "inspector", label: "执法检查人员" },
  { value: "supervisor", label: "监督人员" }, { value: "publisher", label: "公示审核人员" },
];
export const USER_STATUSES: Option[] = [{ value: "active", label: "正常" }, { value: "frozen", label: "已冻结" }];

/** The roles an admin may give: a system administrator any; a department administrator those of a department. */
export function grantable(role: string | null | undefined): Option[] {
  if (role === "sysadmin") return ROLES;
  if (role === "dept_admin") return ROLES.filter((r) => r.value !== "sysadmin" && r.value !== "supervisor");
  return [];
}

/** A new password's plain problems before the server's own rules (which have the last word). */
export function passwordProblem(pw: string, again: string): string {
  if (pw.length < 8) return "密码至少 8 位";
  if (pw !== again) return "两次输入的密码不一致";
  return "";
}
