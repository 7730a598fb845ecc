import { createApp } from "vue";
import "vant/es/toast/style";
import "vant/es/dialog/style";
import "vant/es/notify/style";
import "./style.css";
import App from "./App.vue";
import { router } from "./router";
import { app as state, loadAuth } from "./lib/store";
import { collectPhotos } from "./lib/gc";

async function start() {
  await loadAuth();
  router.beforeEach((to) => {
    if (!to.meta.public && !state.auth?.access && !state.auth?.user) return { name: "login" };
    return true;
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
    const { registerSW } = await import("virtual:pwa-register");
    registerSW({ immediate: true });
  }
}

void start();
