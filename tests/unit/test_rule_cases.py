"""The rules before section.sign, record.finalize and record.submit: one source (schemas/field_rules.json), the
same cases (tests/data/rule-cases.json) through the server's interpreter here and the phone's in
pwa/test/rules.test.ts, and nothing re-coding a rule anywhere else."""
from __future__ import annotations

import copy
import json
import pathlib
import re

import pytest

from backend.inspections import checks, rulebook
from backend.inspections.fields import Catalogue, PointSpec

ROOT = pathlib.Path(__file__).resolve().parents[2]
CASES = json.loads((ROOT / "tests/data/rule-cases.json").read_text("utf-8"))
RULE_IDS = [r["id"] for scope in rulebook.SCOPES for r in rulebook.RULES[scope]]


def values_of(case: dict) -> dict:
    """The case's base with its values over it (null removes a path)."""
    values = copy.deepcopy(CASES["bases"][case["base"]])
    for path, value in case["values"].items():
        if value is None:
            values.pop(path, None)
        else:
            values[path] = value
    return values


def named(case: dict, key: str, table: str):
    value = case[key]
    return copy.deepcopy(CASES[table][value] if isinstance(value, str) else value)


def expected(case: dict) -> list[tuple[str, str]]:
    return [tuple(p) for p in case["problems"]]


def ids(scope: str) -> list[str]:
    return [c["name"] for c in CASES[scope]]


def catalogue_of(items: list[dict]) -> Catalogue:
    """The server's catalogue for a case's items (as batch.load_catalogue builds it)."""
    points = {cp["id"]: PointSpec(cp["id"], item["id"], cp["answer_type"], (), cp["required"])
              for item in items for cp in item["check_points"]}
    return Catalogue(1, frozenset(i["id"] for i in items), points, {i["id"]: i["name"] for i in items},
                     {cp["id"]: cp["text"] for item in items for cp in item["check_points"]})


@pytest.mark.parametrize("case", CASES["section"], ids=ids("section"))
def test_section_cases(case):
    items, values = named(case, "catalogue", "catalogues"), values_of(case)
    assert [tuple(p) for p in rulebook.section_problems(items, values)] == expected(case)
    # what section.sign answers (checks.section_problems, from the catalogue it loads)
    assert checks.section_problems(catalogue_of(items), values) == [m for _, m in expected(case)]


@pytest.mark.parametrize("case", CASES["record"], ids=ids("record"))
def test_record_cases(case):
    problems = rulebook.record_problems(values_of(case), named(case, "group", "groups"))
    assert [tuple(p) for p in problems] == expected(case)


@pytest.mark.parametrize("case", CASES["submit"], ids=ids("submit"))
def test_submit_cases(case):
    problems = rulebook.submit_problems(values_of(case), named(case, "members", "members"), case["signed_by"],
                                        case["representative_signed"])
    assert [tuple(p) for p in problems] == expected(case)


def test_every_rule_has_a_case_and_every_case_names_real_rules():
    found = {p[0] for scope in rulebook.SCOPES for c in CASES[scope] for p in c["problems"]}
    assert sorted(set(RULE_IDS) - found) == [], "rules no case expects"
    assert sorted(found - set(RULE_IDS)) == [], "cases expecting rules the file does not have"
    for scope in rulebook.SCOPES:
        assert all(p[0] in {r["id"] for r in rulebook.RULES[scope]} for c in CASES[scope] for p in c["problems"])
        assert any(c["problems"] == [] for c in CASES[scope]), f"a {scope} case that passes"


def test_the_kinds_implemented_are_the_kinds_the_file_uses():
    """The phone's test checks the same of rulebook.ts: a kind on one side only fails one of them."""
    used = {r["kind"] for scope in rulebook.SCOPES for r in rulebook.RULES[scope]}
    assert set(rulebook.KINDS) == used


def test_the_rules_file_is_valid():
    assert rulebook.validate(rulebook.RULES) == []
    assert len(RULE_IDS) == len(set(RULE_IDS))


@pytest.mark.parametrize("change, error", [
    (lambda r: r["section"].append({"id": "x", "kind": "guess", "message": "x"}), "unknown kind"),
    (lambda r: r["submit"].append({"id": "x", "kind": "item_method", "each": "item", "message": "x"}), "not a submit rule"),
    (lambda r: r["section"][2].pop("each"), "applies to each item"),
    (lambda r: r["section"][3].update(method=["documents"]), "unknown parameters ['method']"),
    (lambda r: r["section"][3].pop("fields"), "missing ['fields']"),
    (lambda r: r["section"][2].update(when={"failed": True}), "conditions"),
    (lambda r: r["record"][3].update(when={"outcome": "no"}), "conditions"),
    (lambda r: r["record"][0].update(when={}), "needs \"when\""),
    (lambda r: r["section"][2].update(message="{point}未选择检查方式"), "message names ['point']"),
    (lambda r: r["record"][7].update(children=["nothing"]), "not a result category"),
    (lambda r: r["record"][8].update(category="nothing"), "not a result category"),
    (lambda r: r["record"][1].update(id=r["record"][0]["id"]), "id used twice"),
])
def test_a_broken_rules_file_is_refused(change, error):
    rules = copy.deepcopy(rulebook.RULES)
    change(rules)
    assert any(error in e for e in rulebook.validate(rules)), rulebook.validate(rules)


def test_filled_is_what_the_file_says():
    assert not any(rulebook.filled(v) for v in (None, False, "", " \u3000\t\n", [], {}))
    assert all(rulebook.filled(v) for v in (True, 0, 1.5, "x", " x ", [None], {"a": None}))


def test_the_vocabulary_comes_from_the_one_file():
    from backend.directory.rules import METHODS
    from backend.inspections import rules

    vocabulary = json.loads((ROOT / "schemas/field_rules.json").read_text("utf-8"))["vocabulary"]
    assert rules.RESULT_CATEGORIES == vocabulary["result_categories"] and METHODS == vocabulary["methods"]
    assert rules.OUTCOMES == vocabulary["outcomes"] and rules.POINT_RESULTS == vocabulary["point_results"]
    assert set(rules.OUTCOME_CATEGORY) == set(rules.OUTCOMES)
    assert set(rules.OUTCOME_CATEGORY.values()) <= set(rules.RESULT_CATEGORIES)


# --- no second copy ----------------------------------------------------------------------------------

def _literals(message: str) -> list[str]:
    """The fixed words of a message (between its placeholders), long enough to be its own."""
    return [part for part in re.split(r"\{[a-z_]+\}", message) if len(part.strip("“”：（）、，")) >= 5]


def test_no_rule_is_re_coded_outside_the_two_interpreters():
    """A rule's words in any other server or phone source means a second copy of the rule, free to drift."""
    sources = [p for p in (ROOT / "backend").rglob("*.py")] + [p for p in (ROOT / "sync").rglob("*.py")]
    sources += [p for p in (ROOT / "pwa/src").rglob("*") if p.suffix in (".ts", ".vue")]
    texts = {p.relative_to(ROOT).as_posix(): p.read_text("utf-8") for p in sources}
    found = [(path, words) for scope in rulebook.SCOPES for r in rulebook.RULES[scope] for words in _literals(r["message"])
             for path, text in texts.items() if words in text]
    assert found == []


def test_docs_list_every_rule_with_its_words():
    doc = (ROOT / "docs/sync.md").read_text("utf-8")
    missing = [r["id"] for scope in rulebook.SCOPES for r in rulebook.RULES[scope]
               if f"`{r['id']}`" not in doc or r["message"] not in doc]
    assert missing == []
