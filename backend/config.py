"""Configuration from the environment, with safe defaults for one machine.

Every setting can be overridden by the mapping given to ``create_app`` (tests) or by
an environment variable of the same name. The embedded default is a SQLite file,
jobs in-process and files in a folder under ``instance/``.
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - refused in production

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("SHUANGSUI_INSTANCE", ROOT / "instance"))


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def from_environment() -> dict:
    """Read the settings from the environment (called once per app)."""
    return {
        "ENV_NAME": os.environ.get("SHUANGSUI_ENV", "development"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'shuangsui.db'}",
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "RQ_QUEUE": os.environ.get("RQ_QUEUE") or "shuangsui",
        "MEDIA_DIR": os.environ.get("MEDIA_DIR") or str(INSTANCE / "media"),
        "PWA_DIR": os.environ.get("PWA_DIR") or str(ROOT / "pwa" / "public"),
        # tokens
        "ACCESS_TOKEN_MINUTES": _int("ACCESS_TOKEN_MINUTES", 15),
        # an officer may stay offline a week: a refresh token lives 14 days from its last use,
        # a family (one login on one device) at most 30 days
        "REFRESH_TOKEN_DAYS": _int("REFRESH_TOKEN_DAYS", 14),
        "REFRESH_FAMILY_DAYS": _int("REFRESH_FAMILY_DAYS", 30),
        "JWT_ISSUER": "shuangsui",
        "JWT_AUDIENCE": "shuangsui-api",
        # login throttling: this many failures for one account or one address within the window
        "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_WINDOW_MINUTES": _int("LOGIN_WINDOW_MINUTES", 15),
        # jobs: "inline" runs them in this process; with REDIS_URL set they go to rq
        "JOBS_INLINE_THREAD": os.environ.get("JOBS_INLINE_THREAD", "1") == "1",
        "JOB_RETRIES": _int("JOB_RETRIES", 2),
        "MAX_CONTENT_LENGTH": _int("MAX_UPLOAD_MB", 64) * 1024 * 1024,
        "IMPORT_MAX_ERRORS": _int("IMPORT_MAX_ERRORS", 500),
        # what one imported file may hold (backend/directory/readers.py, docs/api.md)
        "IMPORT_MAX_ROWS": _int("IMPORT_MAX_ROWS", 200_000),
        "IMPORT_MAX_COLUMNS": _int("IMPORT_MAX_COLUMNS", 256),
        "IMPORT_MAX_CELL_CHARS": _int("IMPORT_MAX_CELL_CHARS", 65_536),
        "IMPORT_MAX_ROW_CHARS": _int("IMPORT_MAX_ROW_CHARS", 262_144),
        "IMPORT_XLSX_MAX_UNPACKED_MB": _int("IMPORT_XLSX_MAX_UNPACKED_MB", 256),
        "IMPORT_XLSX_MAX_SHARED_STRINGS_MB": _int("IMPORT_XLSX_MAX_SHARED_STRINGS_MB", 64),
        "IMPORT_XLSX_MAX_MEMBERS": _int("IMPORT_XLSX_MAX_MEMBERS", 500),
        "IMPORT_XLSX_MAX_RATIO": _int("IMPORT_XLSX_MAX_RATIO", 100),
        "TIMEZONE": "Asia/Shanghai",
        # flask-smorest / OpenAPI
        "API_TITLE": "双随 Shuangsui API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "/docs",
        "OPENAPI_SWAGGER_UI_URL": "/api/docs/static/",
        "API_SPEC_OPTIONS": {
            "info": {"description": "双随机、一公开监管系统接口。错误统一格式：{status, code, message, errors}。"},
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            },
        },
        "PAGINATION_MAX_PAGE_SIZE": 200,
        # default sampling ratio per credit-risk class (Henan 2021: 1% / 2% / 10% / 30%; A at least 1);
        # "U" is for targets not yet classified. A task starts from these and may change them.
        "RISK_RATIOS": {
            "A": {"num": 1, "den": 100, "min": 1},
            "B": {"num": 2, "den": 100},
            "C": {"num": 10, "den": 100},
            "D": {"num": 30, "den": 100},
            "U": {"num": 3, "den": 100},
        },
        # one business is in principle checked at most once a year per item; cities cap visits a year
        "MAX_VISITS_PER_YEAR": _int("MAX_VISITS_PER_YEAR", 4),
        "JSON_AS_ASCII": False,
    }


def check_production(config) -> None:
    """A production start refuses the default secret key and a short one."""
    if config.get("ENV_NAME") == "production":
        key = config.get("SECRET_KEY") or ""
        if key == DEFAULT_SECRET_KEY or len(key) < 32:
            raise RuntimeError("生产环境必须设置 SECRET_KEY（至少 32 个字符），拒绝使用默认密钥启动")
