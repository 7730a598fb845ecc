// The publishers' screens (issue 13 §4): the queue of records due for publication, one record's public
// preview with publish / correct / 不适合公开, and the follow-up register (台帐).
import type { RouteRecordRaw } from "vue-router";

export const publicationRoutes: RouteRecordRaw[] = [
  { path: "/publication", name: "publication", component: () => import("../components/publication/QueueView.vue"), meta: { title: "待公示记录" } },
  { path: "/publication/:id(\\d+)", name: "publication-record", component: () => import("../components/publication/RecordView.vue"), meta: { title: "公示审核" } },
  { path: "/followups", name: "followups", component: () => import("../components/publication/FollowupsView.vue"), meta: { title: "后续处置台帐" } },
];
