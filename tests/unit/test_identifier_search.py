"""A list's search of eight or more letters and digits matches identifiers from their start (an index range) and
names anywhere (backend/directory/common.py)."""
from __future__ import annotations

import pytest

from backend.directory.common import IDENTIFIER_START, _after_prefix


@pytest.mark.parametrize("prefix, after", [("91411203", "91411204"), ("9141120Z", "9141121"), ("914112A9", "914112AA"),
                                           ("ZZZZZZZZ", None), ("1ZZ", "2"), ("0", "1"), ("A9Z", "AA")])
def test_the_range_ends_at_the_least_code_past_every_code_with_the_prefix(prefix, after):
    assert _after_prefix(prefix) == after


@pytest.mark.parametrize("text, code_like", [("91411203", True), ("9141120300004242", True), ("abc12345", True),
                                             ("1234567", False), ("黄河商贸有限公司", False), ("9141 1203", False),
                                             ("PRD-0001X", False)])
def test_only_eight_or_more_letters_and_digits_count_as_the_start_of_a_code(text, code_like):
    assert bool(IDENTIFIER_START.fullmatch(text)) is code_like
