"""The quick screen of a JSON body: the value-by-value walk is skipped only when nothing in the text could be
an unstorable value (issue 14 §1: the screen matched the e of true/false and never skipped)."""
from __future__ import annotations

import json

import pytest

from backend.api import _bad_value, _may_hold_bad_values


@pytest.mark.parametrize("body", [
    {"done": True, "open": False, "note": None},
    {"text": "1e5 is written in a string", "n": 12, "x": -3.25},
    {"points": [{"checked": True, "result": "pass", "note": "Infinity 在字符串里"}] * 30},
])
def test_a_body_with_nothing_suspect_skips_the_walk(body):
    text = json.dumps(body, ensure_ascii=False)
    assert not _may_hold_bad_values(text)
    assert _bad_value(json.loads(text)) is None       # and the walk would indeed have found nothing


@pytest.mark.parametrize("text", [
    '{"n": 1e400}', '{"n": 2E5}', '{"n": 12345678901234567890}', '{"n": NaN}', '{"n": -Infinity}',
    '{"s": "a\\u0000b"}', '{"s": "\\ud800"}',
])
def test_a_body_that_may_hold_an_unstorable_value_is_walked(text):
    assert _may_hold_bad_values(text)
