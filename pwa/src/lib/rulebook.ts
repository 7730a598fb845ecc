// The rules before section.sign, record.finalize and record.submit, read from schemas/field_rules.json at
// build time: the same file the server reads (backend/inspections/rulebook.py). This module implements each
// kind of rule once, as the server's does; tests/data/rule-cases.json runs the same cases through both
// (pwa/test/rules.test.ts, tests/unit/test_rule_cases.py). It works on plain facts, the case file's shapes:
//   section: items [{id, name, check_points: [{id, text, required, answer_type}]}] and the section's values;
//   record:  the record's values and departments [{id, name, status, values, signed_by, members: [{inspector_id, name}]}];
//   submit:  the record's values, members [{inspector_id, name, department}], signed_by, representative_signed.
// Problems come rule by rule in the file's order; consecutive rules over the same subjects (each item, check
// point, department or member) are applied subject by subject, subjects in id order (members as given).
import file from "../../../schemas/field_rules.json";

type Values = Record<string, unknown>;
type Params = Record<string, string | number>;

export interface Rule {
  id: string; kind: string; each?: string; when?: Record<string, boolean>; message: string;
  field?: string; fields?: string[] | Record<string, string>; methods?: string[]; results?: string[];
  results_not?: string[]; answer_types?: string[]; implies?: Record<string, string>; category?: string;
  children?: string[];
}
export interface RuleFile {
  vocabulary: {
    point_results: Record<string, string>; handling: Record<string, string>; methods: Record<string, string>;
    outcomes: Record<string, string>; outcomes_without_representative: string[];
    result_categories: Record<string, string>; followup_actions: Record<string, string>; gps_datums: string[];
    gps_sources: Record<string, string>; attachment_kinds: Record<string, string>;
    section_statuses: Record<string, string>; record_states: Record<string, string>;
  };
  empty: { blank_characters: string };
  point_text_max: number;
  section: Rule[]; record: Rule[]; submit: Rule[];
}
export interface PointFacts { id: number; text: string; required: boolean; answer_type: string }
export interface ItemFacts { id: number; name: string; check_points: PointFacts[] }
export interface DepartmentFacts {
  id: number; name: string; status: string | null; values: Values; signed_by: (number | null)[];
  members: { inspector_id: number; name: string }[];
}
export interface MemberFacts { inspector_id: number; name: string; department: string }
export interface Problem { rule: string; message: string }

export const RULES = file as RuleFile;
export const SCOPES = ["section", "record", "submit"] as const;
export type Scope = (typeof SCOPES)[number];
const VOCABULARY = RULES.vocabulary;
const SEPARATOR = "、";
const BLANK = new Set(Array.from(RULES.empty.blank_characters));
const PLACEHOLDER = /\{([a-z_]+)\}/g;

/** Absent, null, false, an empty list or object, or blank text: not filled (`empty` in the file). */
export function filled(value: unknown): boolean {
  if (value === null || value === undefined || value === false) return false;
  if (typeof value === "string") return Array.from(value).some((c) => !BLANK.has(c));
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value as object).length > 0;
  return true;
}

const isObject = (v: unknown): v is Values => typeof v === "object" && v !== null && !Array.isArray(v);

class Facts {
  values: Values;
  outcome: Values | null;
  categories: string[];
  failed: boolean;
  departmentIds: Set<unknown>;
  signedBy: Set<unknown>;
  constructor(values: Values, public subjects: Record<string, unknown[]>, signedBy: unknown[] = [],
              public representativeSigned = false) {
    this.values = isObject(values) ? values : {};
    const outcome = this.values.outcome;
    this.outcome = isObject(outcome) && filled(outcome) ? outcome : null;
    const cats = this.values.result_categories;
    this.categories = Array.isArray(cats) ? cats.filter((c): c is string => typeof c === "string") : [];
    const departments = (subjects.department || []) as DepartmentFacts[];
    this.failed = departments.some((d) => Object.entries(d.values || {})
      .some(([k, v]) => k.startsWith("points.") && k.endsWith(".result") && v === "fail"));
    this.departmentIds = new Set(departments.map((d) => d.id));
    this.signedBy = new Set(signedBy);
  }
  outcomeLabel(): string {
    const code = this.outcome!.code as string;
    return VOCABULARY.outcomes[code] ?? String(code);
  }
}

const category = (code: string): string => VOCABULARY.result_categories[code] ?? code;

// --- conditions -------------------------------------------------------------------------------------
const CONDITIONS: Record<string, (facts: Facts, want: boolean) => boolean> = {
  outcome: (facts, want) => (facts.outcome !== null) === want,
  failed: (facts, want) => facts.failed === want,
  representative_expected: (facts, want) =>
    (facts.outcome === null || !VOCABULARY.outcomes_without_representative.includes(facts.outcome.code as string)) === want,
};

// --- kinds: each returns the placeholders of every problem it finds (none: the rule is met) ------------
type Check = (rule: Rule, facts: Facts, subject: unknown) => Params[];

const pointText = (p: PointFacts): string => Array.from(String(p.text)).slice(0, RULES.point_text_max).join("");

export const KINDS: Record<string, Check> = {
  outcome_evidence: (rule, facts) => (filled(facts.outcome![rule.field!]) ? [] : [{ outcome: facts.outcomeLabel() }]),
  outcome_category: (rule, facts) => {
    const implied = rule.implies![facts.outcome!.code as string];
    return implied && !facts.categories.includes(implied) ? [{ category: category(implied) }] : [];
  },
  item_method: (_rule, facts, s) => {
    const item = s as ItemFacts;
    return filled(facts.values[`items.${item.id}.method`]) ? [] : [{ item: item.name }];
  },
  item_evidence: (rule, facts, s) => {
    const item = s as ItemFacts;
    if (!rule.methods!.includes(facts.values[`items.${item.id}.method`] as string)) return [];
    const raw = facts.values[`items.${item.id}.evidence`];
    const evidence = isObject(raw) ? raw : {};
    const missing = Object.entries(rule.fields as Record<string, string>).filter(([k]) => !filled(evidence[k])).map(([, label]) => label);
    return missing.length ? [{ item: item.name, missing: missing.join(SEPARATOR) }] : [];
  },
  point_result: (_rule, facts, s) => {
    const point = s as PointFacts;
    return point.required && !filled(facts.values[`points.${point.id}.result`]) ? [{ point: pointText(point) }] : [];
  },
  // for an answered check point the rule names (by result, by answer type): one of `fields` filled
  point_filled: (rule, facts, s) => {
    const point = s as PointFacts;
    const result = facts.values[`points.${point.id}.result`];
    if (!filled(result)) return [];
    if (rule.results && !rule.results.includes(result as string)) return [];
    if (rule.results_not && rule.results_not.includes(result as string)) return [];
    if (rule.answer_types && !rule.answer_types.includes(point.answer_type)) return [];
    if ((rule.fields as string[]).some((f) => filled(facts.values[`points.${point.id}.${f}`]))) return [];
    return [{ point: pointText(point) }];
  },
  record_filled: (rule, facts) => ((rule.fields as string[]).every((f) => filled(facts.values[f])) ? [] : [{}]),
  section_signed: (_rule, _facts, s) => {
    const d = s as DepartmentFacts;
    return d.status === "signed" ? [] : [{ department: d.name }];
  },
  // every member of a department whose section is signed has signed it (an unsigned one: section_signed)
  section_members_signed: (_rule, _facts, s) => {
    const d = s as DepartmentFacts;
    if (d.status !== "signed") return [];
    const signed = new Set(d.signed_by || []);
    return (d.members || []).filter((m) => !signed.has(m.inspector_id)).map((m) => ({ member: m.name, department: d.name }));
  },
  category_children: (rule, facts) => {
    if (facts.categories.includes(rule.category!) && !rule.children!.some((c) => facts.categories.includes(c))) {
      return [{ category: category(rule.category!), children: rule.children!.map(category).join(SEPARATOR) }];
    }
    return [];
  },
  category_alone: (rule, facts) =>
    (facts.categories.includes(rule.category!) && facts.categories.some((c) => c !== rule.category) ? [{ category: category(rule.category!) }] : []),
  category_excluded: (rule, facts) => (facts.categories.includes(rule.category!) ? [{ category: category(rule.category!) }] : []),
  followup_departments: (_rule, facts) => {
    const followups = facts.values.followups;
    if (!Array.isArray(followups)) return [];
    return followups.flatMap((f, i) => (isObject(f) && facts.departmentIds.has(f.department_id) ? [] : [{ n: i + 1 }]));
  },
  record_members_signed: (_rule, facts, s) => {
    const m = s as MemberFacts;
    return facts.signedBy.has(m.inspector_id) ? [] : [{ member: m.name, department: m.department }];
  },
  representative_signed: (_rule, facts) => (facts.representativeSigned ? [] : [{}]),
};

/** The kinds this module implements are exactly those the file uses (a test checks; so does the server's). */
export function kindsUsed(): Set<string> {
  return new Set(SCOPES.flatMap((scope) => RULES[scope].map((r) => r.kind)));
}

function message(template: string, params: Params): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    if (!(name in params)) throw new Error(`rule message names {${name}}, which its kind does not give`);
    return String(params[name]);
  });
}

function applies(rule: Rule, facts: Facts): boolean {
  return Object.entries(rule.when || {}).every(([key, want]) => {
    const condition = CONDITIONS[key];
    if (!condition) throw new Error(`unknown condition ${key} in rule ${rule.id}`);
    return condition(facts, want);
  });
}

function run(scope: Scope, facts: Facts): Problem[] {
  const out: Problem[] = [];
  const rules = RULES[scope];
  let i = 0;
  while (i < rules.length) {
    const each = rules[i].each;
    let block = [rules[i]];
    while (each !== undefined && i + block.length < rules.length && rules[i + block.length].each === each) block.push(rules[i + block.length]);
    i += block.length;
    block = block.filter((r) => applies(r, facts));
    for (const subject of each !== undefined ? facts.subjects[each] || [] : [null]) {
      for (const r of block) {
        const check = KINDS[r.kind];
        if (!check) throw new Error(`rule ${r.id}: kind ${r.kind} is not implemented on the phone`);
        for (const p of check(r, facts, subject)) out.push({ rule: r.id, message: message(r.message, p) });
      }
    }
  }
  return out;
}

const byId = <T extends { id: number }>(list: T[]): T[] => [...list].sort((a, b) => a.id - b.id);

/** Why a department's section cannot be signed yet (empty when it can). */
export function sectionRules(items: ItemFacts[], values: Values): Problem[] {
  const sorted = byId(items);
  const points = byId(sorted.flatMap((i) => i.check_points || []));
  return run("section", new Facts(values, { item: sorted, point: points }));
}

/** Why the lead cannot finalise the record yet (besides open conflicts and a changed hash). */
export function recordRules(values: Values, departments: DepartmentFacts[]): Problem[] {
  return run("record", new Facts(values, { department: byId(departments) }));
}

/** Who still has to sign the finalised record before the lead submits it. */
export function submitRules(values: Values, members: MemberFacts[], signedBy: (number | null)[], representativeSigned: boolean): Problem[] {
  return run("submit", new Facts(values, { member: [...members] }, signedBy, representativeSigned));
}
