"""No input gives a crash: random mixes of good and bad cells, in CSV and XLSX, for every list.

Every import either succeeds or raises a ``DomainError`` with a stable code (which the API and the
jobs turn into a Chinese 4xx answer or a failed job with that code), never anything else.
"""
from __future__ import annotations

import random

import pytest

from backend.actor import Actor
from backend.directory import imports
from backend.directory import specs as dio
from backend.errors import DomainError
from tests.api.directory_io.helpers import csv_bytes, xlsx_bytes
from tests.factories import make_uscc

NOISE = ["", " ", "A", "0", "-1", "1e309", "nan", "inf", "=1+1", "'=x", "\n", "a|b|c", "|", "：", "%", "101",
         "a" * 600, "测" * 70, "\x00", "\ufeff", "x\x00y", "1900-01-01", "TRUE"]


def good_value(kind: str, col: dio.Column, rng: random.Random, dept_code: str) -> str:
    field = col.field
    special = {
        ("targets", "code"): "", ("targets", "reg_no"): "", ("targets", "type"): "企业",
        ("items", "code"): f"T-{rng.randint(1, 30)}",
        ("departments", "code"): f"SAMR_Q{rng.randint(1, 30)}", ("departments", "name"): f"某局{rng.randint(1, 30)}",
        ("departments", "region_code"): "411203", ("regions", "code"): f"411203{rng.randint(100, 130)}",
    }
    if (kind, field) in special:
        return special[(kind, field)]
    return {"uscc": make_uscc(rng), "code": f"X-{rng.randint(1, 30)}", "department": dept_code,
            "region_code": rng.choice(["411203", "411203100"]), "cert_no": f"豫A{rng.randint(1, 50)}",
            "kind": rng.choice(["一般", "重点"]), "methods": "实地检查", "object_types": "企业", "status": "",
            "risk_class": "B", "parent_code": "411203", "level": "", "latitude": "34.5", "longitude": "111.2",
            "datum": "WGS-84", "ratio_cap_percent": "5", "check_points": "甲\n乙|单选|x、y", "conflicts": ""
            }.get(field, col.example or "样例")


@pytest.mark.parametrize("kind", dio.LIST_KINDS)
def test_random_files_never_crash(database, db_session, world, tmp_path, kind):
    rng = random.Random(f"robust-{kind}")
    spec = dio.SPECS[kind]
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(40):
        cols = [c for c in spec.columns if c.required or rng.random() < 0.7]
        rows = [[rng.choice(NOISE) if rng.random() < 0.05 else good_value(kind, c, rng, world.dept.code) for c in cols]
                for _ in range(rng.randint(1, 5))]
        fmt = rng.choice(["csv", "xlsx"])
        path = tmp_path / f"f.{fmt}"
        try:
            data = csv_bytes([[c.header for c in cols], *rows]) if fmt == "csv" else \
                xlsx_bytes([[c.header for c in cols], *rows])
        except Exception:  # noqa: BLE001 - openpyxl refuses to write some control characters
            continue
        path.write_bytes(data)
        actor = rng.choice([Actor.system(), Actor(user_id=world.dept_admin.id, label="测试", role="dept_admin",
                                                  department_id=world.dept.id)])
        try:  # its own session: an import rolls back its session on failure
            imports.import_file(database.session(), actor, kind, path, file_name=path.name,
                                dry_run=rng.random() < 0.3)
            outcomes["ok"] += 1
        except DomainError as err:
            assert err.code.startswith(("import.", "forbidden.")), err.code
            outcomes["refused"] += 1
    assert outcomes["ok"] and outcomes["refused"], outcomes
