"""Haven's settings, read from the environment through small typed helpers that fail loudly.

Every setting that an operator may change is a `HAVEN_*` environment variable; the defaults give a
working single-machine Haven on SQLite under `./var/`.
"""

import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

# Generic Django classes (ModelAdmin[Site], QuerySet[Person]) subscriptable at run time, for typing.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_probability(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 < number < 1.0:
        raise ImproperlyConfigured(f"{name} must be a probability between 0 and 1, got {value!r}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("HAVEN_DEBUG", False)
VAR_DIR = Path(env_str("HAVEN_VAR_DIR", str(Path.cwd() / "var"))).resolve()

_secret = os.environ.get("HAVEN_SECRET_KEY")
if _secret is None:
    # A single-machine install keeps a generated key under ./var so sessions survive restarts.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        import secrets

        # Created owner-only from the start: never readable by others, not even for a moment.
        fd = os.open(_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as key_out:
            key_out.write(secrets.token_urlsafe(50))
    _secret = _key_file.read_text().strip()
SECRET_KEY = _secret

ALLOWED_HOSTS = env_list("HAVEN_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("HAVEN_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "haven.core",
    "haven.registry",
    "haven.identity",
    "haven.tracing",
    "haven.shelter",
    "haven.assistance",
    "haven.reports",
    "haven.simulate",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "haven.urls"
WSGI_APPLICATION = "haven.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database() -> dict[str, Any]:
    url = os.environ.get("HAVEN_DATABASE_URL", "").strip()
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{VAR_DIR / 'haven.sqlite3'}"
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    except Exception as exc:  # dj-database-url raises several types for a bad URL
        raise ImproperlyConfigured(f"HAVEN_DATABASE_URL is not a database URL: {exc}") from exc
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            # WAL lets the desk read while the simulator or an import writes; IMMEDIATE takes the
            # write lock at BEGIN so two writers queue instead of failing mid-transaction.
            # mmap: reads come from the operating system's page cache instead of each
            # connection's own 2 MB cache, which a million records overflow (the figures and the
            # tracing search read large index ranges; bench/README.md).
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                " PRAGMA busy_timeout=20000;"
                f" PRAGMA mmap_size={env_int('HAVEN_SQLITE_MMAP_BYTES', 1 << 30)};"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        config["TEST"] = {"NAME": env_str("HAVEN_TEST_SQLITE_NAME", "") or None}
    elif engine in {"django.db.backends.postgresql"}:
        config.setdefault("OPTIONS", {})
    else:
        raise ImproperlyConfigured(
            f"HAVEN_DATABASE_URL names an unsupported database ({engine}); use sqlite or postgres"
        )
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("hy", "Հայերեն"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
# Armenian number and date formats (Django ships none for Armenian).
FORMAT_MODULE_PATH = ["haven.formats"]
TIME_ZONE = env_str("HAVEN_TIME_ZONE", "Asia/Yerevan")
try:
    ZoneInfo(TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"HAVEN_TIME_ZONE is not a time zone: {TIME_ZONE!r}") from None

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise serves from finders; it wants the dir
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# `haven serve` collects the static files (compressed) and sets HAVEN_STATIC_COLLECTED for
# gunicorn: whitenoise then serves only the collected files, with their gzip and Brotli variants.
# Elsewhere (tests, the development server) it reads the apps' static folders directly.
WHITENOISE_USE_FINDERS = not env_bool("HAVEN_STATIC_COLLECTED", False)
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("HAVEN_SESSION_SECONDS", 12 * 3600)
SESSION_COOKIE_SECURE = env_bool("HAVEN_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Registration limits: a household and a batch are bounded so one request cannot exhaust a worker.
HAVEN_BATCH_LIMIT = env_int("HAVEN_BATCH_LIMIT", 1000)
HAVEN_MAX_MEMBERS = env_int("HAVEN_MAX_MEMBERS", 40)
# Identity resolution: a pair at or above DUPLICATE is linked automatically (and stays
# reviewable); at or above POSSIBLE it waits for a caseworker's decision.
HAVEN_IDENTITY_DUPLICATE = env_probability("HAVEN_IDENTITY_DUPLICATE", 0.93)
HAVEN_IDENTITY_POSSIBLE = env_probability("HAVEN_IDENTITY_POSSIBLE", 0.5)
if HAVEN_IDENTITY_POSSIBLE > HAVEN_IDENTITY_DUPLICATE:
    raise ImproperlyConfigured("HAVEN_IDENTITY_POSSIBLE must not be above HAVEN_IDENTITY_DUPLICATE")
# The arrivals forecast may lean on an expected total (an origin population such as "about
# 120,000"): unset or 0 for none.
HAVEN_EXPECTED_ARRIVALS: int | None = env_int("HAVEN_EXPECTED_ARRIVALS", 0) or None
if HAVEN_EXPECTED_ARRIVALS is not None and HAVEN_EXPECTED_ARRIVALS < 0:
    raise ImproperlyConfigured("HAVEN_EXPECTED_ARRIVALS must be a number of people, not negative")
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("HAVEN_MAX_REQUEST_BYTES", 16 * 1024 * 1024)

# Tracing. PFIF record ids are "domain/local-id": the domain names this deployment.
HAVEN_PFIF_DOMAIN = os.environ.get("HAVEN_PFIF_DOMAIN", "haven.example.org").strip()
# What a PFIF export may carry: "minimal" (names and sex), "names" (also alternate spellings, year
# of birth and home settlement), "full" (also dates of birth, descriptions and searchers' contacts).
HAVEN_PFIF_SHARING = os.environ.get("HAVEN_PFIF_SHARING", "names").strip()
if HAVEN_PFIF_SHARING not in ("minimal", "names", "full"):
    raise ImproperlyConfigured("HAVEN_PFIF_SHARING must be minimal, names or full")
HAVEN_PFIF_MAX_BYTES = env_int("HAVEN_PFIF_MAX_BYTES", 50 * 1024 * 1024)
# Assistance: the largest reconciliation file from a bank read (a million payments' CSV is ~40 MB).
HAVEN_RECONCILE_MAX_BYTES = env_int("HAVEN_RECONCILE_MAX_BYTES", 100 * 1024 * 1024)
# The public request form: requests accepted per address and per contact in a day.
HAVEN_PUBLIC_REQUESTS_PER_ADDRESS = env_int("HAVEN_PUBLIC_REQUESTS_PER_ADDRESS", 5)
HAVEN_PUBLIC_REQUESTS_PER_CONTACT = env_int("HAVEN_PUBLIC_REQUESTS_PER_CONTACT", 3)
# Reverse proxies in front of Haven that append the client's address to X-Forwarded-For (0: none;
# Haven is reached directly and REMOTE_ADDR is the client).
HAVEN_TRUSTED_PROXIES = env_int("HAVEN_TRUSTED_PROXIES", 0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("HAVEN_LOG_LEVEL", "WARNING")},
}
