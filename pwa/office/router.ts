import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
import { session } from "./lib/session";
import { homeFor, mayOpen } from "./lib/menu";
import { planningRoutes } from "./planning/routes";
import { publicationRoutes } from "./publication/routes";
import { figuresRoutes } from "./figures/routes";
import { offlineRoutes } from "./offline/routes";

// Screens are loaded when opened (each page loads only what it uses). Other helpers add their domains' routes here.
export const routes: RouteRecordRaw[] = [
  { path: "/login", name: "login", component: () => import("./views/LoginView.vue"), meta: { title: "登录", public: true } },
  { path: "/", name: "home", redirect: () => (session.user ? homeFor(session.user.role) : "/login") },
  { path: "/jobs", name: "jobs", component: () => import("./views/JobsView.vue"), meta: { title: "后台作业" } },
  { path: "/jobs/:id", name: "job", component: () => import("./views/JobView.vue"), meta: { title: "作业详情" } },
  { path: "/lists", redirect: "/lists/targets" },
  { path: "/lists/:list", name: "lists", component: () => import("./views/ListsView.vue"), meta: { title: "名录库" } },
  { path: "/accounts", name: "accounts", component: () => import("./views/AccountsView.vue"), meta: { title: "账号" } },
  { path: "/calendar", name: "calendar", component: () => import("./views/CalendarView.vue"), meta: { title: "工作日历" } },
  { path: "/audit", name: "audit", component: () => import("./views/AuditView.vue"), meta: { title: "审计日志" } },
  ...planningRoutes,
  ...publicationRoutes,
  ...figuresRoutes,
  ...offlineRoutes,
  { path: "/forbidden", name: "forbidden", component: () => import("./views/ForbiddenView.vue"), meta: { title: "无权访问" } },
  { path: "/:rest(.*)*", redirect: "/" },
];

export const router = createRouter({ history: createWebHistory("/office/"), routes });

router.beforeEach((to) => {
  if (!to.meta.public && !session.user) return { name: "login", query: to.fullPath !== "/" ? { next: to.fullPath } : {} };
  if (to.name === "login" && session.user) return homeFor(session.user.role);
  if (session.user && !to.meta.public && !mayOpen(session.user.role, to.path)) return { name: "forbidden" };
  return true;
});

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title as string} · 业务办公` : "业务办公 · 双随机、一公开";
});
