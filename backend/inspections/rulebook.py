"""The rules before section.sign, record.finalize and record.submit, read from ``schemas/field_rules.json``.

The file says which rules there are, in which order, when each applies, its parameters and its
Chinese message; this module implements each *kind* of rule once (the phone's ``pwa/src/lib/rulebook.ts``
implements the same kinds, and ``tests/data/rule-cases.json`` runs the same cases through both). It
works on plain facts, the same JSON shapes as the case file, and touches no database:

* section: ``items`` ``[{id, name, check_points: [{id, text, required, answer_type}]}]`` and the
  section's ``values`` (path → value);
* record: the record's ``values`` and ``departments`` ``[{id, name, status ("open"/"signed"/None),
  values (the section's), signed_by (inspector ids with a live signature on the section),
  members [{inspector_id, name}]}]``;
* submit: the record's ``values``, ``members`` ``[{inspector_id, name, department}]``, ``signed_by``
  (inspector ids with a live officer signature on the record) and ``representative_signed``.

Problems are listed rule by rule in the file's order; consecutive rules over the same subjects (each
item, check point, department or member) are applied subject by subject, subjects in id order
(departments and items and check points) or as given (members).
"""
from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any, Callable, NamedTuple


def load() -> dict:
    return json.loads(resources.files("schemas").joinpath("field_rules.json").read_text("utf-8"))


RULES = load()
VOCABULARY: dict = RULES["vocabulary"]
SCOPES = ("section", "record", "submit")
SEPARATOR = "、"
_BLANK = frozenset(RULES["empty"]["blank_characters"])
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class Problem(NamedTuple):
    rule: str
    message: str


def filled(value: Any) -> bool:
    """Absent, null, false, an empty list or object, or blank text: not filled (``empty`` in the file)."""
    if value is None or value is False:
        return False
    if isinstance(value, str):
        return any(c not in _BLANK for c in value)
    if isinstance(value, (list, dict)):
        return len(value) > 0
    return True


class _Facts:
    """What the rules of one scope read, with the derived facts (outcome, failed, subjects)."""

    def __init__(self, values: dict, subjects: dict[str, list], signed_by=(), representative_signed=False):
        self.values = values if isinstance(values, dict) else {}
        outcome = self.values.get("outcome")
        self.outcome = outcome if isinstance(outcome, dict) and filled(outcome) else None
        cats = self.values.get("result_categories")
        self.categories = [c for c in cats if isinstance(c, str)] if isinstance(cats, list) else []
        self.subjects = subjects
        self.failed = any(k.startswith("points.") and k.endswith(".result") and v == "fail"
                          for d in subjects.get("department", []) for k, v in (d.get("values") or {}).items())
        self.department_ids = {d["id"] for d in subjects.get("department", [])}
        self.signed_by = set(signed_by)
        self.representative_signed = bool(representative_signed)

    def outcome_label(self) -> str:
        code = self.outcome.get("code")
        return VOCABULARY["outcomes"].get(code, str(code))


def _category(code: str) -> str:
    return VOCABULARY["result_categories"].get(code, code)


# --- conditions ---------------------------------------------------------------------------------

def _when_outcome(facts: _Facts, want: bool) -> bool:
    return (facts.outcome is not None) == want


def _when_failed(facts: _Facts, want: bool) -> bool:
    return facts.failed == want


def _when_representative_expected(facts: _Facts, want: bool) -> bool:
    expected = facts.outcome is None or facts.outcome.get("code") not in VOCABULARY["outcomes_without_representative"]
    return expected == want


CONDITIONS: dict[str, Callable[[_Facts, bool], bool]] = {
    "outcome": _when_outcome, "failed": _when_failed, "representative_expected": _when_representative_expected,
}


# --- kinds: each returns the placeholders of every problem it finds (none: the rule is met) ------------

def _outcome_evidence(rule, facts, _subject):
    return [] if filled(facts.outcome.get(rule["field"])) else [{"outcome": facts.outcome_label()}]


def _outcome_category(rule, facts, _subject):
    implied = rule["implies"].get(facts.outcome.get("code"))
    return [{"category": _category(implied)}] if implied and implied not in facts.categories else []


def _item_method(rule, facts, item):
    return [] if filled(facts.values.get(f"items.{item['id']}.method")) else [{"item": item["name"]}]


def _item_evidence(rule, facts, item):
    if facts.values.get(f"items.{item['id']}.method") not in rule["methods"]:
        return []
    evidence = facts.values.get(f"items.{item['id']}.evidence")
    evidence = evidence if isinstance(evidence, dict) else {}
    missing = [label for key, label in rule["fields"].items() if not filled(evidence.get(key))]
    return [{"item": item["name"], "missing": SEPARATOR.join(missing)}] if missing else []


def _point_text(point) -> str:
    return str(point["text"])[:RULES["point_text_max"]]


def _point_result(rule, facts, point):
    if point["required"] and not filled(facts.values.get(f"points.{point['id']}.result")):
        return [{"point": _point_text(point)}]
    return []


def _point_filled(rule, facts, point):
    """For an answered check point the rule names (by result, by answer type): one of ``fields`` filled."""
    result = facts.values.get(f"points.{point['id']}.result")
    if not filled(result):
        return []
    if "results" in rule and result not in rule["results"]:
        return []
    if "results_not" in rule and result in rule["results_not"]:
        return []
    if "answer_types" in rule and point["answer_type"] not in rule["answer_types"]:
        return []
    if any(filled(facts.values.get(f"points.{point['id']}.{f}")) for f in rule["fields"]):
        return []
    return [{"point": _point_text(point)}]


def _record_filled(rule, facts, _subject):
    return [] if all(filled(facts.values.get(f)) for f in rule["fields"]) else [{}]


def _section_signed(rule, facts, department):
    return [] if department.get("status") == "signed" else [{"department": department["name"]}]


def _section_members_signed(rule, facts, department):
    """Every member of a department whose section is signed has signed it (an unsigned one: ``section_signed``)."""
    if department.get("status") != "signed":
        return []
    signed = set(department.get("signed_by") or [])
    return [{"member": m["name"], "department": department["name"]}
            for m in department.get("members") or [] if m["inspector_id"] not in signed]


def _category_children(rule, facts, _subject):
    if rule["category"] in facts.categories and not set(facts.categories) & set(rule["children"]):
        return [{"category": _category(rule["category"]), "children": SEPARATOR.join(map(_category, rule["children"]))}]
    return []


def _category_alone(rule, facts, _subject):
    if rule["category"] in facts.categories and set(facts.categories) - {rule["category"]}:
        return [{"category": _category(rule["category"])}]
    return []


def _category_excluded(rule, facts, _subject):
    return [{"category": _category(rule["category"])}] if rule["category"] in facts.categories else []


def _followup_departments(rule, facts, _subject):
    followups = facts.values.get("followups")
    if not isinstance(followups, list):
        return []
    return [{"n": i + 1} for i, f in enumerate(followups)
            if not isinstance(f, dict) or isinstance(f.get("department_id"), bool)
            or f.get("department_id") not in facts.department_ids]


def _record_members_signed(rule, facts, member):
    if member["inspector_id"] in facts.signed_by:
        return []
    return [{"member": member["name"], "department": member["department"]}]


def _representative_signed(rule, facts, _subject):
    return [] if facts.representative_signed else [{}]


class Kind(NamedTuple):
    check: Callable[[dict, _Facts, Any], list[dict]]
    scopes: tuple[str, ...]
    each: str | None
    params: frozenset[str]          # the rule's own parameters (besides id, kind, each, when, message)
    placeholders: frozenset[str]    # what its message may name


def _kind(check, scopes, each=None, params=(), placeholders=()):
    return Kind(check, tuple(scopes), each, frozenset(params), frozenset(placeholders))


KINDS: dict[str, Kind] = {
    "outcome_evidence": _kind(_outcome_evidence, ("section", "record"), None, {"field"}, {"outcome"}),
    "outcome_category": _kind(_outcome_category, ("record",), None, {"implies"}, {"category"}),
    "item_method": _kind(_item_method, ("section",), "item", (), {"item"}),
    "item_evidence": _kind(_item_evidence, ("section",), "item", {"methods", "fields"}, {"item", "missing"}),
    "point_result": _kind(_point_result, ("section",), "point", (), {"point"}),
    "point_filled": _kind(_point_filled, ("section",), "point", {"fields", "results", "results_not", "answer_types"},
                          {"point"}),
    "record_filled": _kind(_record_filled, ("record",), None, {"fields"}),
    "section_signed": _kind(_section_signed, ("record",), "department", (), {"department"}),
    "section_members_signed": _kind(_section_members_signed, ("record",), "department", (), {"member", "department"}),
    "category_children": _kind(_category_children, ("record",), None, {"category", "children"},
                               {"category", "children"}),
    "category_alone": _kind(_category_alone, ("record",), None, {"category"}, {"category"}),
    "category_excluded": _kind(_category_excluded, ("record",), None, {"category"}, {"category"}),
    "followup_departments": _kind(_followup_departments, ("record",), None, (), {"n"}),
    "record_members_signed": _kind(_record_members_signed, ("submit",), "member", (), {"member", "department"}),
    "representative_signed": _kind(_representative_signed, ("submit",), None),
}
# the conditions a rule may carry, by scope (an outcome is read only where the scope has one)
SCOPE_CONDITIONS = {"section": {"outcome"}, "record": {"outcome", "failed", "representative_expected"},
                    "submit": {"representative_expected"}}
# parameters that must be there (the others of a kind are optional)
REQUIRED = {"outcome_evidence": {"field"}, "outcome_category": {"implies"}, "item_evidence": {"methods", "fields"},
            "point_filled": {"fields"}, "record_filled": {"fields"}, "category_children": {"category", "children"},
            "category_alone": {"category"}, "category_excluded": {"category"}}
# kinds that read the outcome assume one is recorded
NEEDS_OUTCOME = {"outcome_evidence", "outcome_category"}


def validate(rules: dict) -> list[str]:
    """What is wrong with a rules file (empty when nothing): every rule of a known kind, in a scope and with
    the subjects, conditions, parameters and placeholders that kind has."""
    errors, seen = [], set()
    codes = set(VOCABULARY["result_categories"])
    for scope in SCOPES:
        for rule in rules.get(scope, []):
            rid = rule.get("id", "?")
            if rid in seen:
                errors.append(f"{rid}: id used twice")
            seen.add(rid)
            kind = KINDS.get(rule.get("kind"))
            if kind is None:
                errors.append(f"{rid}: unknown kind {rule.get('kind')!r}")
                continue
            if scope not in kind.scopes:
                errors.append(f"{rid}: kind {rule['kind']} is not a {scope} rule")
            if rule.get("each") != kind.each:
                errors.append(f"{rid}: kind {rule['kind']} applies to each {kind.each}, not {rule.get('each')}")
            extra = set(rule) - {"id", "kind", "each", "when", "message"} - kind.params
            missing = REQUIRED.get(rule["kind"], set()) - set(rule)
            if extra or missing:
                errors.append(f"{rid}: unknown parameters {sorted(extra)} / missing {sorted(missing)}")
            when = rule.get("when", {})
            if set(when) - SCOPE_CONDITIONS[scope] or any(not isinstance(v, bool) for v in when.values()):
                errors.append(f"{rid}: conditions {when} (possible: {sorted(SCOPE_CONDITIONS[scope])}, true or false)")
            if rule["kind"] in NEEDS_OUTCOME and when.get("outcome") is not True:
                errors.append(f"{rid}: kind {rule['kind']} needs \"when\": {{\"outcome\": true}}")
            names = set(_PLACEHOLDER.findall(rule.get("message", "")))
            if not rule.get("message") or names - kind.placeholders:
                errors.append(f"{rid}: message names {sorted(names - kind.placeholders)}; may name {sorted(kind.placeholders)}")
            if "category" in rule and rule["category"] not in codes:
                errors.append(f"{rid}: {rule['category']!r} is not a result category")
            if set(rule.get("children", [])) - codes or set(rule.get("implies", {}).values()) - codes:
                errors.append(f"{rid}: names a code that is not a result category")
    return errors


_errors = validate(RULES)
if _errors:
    raise ValueError("schemas/field_rules.json: " + "; ".join(_errors))


def rule(rule_id: str) -> dict:
    return next(r for scope in SCOPES for r in RULES[scope] if r["id"] == rule_id)


def _message(template: str, params: dict) -> str:
    return _PLACEHOLDER.sub(lambda m: str(params[m.group(1)]), template)


def _applies(rule: dict, facts: _Facts) -> bool:
    return all(CONDITIONS[key](facts, want) for key, want in rule.get("when", {}).items())


def _run(scope: str, facts: _Facts) -> list[Problem]:
    out: list[Problem] = []
    rules = RULES[scope]
    i = 0
    while i < len(rules):
        each = rules[i].get("each")
        block = [rules[i]]
        while each is not None and i + len(block) < len(rules) and rules[i + len(block)].get("each") == each:
            block.append(rules[i + len(block)])
        i += len(block)
        block = [r for r in block if _applies(r, facts)]
        for subject in (facts.subjects.get(each, []) if each is not None else [None]):
            for r in block:
                out.extend(Problem(r["id"], _message(r["message"], p)) for p in KINDS[r["kind"]].check(r, facts, subject))
    return out


def section_problems(items: list[dict], values: dict) -> list[Problem]:
    """Why a department's section cannot be signed yet (empty when it can)."""
    items = sorted(items, key=lambda i: i["id"])
    points = sorted((cp for item in items for cp in item.get("check_points") or []), key=lambda cp: cp["id"])
    return _run("section", _Facts(values, {"item": items, "point": points}))


def record_problems(values: dict, departments: list[dict]) -> list[Problem]:
    """Why the lead cannot finalise the record yet (besides open conflicts and a changed hash)."""
    return _run("record", _Facts(values, {"department": sorted(departments, key=lambda d: d["id"])}))


def category_problems(codes: list[str]) -> list[Problem]:
    """The record's rules on its result categories alone (``record.categories*``): what a publisher's own choice
    of categories for a department's part must also meet."""
    facts = _Facts({"result_categories": codes}, {})
    return [Problem(r["id"], _message(r["message"], p)) for r in RULES["record"]
            if r["id"].startswith("record.categories") and _applies(r, facts)
            for p in KINDS[r["kind"]].check(r, facts, None)]


def submit_problems(values: dict, members: list[dict], signed_by: list[int], representative_signed: bool
                    ) -> list[Problem]:
    """Who still has to sign the finalised record before the lead submits it."""
    return _run("submit", _Facts(values, {"member": list(members)}, signed_by, representative_signed))
