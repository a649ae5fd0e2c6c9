"""An anonymised person on every page that shows people: "anonymised on YYYY-MM-DD" where the
names were, never a blank cell or an empty link (haven.registry.templatetags.person_names).

The record is anonymised through the real path: registered, given a pair to review, entitlements,
a reconciled payment and a closed tracing request that names them, its household's case closed
(the clock set back) and `haven retention` run. Each page is then read as a role that may see it.
"""

import re
from dataclasses import dataclass
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from haven.assistance import reconcile
from haven.assistance.entitlements import compute
from haven.assistance.models import Payment, PaymentList
from haven.assistance.payments import create_list
from haven.core.models import User
from haven.identity.models import CandidatePair
from haven.registry import actions
from haven.registry.models import Person
from haven.tracing import actions as tracing_actions
from haven.tracing.models import TracingRequest
from tests.check_support import ensure_model, register
from tests.conftest import PASSWORD, Personas, sign_in
from tests.test_assistance_entitlements import programme
from tests.test_identity_decisions import Registry
from tests.test_retention import clock_at

NAMES = ("Հասմիկ", "Հարությունյան")


@pytest.fixture(autouse=True)
def _model() -> None:
    ensure_model()


def close_long_ago(person: Person, personas: Personas, monkeypatch: pytest.MonkeyPatch) -> None:
    """Close the person's household's case beyond the retention period (730 days)."""
    with clock_at(monkeypatch, timezone.now() - timedelta(days=800)):
        actions.close_household(
            household=person.household, reason="departed", acting_user=personas.dan
        )


def run_retention() -> None:
    call_command("retention", "--json", stdout=StringIO())


def label(person: Person) -> str:
    """What the pages say instead of the names of `person`, anonymised."""
    assert person.anonymised_at is not None
    return f"anonymised on {timezone.localtime(person.anonymised_at).date().isoformat()}"


def page(user: User, url: str, **query: str) -> str:
    client = Client()
    sign_in(client, user)
    response = client.get(url, query)
    assert response.status_code == 200, url
    return str(response.content.decode())


def section(html: str, start: str, end: str) -> str:
    """The HTML from the first `start` to the next `end`."""
    assert start in html, start
    return html.split(start, 1)[1].split(end, 1)[0]


def assert_no_blank_person_link(html: str) -> None:
    assert not re.search(r'<a href="/persons/[0-9a-f-]+/">\s*</a>', html)


@dataclass
class Scene:
    personas: Personas
    registry: Registry
    olga: User  # an assistance officer
    hasmik: Person  # registry.people["a"], at Kornidzor, anonymised
    pair: CandidatePair  # hasmik and her record at Goris, awaiting a decision
    request: TracingRequest  # closed today, so not yet anonymised; hasmik is its searcher

    @property
    def label(self) -> str:
        return label(self.hasmik)


@pytest.fixture
def olga(personas: Personas) -> User:
    """An assistance officer."""
    return User.objects.create_user(
        username="olga", password=PASSWORD, role=User.Role.ASSISTANCE_OFFICER
    )


@pytest.fixture
def scene(
    personas: Personas,
    olga: User,
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Scene:
    settings.VAR_DIR = tmp_path
    registry = Registry(personas)
    pair = registry.pair("ab", CandidatePair.Status.PENDING, 0.8)
    hasmik = registry.people["a"]
    # A grant that holds possible duplicates (hers is held), and rent that pays them: listed,
    # then reconciled by the bank, since a payment still owed would keep her record whole.
    grant = programme(personas)
    rent = programme(personas, code="rent", name="Rent support", possible_duplicates="pay")
    compute(programme=grant, period=1, acting_user=personas.dan)
    compute(programme=rent, period=1, acting_user=personas.dan)
    rent_list = create_list(programme=rent, period=1, acting_user=personas.dan)
    bank = ["reference,amount,status,reason"] + [
        f"{p.reference},{p.amount},paid," for p in Payment.objects.filter(payment_list=rent_list)
    ]
    reconcile.reconcile(
        payment_list=rent_list,
        data=("\r\n".join(bank) + "\r\n").encode(),
        filename="bank.csv",
        encoding=None,
        acting_user=personas.dan,
    )
    assert PaymentList.objects.get(pk=rent_list.pk).status == PaymentList.Status.RECONCILED
    # She searched for someone; the request was closed today, so it outlives her record.
    request, _ = tracing_actions.open_request(
        data=tracing_actions.parse_request(
            {
                "sought_name": "Давид Саркисян",
                "sought_birth_year": 1950,
                "sought_sex": "M",
                "searcher_person": str(hasmik.uuid),
                "consent": True,
            }
        ),
        acting_user=personas.carol,
        source=TracingRequest.Source.CASEWORKER,
        site=personas.kor,
    )
    tracing_actions.close_request(request=request, outcome="withdrawn", user=personas.carol)
    close_long_ago(hasmik, personas, monkeypatch)

    run_retention()

    hasmik = Person.objects.select_related("household").get(pk=hasmik.pk)
    assert hasmik.anonymised_at is not None
    assert (hasmik.given_name, hasmik.family_name) == ("", "")
    request.refresh_from_db()
    assert request.anonymised_at is None
    assert request.searcher_id == hasmik.pk
    return Scene(personas, registry, olga, hasmik, pair, request)


# --- the registry -------------------------------------------------------------------------------


def test_the_registrations_list_links_her_by_the_date(scene: Scene) -> None:
    html = page(scene.personas.dan, reverse("registrations"))
    person = f'<td class="name"><a href="/persons/{scene.hasmik.uuid}/">{scene.label}</a></td>'
    assert person in html
    assert_no_blank_person_link(html)
    assert not any(name in html for name in NAMES)  # b's names are in Latin, c's in Cyrillic


def test_her_person_page_and_audit_trail_are_titled_by_the_date(scene: Scene) -> None:
    url = reverse("person", kwargs={"person_uuid": scene.hasmik.uuid})
    html = page(scene.personas.dan, url)
    assert f"<title>{scene.label}" in html
    assert f"<h1>{scene.label}</h1>" in html
    members = section(html, "<h2>Members</h2>", "</ul>")
    assert f'<strong aria-current="page">{scene.label}</strong>' in members

    audit = page(
        scene.personas.dan, reverse("person_audit", kwargs={"person_uuid": scene.hasmik.uuid})
    )
    assert f"<h1>Audit trail of {scene.label}</h1>" in audit


# --- identity review ----------------------------------------------------------------------------


def test_the_review_queue_shows_her_record_by_the_date(scene: Scene) -> None:
    html = page(scene.personas.carol, reverse("review_queue"))
    row = section(html, f'id="pair-{scene.pair.pk}"', "</tr>")
    assert f'<strong class="anonymised">{scene.label}</strong>' in row
    # The pair's other record, at Goris, keeps its names.
    assert '<span lang="">Hasmik</span>' in row
    assert '<strong lang="">Harutyunyan</strong>' in row
    assert '<span lang=""></span>' not in row
    assert '<strong lang=""></strong>' not in row


def test_the_pair_page_shows_her_record_household_and_name_by_the_date(scene: Scene) -> None:
    html = page(scene.personas.carol, reverse("review_pair", kwargs={"pair_id": scene.pair.pk}))
    record_a = section(html, 'id="h-a"', "</section>")
    assert f'<dd class="anonymised">{scene.label}</dd>' in record_a
    assert '<span lang=""></span>' not in record_a
    record_b = section(html, 'id="h-b"', "</section>")
    assert "Hasmik" in record_b
    assert scene.label not in record_b
    households = section(html, 'id="h-households"', "</section>")
    assert f'<tr class="in-pair">\n            <td lang="">{scene.label}</td>' in households
    assert '<td lang=""></td>' not in households


def test_the_identity_page_lists_her_record_and_pair_by_the_date(scene: Scene) -> None:
    url = reverse("identity", kwargs={"identity": scene.hasmik.identity})
    html = page(scene.personas.carol, url)
    records = section(html, "<tbody>", "</tbody>")
    assert f'<a href="/persons/{scene.hasmik.uuid}/">{scene.label}</a>' in records
    pairs = section(html, "Pairs involving these records", "</ul>")
    assert f'<span lang="">{scene.label}</span> ~ <span lang="">Hasmik Harutyunyan</span>' in pairs
    assert_no_blank_person_link(html)


# --- assistance ---------------------------------------------------------------------------------


def test_the_held_payments_name_her_by_the_date(scene: Scene) -> None:
    """Her case is closed, so her held entitlement is no longer on the page (no list will pay
    it); the payment made while her pair was in review still is, named by the date."""
    html = page(scene.personas.carol, "/assistance/held/")
    assert 'id="held"' not in html
    paid = section(html, 'id="paid-in-review"', "</table>")
    assert f'<td>{scene.label} <span class="muted">(1980)</span></td>' in paid
    assert "Rent support" in paid
    assert '<td> <span class="muted">' not in html


def test_the_distribution_point_names_her_by_the_date(scene: Scene) -> None:
    html = page(scene.olga, "/assistance/distribute/", person=str(scene.hasmik.uuid), site="KOR")
    assert f'<dd id="person-name">{scene.label}</dd>' in html


def test_the_distribution_point_still_leaves_out_a_patronymic(
    personas: Personas, olga: User
) -> None:
    """Pages that showed the given and family name only go on doing so for a record that is not
    anonymised."""
    household = register(personas.alice, "KOR", [{"given_name": "Արամ", "patronymic": "Մհերի"}])
    aram = household.members.get()
    html = page(olga, "/assistance/distribute/", person=str(aram.uuid), site="KOR")
    assert '<dd id="person-name">Արամ Հարությունյան</dd>' in html
    assert "Մհերի" not in html


# --- tracing ------------------------------------------------------------------------------------


def test_the_tracing_request_names_her_as_its_searcher_by_the_date(scene: Scene) -> None:
    url = reverse("tracing:request", kwargs={"request_uuid": scene.request.uuid})
    html = page(scene.personas.carol, url)
    searcher = section(html, 'id="h-searcher"', "</dl>")
    assert f'<a href="/persons/{scene.hasmik.uuid}/">{scene.label}</a>' in searcher
    assert_no_blank_person_link(html)

    notes = page(
        scene.personas.carol,
        reverse("tracing:person_notes", kwargs={"person_uuid": scene.hasmik.uuid}),
    )
    assert f"<h1>Status notes: {scene.label}</h1>" in notes
