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
from csp.constants import NONCE as CSP_NONCE
from csp.constants import NONE as CSP_NONE
from csp.constants import SELF as CSP_SELF
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


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


# --- The profile ---------------------------------------------------------------------------------
# "single-machine" (the default): one computer at a site or a demo, SQLite under ./var, plain HTTP
# on a local network. "production": a server behind a reverse proxy that terminates TLS, on
# PostgreSQL. There every setting `haven check --deploy` looks at is safe, and a missing or unsafe
# variable stops Haven at start with an error that names it (see the README's "Production").
HAVEN_PROFILE = env_choice("HAVEN_PROFILE", "single-machine", ("single-machine", "production"))
PRODUCTION = HAVEN_PROFILE == "production"


def _production_requires(what: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"{what} when HAVEN_PROFILE=production")


DEBUG = env_bool("HAVEN_DEBUG", False)
if PRODUCTION and DEBUG:
    # Debug pages show settings, queries and the records on screen to whoever causes an error.
    raise _production_requires("HAVEN_DEBUG must not be true")
VAR_DIR = Path(env_str("HAVEN_VAR_DIR", str(Path.cwd() / "var"))).resolve()


def _generated_secret_key() -> str:
    """The key kept in HAVEN_VAR_DIR/secret_key, made at the first start, so that sessions
    survive restarts. Written whole to an owner-only temporary file, then linked into place: the
    gunicorn workers starting together never read a half-written key, nor make two."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets
        import tempfile

        fd, temporary = tempfile.mkstemp(dir=VAR_DIR, prefix=".secret_key.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as key_out:
                key_out.write(secrets.token_urlsafe(50))
            os.link(temporary, key_file)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            os.unlink(temporary)
    return key_file.read_text().strip()


def _strong_secret(key: str, name: str) -> str:
    """Refuse, in production, a key Django's check security.W009 would call weak: shorter than 50
    characters, fewer than 5 different ones, or Django's generated insecure key. It signs the
    sessions, the password-reset links and the public form's tokens."""
    if PRODUCTION and (len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure-")):
        raise _production_requires(
            f"{name} must be at least 50 random characters (python3 -c 'import secrets;"
            " print(secrets.token_urlsafe(50))'), or be unset to use the key Haven generates"
            " in HAVEN_VAR_DIR,"
        )
    return key


_secret = os.environ.get("HAVEN_SECRET_KEY")
SECRET_KEY = (
    _strong_secret(_generated_secret_key(), f"the key in {VAR_DIR / 'secret_key'}")
    if _secret is None
    else _strong_secret(_secret, "HAVEN_SECRET_KEY")
)
# Former keys, comma-separated, still accepted for what they signed while a new key takes over.
SECRET_KEY_FALLBACKS = [
    _strong_secret(key, "each key of HAVEN_SECRET_KEY_FALLBACKS")
    for key in env_list("HAVEN_SECRET_KEY_FALLBACKS", [])
]

if PRODUCTION:
    # No default: a production Haven answers only to the names it is published under, so that a
    # forged Host header cannot put another name into the links it writes.
    ALLOWED_HOSTS = env_list("HAVEN_ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        raise _production_requires(
            "HAVEN_ALLOWED_HOSTS must name the host names Haven is served under, comma-separated"
            " (for example haven.example.org), and not *,"
        )
else:
    ALLOWED_HOSTS = env_list("HAVEN_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("HAVEN_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",  # the Content-Security-Policy header, with a nonce for each page's <style>
    "django_otp",
    "django_otp.plugins.otp_totp",
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
    # Before whitenoise, which answers for static files without calling what comes after it.
    "csp.middleware.CSPMiddleware",
    "haven.core.headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The second factor: django-otp marks a session verified; Haven's middleware then treats an
    # unverified coordinator, caseworker or admin as not signed in (haven/core/second_factor.py).
    "django_otp.middleware.OTPMiddleware",
    "haven.core.second_factor.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A database that fails mid-request (not answering, disk full): 503, "nothing was saved".
    "haven.core.middleware.DatabaseUnavailableMiddleware",
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
        # A kept connection is checked before a request reuses it: one the network or a server
        # restart broke is replaced, instead of failing that request (tests/test_fault_db_*).
        config["CONN_HEALTH_CHECKS"] = True
        # A server that stops answering fails the request in seconds, not the kernel's minutes.
        config["OPTIONS"].setdefault("connect_timeout", 5)
    else:
        raise ImproperlyConfigured(
            f"HAVEN_DATABASE_URL names an unsupported database ({engine}); use sqlite or postgres"
        )
    return config


DATABASES = {"default": _database()}
if PRODUCTION and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    # SQLite serialises every write: right for one machine at a site, not for many desks and the
    # API at once (bench/README.md). PostgreSQL is the documented production database.
    raise _production_requires(
        "HAVEN_DATABASE_URL must name a PostgreSQL database"
        " (postgres://user:password@host:5432/haven)"
        + ("" if os.environ.get("HAVEN_DATABASE_URL", "").strip() else ", and is unset,")
    )
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

# Sign-in: this many failed attempts (passwords or second-factor codes) for one username lock
# that username out for HAVEN_LOCKOUT_SECONDS; from one client address, across usernames, the
# higher HAVEN_LOGIN_ADDRESS_FAILURES lock that address out (a reception centre's desks often
# share one public address: a few colleagues' typos must not lock the whole centre out).
HAVEN_LOGIN_FAILURES = env_int("HAVEN_LOGIN_FAILURES", 5)
HAVEN_LOGIN_ADDRESS_FAILURES = env_int("HAVEN_LOGIN_ADDRESS_FAILURES", 30)
HAVEN_LOCKOUT_SECONDS = env_int("HAVEN_LOCKOUT_SECONDS", 900)
# A browser where a user signed in fully is remembered for that user for HAVEN_DEVICE_COOKIE_DAYS
# (a signed cookie holding keyed hashes, never the username): failures there count against that
# browser, not the username, so someone who knows a username cannot lock its owner out of the
# browser they work in (haven.core.login_security).
HAVEN_DEVICE_COOKIE_DAYS = env_int("HAVEN_DEVICE_COOKIE_DAYS", 180)
if (
    min(
        HAVEN_LOGIN_FAILURES,
        HAVEN_LOGIN_ADDRESS_FAILURES,
        HAVEN_LOCKOUT_SECONDS,
        HAVEN_DEVICE_COOKIE_DAYS,
    )
    < 1
):
    raise ImproperlyConfigured(
        "HAVEN_LOGIN_FAILURES, HAVEN_LOGIN_ADDRESS_FAILURES, HAVEN_LOCKOUT_SECONDS and"
        " HAVEN_DEVICE_COOKIE_DAYS must be positive"
    )
# The name authenticator apps show beside the username.
OTP_TOTP_ISSUER = env_str("HAVEN_OTP_ISSUER", "Haven")
# django-otp's own throttle off: its delay doubles with each wrong code, so anyone with the password
# could keep the code step shut for days, while the page just says the code is wrong. Wrong codes
# count towards Haven's lockout above instead (haven.core.login_security).
OTP_TOTP_THROTTLE_FACTOR = 0

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
# Retention: closed households and tracing requests are anonymised by `haven retention` this
# many days after they were closed (0: never).
HAVEN_RETENTION_DAYS = env_int("HAVEN_RETENTION_DAYS", 730)
if HAVEN_RETENTION_DAYS < 0:
    raise ImproperlyConfigured(
        f"HAVEN_RETENTION_DAYS must be a number of days (0 to keep records forever),"
        f" not negative: got {HAVEN_RETENTION_DAYS}"
    )
# Reverse proxies in front of Haven that append the client's address to X-Forwarded-For (0: none;
# Haven is reached directly and REMOTE_ADDR is the client).
HAVEN_TRUSTED_PROXIES = env_int("HAVEN_TRUSTED_PROXIES", 0)

# --- Sessions, cookies, HTTPS and the security headers -------------------------------------------
# A session lasts one working shift from sign-in (HAVEN_SESSION_SECONDS, 12 hours; activity does
# not extend it, so a forgotten session ends on its own) and ends too when the browser closes:
# desks at crossings and hubs are shared computers, used shift after shift by different people.
SESSION_COOKIE_AGE = env_int("HAVEN_SESSION_SECONDS", 12 * 3600)
if SESSION_COOKIE_AGE < 60:
    raise ImproperlyConfigured(
        f"HAVEN_SESSION_SECONDS must be at least 60 seconds, got {SESSION_COOKIE_AGE}"
    )
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Cookies sent over HTTPS only: always in production, by choice (HAVEN_SECURE_COOKIES) on a single
# machine, which is usually reached over plain HTTP on a local network.
if PRODUCTION and not env_bool("HAVEN_SECURE_COOKIES", True):
    raise _production_requires("HAVEN_SECURE_COOKIES must not be false")
SESSION_COOKIE_SECURE = PRODUCTION or env_bool("HAVEN_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
if PRODUCTION:
    # "__Host-": the browser keeps such a cookie only if it is Secure, for the whole site and set
    # by this host itself, so another host under the same domain cannot plant a session or a CSRF
    # token in it.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
HAVEN_DEVICE_COOKIE_NAME = "__Host-haven_device" if PRODUCTION else "haven_device"

# HTTPS. In production TLS ends at a reverse proxy in front of Haven; every request that reached
# Haven over plain HTTP is redirected to HTTPS, and browsers are told to use nothing but HTTPS for
# HAVEN_HSTS_SECONDS (a year; 0 sends no HSTS header), subdomains included, preload allowed.
# The proxy says the client's scheme in X-Forwarded-Proto, which Haven believes only when proxies
# are declared (HAVEN_TRUSTED_PROXIES, which also says how to read X-Forwarded-For): the outermost
# proxy must set that header itself, replacing whatever the client sent. In production without a
# declared proxy, Haven must receive TLS itself, or every request is redirected again and again.
if HAVEN_TRUSTED_PROXIES > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = PRODUCTION
SECURE_HSTS_SECONDS = env_int("HAVEN_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0)
if SECURE_HSTS_SECONDS < 0:
    raise ImproperlyConfigured(
        f"HAVEN_HSTS_SECONDS must be a number of seconds (0 for none), got {SECURE_HSTS_SECONDS}"
    )
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0

# Headers on every response (Django's SecurityMiddleware, django-csp's CSPMiddleware and
# haven.core.headers, all before whitenoise so that static files carry them too).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy: scripts only from Haven's own static files (never inline, never eval),
# so that text someone typed cannot run as a script even if a template forgot to escape it.
# Styles: Haven's files, and the staff pages' <style> block, which carries the response's nonce
# (core/base.html); no 'unsafe-inline', so no style="" attribute and no other inline style. The
# public pages' styles are a file (tracing/public.css): with no nonce, one answer of the public
# form is byte for byte the next. The charts are SVG drawn with presentation attributes, which
# CSP does not restrict.
# Images from Haven or data: URLs (the favicon placeholder, Swagger UI's icons). The API's
# Swagger page (/api/docs) is django-ninja's, served from its own static files: it needs no
# exception.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [CSP_SELF],
        "script-src": [CSP_SELF],
        "style-src": [CSP_SELF, CSP_NONCE],
        "img-src": [CSP_SELF, "data:"],
        "object-src": [CSP_NONE],
        "base-uri": [CSP_NONE],
        "frame-ancestors": [CSP_NONE],
        "form-action": [CSP_SELF],
    },
}
# Browser features no page of Haven uses, refused to the pages and anything they might embed
# (haven.core.headers.SecurityHeadersMiddleware); Cross-Origin-Resource-Policy keeps other sites
# from loading Haven's responses (a person's page, an export) into theirs.
HAVEN_PERMISSIONS_POLICY = (
    "accelerometer",
    "camera",
    "display-capture",
    "geolocation",
    "gyroscope",
    "magnetometer",
    "microphone",
    "midi",
    "payment",
    "usb",
    "serial",
    "hid",
    "xr-spatial-tracking",
)
HAVEN_CROSS_ORIGIN_RESOURCE_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("HAVEN_LOG_LEVEL", "WARNING")},
}
