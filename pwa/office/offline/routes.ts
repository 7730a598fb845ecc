// 导入离线记录: an administrator imports a phone's exported outbox (docs/api.md, "An exported outbox, imported in
// the office"); the past uploads, and one upload's preview and result.
import type { RouteRecordRaw } from "vue-router";

export const offlineRoutes: RouteRecordRaw[] = [
  { path: "/offline-imports", name: "offline-imports", component: () => import("./ImportsView.vue"), meta: { title: "导入离线记录" } },
  { path: "/offline-imports/:id(\\d+)", name: "offline-import", component: () => import("./ImportView.vue"), meta: { title: "离线记录导入" } },
];
