"""`haven site add` and `haven token create`."""

import pytest
from django.core.management import CommandError, call_command

from haven.core.models import ApiToken, AuditEvent, Site, hash_token
from tests.conftest import Personas


def test_site_add(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("site", "add", "KOR", "Kornidzor", "--kind", "crossing", "--province", "Syunik")
    site = Site.objects.get(code="KOR")
    assert (site.name, site.kind, site.province) == ("Kornidzor", "crossing", "Syunik")
    assert AuditEvent.objects.filter(action="site.add").count() == 1
    assert "added site KOR" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["K O R", "Kornidzor", "--province", "Syunik"], "code"),
        (["KOR", "", "--province", "Syunik"], "name"),
        (["KOR", "Kornidzor", "--province", " "], "province"),
    ],
)
def test_site_add_bad_input(db: None, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("site", "add", *args, "--kind", "hub")
    assert not Site.objects.exists()


def test_site_add_duplicate_code(db: None) -> None:
    call_command("site", "add", "KOR", "Kornidzor", "--kind", "crossing", "--province", "Syunik")
    with pytest.raises(CommandError, match="already exists"):
        call_command("site", "add", "KOR", "Again", "--kind", "hub", "--province", "Syunik")
    assert Site.objects.count() == 1


def test_token_create_prints_a_token_stored_only_as_hash(
    personas: Personas, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("token", "create", "--user", "alice", "--name", "tablet 3")
    raw = capsys.readouterr().out.strip()
    token = ApiToken.objects.get()
    assert token.user == personas.alice
    assert token.token_hash == hash_token(raw)
    assert raw not in token.token_hash
    assert AuditEvent.objects.filter(action="token.create").count() == 1


def test_token_create_unknown_user(db: None) -> None:
    with pytest.raises(CommandError, match="no active user"):
        call_command("token", "create", "--user", "mallory")
    assert not ApiToken.objects.exists()


def test_site_add_bad_time_zone(db: None) -> None:
    with pytest.raises(CommandError, match="time_zone"):
        call_command(
            "site",
            "add",
            "KOR",
            "Kornidzor",
            "--kind",
            "crossing",
            "--province",
            "Syunik",
            "--time-zone",
            "Mars/Olympus",
        )
    assert not Site.objects.exists()
