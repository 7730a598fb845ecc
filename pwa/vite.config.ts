import { defineConfig, type Plugin } from "vite";
import vue from "@vitejs/plugin-vue";
import Components from "unplugin-vue-components/vite";
import { VantResolver } from "@vant/auto-import-resolver";
import { VitePWA } from "vite-plugin-pwa";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

// Vant's icon font is inlined (woff2 data: URL) but its CSS also names copies on a CDN: government
// networks reach no CDN and the page's CSP forbids it, so those sources are removed from the built CSS.
function noRemoteFonts(): Plugin {
  return {
    name: "shuangsui-no-remote-fonts",
    enforce: "post",
    generateBundle(_options, bundle) {
      for (const file of Object.values(bundle)) {
        if (file.type === "asset" && file.fileName.endsWith(".css") && typeof file.source === "string") {
          file.source = file.source.replace(/,\s*url\((?:https?:)?\/\/[^)]*\)\s*format\("[a-z0-9]+"\)/gi, "");
        }
      }
    },
  };
}

// Vant's icon font comes inlined in its CSS (a 34 KB Base64 data: URL that compresses poorly), which made the
// stylesheet every screen waits for before its first paint three times larger. The font becomes a file of its own
// (hashed by Vite like any asset, cached for a year, precached for offline use), fetched only when an icon shows.
// Done as the CSS is read, before Vite hashes the stylesheet: a stylesheet's name always matches its content.
function iconFontFile(): Plugin {
  const cache = fileURLToPath(new URL("./node_modules/.cache/shuangsui-fonts/", import.meta.url));
  return {
    name: "shuangsui-icon-font-file",
    enforce: "pre",
    transform(code, id) {
      if (!id.split("?")[0].endsWith(".css") || !code.includes("data:font/woff2")) return null;
      const out = code.replace(/url\(\s*["']?data:font\/woff2;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)["']?\s*\)/g,
        (_match, data: string) => {
          const bytes = Buffer.from(data, "base64");
          const file = join(cache, `font-${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.woff2`);
          mkdirSync(cache, { recursive: true });
          writeFileSync(file, bytes);
          return `url("${relative(dirname(id.split("?")[0]), file).split(sep).join("/")}")`;
        });
      return { code: out, map: null };
    },
  };
}

// The officers' app is served by Flask under /app/ (backend/__init__.py). `public/` holds the
// site's public pages (served by Flask at /), so the app's own static files live in `static/`.
export default defineConfig({
  base: "/app/",
  publicDir: "static",
  // the rules file the server reads too (src/lib/rulebook.ts imports it): the dev server may serve it
  server: { fs: { allow: [".", "../schemas/field_rules.json"] } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2020",
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1500,
  },
  plugins: [
    vue(),
    noRemoteFonts(),
    iconFontFile(),
    Components({ resolvers: [VantResolver()], dts: false }),
    VitePWA({
      registerType: "prompt",
      injectRegister: false,
      strategies: "generateSW",
      filename: "sw.js",
      scope: "/app/",
      manifestFilename: "manifest.webmanifest",
      manifest: {
        id: "/app/",
        name: "掌上执法 · 双随机、一公开",
        short_name: "掌上执法",
        description: "双随机、一公开现场检查：离线填写、拍照、定位、签名与同步",
        lang: "zh-CN",
        start_url: "/app/",
        scope: "/app/",
        display: "standalone",
        orientation: "portrait",
        background_color: "#ffffff",
        theme_color: "#b71c1c",
        icons: [
          { src: "icons/icon-192.png", sizes: "192x192", type: "image/png" },
          { src: "icons/icon-512.png", sizes: "512x512", type: "image/png" },
          { src: "icons/icon-512.png", sizes: "512x512", type: "image/png", purpose: "maskable" },
        ],
      },
      workbox: {
        // the app shell: every built file, the QR decoder's WebAssembly and the icon font included (used offline too)
        globPatterns: ["**/*.{js,css,html,svg,png,wasm,webmanifest,woff2}"],
        maximumFileSizeToCacheInBytes: 4 * 1024 * 1024,
        navigateFallback: "/app/index.html",
        navigateFallbackAllowlist: [/^\/app\//],
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: false,
        runtimeCaching: [
          // the API is the app's own business (outbox, retries): never cached by the service worker
          { urlPattern: ({ url }) => url.pathname.startsWith("/api/"), handler: "NetworkOnly" },
        ],
      },
    }),
  ],
});
