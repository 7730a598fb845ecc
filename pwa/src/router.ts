import { createRouter, createWebHistory } from "vue-router";
import TodayView from "./views/TodayView.vue";

export const router = createRouter({
  history: createWebHistory("/app/"),
  // a new screen opens at its top (its main button in view); back and forward return to where the officer was
  scrollBehavior(_to, _from, saved) {
    return saved || { top: 0, left: 0 };
  },
  routes: [
    { path: "/", name: "today", component: TodayView, meta: { title: "今日任务" } },
    { path: "/login", name: "login", component: () => import("./views/LoginView.vue"), meta: { title: "登录", public: true } },
    { path: "/i/:id", name: "business", component: () => import("./views/BusinessView.vue"), meta: { title: "检查对象" } },
    { path: "/i/:id/inspect", name: "inspect", component: () => import("./views/InspectView.vue"), meta: { title: "现场检查" } },
    { path: "/i/:id/sign", name: "sign", component: () => import("./views/SignView.vue"), meta: { title: "签名" } },
    { path: "/i/:id/record", name: "record", component: () => import("./views/RecordView.vue"), meta: { title: "检查记录" } },
    { path: "/i/:id/merge", name: "merge", component: () => import("./views/MergeView.vue"), meta: { title: "组长汇总" } },
    { path: "/scan", name: "scan", component: () => import("./views/ScanView.vue"), meta: { title: "扫营业执照" } },
    { path: "/sync", name: "sync", component: () => import("./views/SyncView.vue"), meta: { title: "同步与存储" } },
    { path: "/:rest(.*)*", redirect: "/" },
  ],
});
