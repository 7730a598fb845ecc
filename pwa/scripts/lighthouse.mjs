// Lighthouse (mobile defaults: simulated slow 4G, 4× CPU, a Moto G Power's screen) on the officers' app, in
// Debian's Chromium through puppeteer-core (no browser download). Used by bench/pwa.py; prints one JSON line
// per run on stdout:
//   node scripts/lighthouse.mjs --base http://127.0.0.1:PORT --user NAME --password PW [--runs 3]
//     [--pages login,tasks] [--chrome /usr/bin/chromium]
// * login: /app/ opened by nobody logged in (the login page), as on a first visit;
// * tasks: /app/ opened by an officer logged in on this phone: the officer logs in through the page first
//   (tokens and pulled tasks in IndexedDB), then Lighthouse loads the app cold — its storage reset clears the
//   service worker, its caches and the HTTP cache, and keeps IndexedDB (Lighthouse 12's default types).
import lighthouse from "lighthouse";
import puppeteer from "puppeteer-core";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({ options: {
  base: { type: "string" }, user: { type: "string" }, password: { type: "string" },
  runs: { type: "string", default: "3" }, pages: { type: "string", default: "login,tasks" },
  chrome: { type: "string", default: process.env.CHROME_PATH || "/usr/bin/chromium" },
} });
// tests/e2e/browser.py's flags
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage"];

async function login(page) {
  await page.goto(`${args.base}/app/`, { waitUntil: "load" });
  await page.waitForSelector("#login-btn", { timeout: 60000 });
  await page.type("input[name=username]", args.user);
  await page.type("input[name=password]", args.password);
  await page.click("#login-btn");
  await page.waitForSelector(".task-row", { timeout: 120000 });
  // the first pull and the service worker's install end before the measured load begins
  await page.waitForFunction(() => navigator.serviceWorker?.controller !== null, { timeout: 120000 }).catch(() => {});
  await page.waitForSelector('#unsent[data-ok="1"]', { timeout: 120000 }).catch(() => {});
  await page.goto("about:blank");
}

function summary(name, run, lhr) {
  const audit = (id) => lhr.audits[id] ?? {};
  const requests = audit("network-requests").details?.items ?? [];
  const own = requests.filter((r) => r.url.startsWith(args.base) && !r.url.includes("/api/"));
  const sum = (items, key, type) => items.filter((r) => !type || r.resourceType === type)
    .reduce((total, r) => total + (r[key] || 0), 0);
  const unusedJs = audit("unused-javascript").details?.overallSavingsBytes ?? 0;
  const score = (id) => (lhr.categories[id]?.score == null ? null : Math.round(lhr.categories[id].score * 100));
  return {
    page: name, run, url: lhr.finalDisplayedUrl,
    performance: score("performance"), accessibility: score("accessibility"), best_practices: score("best-practices"),
    fcp_ms: audit("first-contentful-paint").numericValue, lcp_ms: audit("largest-contentful-paint").numericValue,
    tbt_ms: audit("total-blocking-time").numericValue, cls: audit("cumulative-layout-shift").numericValue,
    si_ms: audit("speed-index").numericValue,
    transfer: { total: sum(own, "transferSize"), script: sum(own, "transferSize", "Script"),
      stylesheet: sum(own, "transferSize", "Stylesheet"), document: sum(own, "transferSize", "Document") },
    resource: { total: sum(own, "resourceSize"), script: sum(own, "resourceSize", "Script"),
      stylesheet: sum(own, "resourceSize", "Stylesheet"), document: sum(own, "resourceSize", "Document") },
    requests: own.length,
    files: own.map((r) => [new URL(r.url).pathname, r.transferSize || 0, r.resourceSize || 0, r.resourceType || ""]),
    unused_js: unusedJs,
    text_compression_savings: audit("uses-text-compression").details?.overallSavingsBytes ?? 0,
    benchmark_index: lhr.environment?.benchmarkIndex ?? null,
    failed_accessibility: Object.values(lhr.categories.accessibility?.auditRefs ?? [])
      .filter((ref) => ref.weight > 0 && lhr.audits[ref.id]?.score === 0).map((ref) => ref.id),
    failed_best_practices: Object.values(lhr.categories["best-practices"]?.auditRefs ?? [])
      .filter((ref) => ref.weight > 0 && lhr.audits[ref.id]?.score === 0).map((ref) => ref.id),
    lcp_element: audit("largest-contentful-paint-element").details?.items?.[0]?.items?.[0]?.node?.snippet ?? null,
    layout_shifts: (audit("layout-shifts").details?.items ?? [])
      .map((i) => `${i.node?.selector ?? i.node?.snippet ?? "?"} ${Number(i.score).toFixed(3)}`),
    opportunities: Object.values(lhr.audits)
      .filter((a) => a.details?.type === "opportunity" && (a.details.overallSavingsMs ?? 0) > 0)
      .map((a) => `${a.id} ${Math.round(a.details.overallSavingsMs)}ms`),
  };
}

const browser = await puppeteer.launch({ executablePath: args.chrome, headless: true, args: FLAGS });
try {
  for (let run = 1; run <= Number(args.runs); run++) {
    for (const name of args.pages.split(",")) {
      // on a busy machine Chromium's trace now and then misses its start (NO_NAVSTART): that run is made again
      for (let attempt = 1; ; attempt++) {
        const context = await browser.createBrowserContext();
        const page = await context.newPage();
        if (name === "tasks") await login(page);
        const result = await lighthouse(`${args.base}/app/`, {
          output: "json", logLevel: "error", onlyCategories: ["performance", "accessibility", "best-practices"],
        }, undefined, page);
        await context.close();
        const error = !result?.lhr ? "no result" : result.lhr.runtimeError?.message;
        if (!error) {
          console.log(JSON.stringify(summary(name, run, result.lhr)));
          break;
        }
        if (attempt >= 3) throw new Error(`${name}: ${error}`);
        console.error(`${name}, run ${run}: ${error}; again`);
      }
    }
  }
} finally {
  await browser.close();
}
