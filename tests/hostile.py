"""Hostile input shared by the "no input gives a 500" tests."""
from __future__ import annotations

import json

HOSTILE_VALUES = [None, True, -1, 2**63, 1e308, "", "x" * 5000, "\x00", "\ud800", "😀" * 50, [1], ["a", 1, None],
                  {"a": 1}, {"nested": {"deep": [1, {"x": None}]}}, "NaN", "2026-13-45", "../../etc/passwd"]


def send_junk(client, method, url, keys, headers):
    """Each key alone with each hostile value (raw JSON, so that lone surrogates get through)."""
    for key in keys:
        for value in HOSTILE_VALUES:
            r = getattr(client, method)(url, data=json.dumps({key: value}), content_type="application/json",
                                        headers=headers)
            assert r.status_code < 500, (method, url, key, value, r.json)
            assert r.json.get("message") if r.status_code >= 400 else True
