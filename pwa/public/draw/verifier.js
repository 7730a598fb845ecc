// The draw-record verifier, put into a page by mountVerifier(root, options): the standalone page
// (verify.html, through verify.js) and the public portal's task and verify pages (pwa/portal, which
// import this file at run time). The algorithm lives in dsr.js (long lists ranked in Web Workers);
// this file loads a record (?record=<same-origin url>, ?task=<code>, a chosen file or pasted JSON),
// runs verifyRecord and shows the record and the verdict. All record text goes into the page
// through textContent, never as HTML. One verifier per page (its elements have fixed ids).

import { ALGORITHM, MATCH_TEXT, TARGET_REPLACEMENT_REASONS, verdictOf, verifyRecord } from "./dsr.js";

const SHOW_FIRST = 100; // groups / ids shown before a "show all" button

let host = document;
const $ = (id) => host.querySelector(`#${id}`);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function setStatus(text) {
  $("status").textContent = text;
}

function setVerdict(status, text) {
  const v = $("verdict");
  v.dataset.status = status;
  v.textContent = text;
}

// ------------------------------------------------------------------ loading

async function loadFromUrl(param) {
  let url;
  try {
    url = new URL(param, location.href);
  } catch {
    throw new Error(`记录地址无效：${param}`);
  }
  if (url.origin !== location.origin) throw new Error("只能加载本站的记录地址（出于安全考虑，不加载其他网站的内容）");
  setStatus(`正在下载记录：${url.pathname}${url.search}`);
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`无法下载记录（HTTP ${response.status}）：${url.pathname}`);
  const text = await response.text();
  return parse(text);
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch (exc) {
    throw new Error(`不是有效的 JSON：${exc.message}`);
  }
}

// ------------------------------------------------------------------ verifying

let running = false;

async function run(data) {
  if (running) return;
  running = true;
  const button = $("verify-button");
  if (button) button.disabled = true;
  $("records").replaceChildren();
  setVerdict("running", "");
  try {
    const records = isObject(data) && Array.isArray(data.draws) && !("result" in data) ? data.draws : [data];
    const reports = [];
    for (let n = 0; n < records.length; n++) {
      const label = records.length > 1 ? `第 ${n + 1} 条记录：` : "";
      const started = performance.now();
      let lastPaint = 0;
      const report = await verifyRecord(records[n], {
        onProgress(stage, done, total) {
          const now = performance.now();
          if (now - lastPaint > 100 || done === total) {
            lastPaint = now;
            setStatus(`${label}正在计算 ${stage}：${done.toLocaleString("zh-CN")} / ${total.toLocaleString("zh-CN")}`);
          }
        },
      });
      report.seconds = (performance.now() - started) / 1000;
      reports.push(report);
      $("records").append(renderRecord(records[n], report, records.length > 1 ? n : null));
    }
    const failed = reports.filter((r) => !r.ok);
    const seconds = reports.reduce((a, r) => a + r.seconds, 0);
    setStatus(`计算完成，用时 ${seconds.toFixed(1)} 秒。`);
    if (records.length === 1) {
      // every difference is listed under the record, never only the first
      const report = reports[0];
      setVerdict(!report.ok ? "mismatch" : report.seeded ? "match" : "committed", verdictOf(report));
    } else if (!failed.length) {
      const early = reports.filter((r) => !r.seeded).length;
      setVerdict("match", `${MATCH_TEXT}（共 ${records.length} 条记录${early ? `，其中 ${early} 条尚未录入随机数，仅核对承诺值` : ""}）`);
    } else {
      const total = failed.reduce((a, r) => a + r.differences.length, 0);
      setVerdict("mismatch", `验证未通过：${failed.length} / ${records.length} 条记录未通过，共 ${total} 处不同`);
    }
  } catch (exc) {
    setStatus("");
    setVerdict("error", `无法验证：${exc.message}`);
  } finally {
    running = false;
    if (button) button.disabled = false;
  }
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

// ------------------------------------------------------------------ rendering

function mark(recorded, computed) {
  if (computed === null || computed === undefined) return null;
  return recorded === computed
    ? el("span", { class: "match-mark" }, " ✓ 一致")
    : el("span", { class: "mismatch-mark" }, ` ✗ 重新计算为 ${computed}`);
}

function idList(ids) {
  const list = el("ol", { class: "ids" });
  const add = (from, to) => {
    for (let i = from; i < to; i++) list.append(el("li", {}, ids[i]));
  };
  add(0, Math.min(ids.length, SHOW_FIRST));
  if (ids.length <= SHOW_FIRST) return list;
  const more = el("button", { type: "button" }, `显示全部 ${ids.length} 个`);
  more.addEventListener("click", () => {
    add(SHOW_FIRST, ids.length);
    more.remove();
  });
  return el("div", {}, list, more);
}

// strata for people: "all" is no stratification; A–D are the credit-risk classes (docs/draw.md)
const STRATA = { all: "不分层（全部检查对象）", A: "A 类（信用风险低）", B: "B 类（信用风险一般）", C: "C 类（信用风险较高）",
  D: "D 类（信用风险高）", U: "未分类" };
function stratumLabel(s) {
  return Object.prototype.hasOwnProperty.call(STRATA, s) ? STRATA[s] : `分层 ${s}`;
}
// groups and rows are numbered from 1 for people (the record's own indexes start at 0)
function groupLabel(g) {
  return Number.isInteger(g) && g >= 0 ? `第 ${g + 1} 组` : str(g);
}
const str = (v) => (typeof v === "string" ? v : JSON.stringify(v ?? null));

function countBy(items, key) {
  const counts = new Map();
  for (const item of items) {
    if (isObject(item)) counts.set(item[key], (counts.get(item[key]) || 0) + 1);
  }
  return counts;
}

// times are stored in UTC and shown in Beijing time
function beijingTime(iso) {
  if (typeof iso !== "string") return null;
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  return when.toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }) + "（北京时间）";
}

function renderRecord(record, report, index) {
  const section = el("section", { class: "record", dataset: { index: index ?? 0 } });
  const title = isObject(record) && typeof record.task === "string" ? `任务 ${record.task}` : "记录";
  section.append(el("h2", {}, index === null ? title : `${index + 1}. ${title}`));
  section.append(el("p", { class: `record-verdict ${report.ok ? "ok" : "bad"}` }, verdictOf(report)));
  if (!report.ok) {
    section.append(el("ol", { class: "differences" }, report.differences.map((d) => el("li", {}, d))));
  }
  if (!isObject(record)) return section;

  // names and dates the app publishes beside the core fields (optional; never part of the check)
  const names = isObject(record.names) ? record.names : {};
  const named = (kind) => (id) => {
    const name = isObject(names[kind]) && typeof names[kind][id] === "string" ? names[kind][id] : null;
    return name ? `${name}（${id}）` : str(id);
  };
  const targetName = named("targets");
  const inspectorName = named("inspectors");
  const info = isObject(record.task_info) ? record.task_info : null;
  const draw = isObject(record.draw) ? record.draw : null;
  if (info || draw) {
    const facts = [];
    const add = (label, value) => { if (value) facts.push(el("dt", {}, label), el("dd", {}, str(value))); };
    if (info) {
      add("任务名称", info.name);
      add("所属计划", info.plan_name && `${info.plan_name}（${info.plan_code}）`);
      add("牵头部门", info.lead_department);
      add("检查期间", info.start_date && `${info.start_date} 至 ${info.end_date || "—"}`);
    }
    if (draw) {
      add("第几次摇号", draw.seq && `第 ${draw.seq} 次${draw.status === "superseded" ? "（已被重新抽取取代）" : ""}`);
      add("重新抽取理由", draw.reason);
      add("取代理由", draw.superseded_reason);
      add("公布承诺值时间", beijingTime(draw.committed_at));
      add("摇号时间", beijingTime(draw.drawn_at));
      add("随机数来源", draw.seed_source === "dice" ? "现场掷骰" : draw.seed_source === "csprng" ? `系统随机数（操作人：${draw.drawn_by || "—"}）` : null);
      add("见证人", Array.isArray(draw.witnesses) && draw.witnesses.length ? draw.witnesses.join("、") : null);
    }
    if (facts.length) section.append(el("h3", {}, "任务与摇号"), el("dl", { class: "facts" }, facts));
  }
  section.append(el("h3", {}, "承诺与随机种子"),
    el("dl", { class: "facts" },
      el("dt", {}, "算法"), el("dd", {}, el("code", {}, str(record.algorithm)), record.algorithm === ALGORITHM ? "" : " ✗ 不支持"),
      el("dt", {}, "任务编号"), el("dd", {}, str(record.task)),
      el("dt", {}, "承诺值（commitment）"), el("dd", {}, el("code", {}, str(record.commitment)), mark(record.commitment, report.commitment)),
      el("dt", {}, "骰子数字（dice）"), el("dd", {}, record.dice === null ? "（尚未录入）" : el("code", {}, str(record.dice))),
      draw && typeof draw.dice_entered === "string" && draw.dice_entered !== record.dice
        ? [el("dt", {}, "现场录入"), el("dd", {}, el("code", { class: "dice-entered" }, draw.dice_entered))] : null,
      el("dt", {}, "随机种子（seed）"), el("dd", {}, record.seed === null ? "（尚未录入随机数）" : [el("code", {}, str(record.seed)), mark(record.seed, report.seed)]),
    ));

  if (Array.isArray(record.targets) && Array.isArray(record.inspectors)) {
    const t = countBy(record.targets, "stratum");
    const i = countBy(record.inspectors, "dept");
    section.append(el("h3", {}, "候选名单"),
      el("p", {}, `检查对象 ${record.targets.length} 个（${[...t].map(([k, v]) => `${stratumLabel(k)}：${v}`).join("，")}）；`,
        `检查人员 ${record.inspectors.length} 人（${[...i].map(([k, v]) => `${k}：${v}`).join("，")}）；`,
        `申报回避 ${Array.isArray(record.conflicts) ? record.conflicts.length : 0} 项。`));
  }

  const attempts = draw && Array.isArray(draw.failed_attempts) ? draw.failed_attempts : [];
  if (attempts.length) {
    section.append(el("h3", {}, `未能完成抽取的随机数（${attempts.length} 个）`),
      el("p", { class: "hint" }, "每个随机数都已公开；验证程序用它重新计算，核对抽取确实因所述原因无法完成。"),
      el("table", { class: "failed-attempts" },
        el("thead", {}, el("tr", {}, ["时间", "骰子数字", "随机种子", "原因"].map((h) => el("th", {}, h)))),
        el("tbody", {}, attempts.map((a) => el("tr", {}, isObject(a)
          ? [el("td", {}, beijingTime(a.at) || ""), el("td", { class: "mono" }, str(a.dice)),
            el("td", { class: "mono" }, str(a.seed)), el("td", {}, `${str(a.error)}${a.message ? `：${a.message}` : ""}`)]
          : el("td", { colspan: 4 }, "（格式错误）"))))));
  }
  const result = isObject(record.result) ? record.result : null;
  if (!result) return section;
  if (isObject(result.selected)) {
    section.append(el("h3", {}, "抽中的检查对象（按签的顺序）"));
    for (const [stratum, ids] of Object.entries(result.selected)) {
      if (!Array.isArray(ids)) continue;
      const details = el("details", {}, el("summary", {}, `${stratumLabel(stratum)}：${ids.length} 个`));
      details.append(idList(ids));
      section.append(details);
    }
  }
  if (Array.isArray(result.groups)) {
    section.append(el("h3", {}, `检查组（${result.groups.length} 组）`));
    const depts = [...new Set(result.groups.flatMap((g) => (isObject(g) && isObject(g.members) ? Object.keys(g.members) : [])))];
    const table = el("table", { class: "groups" },
      el("thead", {}, el("tr", {}, el("th", {}, "组"), el("th", {}, "组长"), depts.map((d) => el("th", {}, `${d} 成员`)), el("th", {}, "检查对象"))));
    const body = el("tbody");
    const row = (g, n) => {
      if (!isObject(g)) return el("tr", {}, el("td", {}, groupLabel(n)), el("td", { colspan: depts.length + 2 }, "（格式错误）"));
      const members = isObject(g.members) ? g.members : {};
      return el("tr", {},
        el("td", {}, groupLabel(n)),
        el("td", {}, inspectorName(g.leader)),
        depts.map((d) => el("td", {}, Array.isArray(members[d]) ? members[d].map(inspectorName).join("、") : "")),
        el("td", {}, Array.isArray(g.targets) ? g.targets.map(targetName).join("、") : ""));
    };
    const addRows = (from, to) => {
      for (let n = from; n < to; n++) body.append(row(result.groups[n], n));
    };
    addRows(0, Math.min(result.groups.length, SHOW_FIRST));
    table.append(body);
    section.append(el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "检查组（可横向滚动）" }, table));
    if (result.groups.length > SHOW_FIRST) {
      const more = el("button", { type: "button" }, `显示全部 ${result.groups.length} 组`);
      more.addEventListener("click", () => {
        addRows(SHOW_FIRST, result.groups.length);
        more.remove();
      });
      section.append(more);
    }
  }
  if (Array.isArray(result.replacements)) {
    section.append(el("h3", {}, `回避替换（${result.replacements.length} 项）`));
    if (result.replacements.length) {
      section.append(el("table", { class: "replacements" },
        el("thead", {}, el("tr", {}, ["组", "检查对象", "部门", "回避人员", "替换人员"].map((h) => el("th", {}, h)))),
        el("tbody", {}, result.replacements.map((r) => el("tr", {},
          isObject(r) ? ["group", "target", "dept", "out", "in"].map((k) => el("td", { class: "mono" }, k === "group" ? groupLabel(r[k]) : str(r[k])))
            : el("td", { colspan: 5 }, "（格式错误）"))))));
    } else {
      section.append(el("p", {}, "无。"));
    }
  }
  const recusals = Array.isArray(record.expert_recusals) ? record.expert_recusals : [];
  if (recusals.length) {
    section.append(el("h3", {}, `专家回避（${recusals.length} 项）`),
      el("table", { class: "expert-recusals" },
        el("thead", {}, el("tr", {}, ["组", "专家", "检查对象"].map((h) => el("th", {}, h)))),
        el("tbody", {}, recusals.map((r) => el("tr", {}, isObject(r)
          ? [el("td", {}, groupLabel(r.group)), el("td", { class: "mono" }, str(r.expert)), el("td", {}, targetName(r.target))]
          : el("td", { colspan: 3 }, "（格式错误）"))))));
  }
  const replaced = Array.isArray(record.target_replacements) ? record.target_replacements : [];
  section.append(el("h3", {}, `检查对象替换（${replaced.length} 项）`));
  if (replaced.length) {
    section.append(el("p", { class: "hint" }, "抽中的对象已关闭停业、注销或吊销时，按其分层备选名单的顺序替换；无法联系的对象不替换，作为检查结果公示。"));
    const reason = (r) => (has(TARGET_REPLACEMENT_REASONS, r.reason) ? `${TARGET_REPLACEMENT_REASONS[r.reason]}（${r.reason}）` : str(r.reason));
    section.append(el("table", { class: "target-replacements" },
      el("thead", {}, el("tr", {}, ["序号", "分层", "替换出", "替换进入", "原因", "时间"].map((h) => el("th", {}, h)))),
      el("tbody", {}, replaced.map((r, n) => el("tr", {},
        isObject(r)
          ? [el("td", {}, String(n + 1)), el("td", {}, stratumLabel(r.stratum)), el("td", {}, targetName(r.out)),
            el("td", {}, targetName(r.in)), el("td", {}, reason(r)), el("td", {}, beijingTime(r.at) || "")]
          : el("td", { colspan: 6 }, "（格式错误）"))))));
  } else {
    section.append(el("p", {}, "无。"));
  }
  return section;
}

const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

// ------------------------------------------------------------------ wiring

function form() {
  return el("section", { id: "input", "aria-labelledby": "input-title" },
    el("h2", { id: "input-title" }, "选择要验证的记录"),
    el("form", { id: "load-form" },
      el("p", {}, el("label", { for: "file" }, "从文件读取："),
        el("input", { type: "file", id: "file", accept: ".json,application/json" })),
      el("p", {}, el("label", { for: "paste" }, "或粘贴记录 JSON："), el("br"),
        el("textarea", { id: "paste", rows: "6", spellcheck: "false", placeholder: '{"algorithm": "dsr/v1", "task": "…", …}' })),
      el("p", {}, el("button", { type: "submit", id: "verify-button" }, "开始验证"))),
    el("p", { class: "hint" }, "也可以在地址后加 ", el("code", {}, "?record="), " 和本站记录的地址，例如 ",
      el("code", {}, "verify.html?record=/api/public/draws/任务编号/record"), "。"));
}

/**
 * Put the verifier into `root`: with `form` (default true) the file / paste form; then the status, the
 * verdict and the records. `recordUrl` (same site) is loaded and verified at once; else `params` (a
 * location.search) may name one by ?record= or ?task=. Returns a promise settled when that first check ends.
 */
export function mountVerifier(root, { form: withForm = true, recordUrl = null, params = "" } = {}) {
  host = root;
  root.replaceChildren(
    ...(withForm ? [form()] : []),
    el("section", { id: "status", "aria-live": "polite" }),
    el("section", { id: "verdict", role: "status", dataset: { status: "idle" } }),
    el("section", { id: "records" }),
  );
  if (withForm) {
    $("load-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const file = $("file").files[0];
        const text = $("paste").value.trim() ? $("paste").value : file ? await file.text() : null;
        if (text === null) {
          setVerdict("error", "请先选择记录文件或粘贴记录 JSON");
          return;
        }
        await run(parse(text));
      } catch (exc) {
        setVerdict("error", `无法验证：${exc.message}`);
      }
    });
  }
  const query = new URLSearchParams(params);
  // ?task=<code> (the officers' app links a task this way): that task's public record
  const taskParam = query.get("task");
  const url = recordUrl || query.get("record") || (taskParam ? `/api/public/draws/${encodeURIComponent(taskParam)}/record` : null);
  if (!url) return Promise.resolve();
  return loadFromUrl(url).then(run, (exc) => {
    setStatus("");
    setVerdict("error", `无法验证：${exc.message}`);
  });
}
