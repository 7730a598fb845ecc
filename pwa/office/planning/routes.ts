// The planners' screens and the draw ceremony (issue 13 §2, §3): plans, tasks with their preview and 会审, the
// 会审 inbox, the ceremony for a projector. router.ts takes these routes as they are.
import type { RouteRecordRaw } from "vue-router";

export const planningRoutes: RouteRecordRaw[] = [
  { path: "/plans", name: "plans", component: () => import("./PlansView.vue"), meta: { title: "年度抽查计划" } },
  { path: "/plans/:id(\\d+)", name: "plan", component: () => import("./PlanView.vue"), meta: { title: "计划详情" } },
  { path: "/tasks", name: "tasks", component: () => import("./TasksView.vue"), meta: { title: "抽查任务" } },
  { path: "/tasks/:id(\\d+)", name: "task", component: () => import("./TaskView.vue"), meta: { title: "任务详情" } },
  { path: "/tasks/:id(\\d+)/ceremony", name: "ceremony", component: () => import("../draws/CeremonyView.vue"), meta: { title: "摇号现场" } },
  { path: "/consult", name: "consult", component: () => import("./ConsultView.vue"), meta: { title: "会审待办" } },
];
