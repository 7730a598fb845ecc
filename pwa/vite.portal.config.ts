import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";
import { fileURLToPath } from "node:url";

// The public portal (公示) at /: a third entry of the same npm project, built by `npm run build` into
// dist-portal (served by Flask, backend/__init__.py). Plain Vue and CSS, no component library: the first
// screen stays small on a phone (budget 150 KB of JS gzipped; bench/pwa.py prints it). The draw verifier is
// not bundled: its files stay in public/draw/ (served as they are, at their old addresses) and a page loads
// them when it verifies.
export default defineConfig({
  root: fileURLToPath(new URL("./portal", import.meta.url)),
  base: "/",
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL("./dist-portal", import.meta.url)),
    emptyOutDir: true,
    target: "es2020",
    assetsInlineLimit: 0,
  },
  plugins: [vue()],
});
