// The portal's pages (history mode at /; Flask answers the portal's page for these paths).
import { createRouter, createWebHistory } from "vue-router";
import HomeView from "./views/HomeView.vue";

export const router = createRouter({
  history: createWebHistory("/"),
  routes: [
    { path: "/", name: "home", component: HomeView, meta: { title: "首页" } },
    { path: "/plans", name: "plans", component: () => import("./views/PlansView.vue"), meta: { title: "抽查计划" } },
    { path: "/plans/:code", name: "plan", component: () => import("./views/PlanView.vue"), meta: { title: "抽查计划" } },
    { path: "/items", name: "items", component: () => import("./views/ItemsView.vue"), meta: { title: "抽查事项清单" } },
    { path: "/draws", name: "draws", component: () => import("./views/DrawsView.vue"), meta: { title: "摇号公示" } },
    { path: "/tasks/:code", name: "task", component: () => import("./views/TaskView.vue"), meta: { title: "摇号记录" } },
    { path: "/verify", name: "verify", component: () => import("./views/VerifyView.vue"), meta: { title: "摇号复核" } },
    { path: "/results", name: "results", component: () => import("./views/ResultsView.vue"), meta: { title: "检查结果公示" } },
    { path: "/results/:id(\\d+)", name: "result", component: () => import("./views/ResultView.vue"), meta: { title: "检查结果" } },
    { path: "/:rest(.*)*", name: "missing", component: () => import("./views/MissingView.vue"), meta: { title: "页面不存在" } },
  ],
  scrollBehavior: () => ({ top: 0 }),
});

router.afterEach((to) => {
  document.title = `${String(to.meta.title || "公示")} · 双随机、一公开`;
});
