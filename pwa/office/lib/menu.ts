// The office's side menu by role (docs/api.md "Every endpoint" says who may call what; a menu entry
// appears only for the roles its screens' endpoints admit).
export type RoleCode = "sysadmin" | "dept_admin" | "planner" | "inspector" | "supervisor" | "publisher";

export interface MenuEntry { path: string; title: string; roles: readonly RoleCode[] }
export interface MenuGroup { key: string; title: string; entries: MenuEntry[] }

const ADMINS = ["sysadmin", "dept_admin"] as const;
const STAFF = ["sysadmin", "dept_admin", "planner", "supervisor"] as const;

export const MENU: MenuGroup[] = [
  {
    key: "lists", title: "名录与账号", entries: [
      { path: "/lists/targets", title: "名录库（一单两库）", roles: STAFF },
      { path: "/accounts", title: "账号", roles: ADMINS },
      { path: "/offline-imports", title: "导入离线记录", roles: ADMINS },
      { path: "/calendar", title: "工作日历", roles: ADMINS },
      { path: "/audit", title: "审计日志", roles: ["sysadmin", "dept_admin", "supervisor"] },
    ],
  },
  {
    key: "plans", title: "计划与任务", entries: [
      { path: "/plans", title: "年度抽查计划", roles: ["sysadmin", "dept_admin", "planner", "supervisor"] },
      { path: "/tasks", title: "抽查任务", roles: ["sysadmin", "dept_admin", "planner", "supervisor"] },
      { path: "/consult", title: "会审待办", roles: ["sysadmin", "dept_admin", "planner"] },
    ],
  },
  {
    key: "publication", title: "公示", entries: [
      { path: "/publication", title: "待公示记录", roles: ["dept_admin", "publisher"] },
    ],
  },
  {
    key: "figures", title: "统计", entries: [
      { path: "/figures", title: "统计指标", roles: ["sysadmin", "supervisor", "dept_admin"] },
      { path: "/followups", title: "后续处置台帐", roles: ["sysadmin", "supervisor", "dept_admin"] },
    ],
  },
  {
    key: "jobs", title: "我的任务", entries: [
      { path: "/jobs", title: "后台作业", roles: ["sysadmin", "dept_admin", "planner", "inspector", "supervisor", "publisher"] },
    ],
  },
];

/** The menu one role sees: groups with at least one entry it may open, in order. */
export function menuFor(role: string | null | undefined): MenuGroup[] {
  if (!role) return [];
  return MENU.map((g) => ({ ...g, entries: g.entries.filter((e) => (e.roles as readonly string[]).includes(role)) }))
    .filter((g) => g.entries.length > 0);
}

/** The first screen a role lands on after logging in. */
export function homeFor(role: string | null | undefined): string {
  const groups = menuFor(role);
  return groups.length ? groups[0].entries[0].path : "/jobs";
}

/** Whether ``role`` may open ``path`` (the menu entry it falls under). */
export function mayOpen(role: string | null | undefined, path: string): boolean {
  for (const g of MENU) {
    for (const e of g.entries) {
      if (path === e.path || path.startsWith(`${e.path}/`)) return !!role && (e.roles as readonly string[]).includes(role);
    }
  }
  return true;
}
