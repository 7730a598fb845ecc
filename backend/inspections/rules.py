"""The vocabulary of the inspection record (codes → Chinese), shared by the API, the sync handlers and the PDF.

One source for the server and the phone: ``schemas/field_rules.json`` (read by ``rulebook``, and by the
phone's ``pwa/src/lib/rules.ts`` at build time). Edit the vocabulary there, not here.
"""
from __future__ import annotations

from backend.inspections.rulebook import VOCABULARY, rule

# result of one check point
POINT_RESULTS: dict[str, str] = VOCABULARY["point_results"]

# 处置情况 of a problem found at a check point (several may apply)
HANDLING: dict[str, str] = VOCABULARY["handling"]

# 检查方式 of an item (also the directory's vocabulary: backend/directory/rules.py)
METHODS: dict[str, str] = VOCABULARY["methods"]

# no inspection took place: results to publish, each needing a photo and a GPS fix as evidence
OUTCOMES: dict[str, str] = VOCABULARY["outcomes"]
# outcomes where nobody represents the business (no representative to name, nobody to sign)
NO_REPRESENTATIVE_OUTCOMES: tuple[str, ...] = tuple(VOCABULARY["outcomes_without_representative"])

# published result categories (DESIGN §7); several may apply. The children of pending_followup
# say what the problem is.
RESULT_CATEGORIES: dict[str, str] = VOCABULARY["result_categories"]
PENDING_CHILDREN: tuple[str, ...] = tuple(rule("record.categories.pending_children")["children"])
# the result category an outcome implies
OUTCOME_CATEGORY: dict[str, str] = rule("record.outcome.category")["implies"]

# 后续处置 actions the lead lists, each owned by a department
FOLLOWUP_ACTIONS: dict[str, str] = VOCABULARY["followup_actions"]

GPS_DATUMS: tuple[str, ...] = tuple(VOCABULARY["gps_datums"])
GPS_SOURCES: dict[str, str] = VOCABULARY["gps_sources"]
ATTACHMENT_KINDS: dict[str, str] = VOCABULARY["attachment_kinds"]

SECTION_STATUSES: dict[str, str] = VOCABULARY["section_statuses"]
RECORD_STATES: dict[str, str] = VOCABULARY["record_states"]
