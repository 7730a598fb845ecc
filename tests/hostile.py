"""Hostile input shared by the "no input gives a 500" tests.

* ``HOSTILE_VALUES``: values for one body field (wrong types, absurd sizes, ids that are no row
  or cannot be stored: 0, 2**31, 2**63, 2**64 as digits).
* ``HOSTILE_RAW_BODIES``: JSON texts that break parsers (nesting 1,000 deep, a 4,301-digit number).
* ``HOSTILE_QUERY_VALUES``: values for one query parameter.
* ``BAD_PATH_IDS``: path ids that are no row or cannot be stored.
"""
from __future__ import annotations

import json

HOSTILE_VALUES = [None, True, -1, 0, 2**31, 2**63, 1e308, "", "x" * 5000, "\x00", "\ud800", "😀" * 50, [1],
                  ["a", 1, None], [0], {"a": 1}, {"nested": {"deep": [1, {"x": None}]}}, "NaN", "2026-13-45",
                  "../../etc/passwd", "18446744073709551616"]

HOSTILE_RAW_BODIES = [
    "[" * 1000 + "]" * 1000,                      # nesting 1,000 deep
    '{"a":' * 1000 + "1" + "}" * 1000,
    "[" * 100000,                                 # never closed
    '{"x": ' + "1" * 4301 + "}",                  # more digits than Python converts
    '{"x": -' + "9" * 5000 + ".5e99999}",
    '{"x": 1e99999}',
    '{"x": NaN, "y": -Infinity}',
]

# already percent-encoded for a URL
HOSTILE_QUERY_VALUES = ["0", "-1", "2147483648", "9223372036854775808", "18446744073709551616", "9" * 4301, "",
                        "abc", "1e3", "%00", "%ED%A0%80", "%FF", "x" * 3000]

BAD_PATH_IDS = ["0", "999999999", str(2**31), str(2**40), str(2**64), "9" * 4301]


def send_junk(client, method, url, keys, headers):
    """Each key alone with each hostile value (raw JSON, so that lone surrogates get through)."""
    for key in keys:
        for value in HOSTILE_VALUES:
            r = getattr(client, method)(url, data=json.dumps({key: value}), content_type="application/json",
                                        headers=headers)
            assert r.status_code < 500, (method, url, key, value, r.json)
            assert r.json.get("message") if r.status_code >= 400 else True
