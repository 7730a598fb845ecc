"""Configuration from the environment, with safe defaults for one machine.

Every setting can be overridden by the mapping given to ``create_app`` (tests) or by
an environment variable of the same name (except ``PASSWORD_HASH_COST``: tests only). The embedded default is a SQLite file,
jobs in-process and files in a folder under ``instance/``.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

# keys that were ever published (the repository's old development default): refused everywhere
PUBLIC_KEYS = frozenset({"dev-insecure-secret-key-change-me"})
MIN_KEY_LENGTH = 32

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = Path(os.environ.get("SHUANGSUI_INSTANCE", ROOT / "instance"))


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def from_environment() -> dict:
    """Read the settings from the environment (called once per app)."""
    return {
        "ENV_NAME": os.environ.get("SHUANGSUI_ENV", "development"),
        # unset: the embedded default makes a random key on first start and keeps it in SECRET_KEY_FILE
        "SECRET_KEY": os.environ.get("SECRET_KEY") or None,
        "SECRET_KEY_FILE": os.environ.get("SECRET_KEY_FILE") or str(INSTANCE / "secret_key"),
        # how many reverse proxies in front of the app append X-Forwarded-For / -Proto (0: trust none)
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'shuangsui.db'}",
        # connections each process keeps open (unset: 5); gunicorn's workers set it to their threads
        "DATABASE_POOL_SIZE": _int("DATABASE_POOL_SIZE", 0) or None,
        "DATABASE_POOL_LIFO": os.environ.get("DATABASE_POOL_LIFO", "") not in ("", "0"),
        # PostgreSQL: runs of a statement on a connection before psycopg prepares it there (backend/db.py)
        # ("off": never, for a pooler in transaction mode)
        "DATABASE_PREPARE_THRESHOLD": -1 if os.environ.get("DATABASE_PREPARE_THRESHOLD", "").strip().lower() == "off"
        else _int("DATABASE_PREPARE_THRESHOLD", 1),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "RQ_QUEUE": os.environ.get("RQ_QUEUE") or "shuangsui",
        "MEDIA_DIR": os.environ.get("MEDIA_DIR") or str(INSTANCE / "media"),
        # where stored files live (backend/media/storage.py): "local" (MEDIA_DIR) or "s3" (an S3-compatible
        # object store: 政务云 object storage, MinIO, …); MEDIA_DIR then keeps unfinished uploads and temporary files
        "MEDIA_STORAGE": os.environ.get("MEDIA_STORAGE") or "local",
        "MEDIA_S3_ENDPOINT_URL": os.environ.get("MEDIA_S3_ENDPOINT_URL") or None,
        "MEDIA_S3_BUCKET": os.environ.get("MEDIA_S3_BUCKET") or None,
        "MEDIA_S3_ACCESS_KEY_ID": os.environ.get("MEDIA_S3_ACCESS_KEY_ID") or None,
        "MEDIA_S3_SECRET_ACCESS_KEY": os.environ.get("MEDIA_S3_SECRET_ACCESS_KEY") or None,
        "MEDIA_S3_REGION": os.environ.get("MEDIA_S3_REGION") or None,
        "MEDIA_S3_PREFIX": os.environ.get("MEDIA_S3_PREFIX") or "",
        "MEDIA_S3_ADDRESSING_STYLE": os.environ.get("MEDIA_S3_ADDRESSING_STYLE") or "path",
        "PWA_DIR": os.environ.get("PWA_DIR") or str(ROOT / "pwa" / "public"),
        # the officers' app (掌上执法), built by `npm run build` in pwa/ (scripts/setup.sh does it), served at /app/
        "PWA_APP_DIR": os.environ.get("PWA_APP_DIR") or str(ROOT / "pwa" / "dist"),
        "PWA_OFFICE_DIR": os.environ.get("PWA_OFFICE_DIR") or str(ROOT / "pwa" / "dist-office"),
        "PWA_PORTAL_DIR": os.environ.get("PWA_PORTAL_DIR") or str(ROOT / "pwa" / "dist-portal"),
        # tokens
        "ACCESS_TOKEN_MINUTES": _int("ACCESS_TOKEN_MINUTES", 15),
        # an officer may stay offline a week: a refresh token lives 14 days from its last use,
        # a family (one login on one device) at most 30 days
        "REFRESH_TOKEN_DAYS": _int("REFRESH_TOKEN_DAYS", 14),
        "REFRESH_FAMILY_DAYS": _int("REFRESH_FAMILY_DAYS", 30),
        # a refresh whose answer was lost may be sent again this long after (its unused successor is revoked)
        "REFRESH_RETRY_SECONDS": _int("REFRESH_RETRY_SECONDS", 60),
        "JWT_ISSUER": "shuangsui",
        "JWT_AUDIENCE": "shuangsui-api",
        # login throttling (docs/api.md "Logging in"): failures of one account from one address before
        # the delays start; failures of one address (all accounts) and of one account (all addresses,
        # an admin alert) within the window
        "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
        "LOGIN_WINDOW_MINUTES": _int("LOGIN_WINDOW_MINUTES", 15),
        "LOGIN_ADDRESS_MAX_FAILURES": _int("LOGIN_ADDRESS_MAX_FAILURES", 20),
        "LOGIN_ALERT_FAILURES": _int("LOGIN_ALERT_FAILURES", 50),
        # `shuangsui user prune` (daily from cron): login attempts and ended refresh-token families older than
        # this many days are deleted (backend/auth/housekeeping.py; at least 7)
        "LOGIN_RECORDS_DAYS": _int("LOGIN_RECORDS_DAYS", 90),
        # argon2's cost (backend/auth/passwords.py): None is production's; the test suite passes a cheap one
        # ({"time_cost": …, "memory_cost": …, "parallelism": …}). Never read from the environment
        "PASSWORD_HASH_COST": None,
        # jobs: "inline" runs them in this process; with REDIS_URL set they go to rq
        "JOBS_INLINE_THREAD": os.environ.get("JOBS_INLINE_THREAD", "1") == "1",
        "JOB_RETRIES": _int("JOB_RETRIES", 2),
        # reminders (docs/operations.md "Reminders"): the sweep every this many minutes, by rq's cron with
        # REDIS_URL (`shuangsui reminders cron`), else by a timer in each server process (0: no timer);
        # REMINDERS_TIMER=0 turns the timer off (tests: off unless a test asks)
        "REMINDERS_SWEEP_MINUTES": _int("REMINDERS_SWEEP_MINUTES", 60),
        "REMINDERS_TIMER": os.environ.get("REMINDERS_TIMER", "1") == "1",
        "REMINDERS_FIRST_DELAY_SECONDS": _int("REMINDERS_FIRST_DELAY_SECONDS", 30),
        # channels besides the in-app list: "sms", "email" (comma-separated; none by default), and the sender
        # that carries them ("log": writes what it would send to the log; backend/notifications/channels.py)
        "NOTIFY_CHANNELS": os.environ.get("NOTIFY_CHANNELS") or "",
        "NOTIFY_SENDER": os.environ.get("NOTIFY_SENDER") or "log",
        "MAX_CONTENT_LENGTH": _int("MAX_UPLOAD_MB", 64) * 1024 * 1024,   # one request of an upload or an import
        # request bodies (backend/api.py body_limit): any endpoint that names no other limit (JSON), and logging in
        "REQUEST_MAX_BYTES": _int("REQUEST_MAX_KB", 1024) * 1024,
        "AUTH_REQUEST_MAX_BYTES": _int("AUTH_REQUEST_MAX_KB", 16) * 1024,
        "IMPORT_MAX_ERRORS": _int("IMPORT_MAX_ERRORS", 500),
        # media: photos, signatures, PDFs, audio and video clips (docs/sync.md, "Photos and attachments")
        "MEDIA_PHOTO_MAX_BYTES": _int("MEDIA_PHOTO_MAX_BYTES", 15 * 1024 * 1024),
        "MEDIA_PHOTO_MAX_PIXELS": _int("MEDIA_PHOTO_MAX_PIXELS", 50_000_000),
        "MEDIA_SIGNATURE_MAX_BYTES": _int("MEDIA_SIGNATURE_MAX_BYTES", 1024 * 1024),
        "MEDIA_SIGNATURE_MAX_PIXELS": _int("MEDIA_SIGNATURE_MAX_PIXELS", 4_000_000),
        "MEDIA_PDF_MAX_BYTES": _int("MEDIA_PDF_MAX_BYTES", 20 * 1024 * 1024),
        "MEDIA_AUDIO_MAX_BYTES": _int("MEDIA_AUDIO_MAX_BYTES", 30 * 1024 * 1024),
        "MEDIA_VIDEO_MAX_BYTES": _int("MEDIA_VIDEO_MAX_BYTES", 200 * 1024 * 1024),
        "MEDIA_THUMB_EDGE": _int("MEDIA_THUMB_EDGE", 320),            # thumbnail: longest edge in pixels
        "MEDIA_PUBLIC_MAX_EDGE": _int("MEDIA_PUBLIC_MAX_EDGE", 2560),  # copy for publication, metadata stripped
        "MEDIA_UPLOAD_EXPIRY_HOURS": _int("MEDIA_UPLOAD_EXPIRY_HOURS", 72),  # an unfinished upload session
        "MEDIA_MAX_OPEN_UPLOADS": _int("MEDIA_MAX_OPEN_UPLOADS", 50),        # unfinished sessions per user
        "MEDIA_MAX_OPEN_MB": _int("MEDIA_MAX_OPEN_MB", 1024),               # their declared bytes, per user
        # files a user sent that no record uses yet (awaiting the push that refers to them), per user
        "MEDIA_MAX_UNREFERENCED_FILES": _int("MEDIA_MAX_UNREFERENCED_FILES", 1000),
        "MEDIA_MAX_UNREFERENCED_MB": _int("MEDIA_MAX_UNREFERENCED_MB", 2048),
        "MEDIA_MAX_FILES_PER_INSPECTION": _int("MEDIA_MAX_FILES_PER_INSPECTION", 600),   # files one record refers to
        # an image whose header claims more pixels per byte of file than this is refused (a decompression bomb)
        "MEDIA_MAX_PIXELS_PER_BYTE": _int("MEDIA_MAX_PIXELS_PER_BYTE", 5000),
        "MEDIA_ORPHAN_GRACE_DAYS": _int("MEDIA_ORPHAN_GRACE_DAYS", 7),      # unreferenced files kept this long
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
        # the day the 20 working days of publication count from (docs/deadlines.md, "When the clock starts"):
        # submission (结果产生之日, default), inspected (完成检查之日: the visit's 离开时间), task_end (工作结束之日)
        "PUBLICATION_CLOCK_START": os.environ.get("PUBLICATION_CLOCK_START") or "submission",
        # the PDF 检查记录表: a font file with Chinese glyphs to embed (unset: Noto Sans CJK SC from Debian's
        # fonts-noto-cjk, else WenQuanYi / AR PL); a collection (.ttc) is searched for its Simplified Chinese face
        "PDF_FONT": os.environ.get("PDF_FONT") or None,
        "PDF_MAX_ACTIVE_JOBS": _int("PDF_MAX_ACTIVE_JOBS", 3),
        # a list export longer than this is written by a job (202; backend/jobs/exports.py)
        "EXPORT_ASYNC_ROWS": _int("EXPORT_ASYNC_ROWS", 5000),     # renderings one person may have under way
        # an export job's file, a list import's upload: removed by the daily clean-up this long after (0: kept;
        # backend/jobs/retention.py)
        "EXPORT_RETENTION_DAYS": _int("EXPORT_RETENTION_DAYS", 30),
        "PDF_FONT_BOLD": os.environ.get("PDF_FONT_BOLD") or None,
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
        # GPS check of a record (backend/inspections/geo.py): flagged farther than radius + the fix's accuracy
        # from the registered location, coarser than the threshold, or this many minutes from the record's time
        "GPS_RADIUS_M": _int("GPS_RADIUS_M", 300),
        "GPS_COARSE_ACCURACY_M": _int("GPS_COARSE_ACCURACY_M", 100),
        "GPS_MAX_SKEW_MINUTES": _int("GPS_MAX_SKEW_MINUTES", 30),
        # sync (docs/sync.md): a user's active devices; open conflicts of one inspection
        "SYNC_MAX_CLIENTS": _int("SYNC_MAX_CLIENTS", 10),
        "SYNC_MAX_OPEN_CONFLICTS": _int("SYNC_MAX_OPEN_CONFLICTS", 500),
        "JSON_AS_ASCII": False,
        # the audit chain's key (HMAC) and anchors, kept outside the database (docs/operations.md)
        "AUDIT_KEY": os.environ.get("AUDIT_KEY") or None,
        "AUDIT_KEY_FILE": os.environ.get("AUDIT_KEY_FILE") or str(INSTANCE / "audit.key"),
        "AUDIT_ANCHOR_FILE": os.environ.get("AUDIT_ANCHOR_FILE") or str(INSTANCE / "audit-anchors.jsonl"),
        "AUDIT_ANCHOR_EVERY": _int("AUDIT_ANCHOR_EVERY", 100),
        "AUDIT_ANCHOR_MINUTES": _int("AUDIT_ANCHOR_MINUTES", 10),
    }


def check_production(config) -> None:
    """Production needs an explicit SECRET_KEY: several instances must share it, so no key file."""
    if config.get("ENV_NAME") == "production" and not config.get("SECRET_KEY"):
        raise RuntimeError(f"生产环境必须设置 SECRET_KEY（至少 {MIN_KEY_LENGTH} 个字符）")


def resolve_secret_key(config) -> str:
    """The key that signs tokens: SECRET_KEY if set, else the instance's own key file.

    A key that was ever public (the repository's old default) or shorter than 32 characters is
    refused in every mode: nothing that serves requests may sign with a key anyone can read.
    """
    check_production(config)
    key = config.get("SECRET_KEY")
    if not key:
        key = load_or_create_key_file(Path(config["SECRET_KEY_FILE"]))
    if key in PUBLIC_KEYS:
        raise RuntimeError("SECRET_KEY 是代码仓库中公开过的默认密钥，拒绝启动：请删除该设置（将自动生成随机密钥）"
                           "或换成随机生成的密钥")
    if len(key) < MIN_KEY_LENGTH:
        raise RuntimeError(f"SECRET_KEY 过短：至少 {MIN_KEY_LENGTH} 个字符，拒绝启动")
    return key


def create_key_file(path: Path, key: str) -> None:
    """Write ``key`` to the file ``path``, readable by its owner only, unless another process made it first.

    Written under a temporary name and linked into place, so processes starting at the same time
    (several gunicorn workers) agree on one key and never read a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        temp.unlink(missing_ok=True)


def load_or_create_key_file(path: Path) -> str:
    """Read the key file, or create it with a random key, readable by its owner only (``create_key_file``)."""
    if not path.exists():
        create_key_file(path, secrets.token_urlsafe(48))
    mode = path.stat().st_mode
    if mode & 0o077:
        raise RuntimeError(f"密钥文件 {path} 的权限过宽（{oct(mode & 0o777)}），只能由所有者读写：chmod 600 {path}")
    key = path.read_text(encoding="utf-8").strip()
    if not key:
        raise RuntimeError(f"密钥文件 {path} 为空：删除它后重新启动将生成新的密钥")
    return key
