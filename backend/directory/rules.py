"""Vocabulary and checks of the lists, shared by the API, imports and the demo data."""
from __future__ import annotations

import re

from backend.inspections.rulebook import VOCABULARY as _FIELD_VOCABULARY

# --- 统一社会信用代码 GB 32100-2015 ---------------------------------------------------------
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$")
REG_NO_RE = re.compile(r"^\d{15}$")


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """None if ``code`` is a valid USCC, else a Chinese reason."""
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位，实际 {len(code)} 位"
    if not USCC_RE.match(code):
        return "统一社会信用代码含有不允许的字符（不使用 I、O、S、V、Z）"
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        return f"统一社会信用代码校验位错误（应为 {expected}）"
    return None


def reg_no_check_digit(first14: str) -> str:
    """GB 15624 (ISO 7064 MOD 11,10) check digit of a 15-digit registration number."""
    p = 10
    for ch in first14:
        s = (p + int(ch)) % 10 or 10
        p = (s * 2) % 11
    return str((11 - p) % 10)


def reg_no_problem(code: str) -> str | None:
    if not REG_NO_RE.match(code):
        return "注册号应为 15 位数字"
    if reg_no_check_digit(code[:14]) != code[14]:
        return "注册号校验位错误"
    return None


# --- enumerations (code → Chinese label) -------------------------------------------------------
TARGET_TYPES = {
    "enterprise": "企业", "individual": "个体工商户", "cooperative": "农民专业合作社", "branch": "分支机构",
    "product": "产品", "project": "项目", "activity": "活动",
}
# types identified by a USCC or a registration number; the others by a directory code
REGISTERED_TYPES = {"enterprise", "individual", "cooperative", "branch"}
TARGET_STATUSES = {"active": "存续", "closed": "歇业/关闭", "deregistered": "注销", "revoked": "吊销",
                   "moved_out": "迁出"}
RISK_CLASSES = {"A": "信用风险低", "B": "信用风险一般", "C": "信用风险较高", "D": "信用风险高"}
DATUMS = ("WGS-84", "GCJ-02")
ITEM_KINDS = {"key": "重点检查事项", "general": "一般检查事项"}
METHODS = _FIELD_VOCABULARY["methods"]   # 检查方式: one source with the phone, schemas/field_rules.json
ANSWER_TYPES = {"yes_no": "是/否", "compliance": "符合/不符合/不适用", "choice": "单选", "multi": "多选",
                "text": "文字", "number": "数值", "photo": "照片"}
INSPECTOR_STATUSES = {"active": "在岗", "on_leave": "休假/请假", "transferred": "调离"}
EXPERT_STATUSES = {"active": "在库", "suspended": "暂停"}
REGION_LEVELS = {"province": "省", "city": "市", "county": "县/区", "town": "乡镇/街道"}

CHOICE_TYPES = {"choice", "multi"}   # answer types that have options

REGION_CODE_RE = re.compile(r"^\d{6}(\d{3})?$")
DEPT_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{1,15}$")
INDUSTRY_RE = re.compile(r"^[A-T](\d{2}(\d{1,2})?)?$")
DIRECTORY_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_.\-]{0,31}$")   # 名录代码 (targets without a USCC), 专家编号
TAGS_MAX = 500   # length of the stored ",a,b," text columns (tags, expertise, fields)


def region_prefix(code: str) -> str:
    """The code prefix shared by a region and everything under it: 410000 → 41, 411200 → 4112."""
    if len(code) != 6:
        return code
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


def region_level_for(code: str) -> str:
    if len(code) == 9:
        return "town"
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "county"


def label_to_code(mapping: dict[str, str], value: str) -> str | None:
    """Accept either the code or its Chinese label (imports use the labels)."""
    value = value.strip()
    if value in mapping:
        return value
    for code, label in mapping.items():
        if label == value:
            return code
    return None


def split_tags(value) -> list[str]:
    """Tags from a list or from text separated by ，,；;、 or spaces; trimmed, unique, ordered."""
    if value is None:
        return []
    parts = value if isinstance(value, (list, tuple)) else re.split(r"[，,；;、\s]+", str(value))
    out: list[str] = []
    for part in parts:
        tag = str(part).strip()
        if tag and tag not in out:
            out.append(tag[:32])
    return out


def tags_text(tags: list[str]) -> str:
    """Stored form: ",a,b," so that one tag is found with LIKE '%,tag,%' on every database."""
    return "," + ",".join(tags) + "," if tags else ""


def tags_from_text(text: str | None) -> list[str]:
    return [t for t in (text or "").split(",") if t]
