import { createApp, watch } from "vue";
import "element-plus/es/components/message/style/css";
import "element-plus/es/components/message-box/style/css";
import "./style.css";
import App from "./App.vue";
import { router } from "./router";
import { loadSession, session } from "./lib/session";

loadSession();
// a login ended elsewhere (logout in another tab, a refresh refused): back to the login page
watch(() => session.user, (u) => {
  if (!u && !router.currentRoute.value.meta.public) void router.replace({ name: "login" });
});
createApp(App).use(router).mount("#app");
