// The phone's rules against the same cases as the server's (tests/data/rule-cases.json, also run by
// tests/unit/test_rule_cases.py): one rules file (schemas/field_rules.json), two interpreters, the same
// problems in the same words.
import { describe, expect, it } from "vitest";
import cases from "../../tests/data/rule-cases.json";
import type { TaskItem } from "../src/api/types";
import { filled, KINDS, kindsUsed, recordRules, RULES, SCOPES, sectionRules, submitRules, type DepartmentFacts,
  type ItemFacts, type MemberFacts } from "../src/lib/rulebook";
import { METHODS, OUTCOME_CATEGORY, OUTCOMES, RESULT_CATEGORIES, outcomeProblem, recordProblems, sectionProblems,
  submitProblems } from "../src/lib/rules";

type Values = Record<string, unknown>;
interface Case { name: string; base: string; values: Values; problems: string[][] }
const C = cases as unknown as {
  catalogues: Record<string, ItemFacts[]>; groups: Record<string, DepartmentFacts[]>; members: Record<string, MemberFacts[]>;
  bases: Record<string, Values>;
  section: (Case & { catalogue: string | ItemFacts[] })[];
  record: (Case & { group: string | DepartmentFacts[] })[];
  submit: (Case & { members: string | MemberFacts[]; signed_by: number[]; representative_signed: boolean })[];
};

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));
function valuesOf(c: Case): Values {
  const values = clone(C.bases[c.base]);
  for (const [path, value] of Object.entries(c.values)) {
    if (value === null) delete values[path];
    else values[path] = value;
  }
  return values;
}
const named = <T>(value: string | T, table: Record<string, T>): T => clone(typeof value === "string" ? table[value] : value);
const pairs = (problems: { rule: string; message: string }[]) => problems.map((p) => [p.rule, p.message]);

describe("the same cases as the server", () => {
  it.each(C.section.map((c) => [c.name, c] as const))("section: %s", (_name, c) => {
    const items = named(c.catalogue, C.catalogues);
    const values = valuesOf(c);
    expect(pairs(sectionRules(items, values))).toEqual(c.problems);
    // what InspectView and SignView show (from the task's items as pulled)
    const taskItems = items.map((i) => ({ ...i, code: "", category: "", kind: "general", methods: [], legal_basis: null,
      check_points: i.check_points.map((cp, n) => ({ ...cp, seq: n + 1, options: null, guidance: null })) })) as TaskItem[];
    expect(sectionProblems(taskItems, values as never)).toEqual(c.problems.map((p) => p[1]));
  });
  it.each(C.record.map((c) => [c.name, c] as const))("record: %s", (_name, c) => {
    const departments = named(c.group, C.groups);
    expect(pairs(recordRules(valuesOf(c), departments))).toEqual(c.problems);
    expect(recordProblems(valuesOf(c) as never, departments)).toEqual(c.problems.map((p) => p[1]));
  });
  it.each(C.submit.map((c) => [c.name, c] as const))("submit: %s", (_name, c) => {
    const members = named(c.members, C.members);
    expect(pairs(submitRules(valuesOf(c), members, c.signed_by, c.representative_signed))).toEqual(c.problems);
    expect(submitProblems(valuesOf(c) as never, members, c.signed_by, c.representative_signed)).toEqual(c.problems.map((p) => p[1]));
  });
});

describe("nothing on one side only", () => {
  it("implements exactly the kinds the rules file uses", () => {
    expect(new Set(Object.keys(KINDS))).toEqual(kindsUsed());
  });
  it("has a case for every rule, and every case names a rule of the file", () => {
    const ids = new Set(SCOPES.flatMap((s) => RULES[s].map((r) => r.id)));
    const expected = new Set(SCOPES.flatMap((s) => C[s].flatMap((c) => c.problems.map((p) => p[0]))));
    expect([...ids].filter((id) => !expected.has(id))).toEqual([]);
    expect([...expected].filter((id) => !ids.has(id))).toEqual([]);
  });
  it("reads the vocabulary from the rules file", () => {
    expect(RESULT_CATEGORIES.pending_followup).toBe("发现问题待后续处理");
    expect(METHODS).toBe(RULES.vocabulary.methods);
    expect(OUTCOMES).toBe(RULES.vocabulary.outcomes);
    expect(Object.keys(OUTCOME_CATEGORY).sort()).toEqual(Object.keys(OUTCOMES).sort());
  });
  it("counts as empty what the file says", () => {
    expect([null, undefined, false, "", " \u3000\t\n", [], {}].some(filled)).toBe(false);
    expect([true, 0, 1.5, "x", " x ", [null], { a: null }].every(filled)).toBe(true);
  });
  it("says the first thing an outcome lacks", () => {
    expect(outcomeProblem(undefined)).toBeNull();
    expect(outcomeProblem({ code: "closed" })).toBe("“已关闭停业或正在组织清算”须有照片作为证据");
    expect(outcomeProblem({ code: "closed", photos: [{}], gps: { lat: 1 } })).toBeNull();
  });
});
