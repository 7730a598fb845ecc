// The supervisors' screens (issue 13 §5): the figures on one dashboard, the list behind a number.
import type { RouteRecordRaw } from "vue-router";
import { filterParams, readFilters } from "../lib/figures";
import { prefetchFigures } from "./prefetch";

export const figuresRoutes: RouteRecordRaw[] = [
  {
    path: "/figures", name: "figures", component: () => import("../components/figures/DashboardView.vue"), meta: { title: "统计指标" },
    beforeEnter: (to) => { prefetchFigures(filterParams(readFilters(to.query))); },
  },
  { path: "/figures/:figure/items", name: "figure-items", component: () => import("../components/figures/ItemsView.vue"), meta: { title: "指标清单" } },
];
