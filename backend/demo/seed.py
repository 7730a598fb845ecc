"""Build the demo county and write it in one transaction.

``build_demo`` makes every row from ``random.Random`` seeded per section (same seed, same
data; the inspection history alone also depends on ``today``), keyed by real-world codes.
``seed_demo`` writes it with SQLAlchemy bulk inserts in chunks, resolves the codes to ids,
adds the demo accounts (argon2) and one audit entry, and commits. It refuses a database
that already holds lists or accounts unless ``force``; with ``force`` it adds only what is
missing (rows whose code, USCC, registration number, certificate number or username exists
are skipped).
"""
from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
import math
import random
import time
from collections import Counter
from typing import Callable, Iterable

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit.services import record
from backend.auth.models import User
from backend.auth.passwords import hash_password
from backend.db import Database, analyze, utcnow
from backend.demo import data
from backend.directory import rules
from backend.directory.models import (CheckPoint, Department, Expert, Inspector, InspectorConflict, Item, Region,
                                      Target, TargetItemHistory)
from backend.errors import Conflict, InvalidInput

MIN_TARGETS = 50
CHUNK = 2000
Progress = Callable[[str], None]


# --- results ---------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    department_code: str | None
    display_name: str
    password: str
    created: bool  # False: the username existed and was left as it was (its password unchanged)
    inspector_cert_no: str | None = None


@dataclasses.dataclass
class DemoSummary:
    seed: int
    counts: dict[str, int]  # rows written, per kind
    skipped: dict[str, int]  # rows left out because they existed (``force`` only)
    accounts: list[DemoAccount]
    seconds: float
    notes: list[str]


@dataclasses.dataclass
class DemoData:
    """Every row of the demo, keyed by codes (no database ids)."""

    regions: list[dict]
    departments: list[dict]
    items: list[dict]  # each with "department" (code) and "points" (list of dicts)
    targets: list[dict]  # each with "department" (code)
    inspectors: list[dict]  # each with "department" (code)
    conflicts: list[tuple[str, str, str]]  # (cert_no, target code, reason)
    experts: list[dict]  # each with "department" (code)
    history: list[tuple[str, str, dt.date, str]]  # (target code, item code, last inspected on, source)
    accounts: list[dict]  # username, role, department, display_name, inspector (cert_no or None)
    notes: list[str]


# --- small generators ----------------------------------------------------------------------------
class _Table:
    """Weighted choice with the cumulative weights computed once."""

    def __init__(self, values, weights):
        self.values = tuple(values)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    @classmethod
    def of(cls, pairs) -> "_Table":
        values, weights = zip(*pairs)
        return cls(values, weights)

    def pick(self, rng: random.Random):
        return self.values[bisect.bisect(self.cum, rng.random() * self.total)]


_SURNAMES = _Table(data.SURNAMES, [max(1, 40 - i) for i in range(len(data.SURNAMES))])


def _person(rng: random.Random) -> str:
    surname = _SURNAMES.pick(rng)
    given = "".join(rng.choice(data.GIVEN_CHARS) for _ in range(1 if rng.random() < 0.3 else 2))
    return surname + given


def _mobile(rng: random.Random) -> str:
    return rng.choice(data.MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return f"{data.AREA_CODE}-{rng.randint(2, 8)}{rng.randrange(10**6):06d}"
    return _mobile(rng)


def _split(word: str) -> tuple[str, tuple[str, ...]]:
    """"word|tag,tag" → ("word", ("tag", "tag"))."""
    text, _, tags = word.partition("|")
    return text, tuple(t for t in tags.split(",") if t)


def _org_code_check(first8: str) -> str:
    """GB 11714 check character of an organisation code."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    c = 11 - sum(int(ch) * w for ch, w in zip(first8, weights)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def _gcj_offset(lat: float, lon: float) -> tuple[float, float]:
    """The GCJ-02 shift at a point (GCJ = WGS-84 + shift); used to give some targets WGS-84 points."""
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    pi = math.pi
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * math.sin(y / 12.0 * pi) + 320.0 * math.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad = lat / 180.0 * pi
    magic = 1 - ee * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * sqrt_magic) * pi)
    dlon = (dlon * 180.0) / (a / sqrt_magic * math.cos(rad) * pi)
    return dlat, dlon


class _Namer:
    """Unique names and identifiers across the whole county."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.names: set[str] = set()
        self.org_codes: set[str] = set()
        self.reg_nos: set[str] = set()
        self.crowded = False

    def unique(self, make: Callable[[], str]) -> str:
        try:
            for attempt in range(500):
                self.crowded = attempt >= 20  # many tries: longer 字号 (three characters)
                name = make()
                if name not in self.names:
                    self.names.add(name)
                    return name
            raise RuntimeError("无法生成不重复的名称")  # pragma: no cover
        finally:
            self.crowded = False

    def trade(self) -> str:
        """A 字号: a common one, or two halves of common ones recombined; three characters when crowded."""
        rng = self.rng
        name = rng.choice(data.TRADE_NAMES) if rng.random() < 0.7 else \
            rng.choice(data.TRADE_NAMES)[0] + rng.choice(data.TRADE_NAMES)[-1]
        return name + rng.choice(data.GIVEN_CHARS) if self.crowded else name

    def uscc(self, kind: str) -> str:
        """A valid USCC: 9 (市场监管) + kind (1 企业, 2 个体工商户, 3 农民专业合作社) + county + body + check."""
        rng = self.rng
        while True:
            if kind == "1" and rng.random() < 0.35:  # an older enterprise: its organisation code carried over
                digits = f"{rng.randrange(10**8):08d}"
                body = digits + _org_code_check(digits)
            else:
                body = "MA" + rng.choice("49") + "".join(rng.choices(rules.USCC_ALPHABET, k=6))
            if body not in self.org_codes:
                self.org_codes.add(body)
                first17 = "9" + kind + data.COUNTY_CODE + body
                return first17 + rules.uscc_check_char(first17)

    def reg_no(self, individual: bool) -> str:
        """A pre-2015 15-digit registration number of 陕县 (GB 15624 check digit)."""
        rng = self.rng
        while True:
            lead = rng.choice("6789") if individual else rng.choice("0123")
            first14 = data.OLD_COUNTY_CODE + lead + f"{rng.randrange(10**7):07d}"
            code = first14 + rules.reg_no_check_digit(first14)
            if code not in self.reg_nos:
                self.reg_nos.add(code)
                return code


_TOWNS = _Table(data.TOWNS, [t.weight for t in data.TOWNS])
_RISK = _Table.of((("A", 35), ("B", 45), ("C", 15), ("D", 5)))
_STATUS = _Table.of((("active", 925), ("closed", 25), ("deregistered", 30), ("revoked", 12), ("moved_out", 8)))
_OLD_STATUS = _Table.of((("active", 60), ("closed", 10), ("deregistered", 10), ("revoked", 15), ("moved_out", 5)))
_FORMS = _Table.of(data.ENTERPRISE_FORMS)
_PREFIXES = _Table.of(data.NAME_PREFIXES)
_INDUSTRIES = _Table(data.INDUSTRIES, [i.weight for i in data.INDUSTRIES])
_TRADES = _Table(data.INDIVIDUAL_TRADES, [w for _, w, _ in data.INDIVIDUAL_TRADES])


def _town(rng: random.Random) -> data.Town:
    return _TOWNS.pick(rng)


def _address(rng: random.Random, town: data.Town) -> str:
    if town.urban and rng.random() < 0.85 or rng.random() < 0.35:
        road = rng.choice(data.URBAN_ROADS) if town.urban else rng.choice((f"{town.short}集镇中心街", "310国道",
                                                                           f"{town.short}集镇商贸街"))
        return f"{data.AREA_PREFIX}{town.name}{road}{rng.randint(1, 399)}号"
    return f"{data.AREA_PREFIX}{town.name}{rng.choice(data.VILLAGES)}村{rng.randint(1, 12)}组"


def _location(rng: random.Random, town: data.Town) -> tuple[float | None, float | None, str | None]:
    if rng.random() < 0.03:
        return None, None, None
    lat = min(max(rng.gauss(town.lat, 0.012), data.LAT_RANGE[0]), data.LAT_RANGE[1])
    lon = min(max(rng.gauss(town.lon, 0.015), data.LON_RANGE[0]), data.LON_RANGE[1])
    if rng.random() < 0.15:  # a WGS-84 fix (a GPS device), not a map pick
        dlat, dlon = _gcj_offset(lat, lon)
        return round(lat - dlat, 6), round(lon - dlon, 6), "WGS-84"
    return round(lat, 6), round(lon, 6), "GCJ-02"


def _tags(rng: random.Random, industry: data.Industry | None, extra: Iterable[str] = ()) -> str:
    tags = list(extra)
    for tag, p in (industry.tags if industry else ()):
        if rng.random() < p:
            tags.append(tag)
    return rules.tags_text(rules.split_tags(tags))


def _business(rng: random.Random, *, code: str, uscc: str | None, reg_no: str | None, name: str, type_: str,
              industry: str, tags: str, town: data.Town, old: bool = False) -> dict:
    lat, lon, datum = _location(rng, town)
    risk = _RISK.pick(rng) if rng.random() < 0.96 else None
    return {"code": code, "uscc": uscc, "reg_no": reg_no, "name": name, "type": type_,
            "address": _address(rng, town), "region_code": town.code, "industry_code": industry,
            "risk_class": risk, "tags_text": tags, "latitude": lat, "longitude": lon, "datum": datum,
            "status": (_OLD_STATUS if old else _STATUS).pick(rng), "legal_rep": _person(rng),
            "phone": _phone(rng), "department": "SAMR"}


# --- the sections ----------------------------------------------------------------------------------
def _regions() -> list[dict]:
    rows = [{"code": data.PROVINCE[0], "name": data.PROVINCE[1], "level": "province", "parent_code": None},
            {"code": data.CITY[0], "name": data.CITY[1], "level": "city", "parent_code": data.PROVINCE[0]},
            {"code": data.COUNTY[0], "name": data.COUNTY[1], "level": "county", "parent_code": data.CITY[0]}]
    rows += [{"code": t.code, "name": t.name, "level": "town", "parent_code": data.COUNTY_CODE} for t in data.TOWNS]
    return rows


def _departments() -> list[dict]:
    return [{"code": d.code, "name": d.name, "short_name": d.short_name, "region_code": data.COUNTY_CODE}
            for d in data.DEPARTMENTS]


def _items() -> list[dict]:
    rows = []
    for spec in data.ITEMS:
        rows.append({
            "code": spec.code, "category": spec.category, "name": spec.name, "object_types": list(spec.object_types),
            "kind": spec.kind, "methods": list(spec.methods), "legal_basis": spec.legal_basis,
            "department": spec.department, "ratio_cap_percent": spec.ratio_cap_percent, "frequency": spec.frequency,
            "remark": spec.remark,
            "points": [{"seq": i + 1, "text": p.text, "answer_type": p.answer_type,
                        "options": list(p.options) if p.options else None, "required": p.required,
                        "guidance": p.guidance} for i, p in enumerate(spec.points)]})
    return rows


def _target_counts(n: int) -> dict[str, int]:
    counts = {"individual": max(3, round(n * 0.03)), "cooperative": max(2, round(n * 0.003)),
              "branch": max(2, round(n * 0.02)), "reg_only": max(2, round(n * 0.01)),
              "product": max(2, round(n * 0.002)), "project": max(2, round(n * 0.002)),
              "activity": max(1, round(n * 0.0005))}
    counts["enterprise"] = n - sum(counts.values())
    return counts


def _targets(rng: random.Random, n: int) -> list[dict]:
    counts = _target_counts(n)
    namer = _Namer(rng)
    rows: list[dict] = []

    def enterprise_name(industry: data.Industry) -> tuple[str, tuple[str, ...]]:
        word, word_tags = _split(rng.choice(industry.words))

        def make() -> str:
            return f"{_PREFIXES.pick(rng)}{namer.trade()}{word}{_FORMS.pick(rng)}"

        return namer.unique(make), word_tags

    for _ in range(counts["enterprise"]):
        industry = _INDUSTRIES.pick(rng)
        name, word_tags = enterprise_name(industry)
        uscc = namer.uscc("1")
        rows.append(_business(rng, code=uscc, uscc=uscc, reg_no=None, name=name, type_="enterprise",
                              industry=industry.code, tags=_tags(rng, industry, word_tags), town=_town(rng)))
    for _ in range(counts["branch"]):
        industry = _INDUSTRIES.pick(rng)
        town = _town(rng)
        word, word_tags = _split(rng.choice(industry.words))
        suffix = "分店" if industry.code in ("F52", "H62") else "分公司"
        name = namer.unique(lambda: f"{_PREFIXES.pick(rng)}{namer.trade()}{word}有限公司"
                                    f"{town.short}{suffix}")
        uscc = namer.uscc("1")
        rows.append(_business(rng, code=uscc, uscc=uscc, reg_no=None, name=name, type_="branch",
                              industry=industry.code, tags=_tags(rng, industry, word_tags), town=town))

    def shop_name(town: data.Town, endings: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        ending, ending_tags = _split(rng.choice(endings))

        def make() -> str:
            r = rng.random()
            owner = namer.trade() if r < 0.5 else (rng.choice(data.SURNAMES) + "记" if r < 0.8
                                                   else "老" + rng.choice(data.SURNAMES) + "家")
            return f"{data.COUNTY_NAME}{town.name}{owner}{ending}"

        return namer.unique(make), ending_tags

    for _ in range(counts["individual"]):
        code, _w, endings = _TRADES.pick(rng)
        town = _town(rng)
        name, ending_tags = shop_name(town, endings)
        uscc = namer.uscc("2")
        rows.append(_business(rng, code=uscc, uscc=uscc, reg_no=None, name=name, type_="individual",
                              industry=code, tags=_tags(rng, None, ending_tags), town=town))
    for _ in range(counts["cooperative"]):
        town = _town(rng)
        product, kind = rng.choice(data.COOP_PRODUCTS)
        village = rng.choice(data.VILLAGES)
        name = namer.unique(lambda: f"三门峡市陕州区{town.short}{village}{product}{kind}专业合作社"
                                    if rng.random() < 0.8 else f"陕州区{namer.trade()}{product}{kind}专业合作社")
        uscc = namer.uscc("3")
        industry = {"种植": "A01", "养殖": "A03", "服务": "A05"}[kind]
        tags = ["农产品生产"] if kind != "服务" else []
        rows.append(_business(rng, code=uscc, uscc=uscc, reg_no=None, name=name, type_="cooperative",
                              industry=industry, tags=rules.tags_text(tags), town=town))
    for _ in range(counts["reg_only"]):  # registered before 2015, never re-issued a USCC
        individual = rng.random() < 0.35
        town = _town(rng)
        if individual:
            code, _w, endings = _TRADES.pick(rng)
            name, extra = shop_name(town, endings)
            industry = None
        else:
            industry = _INDUSTRIES.pick(rng)
            name, extra = enterprise_name(industry)
            code = industry.code
        reg_no = namer.reg_no(individual)
        rows.append(_business(rng, code=reg_no, uscc=None, reg_no=reg_no, name=name,
                              type_="individual" if individual else "enterprise", industry=code,
                              tags=_tags(rng, industry, extra), town=town, old=True))
    for i in range(counts["product"]):
        product, industry, spec = data.PRODUCTS[i % len(data.PRODUCTS)]
        town = _town(rng)
        lat, lon, datum = _location(rng, town)
        rows.append({"code": f"CP-{data.COUNTY_CODE}-{i + 1:04d}", "uscc": None, "reg_no": None,
                     "name": namer.unique(lambda: f"{namer.trade()}牌{product}（{spec}）"), "type": "product",
                     "address": _address(rng, town), "region_code": town.code, "industry_code": industry,
                     "risk_class": None, "tags_text": rules.tags_text(["产品质量"]), "latitude": lat,
                     "longitude": lon, "datum": datum, "status": "active", "legal_rep": None,
                     "phone": _phone(rng), "department": "SAMR"})
    for i in range(counts["project"]):
        town = _town(rng)
        lat, lon, datum = _location(rng, town)
        template = data.PROJECT_TEMPLATES[i % len(data.PROJECT_TEMPLATES)]
        name = namer.unique(lambda: template.format(trade=namer.trade(), town=town.name, n=rng.randint(1, 30),
                                                    village=rng.choice(data.VILLAGES))
                            + (f"（{rng.choice('二三四五六七八九')}期）" if namer.crowded else ""))
        rows.append({"code": f"XM-{data.COUNTY_CODE}-{2024 + i % 3}-{i + 1:04d}", "uscc": None, "reg_no": None,
                     "name": name, "type": "project", "address": _address(rng, town), "region_code": town.code,
                     "industry_code": rng.choice(("E47", "E48")), "risk_class": None,
                     "tags_text": rules.tags_text(["建筑施工"]), "latitude": lat, "longitude": lon, "datum": datum,
                     "status": "active", "legal_rep": _person(rng), "phone": _mobile(rng), "department": "MOHURD"})
    for i in range(counts["activity"]):
        town = _town(rng)
        lat, lon, datum = _location(rng, town)
        template = data.ACTIVITIES[i % len(data.ACTIVITIES)]
        name = namer.unique(lambda: template.format(town=town.name) + (f"（第{rng.randint(2, 12)}届）"
                                                                       if rng.random() < 0.5 else ""))
        rows.append({"code": f"HD-{data.COUNTY_CODE}-{i + 1:04d}", "uscc": None, "reg_no": None, "name": name,
                     "type": "activity", "address": _address(rng, town), "region_code": town.code,
                     "industry_code": "R88", "risk_class": None, "tags_text": rules.tags_text(["营业性演出"]),
                     "latitude": lat, "longitude": lon, "datum": datum, "status": "active",
                     "legal_rep": _person(rng), "phone": _mobile(rng), "department": "MCT"})
    assert len(rows) == n
    return rows


def _inspector_counts(total: int) -> dict[str, int]:
    floor = data.MIN_INSPECTORS_PER_DEPARTMENT
    depts = data.DEPARTMENTS
    extra = total - floor * len(depts)
    weight_sum = sum(d.weight for d in depts)
    shares = [extra * d.weight / weight_sum for d in depts]
    counts = [int(s) for s in shares]
    # largest remainders, ties by list order: deterministic
    order = sorted(range(len(depts)), key=lambda i: (-(shares[i] - counts[i]), i))
    for i in order[:extra - sum(counts)]:
        counts[i] += 1
    return {d.code: floor + c for d, c in zip(depts, counts)}


def _leader_title(unit: str) -> str:
    for ending, title in (("所", "副所长"), ("股", "股长"), ("科", "副科长"), ("大队", "副大队长"), ("站", "副站长"),
                          ("分局", "副局长"), ("室", "副主任")):
        if unit.endswith(ending):
            return title
    return "负责人"


def _inspectors(rng: random.Random, total: int) -> list[dict]:
    rows = []
    town_by_short = {t.short: t for t in data.TOWNS}
    counts = _inspector_counts(total)
    for dept in data.DEPARTMENTS:
        count = counts[dept.code]
        off = round(count * 0.06)
        off = min(off, count - data.MIN_INSPECTORS_PER_DEPARTMENT)
        # the first of each department stays active: demo accounts are linked to it
        away = set(rng.sample(range(1, count), off)) if off > 0 else set()
        for k in range(count):
            unit = rng.choice(dept.units)
            town = next((t for short, t in town_by_short.items() if unit.startswith(short + "市场监督")), None)
            rank = _leader_title(unit) if rng.random() < 0.08 else rng.choice(dept.ranks)
            quals = ["行政执法证"] + rng.sample(dept.qualifications, k=min(len(dept.qualifications), rng.randint(0, 2)))
            if rng.random() < 0.05:
                quals.append("法律职业资格")
            expertise = rng.sample(dept.expertise, k=min(len(dept.expertise), rng.randint(1, 3)))
            status = "active"
            if k in away:
                status = "on_leave" if rng.random() < 0.8 else "transferred"
            rows.append({"department": dept.code, "cert_no": f"{dept.code}-{data.COUNTY_CODE}-{k + 1:04d}",
                         "name": _person(rng), "phone": _mobile(rng),
                         "region_code": town.code if town else data.COUNTY_CODE, "position": f"{unit}{rank}",
                         "qualifications": quals, "expertise_text": rules.tags_text(expertise), "status": status})
    return rows


def _conflicts(rng: random.Random, inspectors: list[dict], targets: list[dict]) -> list[tuple[str, str, str]]:
    active_inspectors = [i["cert_no"] for i in inspectors if i["status"] == "active"]
    businesses = [t["code"] for t in targets if t["status"] == "active" and t["type"] in rules.REGISTERED_TYPES]
    wanted = max(3, min(8, len(inspectors) // 40))
    pairs: dict[tuple[str, str], str] = {}
    # the SAMR demo inspector declares one, so that recusal shows in the demo
    pairs[(f"SAMR-{data.COUNTY_CODE}-0001", rng.choice(businesses))] = rng.choice(data.CONFLICT_REASONS)
    while len(pairs) < wanted:
        pairs.setdefault((rng.choice(active_inspectors), rng.choice(businesses)), rng.choice(data.CONFLICT_REASONS))
    return [(c, t, r) for (c, t), r in pairs.items()]


def _experts(rng: random.Random) -> list[dict]:
    rows = []
    for i, (dept, org, title, fields) in enumerate(data.EXPERTS):
        rows.append({"code": f"ZJ-{data.COUNTY_CODE}-{i + 1:03d}", "name": _person(rng), "organization": org,
                     "title": title, "fields_text": rules.tags_text(fields.split(",")), "phone": _mobile(rng),
                     "department": dept, "status": "suspended" if i == 6 else "active"})
    return rows


def _history(rng: random.Random, targets: list[dict], today: dt.date) -> list[tuple[str, str, dt.date, str]]:
    """Some targets were already inspected for some items this year (before ``today``)."""
    jan1 = dt.date(today.year, 1, 1)
    days = max(1, (today - jan1).days)
    by_type: dict[str, list[data.ItemSpec]] = {}
    for item in data.ITEMS:
        for kind in item.object_types:
            by_type.setdefault(kind, []).append(item)
    rows = []
    candidates = [t for t in targets if t["status"] == "active" and t["type"] in rules.REGISTERED_TYPES]
    for target in rng.sample(candidates, max(1, round(len(candidates) * 0.04))):
        tags = set(rules.tags_from_text(target["tags_text"]))
        fitting = [i for i in by_type.get(target["type"], []) if set(i.tags) & tags]
        general = [i for i in by_type.get(target["type"], []) if i.department == "SAMR" and not i.tags]
        pool = fitting + general[:6]
        chosen = rng.sample(pool, min(len(pool), rng.choice((1, 1, 1, 2))))
        when = jan1 + dt.timedelta(days=rng.randrange(days))  # one visit, all its items (进一次门、查多项事)
        batch = 1 + (when.month - 1) // 4
        source = rng.choice((f"{today.year}年第{batch}批双随机抽查", f"{today.year}年部门联合双随机抽查"))
        for item in chosen:
            rows.append((target["code"], item.code, when, source))
    return rows


def _accounts(inspectors: list[dict]) -> list[dict]:
    names = {i["cert_no"]: i["name"] for i in inspectors}
    rows = []
    for username, role, dept, display, linked in data.ACCOUNTS:
        cert = f"{dept}-{data.COUNTY_CODE}-0001" if linked else None
        rows.append({"username": username, "role": role, "department": dept,
                     "display_name": display or names[cert], "inspector": cert})
    return rows


def minimum_inspectors() -> int:
    return data.MIN_INSPECTORS_PER_DEPARTMENT * len(data.DEPARTMENTS)


def build_demo(*, targets: int = 20000, inspectors: int = 300, seed: int = 2026,
               today: dt.date | None = None) -> DemoData:
    """All rows of the demo county; pure and deterministic for (targets, inspectors, seed, today)."""
    if targets < MIN_TARGETS:
        raise InvalidInput(f"检查对象数量至少为 {MIN_TARGETS}", code="demo.too_few_targets",
                           errors={"targets": [f"至少 {MIN_TARGETS}"]})
    notes = []
    if inspectors < minimum_inspectors():
        notes.append(f"每个部门至少 {data.MIN_INSPECTORS_PER_DEPARTMENT} 名执法检查人员（每组每部门抽 2 名），"
                     f"检查人员数已由 {inspectors} 调整为 {minimum_inspectors()}")
        inspectors = minimum_inspectors()
    today = today or (utcnow() + dt.timedelta(hours=8)).date()
    target_rows = _targets(random.Random(f"{seed}:targets"), targets)
    inspector_rows = _inspectors(random.Random(f"{seed}:inspectors"), inspectors)
    return DemoData(
        regions=_regions(), departments=_departments(), items=_items(), targets=target_rows,
        inspectors=inspector_rows,
        conflicts=_conflicts(random.Random(f"{seed}:conflicts"), inspector_rows, target_rows),
        experts=_experts(random.Random(f"{seed}:experts")),
        history=_history(random.Random(f"{seed}:history"), target_rows, today),
        accounts=_accounts(inspector_rows), notes=notes)


# --- writing -----------------------------------------------------------------------------------------
EXISTING_KINDS = (("departments", Department, "部门"), ("regions", Region, "行政区划"), ("items", Item, "抽查事项"),
                  ("targets", Target, "检查对象"), ("inspectors", Inspector, "执法检查人员"), ("experts", Expert, "专家"),
                  ("users", User, "账号"))


def existing_counts(session: Session) -> dict[str, int]:
    """Rows already in the tables the demo writes (zero everywhere: an empty database)."""
    return {kind: session.scalar(select(func.count()).select_from(model)) or 0 for kind, model, _ in EXISTING_KINDS}


def describe_counts(counts: dict[str, int]) -> str:
    labels = {kind: label for kind, _, label in EXISTING_KINDS}
    return "、".join(f"{labels[k]} {v} 条" for k, v in counts.items() if v and k in labels)


def _chunks(rows: list, size: int = CHUNK):
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _insert(session: Session, model, rows: list[dict], progress: Progress | None = None, label: str = "") -> None:
    done = 0
    for chunk in _chunks(rows):
        session.execute(insert(model.__table__), chunk)  # Core executemany: no per-row ORM work
        done += len(chunk)
        if progress and label and len(rows) > CHUNK:
            progress(f"  {label} {done}/{len(rows)}")


def _strip(row: dict, *keys: str) -> dict:
    return {k: v for k, v in row.items() if k not in keys}


def seed_demo(db: Database, *, targets: int = 20000, inspectors: int = 300, seed: int = 2026,
              progress: Progress | None = None, force: bool = False, today: dt.date | None = None,
              field_task: bool = True, past_year: bool = True, media_dir: str | None = None) -> DemoSummary:
    """Write the demo county in one transaction and return what was written; then (``field_task``) draw
    the demo joint task whose first group the demo officers make (backend/demo/field.py), and (``past_year``)
    a year of past tasks, inspected, published and followed up (backend/demo/history.py; its photos go to
    ``media_dir``, a temporary folder when None)."""
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    demo = build_demo(targets=targets, inspectors=inspectors, seed=seed, today=today)
    for note in demo.notes:
        say(note)
    say(f"已生成演示数据（{time.perf_counter() - started:.1f} 秒），开始写入数据库")
    counts: dict[str, int] = {}
    skipped: Counter[str] = Counter()

    with db.session_scope() as session:
        before = existing_counts(session)
        if any(before.values()) and not force:
            raise Conflict(f"数据库中已有数据（{describe_counts(before)}），未写入演示数据。"
                           "确需在现有数据上追加演示数据，请加 --force（已存在的记录按代码跳过）",
                           code="demo.not_empty", details={"existing": before})
        fresh = not any(before.values())

        # regions
        have = set() if fresh else set(session.scalars(select(Region.code)))
        rows = [r for r in demo.regions if r["code"] not in have]
        skipped["regions"] += len(demo.regions) - len(rows)
        _insert(session, Region, rows)
        counts["regions"] = len(rows)

        # departments (a clash on the name counts as existing too)
        existing = {} if fresh else {code: (i, name) for i, code, name in
                                     session.execute(select(Department.id, Department.code, Department.name))}
        taken_names = {name for _, name in existing.values()}
        rows = [d for d in demo.departments if d["code"] not in existing and d["name"] not in taken_names]
        skipped["departments"] += len(demo.departments) - len(rows)
        _insert(session, Department, rows)
        counts["departments"] = len(rows)
        dept_ids: dict[str, int] = {}
        for i, code, name in session.execute(select(Department.id, Department.code, Department.name)):
            dept_ids[code] = i
            spec = next((d for d in demo.departments if d["name"] == name), None)
            if spec is not None:
                dept_ids.setdefault(spec["code"], i)
        say(f"行政区划 {counts['regions']} 个，部门 {counts['departments']} 个")

        # items and their check points
        have = set() if fresh else set(session.scalars(select(Item.code)))
        items = [i for i in demo.items if i["code"] not in have]
        skipped["items"] += len(demo.items) - len(items)
        _insert(session, Item, [{**_strip(i, "department", "points"), "department_id": dept_ids[i["department"]]}
                                for i in items])
        item_ids = dict((code, i) for i, code in session.execute(select(Item.id, Item.code)))
        points = [{**p, "item_id": item_ids[i["code"]]} for i in items for p in i["points"]]
        _insert(session, CheckPoint, points)
        counts["items"], counts["check_points"] = len(items), len(points)
        say(f"抽查事项 {len(items)} 项（检查内容 {len(points)} 条）")

        # targets
        have = set()
        if not fresh:
            for code, uscc, reg_no in session.execute(select(Target.code, Target.uscc, Target.reg_no)):
                have.update(k for k in (code, uscc, reg_no) if k)
        rows = [t for t in demo.targets if not ({t["code"], t["uscc"], t["reg_no"]} - {None}) & have]
        skipped["targets"] += len(demo.targets) - len(rows)
        _insert(session, Target, [{**_strip(t, "department"), "department_id": dept_ids[t["department"]]}
                                  for t in rows], say, "检查对象")
        written_targets = {t["code"] for t in rows}
        counts["targets"] = len(rows)
        by_type = Counter(t["type"] for t in rows)
        for kind in rules.TARGET_TYPES:
            if by_type[kind]:
                counts[f"targets.{kind}"] = by_type[kind]
        counts["targets.reg_no_only"] = sum(1 for t in rows if t["uscc"] is None and t["reg_no"])
        say(f"检查对象 {len(rows)} 个（" + "、".join(f"{label} {by_type[k]}" for k, label in rules.TARGET_TYPES.items()
                                                 if by_type[k])
            + f"；其中仅有注册号的 {counts['targets.reg_no_only']}）")
        target_ids = {code: i for i, code in session.execute(select(Target.id, Target.code))}

        # inspectors, conflicts, experts
        have = set() if fresh else set(session.scalars(select(Inspector.cert_no)))
        rows = [i for i in demo.inspectors if i["cert_no"] not in have]
        skipped["inspectors"] += len(demo.inspectors) - len(rows)
        _insert(session, Inspector, [{**_strip(i, "department"), "department_id": dept_ids[i["department"]]}
                                     for i in rows])
        written_inspectors = {i["cert_no"] for i in rows}
        counts["inspectors"] = len(rows)
        inspector_ids = {cert: i for i, cert in session.execute(select(Inspector.id, Inspector.cert_no))}
        conflicts = [{"inspector_id": inspector_ids[c], "target_id": target_ids[t], "reason": r}
                     for c, t, r in demo.conflicts if c in written_inspectors and t in written_targets]
        _insert(session, InspectorConflict, conflicts)
        counts["conflicts"] = len(conflicts)
        have = set() if fresh else set(session.scalars(select(Expert.code)))
        rows = [e for e in demo.experts if e["code"] not in have]
        skipped["experts"] += len(demo.experts) - len(rows)
        _insert(session, Expert, [{**_strip(e, "department"), "department_id": dept_ids[e["department"]]}
                                  for e in rows])
        counts["experts"] = len(rows)
        by_dept = Counter(i["department"] for i in demo.inspectors if i["cert_no"] in written_inspectors)
        per_dept = "、".join(f"{d} {by_dept[d]}" for d in data.DEPARTMENT_CODES if by_dept[d])
        say(f"执法检查人员 {counts['inspectors']} 名" + (f"（{per_dept}）" if per_dept else "")
            + f"，回避声明 {len(conflicts)} 条，专家 {len(rows)} 名")

        # the inspection history of this year
        history = [{"target_id": target_ids[t], "item_id": item_ids[i], "last_inspected_on": when, "source": source}
                   for t, i, when, source in demo.history if t in written_targets]
        _insert(session, TargetItemHistory, history)
        counts["history"] = len(history)

        # accounts
        accounts = _write_accounts(session, demo, dept_ids, inspector_ids)
        counts["users"] = sum(1 for a in accounts if a.created)
        say(f"本年度已检查记录 {len(history)} 条，演示账号 {counts['users']} 个")

        detail = {"seed": seed, "counts": counts, "skipped": {k: v for k, v in skipped.items() if v},
                  "accounts": [a.username for a in accounts if a.created], "force": force}
        record(session, Actor.system("demo-seed"), "demo.seed", "database", str(seed), detail=detail)

    with db.session_scope() as session:  # statistics for the planner: autovacuum may be off or late
        analyze(session, *(m.__tablename__ for m in (Region, Department, Item, CheckPoint, Target, Inspector,
                                                     InspectorConflict, Expert, TargetItemHistory, User)))
    notes = list(demo.notes)
    if field_task:
        from backend.demo.field import seed_field_task

        field = seed_field_task(db, today or (utcnow() + dt.timedelta(hours=8)).date())
        say(field.note)
        notes.append(field.note)
        counts["field_inspections"] = field.inspections
        if field.linked:  # the officers' accounts now stand for the officers the draw put in the demo group
            certs = {}
            with db.session_scope() as session:
                for username, cert in field.linked.items():
                    certs[username] = (cert, session.scalar(select(Inspector.name).where(Inspector.cert_no == cert)))
            accounts = [dataclasses.replace(a, inspector_cert_no=certs[a.username][0], display_name=certs[a.username][1])
                        if a.username in certs and a.created else a for a in accounts]
    if past_year:  # after the demo task: its draw stays what the e2e tests and the guide know
        from backend.demo.history import seed_history

        story = seed_history(db, today or (utcnow() + dt.timedelta(hours=8)).date(), media_dir)
        say(story.note)
        notes.append(story.note)
        counts["past_tasks"], counts["past_inspections"] = story.tasks, story.inspections
        counts.update({f"past.publication.{k}": v for k, v in story.publication.items()})
        counts.update({f"past.followups.{k}": v for k, v in story.followups.items()})
        counts["past.published_versions"] = story.published_versions
    return DemoSummary(seed=seed, counts=counts, skipped={k: v for k, v in skipped.items() if v}, accounts=accounts,
                       seconds=time.perf_counter() - started, notes=notes)


def _write_accounts(session: Session, demo: DemoData, dept_ids: dict[str, int],
                    inspector_ids: dict[str, int]) -> list[DemoAccount]:
    existing = {name: display for name, display in session.execute(select(User.username, User.display_name))}
    linked = set(session.scalars(select(User.inspector_id).where(User.inspector_id.is_not(None))))
    # one argon2 hash for the one public demo password (each hash costs a few hundred ms on a small machine)
    password_hash = hash_password(data.DEMO_PASSWORD)
    out = []
    for spec in demo.accounts:
        username = spec["username"]
        if username in existing:
            out.append(DemoAccount(username, spec["role"], spec["department"], existing[username], data.DEMO_PASSWORD,
                                   created=False))
            continue
        inspector_id, cert = None, spec["inspector"]
        if cert is not None:
            inspector_id = inspector_ids.get(cert)
            display = spec["display_name"]
            if inspector_id is None or inspector_id in linked:  # taken (force): the first free active one
                inspector_id, cert, display = session.execute(
                    select(Inspector.id, Inspector.cert_no, Inspector.name).where(
                        Inspector.department_id == dept_ids[spec["department"]], Inspector.status == "active",
                        Inspector.id.not_in(linked or {-1})).order_by(Inspector.cert_no).limit(1)
                ).first() or (None, None, spec["display_name"])
            if inspector_id is not None:
                linked.add(inspector_id)
            spec = {**spec, "display_name": display}
        session.execute(insert(User), [{
            "username": username, "display_name": spec["display_name"], "password_hash": password_hash,
            "role": spec["role"], "department_id": dept_ids.get(spec["department"]) if spec["department"] else None,
            "region_code": data.COUNTY_CODE, "inspector_id": inspector_id, "status": "active", "token_version": 1}])
        out.append(DemoAccount(username, spec["role"], spec["department"], spec["display_name"], data.DEMO_PASSWORD,
                               created=True, inspector_cert_no=cert))
    return out
