// The verifiable draw, algorithm "dsr/v1" (docs/draw.md), for the browser: SHA-256 and HMAC-SHA256,
// WebCrypto for the few long hashes and sha256.js (plain JavaScript, in Web Workers for long lists) for
// the tickets, nothing else. This is a port of
// backend/draws/algorithm.py and backend/draws/verify.py; both give the same result and
// the same differences (in the same words) for the same record.
//
// Usable as an ES module from the page (verify.js) and from tests:
//   import { verifyRecord, ticket, canonicalJSON } from "./dsr.js";

import { compareCodePoints, smallest } from "./rank.js";
import { compareWords, wordsToHex } from "./sha256.js";

export { compareCodePoints };
export const ALGORITHM = "dsr/v1";

const encoder = new TextEncoder();
const FORBIDDEN = /[|\n\r]/;

function subtle() {
  const c = globalThis.crypto;
  if (!c || !c.subtle) {
    throw new Error("此浏览器环境不支持 WebCrypto（需要 HTTPS 或 localhost）");
  }
  return c.subtle;
}

// ------------------------------------------------------------------ primitives

export function toHex(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  return s;
}

export async function sha256Hex(text) {
  const data = typeof text === "string" ? encoder.encode(text) : text;
  return toHex(await subtle().digest("SHA-256", data));
}

export async function hmacKey(seed) {
  return subtle().importKey("raw", encoder.encode(seed), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

// ticket(seed, p1, p2, ...) = HMAC-SHA256(key = UTF-8(seed), msg = UTF-8("dsr/v1|p1|p2|...")), 32 bytes
export async function ticket(seed, ...parts) {
  const key = await hmacKey(seed);
  const msg = [ALGORITHM, ...parts].join("|");
  return new Uint8Array(await subtle().sign("HMAC", key, encoder.encode(msg)));
}

// Unsigned big-endian comparison of two byte arrays.
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const SURROGATE = /[\ud800-\udfff]/;

function sortCodePoints(strings) {
  strings.sort(); // UTF-16 order: the same as code point order without surrogates
  if (strings.some((s) => SURROGATE.test(s))) strings.sort(compareCodePoints);
  return strings;
}

// RFC 8785 (JCS) canonical JSON of a parsed JSON value.
export function canonicalJSON(value) {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new Error(`${value} 不能用 JSON 表示`);
      return JSON.stringify(value); // ECMAScript number serialisation, as RFC 8785 requires
    case "string":
      if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value)) {
        throw new Error("字符串含有不成对的代理项");
      }
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) return "[" + value.map(canonicalJSON).join(",") + "]";
      const keys = Object.keys(value).sort(); // UTF-16 code units, as RFC 8785 requires
      return "{" + keys.map((k) => canonicalJSON(k) + ":" + canonicalJSON(value[k])).join(",") + "}";
    }
    default:
      throw new Error(`无法规范化 ${typeof value}`);
  }
}

async function linesHash(lines) {
  // a published record lists them sorted already: one pass to see it, no sort
  let sorted = true;
  for (let i = 1; i < lines.length; i++) {
    if (!(lines[i - 1] < lines[i])) {
      sorted = false;
      break;
    }
  }
  if (!sorted || lines.some((line) => SURROGATE.test(line))) sortCodePoints(lines);
  return sha256Hex(lines.join("\n"));
}

function pairLines(items, groupKey) {
  const lines = new Array(items.length);
  for (let i = 0; i < items.length; i++) lines[i] = items[i][groupKey] + "|" + items[i].id;
  return lines;
}

// SHA-256 hex of a record's list ([{id, <groupKey>}, ...]) as the sorted lines "group|id" joined by "\n".
// A published record lists them sorted, and ids are ASCII: then the bytes are written straight into one
// buffer, without a string per line; anything else goes the general way (lines, sorted, joined).
async function pairsHash(items, groupKey) {
  const n = items.length;
  let size = n > 0 ? n - 1 : 0;
  for (let i = 0; i < n; i++) {
    const g = items[i][groupKey];
    const id = items[i].id;
    if (!ascii(g) || !ascii(id)) return linesHash(pairLines(items, groupKey));
    size += g.length + 1 + id.length;
    if (i > 0) {
      const a = items[i - 1];
      const before = a[groupKey] === g ? a.id < id : a[groupKey] + "|" + a.id < g + "|" + id;
      if (!before) return linesHash(pairLines(items, groupKey));
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (let i = 0; i < n; i++) {
    if (i > 0) bytes[at++] = 10;
    const g = items[i][groupKey];
    for (let j = 0; j < g.length; j++) bytes[at++] = g.charCodeAt(j);
    bytes[at++] = 124;
    const id = items[i].id;
    for (let j = 0; j < id.length; j++) bytes[at++] = id.charCodeAt(j);
  }
  return sha256Hex(bytes);
}

function ascii(text) {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

async function recordCommitment(record) {
  const planHash = await sha256Hex(canonicalJSON(record.plan));
  const targetsHash = await pairsHash(record.targets, "stratum");
  const inspectorsHash = await pairsHash(record.inspectors, "dept");
  const c = await sha256Hex(`${ALGORITHM}|commit|${record.task}\n${planHash}\n${targetsHash}\n${inspectorsHash}`);
  return { planHash, targetsHash, inspectorsHash, commitment: c };
}

async function commitmentOfLines(task, plan, targetLines, inspectorLines) {
  const planHash = await sha256Hex(canonicalJSON(plan));
  const targetsHash = await linesHash(targetLines);
  const inspectorsHash = await linesHash(inspectorLines);
  const c = await sha256Hex(`${ALGORITHM}|commit|${task}\n${planHash}\n${targetsHash}\n${inspectorsHash}`);
  return { planHash, targetsHash, inspectorsHash, commitment: c };
}

// targets: [[stratum, id], ...]; inspectors: [[dept, id], ...]
export async function commitment(task, plan, targets, inspectors) {
  return commitmentOfLines(task, plan, targets.map(([g, i]) => g + "|" + i), inspectors.map(([d, i]) => d + "|" + i));
}

export async function seedFrom(commitmentHex, digits) {
  return sha256Hex(`${ALGORITHM}|seed|${commitmentHex}|${digits}`);
}

// ------------------------------------------------------------------ errors

export class DrawError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

const tooFewInspectors = (dept, have, need) =>
  new DrawError("draw.too_few_inspectors", `部门 ${dept} 可抽取的检查人员不足：现有 ${have} 人，需要 ${need} 人`,
    { dept, have, need });
const noReplacement = (group, target, dept, inspector) =>
  new DrawError("draw.no_replacement",
    `第 ${group + 1} 组：部门 ${dept} 的检查人员 ${inspector} 须回避检查对象 ` +
    `${target}，但该部门的备选人员中已没有可替换的人员`, { group, target, dept, inspector });
const invalidPlan = (field, reason) =>
  new DrawError("draw.invalid_plan", `抽查方案无效：${field} ${reason}`, { field, reason });
const invalidInput = (field, reason, extra = {}) =>
  new DrawError("draw.invalid_input", `抽取名单无效：${field} ${reason}`, { field, reason, ...extra });

// ------------------------------------------------------------------ plan

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function checkCode(value, path, make = invalidInput) {
  if (typeof value !== "string" || value === "") throw make(path, "必须是非空字符串");
  if (FORBIDDEN.test(value)) throw make(path, "不能包含 “|” 或换行符");
  return value;
}

function int(value, path, minimum) {
  if (typeof value !== "number" || !Number.isInteger(value)) throw invalidPlan(path, "必须是整数");
  if (value < minimum) throw invalidPlan(path, `不能小于 ${minimum}`);
  return value;
}

const RULE_KEYS = new Set(["num", "den", "min", "cap"]);
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

export function validatePlan(plan) {
  if (!isObject(plan)) throw invalidPlan("plan", "必须是对象");
  const strata = plan.strata;
  if (!isObject(strata) || Object.keys(strata).length === 0) {
    throw invalidPlan("plan.strata", "必须是非空对象（分层 → 比例）");
  }
  const rules = Object.create(null);
  for (const [name, rule] of Object.entries(strata)) {
    const path = `plan.strata.${name}`;
    checkCode(name, path, invalidPlan);
    if (!isObject(rule)) throw invalidPlan(path, "必须是对象");
    const unknown = sortCodePoints(Object.keys(rule).filter((k) => !RULE_KEYS.has(k)));
    if (unknown.length) throw invalidPlan(`${path}.${unknown[0]}`, "不是可识别的字段（只允许 num、den、min、cap）");
    for (const key of ["num", "den"]) if (!has(rule, key)) throw invalidPlan(`${path}.${key}`, "缺失");
    const clean = { num: int(rule.num, `${path}.num`, 0), den: int(rule.den, `${path}.den`, 1) };
    for (const key of ["min", "cap"]) if (has(rule, key)) clean[key] = int(rule[key], `${path}.${key}`, 0);
    rules[name] = clean;
  }
  const members = plan.members;
  if (!isObject(members) || Object.keys(members).length === 0) {
    throw invalidPlan("plan.members", "必须是非空对象（部门 → 每组人数）");
  }
  const m = Object.create(null);
  for (const [dept, count] of Object.entries(members)) {
    checkCode(dept, `plan.members.${dept}`, invalidPlan);
    m[dept] = int(count, `plan.members.${dept}`, 0);
  }
  const lead = plan.lead;
  if (typeof lead !== "string" || lead === "") throw invalidPlan("plan.lead", "必须是牵头部门代码");
  if (!has(m, lead)) throw invalidPlan("plan.lead", `牵头部门 ${lead} 不在 plan.members 中`);
  if (m[lead] < 1) throw invalidPlan(`plan.members.${lead}`, "牵头部门每组至少 1 人");
  if (!has(plan, "group_load")) throw invalidPlan("plan.group_load", "缺失");
  const groupLoad = int(plan.group_load, "plan.group_load", 1);
  return { strata: rules, lead, members: m, groupLoad };
}

// k = min(N, cap, max(min, ceil(num * N / den))), in exact integers (BigInt).
export function stratumSize(n, rule) {
  const N = BigInt(n);
  const num = BigInt(rule.num);
  const den = BigInt(rule.den);
  let k = (num * N + den - 1n) / den;
  const min = BigInt(rule.min ?? 0);
  if (min > k) k = min;
  if (rule.cap !== undefined && BigInt(rule.cap) < k) k = BigInt(rule.cap);
  if (N < k) k = N;
  return Number(k);
}

// ------------------------------------------------------------------ ranking

// Tickets are computed by the plain-JavaScript HMAC of sha256.js (WebCrypto's one promise per HMAC costs
// more than the hash): on the page for short lists, and for long ones in Web Workers, one per core, each
// ranking a slice and answering its n smallest, merged here. The answer is the same either way.
const PARALLEL_FROM = 40000; // candidates; below this, the workers' start and copies cost more than they save
let pool = null; // [Worker] once started, false where workers cannot run
let jobs = 0;

/** How many workers rank long lists (default: one per core, at most 8; 0: none, all on the page). */
export function setWorkers(count) {
  if (pool) for (const w of pool) w.terminate();
  pool = count > 0 ? startWorkers(count) : false;
  // the jobs of the workers stopped are done on the page instead (rankSmallest falls back on this error)
  for (const fail of [...pending.values()]) fail(new Error("Web Worker 已停止"));
}

const pending = new Map(); // job → its reject, while a worker has it

function startWorkers(count) {
  if (typeof Worker === "undefined") return false;
  try {
    return Array.from({ length: count }, () => new Worker(new URL("./dsr-worker.js", import.meta.url), { type: "module" }));
  } catch {
    return false;
  }
}

function workers() {
  if (pool === null) {
    const cores = (globalThis.navigator && navigator.hardwareConcurrency) || 2;
    pool = startWorkers(Math.max(1, Math.min(cores, 8)));
  }
  return pool;
}

function onWorker(worker, message, onProgress, transfer = []) {
  return new Promise((resolve, reject) => {
    const job = ++jobs;
    const done = () => {
      pending.delete(job);
      worker.removeEventListener("message", listen);
      worker.removeEventListener("error", fail);
    };
    pending.set(job, (exc) => {
      done();
      reject(exc);
    });
    const listen = (event) => {
      const data = event.data;
      if (!data || data.job !== job) return;
      if (data.progress !== undefined) {
        onProgress(data.progress);
        return;
      }
      done();
      if (data.newline) reject(Object.assign(new Error("编号含换行符"), { newline: true }));
      else if (data.error) reject(new Error(data.error));
      else resolve(data);
    };
    const fail = (event) => {
      done();
      event.preventDefault();
      reject(new Error(`Web Worker 无法运行：${event.message || "未知错误"}`));
    };
    worker.addEventListener("message", listen);
    worker.addEventListener("error", fail);
    worker.postMessage({ job, ...message }, transfer);
  });
}

// The n smallest (ticket, id) of ids in ticket order, as [{id, ticket: hex}, ...]; equal ticket: smaller id first.
export async function rankSmallest(seed, prefixParts, ids, n, onProgress) {
  n = Math.max(0, Math.min(n, ids.length));
  if (n === 0) return [];
  const pool = ids.length >= PARALLEL_FROM ? workers() : false;
  if (!pool || pool.length < 2) {
    const { tickets, index } = smallest(seed, prefixParts, ids, n, onProgress && ((d) => onProgress(d, ids.length)));
    return Array.from(index, (i, j) => ({ id: ids[i], ticket: wordsToHex(tickets, 8 * j) }));
  }
  const size = Math.ceil(ids.length / pool.length);
  let done = 0;
  const progress = (d) => {
    done += d;
    if (onProgress) onProgress(done, ids.length);
  };
  let parts;
  try {
    parts = await Promise.all(pool.map((worker, w) => {
      const a = w * size;
      // one buffer of UTF-8 bytes per worker, handed over (not copied): no string per id to copy
      const slice = ids.slice(a, a + size);
      const bytes = encoder.encode(slice.join("\n"));
      return onWorker(worker, { seed, prefix: prefixParts, bytes, count: slice.length, n }, progress, [bytes.buffer])
        .then((part) => ({ ...part, offset: a }));
    }));
  } catch (exc) {
    if (exc.newline) { // an id with a newline (a bad record, which the check reports): ranked on the page
      const { tickets, index } = smallest(seed, prefixParts, ids, n);
      return Array.from(index, (i, j) => ({ id: ids[i], ticket: wordsToHex(tickets, 8 * j) }));
    }
    if (!String(exc.message).startsWith("Web Worker")) throw exc;
    if (pool === workers()) setWorkers(0); // cannot run here: everything on the page from now on
    return rankSmallest(seed, prefixParts, ids, n, onProgress);
  }
  const entries = [];
  for (const { tickets, index, offset } of parts) {
    for (let j = 0; j < index.length; j++) entries.push({ tickets, at: 8 * j, id: ids[offset + index[j]] });
  }
  entries.sort((x, y) => compareWords(x.tickets, x.at, y.tickets, y.at) || compareCodePoints(x.id, y.id));
  entries.length = n;
  return entries.map((e) => ({ id: e.id, ticket: wordsToHex(e.tickets, e.at) }));
}

async function orderAll(seed, prefixParts, ids) {
  return (await rankSmallest(seed, prefixParts, ids, ids.length)).map((e) => e.id);
}

// ------------------------------------------------------------------ draw

// targets: {stratum: [ids]}, inspectors: {dept: [ids]}, conflicts: [[inspector, target]].
// Returns the record's result object {selected, groups, replacements} and, beside it,
// targetReserve {stratum: [ids]} (not part of the result).
// options.reserve: number of reserve targets per stratum to rank as well (default 0),
// options.onProgress(stage, done, total).
export async function draw(task, plan, targets, inspectors, conflicts, seed, options = {}) {
  const progress = options.onProgress || (() => {});
  checkCode(task, "task");
  const p = validatePlan(plan);

  for (const [s, ids] of Object.entries(targets)) {
    if (ids.length && !has(p.strata, s)) {
      throw invalidInput(`targets[${s}]`, `分层 ${s} 不在抽查方案 plan.strata 中`, { stratum: s });
    }
  }
  if (hasDuplicate(Object.values(targets))) duplicate("targets", targets);
  let inspectorCount = 0;
  const seenInspectors = new Set();
  for (const [d, ids] of Object.entries(inspectors)) {
    if (ids.length && !has(p.members, d)) {
      throw invalidInput(`inspectors[${d}]`, `部门 ${d} 不在抽查方案 plan.members 中`, { dept: d });
    }
    inspectorCount += ids.length;
    for (const id of ids) seenInspectors.add(id);
  }
  if (seenInspectors.size !== inspectorCount) duplicate("inspectors", inspectors);
  for (const ids of Object.values(inspectors)) for (const id of ids) checkCode(id, "inspectors.id");

  
  // 3. targets
  const strata = sortCodePoints(Object.keys(p.strata));
  const selected = Object.create(null);
  const targetReserve = Object.create(null);
  const reserve = options.reserve || 0;
  // every stratum's ranking is handed to the workers at once: none waits for another
  const rankings = strata.map((s) => {
    const ids = targets[s] || [];
    const k = stratumSize(ids.length, p.strata[s]);
    const r = Math.max(0, Math.min(ids.length - k, reserve));
    return rankSmallest(seed, ["ent", task], ids, k + r, (d, t) => progress(`分层 ${s}`, d, t))
      .then((ranked) => [s, k, ranked]);
  });
  for (const [s, k, ranked] of await Promise.all(rankings)) {
    selected[s] = ranked.slice(0, k).map((e) => e.id);
    targetReserve[s] = ranked.slice(k).map((e) => e.id);
  }
  for (const s of strata) for (const id of selected[s]) checkCode(id, "targets.id");

  // 4. groups of targets
  const order = await orderAll(seed, ["asg", task], strata.flatMap((s) => selected[s]));
  const nGroups = Math.ceil(order.length / p.groupLoad);
  const allDepts = sortCodePoints(Object.keys(p.members));
  const depts = allDepts.filter((d) => p.members[d] > 0);

  // 5. inspectors
  for (const d of allDepts) {
    const have = (inspectors[d] || []).length;
    const need = nGroups * p.members[d];
    if (have < need) throw tooFewInspectors(d, have, need);
  }
  const drawn = Object.create(null);
  const inspectorReserve = Object.create(null);
  for (const d of allDepts) {
    const ranked = await orderAll(seed, ["insp", task, d], inspectors[d] || []);
    const need = nGroups * p.members[d];
    drawn[d] = ranked.slice(0, need);
    inspectorReserve[d] = ranked.slice(need);
  }
  progress("检查组", 0, nGroups);
  const groups = [];
  for (let g = 0; g < nGroups; g++) {
    const members = Object.create(null);
    for (const d of depts) members[d] = drawn[d].slice(g * p.members[d], (g + 1) * p.members[d]);
    // 7. leader: smallest "lead" ticket among the lead department's members as drawn
    const leads = await rankSmallest(seed, ["lead", task, String(g)], members[p.lead], 1);
    const groupTargets = [];
    for (let i = g; i < order.length; i += nGroups) groupTargets.push(order[i]);
    groups.push({ targets: groupTargets, members, leader: leads[0].id });
  }
  progress("检查组", nGroups, nGroups);

  // 6. recusal
  const conflicted = new Map();
  for (const [i, e] of conflicts) {
    if (!conflicted.has(i)) conflicted.set(i, new Set());
    conflicted.get(i).add(e);
  }
  const hasConflict = (i, e) => conflicted.has(i) && conflicted.get(i).has(e);
  const replacements = [];
  const used = Object.create(null);
  for (const d of depts) used[d] = new Set();
  if (conflicted.size) {
    groups.forEach((group, g) => {
      for (const e of group.targets) {
        for (const d of depts) {
          for (const i of group.members[d]) {
            if (!hasConflict(i, e)) continue;
            const c = inspectorReserve[d].find((x) => !used[d].has(x) && !hasConflict(x, e));
            if (c === undefined) throw noReplacement(g, e, d, i);
            used[d].add(c);
            replacements.push({ group: g, target: e, dept: d, out: i, in: c });
          }
        }
      }
    });
  }
  return { selected, groups, replacements, targetReserve };
}

// Whether an id is in the lists twice. A published record's lists are sorted (each stratum's ids in
// order): then a merge of the sorted lists finds it without hashing a million strings; else a Set.
function hasDuplicate(lists) {
  lists = lists.filter((ids) => ids.length);
  let sorted = true;
  for (const ids of lists) {
    for (let i = 1; i < ids.length && sorted; i++) sorted = ids[i - 1] < ids[i];
  }
  if (!sorted) {
    const seen = new Set();
    let total = 0;
    for (const ids of lists) {
      total += ids.length;
      for (const id of ids) seen.add(id);
    }
    return seen.size !== total;
  }
  const at = lists.map(() => 0);
  let last;
  for (;;) {
    let best = -1;
    for (let j = 0; j < lists.length; j++) {
      if (at[j] < lists[j].length && (best < 0 || lists[j][at[j]] < lists[best][at[best]])) best = j;
    }
    if (best < 0) return false;
    const id = lists[best][at[best]++];
    if (id === last) return true;
    last = id;
  }
}

function duplicate(path, lists) {
  const seen = new Map();
  for (const key of sortCodePoints(Object.keys(lists))) {
    for (const id of lists[key]) {
      if (seen.has(id)) throw invalidInput(path, `编号 ${id} 重复出现（${seen.get(id)}、${key}）`, { id });
      seen.set(id, key);
    }
  }
}

// ------------------------------------------------------------------ verify

export const MATCH_TEXT = "验证通过：与公布结果一致";
export const COMMITTED_TEXT = "承诺值一致；尚未录入随机数，尚无抽取结果";
export const TARGET_REPLACEMENT_REASONS = { closed: "已关闭停业", deregistered: "已注销", revoked: "已吊销" };
const REASONS_TEXT = Object.entries(TARGET_REPLACEMENT_REASONS).map(([k, v]) => `${k}（${v}）`).join("、");
const HASHES = [["plan_hash", "planHash"], ["targets_hash", "targetsHash"], ["inspectors_hash", "inspectorsHash"]];

function show(value) {
  if (typeof value === "string") return value;
  const text = JSON.stringify(value);
  return text.length <= 200 ? text : text.slice(0, 197) + "...";
}

function typeName(v) {
  if (v === null) return "null";
  if (typeof v === "boolean") return "布尔值";
  if (typeof v === "number") return "数字";
  if (typeof v === "string") return "字符串";
  if (Array.isArray(v)) return "数组";
  if (typeof v === "object") return "对象";
  return typeof v;
}

class Shape {
  constructor() {
    this.complaints = [];
  }
  check(value, path, kind, name) {
    const ok =
      kind === "object" ? isObject(value)
      : kind === "array" ? Array.isArray(value)
      : kind === "int" ? typeof value === "number" && Number.isInteger(value)
      : typeof value === kind;
    if (!ok) this.complaints.push(`${path}: 格式错误，应为${name}，实为${typeName(value)}`);
    return ok;
  }
  key(obj, key, path, kind, name) {
    const where = path ? `${path}.${key}` : key;
    if (!has(obj, key)) {
      this.complaints.push(`${where}: 缺失`);
      return null;
    }
    return this.check(obj[key], where, kind, name) ? obj[key] : null;
  }
  strings(value, path) {
    if (Array.isArray(value) && value.every((v) => typeof v === "string")) return;
    if (this.check(value, path, "array", "字符串数组")) {
      for (let i = 0; i < value.length; i++) this.check(value[i], `${path}[${i}]`, "string", "字符串");
    }
  }
}

const absent = (obj, key) => !has(obj, key) || obj[key] === null;

// Published after the commitment, before the seed: no dice, no seed, no result.
function unseeded(record) {
  return ["dice", "seed", "result"].every((key) => absent(record, key));
}

function shapeOfInputs(record, seeded) {
  const s = new Shape();
  s.key(record, "task", "", "string", "字符串");
  s.key(record, "plan", "", "object", "对象");
  for (const [name, groupKey] of [["targets", "stratum"], ["inspectors", "dept"]]) {
    const items = s.key(record, name, "", "array", "数组") || [];
    for (let n = 0; n < items.length; n++) {
      const item = items[n];
      if (isObject(item) && typeof item.id === "string" && typeof item[groupKey] === "string") continue; // fast path
      const path = `${name}[${n}]`;
      if (s.check(items[n], path, "object", "对象")) {
        s.key(items[n], "id", path, "string", "字符串");
        s.key(items[n], groupKey, path, "string", "字符串");
      }
    }
  }
  const conflicts = s.key(record, "conflicts", "", "array", "数组") || [];
  for (let n = 0; n < conflicts.length; n++) {
    const pair = conflicts[n];
    if (Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string") continue;
    if (s.check(pair, `conflicts[${n}]`, "array", "[检查人员编号, 检查对象编号] 数组") && pair.length !== 2) {
      s.complaints.push(`conflicts[${n}]: 格式错误，应恰有 2 项，实有 ${pair.length} 项`);
    } else if (Array.isArray(pair)) {
      s.strings(pair, `conflicts[${n}]`);
    }
  }
  s.key(record, "commitment", "", "string", "字符串");
  if (seeded) {
    for (const name of ["dice", "seed"]) s.key(record, name, "", "string", "字符串");
  } else if (truthy(record.target_replacements)) {
    s.complaints.push("target_replacements: 记录尚无随机数和抽取结果，不应有替换");
  }
  return s.complaints;
}

// Python's truth value of a JSON value
function truthy(v) {
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

function shapeOfResult(result) {
  const s = new Shape();
  if (!s.check(result, "result", "object", "对象")) return s.complaints;
  const selected = s.key(result, "selected", "result", "object", "对象") || {};
  for (const [stratum, ids] of Object.entries(selected)) s.strings(ids, `result.selected.${stratum}`);
  const groups = s.key(result, "groups", "result", "array", "数组") || [];
  for (let g = 0; g < groups.length; g++) {
    const path = `result.groups[${g}]`;
    const group = groups[g];
    if (!s.check(group, path, "object", "对象")) continue;
    if (has(group, "targets")) s.strings(group.targets, `${path}.targets`);
    else s.complaints.push(`${path}.targets: 缺失`);
    const members = s.key(group, "members", path, "object", "对象") || {};
    for (const [dept, ids] of Object.entries(members)) s.strings(ids, `${path}.members.${dept}`);
    s.key(group, "leader", path, "string", "字符串");
  }
  const replacements = s.key(result, "replacements", "result", "array", "数组") || [];
  for (let n = 0; n < replacements.length; n++) {
    const path = `result.replacements[${n}]`;
    if (s.check(replacements[n], path, "object", "对象")) {
      s.key(replacements[n], "group", path, "int", "整数");
      for (const key of ["target", "dept", "out", "in"]) s.key(replacements[n], key, path, "string", "字符串");
    }
  }
  return s.complaints;
}

function shapeOfTargetReplacements(record) {
  const s = new Shape();
  if (absent(record, "target_replacements")) return [];
  const replaced = s.key(record, "target_replacements", "", "array", "数组") || [];
  for (let n = 0; n < replaced.length; n++) {
    const path = `target_replacements[${n}]`;
    if (s.check(replaced[n], path, "object", "对象")) {
      for (const key of ["stratum", "out", "in", "reason"]) s.key(replaced[n], key, path, "string", "字符串");
    }
  }
  return s.complaints;
}

// One line per differing position, then one per item only one side has.
function compareList(path, recorded, computed, out) {
  const n = recorded.length;
  const m = computed.length;
  for (let i = 0; i < Math.min(n, m); i++) {
    if (recorded[i] !== computed[i]) out.push(`${path}[${i}]: 记录为 ${show(recorded[i])}，重新计算为 ${show(computed[i])}`);
  }
  if (n > m) {
    out.push(`${path}: 记录有 ${n} 项，重新计算只有 ${m} 项`);
    for (let i = m; i < n; i++) out.push(`${path}[${i}]: 记录为 ${show(recorded[i])}，重新计算没有该项`);
  } else if (n < m) {
    out.push(`${path}: 记录只有 ${n} 项，重新计算有 ${m} 项`);
    for (let i = n; i < m; i++) out.push(`${path}[${i}]: 记录中缺少，重新计算为 ${show(computed[i])}`);
  }
}

function compareKeys(path, recorded, computed, what, out) {
  const r = Object.keys(recorded);
  const c = Object.keys(computed);
  for (const key of sortCodePoints(c.filter((k) => !has(recorded, k)))) {
    out.push(`${path}.${key}: 记录中缺少该${what}，重新计算有 ${computed[key].length} 项`);
  }
  for (const key of sortCodePoints(r.filter((k) => !has(computed, k)))) {
    out.push(`${path}.${key}: 记录中多出该${what}，重新计算没有`);
  }
  return sortCodePoints(r.filter((k) => has(computed, k)));
}

function compareResult(recorded, computed, out) {
  for (const s of compareKeys("result.selected", recorded.selected, computed.selected, "分层", out)) {
    compareList(`result.selected.${s}`, recorded.selected[s], computed.selected[s], out);
  }
  const rg = recorded.groups;
  const cg = computed.groups;
  if (rg.length !== cg.length) out.push(`result.groups: 记录有 ${rg.length} 组，重新计算有 ${cg.length} 组`);
  for (let g = 0; g < Math.min(rg.length, cg.length); g++) {
    const path = `result.groups[${g}]`;
    compareList(`${path}.targets`, rg[g].targets, cg[g].targets, out);
    for (const d of compareKeys(`${path}.members`, rg[g].members, cg[g].members, "部门", out)) {
      compareList(`${path}.members.${d}`, rg[g].members[d], cg[g].members[d], out);
    }
    if (rg[g].leader !== cg[g].leader) {
      out.push(`${path}.leader: 记录为 ${rg[g].leader}，重新计算为 ${cg[g].leader}`);
    }
  }
  for (let g = cg.length; g < rg.length; g++) out.push(`result.groups[${g}]: 记录中多出该组，重新计算没有`);
  for (let g = rg.length; g < cg.length; g++) {
    out.push(`result.groups[${g}]: 记录中缺少该组，重新计算有 ${cg[g].targets.length} 个检查对象`);
  }
  const rr = recorded.replacements;
  const cr = computed.replacements;
  for (let n = 0; n < Math.min(rr.length, cr.length); n++) {
    for (const key of ["group", "target", "dept", "out", "in"]) {
      if (rr[n][key] !== cr[n][key]) {
        out.push(`result.replacements[${n}].${key}: 记录为 ${show(rr[n][key])}，重新计算为 ${show(cr[n][key])}`);
      }
    }
  }
  if (rr.length > cr.length) {
    out.push(`result.replacements: 记录有 ${rr.length} 项回避替换，重新计算只有 ${cr.length} 项`);
    for (let n = cr.length; n < rr.length; n++) out.push(`result.replacements[${n}]: 记录中多出 ${show(rr[n])}`);
  } else if (rr.length < cr.length) {
    out.push(`result.replacements: 记录只有 ${rr.length} 项回避替换，重新计算有 ${cr.length} 项`);
    for (let n = rr.length; n < cr.length; n++) out.push(`result.replacements[${n}]: 记录中缺少 ${show(cr[n])}`);
  }
}

// Step 3's reserve, replayed: strictly in order per stratum, out of the draw as it stands.
function checkTargetReplacements(replaced, computed, out) {
  const current = new Map(Object.entries(computed.selected).map(([s, ids]) => [s, new Set(ids)]));
  const takenOut = new Map();
  const used = new Map();
  replaced.forEach((rep, n) => {
    const path = `target_replacements[${n}]`;
    const { stratum: s, out: gone, in: came } = rep;
    if (!has(TARGET_REPLACEMENT_REASONS, rep.reason)) {
      out.push(`${path}.reason: 记录为 ${rep.reason}，只有 ${REASONS_TEXT} 的对象按备选名单替换`);
    }
    if (!current.has(s)) {
      out.push(`${path}.stratum: 记录为 ${s}，抽查方案中没有该分层`);
      return;
    }
    const reserve = computed.targetReserve[s];
    const m = used.get(s) || 0;
    used.set(s, m + 1);
    if (m >= reserve.length) {
      out.push(`${path}.in: 记录为 ${came}，分层 ${s} 的备选名单只有 ${reserve.length} 个，没有第 ${m + 1} 个`);
    } else if (came !== reserve[m]) {
      out.push(`${path}.in: 记录为 ${came}，应为分层 ${s} 备选名单第 ${m + 1} 个 ${reserve[m]}`);
    }
    const draw = current.get(s);
    if (!draw.has(gone)) {
      if (takenOut.has(gone)) {
        out.push(`${path}.out: ${gone} 已在 target_replacements[${takenOut.get(gone)}] 中被替换出，不在抽取名单中`);
      } else {
        out.push(`${path}.out: ${gone} 不是分层 ${s} 抽中或替换进入的检查对象`);
      }
    }
    draw.delete(gone);
    draw.add(came);
    takenOut.set(gone, n);
  });
}

function recordInputs(record) {
  const targets = Object.create(null);
  for (const t of record.targets) (targets[t.stratum] ||= []).push(t.id);
  const inspectors = Object.create(null);
  for (const i of record.inspectors) (inspectors[i.dept] ||= []).push(i.id);
  return { targets, inspectors, conflicts: record.conflicts.map((c) => [c[0], c[1]]) };
}

// The one-line verdict of a report (the same words as the Python VerifyReport.verdict).
export function verdictOf(report) {
  if (!report.ok) return `验证未通过：共 ${report.differences.length} 处不同`;
  if (report.seeded) return MATCH_TEXT;
  if (report.failedAttempts) {
    return `承诺值一致；公布的 ${report.failedAttempts} 个随机数经重新计算确实无法完成抽取，尚无抽取结果`;
  }
  return COMMITTED_TEXT;
}

// Redo a published record. Never throws: returns {ok, seeded, differences, commitment,
// seed, result}, where commitment is recomputed from the inputs, seed from the record's
// commitment and dice, and result (if it could be computed) from the record's seed.
// seeded is false for a record published before the seed, checked for its commitment alone.
export async function verifyRecord(record, options = {}) {
  const report = { ok: false, seeded: true, failedAttempts: 0, differences: [], commitment: null, seed: null,
    result: null };
  try {
    await verifyInto(record, report, options);
  } catch (exc) {
    report.differences.push(`记录: 无法验证（${exc && exc.name}: ${exc && exc.message}）`);
  }
  report.ok = report.differences.length === 0;
  return report;
}

async function verifyInto(record, report, options) {
  const out = report.differences;
  const progress = options.onProgress || (() => {});
  if (!isObject(record)) {
    out.push("记录: 应为 JSON 对象");
    return;
  }
  if (record.algorithm !== ALGORITHM) {
    const shown = has(record, "algorithm") ? `记录为 ${show(record.algorithm)}` : "缺失";
    out.push(`algorithm: ${shown}，本验证程序只支持 ${ALGORITHM}`);
    return;
  }
  report.seeded = !unseeded(record);
  // a long record: start the workers now, so that they have loaded their code when the ranking begins
  if (report.seeded && Array.isArray(record.targets) && record.targets.length >= PARALLEL_FROM) workers();
  const complaints = shapeOfInputs(record, report.seeded);
  if (complaints.length) {
    out.push(...complaints);
    return;
  }
  try {
    canonicalJSON(record.plan);
  } catch (exc) {
    out.push(`plan: 无法按 RFC 8785 规范化（${exc.message}）`);
    return;
  }
  // The draw starts from the record's own seed, so it runs (its long lists in Web Workers) while the
  // commitment is recomputed here; the differences are listed in the same order as one step after another.
  const resultComplaints = report.seeded ? (has(record, "result") ? shapeOfResult(record.result) : ["result: 缺失"]) : [];
  if (report.seeded) resultComplaints.push(...shapeOfTargetReplacements(record));
  const replaced = report.seeded && !resultComplaints.length ? record.target_replacements || [] : null;
  const drawing = replaced === null ? null : (async () => {
    const { targets, inspectors, conflicts } = recordInputs(record);
    return draw(record.task, record.plan, targets, inspectors, conflicts, record.seed,  // with the reserve as far
      { onProgress: progress, reserve: replaced.length });                              // as the replacements reach
  })().then((value) => ({ value }), (error) => ({ error }));
  if (!drawing) progress("承诺值", 0, 1);
  const c = await recordCommitment(record);
  report.commitment = c.commitment;
  if (record.commitment !== c.commitment) {
    out.push(`commitment: 记录为 ${record.commitment}，由 task、plan、targets、inspectors 重新计算为 ${c.commitment}`);
  }
  if (isObject(record.draw)) {
    for (const [name, mine] of HASHES) {
      if (has(record.draw, name) && record.draw[name] !== c[mine]) {
        out.push(`draw.${name}: 记录为 ${show(record.draw[name])}，重新计算为 ${c[mine]}`);
      }
    }
    await checkFailedAttempts(record, record.draw.failed_attempts, report);
  }
  if (!report.seeded) return;

  const seed = await seedFrom(record.commitment, record.dice);
  report.seed = seed;
  if (record.seed !== seed) out.push(`seed: 记录为 ${record.seed}，由 commitment 与 dice 重新计算为 ${seed}`);

  if (resultComplaints.length) {
    out.push(...resultComplaints);
    return;
  }
  const { value: computed, error } = await drawing;
  if (error !== undefined) {
    if (error instanceof DrawError) {
      out.push(`result: 无法重新计算抽取结果：${error.message}`);
      return;
    }
    throw error;
  }
  report.result = computed;
  compareResult(record.result, computed, out);
  checkTargetReplacements(replaced, computed, out);
  if (has(record, "expert_recusals")) checkExpertRecusals(record, computed, replaced, out);
}

// ------------------------------------------------------------------ the app's further facts

// draw.failed_attempts: each seed is SHA-256 of the commitment and its dice, and the draw redone
// with it fails, for the reason published.
async function checkFailedAttempts(record, attempts, report) {
  if (attempts === undefined || attempts === null) return;
  const out = report.differences;
  const s = new Shape();
  if (s.check(attempts, "draw.failed_attempts", "array", "数组")) {
    attempts.forEach((attempt, n) => {
      const path = `draw.failed_attempts[${n}]`;
      if (s.check(attempt, path, "object", "对象")) {
        for (const key of ["dice", "seed", "error"]) s.key(attempt, key, path, "string", "字符串");
      }
    });
  }
  if (s.complaints.length) {
    out.push(...s.complaints);
    return;
  }
  const { targets, inspectors, conflicts } = recordInputs(record);
  for (let n = 0; n < attempts.length; n++) {
    const path = `draw.failed_attempts[${n}]`;
    const attempt = attempts[n];
    const seed = await seedFrom(record.commitment, attempt.dice);
    if (attempt.seed !== seed) out.push(`${path}.seed: 记录为 ${attempt.seed}，由 commitment 与 dice 重新计算为 ${seed}`);
    try {
      await draw(record.task, record.plan, targets, inspectors, conflicts, attempt.seed);
      out.push(`${path}.error: 记录为 ${attempt.error}，但用该随机种子重新计算可以完成抽取`);
    } catch (exc) {
      if (!(exc instanceof DrawError)) throw exc;
      if (exc.code !== attempt.error) out.push(`${path}.error: 记录为 ${attempt.error}，重新计算为 ${exc.code}（${exc.message}）`);
    }
  }
  report.failedAttempts = attempts.length;
}

// expert_recusals: each expert of plan.experts steps aside for every target of their group (as
// drawn, then those brought in from the reserve, in order) they declared a conflict with.
function checkExpertRecusals(record, computed, replaced, out) {
  const s = new Shape();
  const experts = has(record.plan, "experts") ? record.plan.experts : [];
  if (s.check(experts, "plan.experts", "array", "数组")) {
    experts.forEach((entry, n) => {
      if (s.check(entry, `plan.experts[${n}]`, "object", "对象")) {
        s.key(entry, "group", `plan.experts[${n}]`, "int", "整数");
        s.key(entry, "id", `plan.experts[${n}]`, "string", "字符串");
      }
    });
  }
  const pairs = has(record, "expert_conflicts") ? s.key(record, "expert_conflicts", "", "array", "数组") : [];
  (pairs || []).forEach((pair, n) => {
    if (s.check(pair, `expert_conflicts[${n}]`, "array", "[专家编号, 检查对象编号] 数组") && pair.length !== 2) {
      s.complaints.push(`expert_conflicts[${n}]: 格式错误，应恰有 2 项，实有 ${pair.length} 项`);
    } else if (Array.isArray(pair)) {
      s.strings(pair, `expert_conflicts[${n}]`);
    }
  });
  const recorded = s.key(record, "expert_recusals", "", "array", "数组");
  if (s.complaints.length) {
    out.push(...s.complaints);
    return;
  }
  const conflicted = new Set(pairs.map(([e, t]) => JSON.stringify([e, t])));
  const groupOf = new Map();
  const targets = new Map();
  computed.groups.forEach((group, g) => {
    targets.set(g, [...group.targets]);
    for (const t of group.targets) groupOf.set(t, g);
  });
  for (const rep of replaced) { // a target brought in takes the group of the one it replaces
    if (groupOf.has(rep.out)) {
      const g = groupOf.get(rep.out);
      groupOf.set(rep.in, g);
      targets.get(g).push(rep.in);
    }
  }
  const expected = [];
  for (const e of experts) {
    for (const t of targets.get(e.group) || []) {
      if (conflicted.has(JSON.stringify([e.id, t]))) expected.push({ group: e.group, expert: e.id, target: t });
    }
  }
  compareObjectList("expert_recusals", recorded, expected, out);
}

// compareList for lists of objects (compared as canonical JSON)
function compareObjectList(path, recorded, computed, out) {
  const key = (v) => canonicalJSON(v);
  const n = recorded.length;
  const m = computed.length;
  for (let i = 0; i < Math.min(n, m); i++) {
    if (key(recorded[i]) !== key(computed[i])) {
      out.push(`${path}[${i}]: 记录为 ${show(recorded[i])}，重新计算为 ${show(computed[i])}`);
    }
  }
  if (n > m) {
    out.push(`${path}: 记录有 ${n} 项，重新计算只有 ${m} 项`);
    for (let i = m; i < n; i++) out.push(`${path}[${i}]: 记录为 ${show(recorded[i])}，重新计算没有该项`);
  } else if (n < m) {
    out.push(`${path}: 记录只有 ${n} 项，重新计算有 ${m} 项`);
    for (let i = n; i < m; i++) out.push(`${path}[${i}]: 记录中缺少，重新计算为 ${show(computed[i])}`);
  }
}
