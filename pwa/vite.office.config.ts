import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";
import Components from "unplugin-vue-components/vite";
import { ElementPlusResolver } from "unplugin-vue-components/resolvers";
import { fileURLToPath } from "node:url";

// The office (desks of admins, planners, publishers and supervisors) at /office/: a second entry of the same
// npm project, built by the same `npm run build` into dist-office (served by Flask, backend/__init__.py). It
// shares the API client, the generated types and the login code with the phone app (src/lib, src/api); its
// own sources are under office/. No service worker: the office is an online desk, the phone app keeps its
// scope /app/. Element Plus is imported per component (and its CSS per component) as the templates use it.
export default defineConfig({
  root: fileURLToPath(new URL("./office", import.meta.url)),
  base: "/office/",
  publicDir: false,
  server: { fs: { allow: [".", "..", "../schemas/field_rules.json"] } },
  build: {
    outDir: fileURLToPath(new URL("./dist-office", import.meta.url)),
    emptyOutDir: true,
    target: "es2020",
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1500,
  },
  plugins: [
    vue(),
    Components({
      dirs: [],
      resolvers: [ElementPlusResolver({ importStyle: "css" })],
      dts: false,
    }),
  ],
});
