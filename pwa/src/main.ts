import { createApp } from "vue";
import "vant/es/toast/style";
import "vant/es/dialog/style";
import "vant/es/notify/style";
import "./style.css";
import "./theme.css";
import App from "./App.vue";
import { router } from "./router";
import { app as state, loadAuth } from "./lib/store";
import { collectPhotos } from "./lib/gc";
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
  if (state.auth?.user) {
    // typing a closed tab left unsaved goes into the outbox; photos nothing names any more are removed
    void (async () => {
      const { recoverAll } = await import("./lib/drafts");
      await recoverAll().catch((e) => console.error(e));
      await collectPhotos().catch((e) => console.error(e));
    })();
  }
  if ("serviceWorker" in navigator && import.meta.env.PROD) {
    // the service worker precaches every screen (about 470 KB, the QR decoder's WebAssembly included): it is
    // registered once the first screen has loaded and the page is idle, so that download never competes with it
    const register = async () => {
      const { registerSW } = await import("virtual:pwa-register");
      registerSW({ immediate: true });
    };
    const whenIdle = () => {
      if ("requestIdleCallback" in window) requestIdleCallback(() => void register(), { timeout: 3000 });
      else setTimeout(() => void register(), 500);
    };
    if (document.readyState === "complete") whenIdle();
    else window.addEventListener("load", whenIdle, { once: true });
  }
}

void start();
