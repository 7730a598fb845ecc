import { createApp } from "vue";
import "vant/es/toast/style";
import "vant/es/dialog/style";
import "vant/es/notify/style";
import "./style.css";
import "./theme.css";
import App from "./App.vue";
import { router } from "./router";
import { app as state, loadAuth } from "./lib/store";
import { pressWithKeyboard } from "./lib/keyboard";

async function start() {
  pressWithKeyboard();
  await loadAuth();
  router.beforeEach((to) => {
    if (!to.meta.public && !state.auth?.access && !state.auth?.user) return { name: "login" };
    return true;
  });
  // each screen names itself (screen readers announce it, the task switcher shows it)
  router.afterEach((to) => {
    document.title = to.meta.title ? `${to.meta.title as string} · 掌上执法` : "掌上执法";
  });
  createApp(App).use(router).mount("#app");
  if ("serviceWorker" in navigator && import.meta.env.PROD) {
    const { registerSW } = await import("virtual:pwa-register");
    registerSW({ immediate: true });
  }
}

void start();
