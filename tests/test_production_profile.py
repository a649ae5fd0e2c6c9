"""HAVEN_PROFILE=production: `haven check --deploy` finds nothing to warn about, each missing or
unsafe production variable stops Haven with an error naming it, plain HTTP is redirected to HTTPS
and HSTS is sent; the default single-machine profile still runs on SQLite.

Each case runs in a fresh interpreter with only the HAVEN_* variables it gives, since settings are
read once, at import.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

POSTGRES = "postgres://haven:s3cret@db.internal:5432/haven"  # never connected to here
PRODUCTION = {
    "HAVEN_PROFILE": "production",
    "HAVEN_ALLOWED_HOSTS": "haven.example.org",
    "HAVEN_DATABASE_URL": POSTGRES,
}
STRONG_KEY = "vJ3q-8fK_2mXwz0RtY7uPbN5cLhA9sEdG4oIeVk1jQnTyUr6WxZaBl-Co_Sf3Hg"


def _run(tmp_path: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """`python args…` with the given HAVEN_* variables and no others (a var dir of its own)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    clean.update({"HAVEN_VAR_DIR": str(tmp_path / "var"), **env})
    return subprocess.run(  # noqa: S603 - our interpreter, arguments from this file
        [sys.executable, *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )


def _haven(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return _run(tmp_path, ["-m", "haven", *args], **env)


SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name, None) for name in [
    "DEBUG", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "LANGUAGE_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE", "SESSION_COOKIE_NAME",
    "CSRF_COOKIE_NAME", "SESSION_COOKIE_AGE", "SESSION_EXPIRE_AT_BROWSER_CLOSE",
]} | {"ENGINE": s.DATABASES["default"]["ENGINE"], "KEY_LENGTH": len(s.SECRET_KEY)}))
"""


def _settings(tmp_path: Path, **env: str) -> dict[str, object]:
    result = _run(tmp_path, ["-c", SHOW_SETTINGS], DJANGO_SETTINGS_MODULE="haven.settings", **env)
    assert result.returncode == 0, result.stderr
    values: dict[str, object] = json.loads(result.stdout)
    return values


@pytest.mark.parametrize(
    "extra",
    [
        {},  # the generated key, Haven reached directly
        {
            "HAVEN_TRUSTED_PROXIES": "1",
            "HAVEN_SECRET_KEY": STRONG_KEY,
            "HAVEN_SECRET_KEY_FALLBACKS": STRONG_KEY[::-1],
        },
    ],
    ids=["direct", "behind-a-proxy"],
)
def test_check_deploy_reports_nothing_in_production(tmp_path: Path, extra: dict[str, str]) -> None:
    result = _haven(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION, **extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert "WARNING" not in result.stderr
    assert "security." not in result.stdout + result.stderr


def test_the_default_profile_would_be_warned_about(tmp_path: Path) -> None:
    """The check the production test relies on does look: the single-machine profile, served
    over plain HTTP, has what --deploy warns about."""
    result = _haven(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr


def test_the_production_settings(tmp_path: Path) -> None:
    values = _settings(tmp_path, **PRODUCTION)
    assert values == {
        "DEBUG": False,
        "ALLOWED_HOSTS": ["haven.example.org"],
        "SECURE_SSL_REDIRECT": True,
        "SECURE_PROXY_SSL_HEADER": None,  # no proxy declared: X-Forwarded-Proto is not believed
        "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "LANGUAGE_COOKIE_SECURE": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "__Host-sessionid",
        "CSRF_COOKIE_NAME": "__Host-csrftoken",
        "SESSION_COOKIE_AGE": 12 * 3600,
        "SESSION_EXPIRE_AT_BROWSER_CLOSE": True,
        "ENGINE": "django.db.backends.postgresql",
        "KEY_LENGTH": values["KEY_LENGTH"],
    }
    assert isinstance(values["KEY_LENGTH"], int)
    assert values["KEY_LENGTH"] >= 50  # the generated key


def test_behind_a_declared_proxy_its_scheme_header_is_believed(tmp_path: Path) -> None:
    values = _settings(tmp_path, HAVEN_TRUSTED_PROXIES="1", HAVEN_HSTS_SECONDS="600", **PRODUCTION)
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_HSTS_SECONDS"] == 600


SERVE_TWO_REQUESTS = """
import django, json
django.setup()
from django.test import Client
client = Client(HTTP_HOST="haven.example.org")
plain = client.get("/static/registry/desk.js")
behind = client.get("/static/registry/desk.js", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.get("Location"), plain.get("Strict-Transport-Security")],
    "https": [behind.status_code, behind.get("Strict-Transport-Security")],
}))
"""


def test_plain_http_is_redirected_and_https_gets_hsts(tmp_path: Path) -> None:
    # A static file: answered before anything touches the (unreachable) database.
    result = _run(
        tmp_path,
        ["-c", SERVE_TWO_REQUESTS],
        DJANGO_SETTINGS_MODULE="haven.settings",
        HAVEN_TRUSTED_PROXIES="1",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout)
    assert answers["plain"] == [301, "https://haven.example.org/static/registry/desk.js", None]
    assert answers["https"] == [200, "max-age=31536000; includeSubDomains; preload"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HAVEN_ALLOWED_HOSTS": None}, "HAVEN_ALLOWED_HOSTS must name the host names"),
        ({"HAVEN_ALLOWED_HOSTS": " , "}, "HAVEN_ALLOWED_HOSTS must name the host names"),
        ({"HAVEN_ALLOWED_HOSTS": "*"}, "HAVEN_ALLOWED_HOSTS must name the host names"),
        ({"HAVEN_DATABASE_URL": None}, "HAVEN_DATABASE_URL must name a PostgreSQL database"),
        (
            {"HAVEN_DATABASE_URL": "sqlite:////srv/haven/haven.sqlite3"},
            "HAVEN_DATABASE_URL must name a PostgreSQL database",
        ),
        ({"HAVEN_DATABASE_URL": "not a url"}, "HAVEN_DATABASE_URL is not a database URL"),
        ({"HAVEN_DEBUG": "true"}, "HAVEN_DEBUG must not be true"),
        ({"HAVEN_SECRET_KEY": "too-short"}, "HAVEN_SECRET_KEY must be at least 50"),
        ({"HAVEN_SECRET_KEY": "a" * 80}, "HAVEN_SECRET_KEY must be at least 50"),
        (
            {"HAVEN_SECRET_KEY": "django-insecure-" + STRONG_KEY},
            "HAVEN_SECRET_KEY must be at least 50",
        ),
        (
            {"HAVEN_SECRET_KEY": STRONG_KEY, "HAVEN_SECRET_KEY_FALLBACKS": "old-and-short"},
            "HAVEN_SECRET_KEY_FALLBACKS must be at least 50",
        ),
        ({"HAVEN_SECURE_COOKIES": "false"}, "HAVEN_SECURE_COOKIES must not be false"),
        ({"HAVEN_HSTS_SECONDS": "-1"}, "HAVEN_HSTS_SECONDS must be a number of seconds"),
        ({"HAVEN_HSTS_SECONDS": "a year"}, "HAVEN_HSTS_SECONDS must be an integer"),
        ({"HAVEN_SESSION_SECONDS": "0"}, "HAVEN_SESSION_SECONDS must be at least 60"),
        ({"HAVEN_PROFILE": "prod"}, "HAVEN_PROFILE must be one of single-machine, production"),
    ],
)
def test_a_missing_or_unsafe_production_variable_stops_haven_naming_it(
    tmp_path: Path, env: dict[str, str | None], message: str
) -> None:
    wanted = {**PRODUCTION, **env}
    given = {name: value for name, value in wanted.items() if value is not None}
    result = _haven(tmp_path, "check", **given)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_a_weak_key_left_in_the_var_directory_is_refused_in_production(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text("hand-written\n")
    result = _haven(tmp_path, "check", **PRODUCTION)
    assert result.returncode != 0
    assert f"the key in {tmp_path / 'var' / 'secret_key'} must be at least 50" in result.stderr


def test_the_single_machine_profile_still_runs_on_sqlite(tmp_path: Path) -> None:
    values = _settings(tmp_path)
    assert values["ENGINE"] == "django.db.backends.sqlite3"
    assert values["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["SESSION_COOKIE_NAME"] == "sessionid"
    assert values["DEBUG"] is False
    # A short key and HAVEN_DEBUG are the operator's business on one machine.
    debug = _settings(tmp_path, HAVEN_DEBUG="true", HAVEN_SECRET_KEY="short")
    assert debug["DEBUG"] is True

    checked = _haven(tmp_path, "check", "--database", "default")
    assert checked.returncode == 0, checked.stderr
    assert (tmp_path / "var" / "haven.sqlite3").exists()
