"""Settings come from HAVEN_* environment variables through typed helpers that fail loudly, and the
default database is SQLite in WAL mode under the var directory."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.utils import ConnectionHandler
from pytest_django import DjangoDbBlocker

from haven import settings as haven_settings
from haven.settings import env_bool, env_int, env_list, env_str


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        (" Yes ", True),
        ("ON", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_env_bool_reads_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("HAVEN_TEST_FLAG", raw)
    assert env_bool("HAVEN_TEST_FLAG", not expected) is expected


def test_env_bool_unset_gives_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAVEN_TEST_FLAG", raising=False)
    assert env_bool("HAVEN_TEST_FLAG", True) is True
    assert env_bool("HAVEN_TEST_FLAG", False) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "tru", "yes please"])
def test_env_bool_rejects_anything_else_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("HAVEN_TEST_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match=r"HAVEN_TEST_FLAG must be a boolean") as info:
        env_bool("HAVEN_TEST_FLAG", False)
    assert repr(raw) in str(info.value)


def test_env_int_reads_integers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_TEST_NUMBER", "250")
    assert env_int("HAVEN_TEST_NUMBER", 7) == 250
    monkeypatch.setenv("HAVEN_TEST_NUMBER", "-3")
    assert env_int("HAVEN_TEST_NUMBER", 7) == -3
    monkeypatch.delenv("HAVEN_TEST_NUMBER")
    assert env_int("HAVEN_TEST_NUMBER", 7) == 7


@pytest.mark.parametrize("raw", ["", "ten", "1.5", "1e3", "12abc"])
def test_env_int_rejects_non_integers_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("HAVEN_TEST_NUMBER", raw)
    with pytest.raises(ImproperlyConfigured, match=r"HAVEN_TEST_NUMBER must be an integer") as info:
        env_int("HAVEN_TEST_NUMBER", 7)
    assert repr(raw) in str(info.value)


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_TEST_LIST", " haven.example.org, ,10.0.0.5 ,")
    assert env_list("HAVEN_TEST_LIST", ["x"]) == ["haven.example.org", "10.0.0.5"]
    monkeypatch.delenv("HAVEN_TEST_LIST")
    assert env_list("HAVEN_TEST_LIST", ["x"]) == ["x"]


def test_env_str_falls_back_to_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAVEN_TEST_TEXT", raising=False)
    assert env_str("HAVEN_TEST_TEXT", "fallback") == "fallback"
    monkeypatch.setenv("HAVEN_TEST_TEXT", "given")
    assert env_str("HAVEN_TEST_TEXT", "fallback") == "given"


@pytest.mark.parametrize(
    "url",
    ["mysql://root@127.0.0.1:3306/haven", "oracle://scott:tiger@127.0.0.1/haven"],
)
def test_an_unsupported_database_is_refused(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("HAVEN_DATABASE_URL", url)
    with pytest.raises(ImproperlyConfigured, match=r"HAVEN_DATABASE_URL names an unsupported"):
        haven_settings._database()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "not a url at all"])
def test_a_url_that_is_no_database_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("HAVEN_DATABASE_URL", url)
    with pytest.raises(ImproperlyConfigured, match=r"HAVEN_DATABASE_URL is not a database URL"):
        haven_settings._database()


def test_a_postgres_url_is_taken_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_DATABASE_URL", "postgres://haven:s3cret@db.internal:6432/haven_prod")
    config = haven_settings._database()
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 6432, "haven_prod")
    assert (config["USER"], config["PASSWORD"]) == ("haven", "s3cret")


def test_the_default_database_is_sqlite_in_wal_mode_under_the_var_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, django_db_blocker: DjangoDbBlocker
) -> None:
    # pytest-django's own SQLite test database lives in memory, where WAL cannot apply: open the
    # configured default file through Django's own backend instead.
    monkeypatch.delenv("HAVEN_DATABASE_URL", raising=False)
    monkeypatch.setattr(haven_settings, "VAR_DIR", tmp_path)
    config = haven_settings._database()
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "haven.sqlite3")

    connection = ConnectionHandler({"default": config})["default"]
    with django_db_blocker.unblock():
        try:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA journal_mode")
                assert cursor.fetchone() == ("wal",)
                cursor.execute("PRAGMA foreign_keys")
                assert cursor.fetchone() == (1,)
                cursor.execute("PRAGMA synchronous")
                assert cursor.fetchone() == (1,)  # NORMAL: safe with WAL, and fast
                cursor.execute("PRAGMA busy_timeout")
                assert cursor.fetchone() == (20000,)
        finally:
            connection.close()
    # WAL mode is a property of the file: it stays after the connection is gone.
    assert (tmp_path / "haven.sqlite3").exists()
    assert (tmp_path / "haven.sqlite3").read_bytes()[18:20] == b"\x02\x02"


def _import_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Import haven.settings in a fresh interpreter with the given HAVEN_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")}
    clean.update({"HAVEN_VAR_DIR": str(tmp_path / "var"), **env})
    return subprocess.run(
        [sys.executable, "-c", "import haven.settings as s; print(s.SECRET_KEY)"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HAVEN_DEBUG", "perhaps", "HAVEN_DEBUG must be a boolean"),
        ("HAVEN_BATCH_LIMIT", "lots", "HAVEN_BATCH_LIMIT must be an integer"),
        ("HAVEN_TIME_ZONE", "Mars/Olympus_Mons", "HAVEN_TIME_ZONE is not a time zone"),
        ("HAVEN_DATABASE_URL", "mysql://root@127.0.0.1/haven", "unsupported database"),
    ],
)
def test_haven_refuses_to_start_on_a_bad_setting(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    result = _import_settings(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_a_generated_secret_key_is_kept_private_and_reused(tmp_path: Path) -> None:
    first = _import_settings(tmp_path)
    second = _import_settings(tmp_path)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert first.stdout.strip() == second.stdout.strip() == key_file.read_text().strip()
    assert len(first.stdout.strip()) >= 50


def test_a_secret_key_from_the_environment_wins(tmp_path: Path) -> None:
    result = _import_settings(tmp_path, HAVEN_SECRET_KEY="k" * 60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "k" * 60
    assert not (tmp_path / "var" / "secret_key").exists()
