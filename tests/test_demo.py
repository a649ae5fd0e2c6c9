"""`haven demo --no-serve`: sites, one user per role with a printed password, a simulated influx."""

import io
import re

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError

from haven.assistance.models import Payment, PaymentList, Programme
from haven.core.models import Site, User
from haven.registry.models import CrossingCount, Household, Person
from haven.shelter.models import Shelter, Stay


def _passwords(output: str) -> dict[str, str]:
    found = re.findall(r"^\s+.+?\s+(\S+)\s+([a-z2-9]{4}(?:-[a-z2-9]{4}){3})\s", output, re.M)
    return dict(found)


@pytest.mark.django_db(transaction=True)
def test_demo_sets_up_users_and_data() -> None:
    out = io.StringIO()
    call_command("demo", people=150, seed=4, no_serve=True, stdout=out)
    text = out.getvalue()
    assert {"KOR", "GORIS", "VAYK"} <= set(Site.objects.values_list("code", flat=True))
    roles = dict(User.objects.values_list("username", "role"))
    assert roles["registrar.kor"] == User.Role.REGISTRAR
    assert roles["registrar.goris"] == User.Role.REGISTRAR
    assert roles["caseworker"] == User.Role.CASEWORKER
    assert roles["coordinator"] == User.Role.COORDINATOR
    assert roles["analyst"] == User.Role.PARTNER_ANALYST
    assert roles["admin"] == User.Role.ADMIN
    kor = User.objects.get(username="registrar.kor").site
    assert kor is not None
    assert kor.code == "KOR"
    passwords = _passwords(text)
    assert set(passwords) == set(roles) - {"simulator"}
    for username, password in passwords.items():
        assert authenticate(username=username, password=password) is not None, username
    assert "http://127.0.0.1:8000/login/" in text
    assert Person.objects.count() >= 150
    assert sum(CrossingCount.objects.values_list("people", flat=True)) == 150
    households = Household.objects.count()
    # Housed and paid: shelters filled by the allocation, the 2023 programmes, a payment list.
    assert Stay.objects.filter(checked_out_at__isnull=True).exists()
    assert Shelter.objects.filter(managers__username="shelter.manager").exists()
    assert set(Programme.objects.values_list("code", flat=True)) == {
        "arrival-grant",
        "housing-support",
        "hygiene-kit",
    }
    listed = PaymentList.objects.get()
    assert listed.payments == Payment.objects.count() > 0
    assert roles["assistance"] == User.Role.ASSISTANCE_OFFICER

    # A second run keeps the data, says so, and gives everyone a new password.
    again = io.StringIO()
    call_command("demo", people=150, no_serve=True, port=8123, stdout=again)
    assert "already holds" in again.getvalue()
    assert Household.objects.count() == households
    fresh = _passwords(again.getvalue())
    assert fresh["admin"] != passwords["admin"]
    assert authenticate(username="admin", password=passwords["admin"]) is None
    assert authenticate(username="admin", password=fresh["admin"]) is not None
    assert "http://127.0.0.1:8123/login/" in again.getvalue()


@pytest.mark.django_db(transaction=True)
def test_demo_refuses_bad_arguments() -> None:
    with pytest.raises(CommandError, match="--people"):
        call_command("demo", people=0, no_serve=True, stdout=io.StringIO())
    with pytest.raises(CommandError, match="--port"):
        call_command("demo", port=70000, no_serve=True, stdout=io.StringIO())
    assert not User.objects.exists()
