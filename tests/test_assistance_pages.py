"""The assistance pages through Django's test client: programmes and their form, entitlements,
payment lists with the bank's files, the distribution point, held payments; 404 for every other
role; errors that change nothing; audited reads; and only what payment needs on the officer's
pages."""

import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from haven.assistance.entitlements import compute
from haven.assistance.models import Distribution, EntitlementRun, Payment, PaymentList, Programme
from haven.assistance.payments import create_list
from haven.core.models import AuditEvent, User
from haven.identity.actions import decide_pairs
from haven.identity.models import CandidatePair
from haven.registry.actions import register_household
from haven.registry.models import Household, Person
from haven.registry.schemas import HouseholdIn
from tests import factories
from tests.conftest import PASSWORD, Personas, sign_in
from tests.test_assistance_entitlements import programme
from tests.test_identity_decisions import Registry

Status = CandidatePair.Status
FORM = {
    "code": "arrival-grant",
    "name": "One-off support on arrival",
    "kind": "cash",
    "unit": "person",
    "amount": "100000",
    "currency": "AMD",
    "frequency": "once",
    "periods": "1",
    "starts_on": "2023-10-01",
    "possible_duplicates": "hold",
    "min_days_between": "0",
    "max_per_day": "0",
}


@pytest.fixture
def olga(personas: Personas) -> User:
    """An assistance officer."""
    return User.objects.create_user(
        username="olga", password=PASSWORD, role=User.Role.ASSISTANCE_OFFICER
    )


@pytest.fixture
def registry(personas: Personas, settings: Any, tmp_path: Path) -> Registry:
    settings.VAR_DIR = tmp_path
    return Registry(personas)


def client_for(user: User) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def food(personas: Personas, **overrides: Any) -> Programme:
    return programme(
        personas,
        **{
            "code": "food",
            "name": "Food parcels",
            "kind": "in_kind",
            "item": "food parcel",
            "amount": 1,
            "max_per_day": 1,
            **overrides,
        },
    )


def register(personas: Personas, site: str = "KOR", **overrides: Any) -> Household:
    household, _ = register_household(
        data=HouseholdIn.model_validate(factories.household(site, **overrides)),
        acting_user=personas.dan,
    )
    return household


def snapshot() -> tuple[Any, ...]:
    return (
        Programme.objects.count(),
        EntitlementRun.objects.count(),
        PaymentList.objects.count(),
        sorted(Payment.objects.values_list("reference", "status", "reason")),
        Distribution.objects.count(),
        sorted(PaymentList.objects.values_list("number", "status")),
        AuditEvent.objects.exclude(action__in=["person.view", "person.list"]).count(),
    )


def paid_list(personas: Personas, olga: User) -> tuple[Programme, PaymentList]:
    """Three people registered, a grant computed and listed through the pages."""
    for site in ("KOR", "GORIS", "VAYK"):
        register(personas, site, size=1)
    grant = programme(personas)
    client = client_for(olga)
    client.post(f"/assistance/programmes/{grant.uuid}/entitlements/", {"period": "1"})
    client.post(f"/assistance/programmes/{grant.uuid}/lists/", {"period": "1"})
    return grant, PaymentList.objects.get()


# --- who may see what ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "bob", "carol", "erin", "shelter_manager"])
def test_every_other_role_finds_no_assistance_page(personas: Personas, who: str) -> None:
    grant = programme(personas)
    register(personas)
    listed = PaymentList.objects.create(
        uuid=uuid.uuid4(),
        number=1,
        programme=grant,
        period=1,
        created_at=grant.created_at,
    )
    user = (
        User.objects.create_user(username="sam", password=PASSWORD, role=User.Role.SHELTER_MANAGER)
        if who == "shelter_manager"
        else getattr(personas, who)
    )
    client = client_for(user)
    person = Person.objects.filter(relationship="head").get()
    for url in [
        "/assistance/",
        "/assistance/new/",
        f"/assistance/programmes/{grant.uuid}/",
        f"/assistance/lists/{listed.uuid}/",
        f"/assistance/lists/{listed.uuid}/download.csv",
        f"/assistance/lists/{listed.uuid}/download.xlsx",
        f"/assistance/distribute/?person={person.uuid}",
    ]:
        assert client.get(url).status_code == 404, url
    before = snapshot()
    for url in [
        "/assistance/new/",
        f"/assistance/programmes/{grant.uuid}/entitlements/",
        f"/assistance/programmes/{grant.uuid}/lists/",
        f"/assistance/lists/{listed.uuid}/reconcile/",
        "/assistance/distribute/give/",
    ]:
        assert client.post(url, {"period": "1", **FORM, "code": "x"}).status_code == 404, url
    assert snapshot() == before
    assert not AuditEvent.objects.filter(action="person.view").exists()


@pytest.mark.parametrize("who", ["alice", "erin", "olga", "shelter_manager"])
def test_held_payments_are_for_caseworkers_coordinators_and_admins(
    personas: Personas, olga: User, who: str
) -> None:
    user = {
        "olga": olga,
        "shelter_manager": User.objects.create_user(
            username="sam", password=PASSWORD, role=User.Role.SHELTER_MANAGER
        ),
    }.get(who) or getattr(personas, who)
    assert client_for(user).get("/assistance/held/").status_code == 404
    for allowed in (personas.carol, personas.dan, personas.admin):
        assert client_for(allowed).get("/assistance/held/").status_code == 200


def test_an_officer_starts_at_the_programmes_and_sees_only_her_links(
    personas: Personas, olga: User
) -> None:
    client = client_for(olga)
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/assistance/")
    page = client.get("/assistance/").content.decode()
    assert 'href="/assistance/"' in page
    assert "Held payments" not in page
    assert "Registrations" not in page
    for user in (personas.dan, personas.admin):
        nav = client_for(user).get("/assistance/").content.decode()
        assert "Held payments" in nav
    carol = client_for(personas.carol).get("/tracing/").content.decode()
    assert 'href="/assistance/held/"' in carol
    assert 'href="/assistance/"' not in carol


# --- programmes ---------------------------------------------------------------------------------


def test_adding_a_programme(personas: Personas, olga: User) -> None:
    client = client_for(olga)
    response = client.post(
        "/assistance/new/", {**FORM, "age_max": "17", "needs_any": ["DS-PM", "DS-PS"]}
    )
    grant = Programme.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/assistance/programmes/{grant.uuid}/"
    assert (grant.code, grant.amount, grant.age_max, grant.created_by) == (
        "arrival-grant",
        100_000,
        17,
        olga,
    )
    assert grant.needs_any == ["DS-PM", "DS-PS"]
    assert grant.benefit == "arrival-grant"
    assert AuditEvent.objects.filter(action="assistance.programme_add", user=olga).count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "100\u202f000 AMD per person" in page
    assert "Aged 0 to 17" in page
    assert "DS-PM, DS-PS" in page
    assert "held until a caseworker decides" in page
    listing = client.get("/assistance/").content.decode()
    assert "One-off support on arrival" in listing


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"code": "Arrival Grant"}, "code", "pattern"),
        ({"age_min": "18", "age_max": "17"}, "age_max", "is below age_min"),
        ({"kind": "in_kind", "item": ""}, "item", "names what is handed out"),
        ({"amount": "0"}, "amount", "must be at least 1"),
        ({"starts_on": "2023-02-30"}, "starts_on", "valid date"),
        ({"benefit": "Grant!"}, "benefit", "lower-case"),
    ],
)
def test_a_bad_programme_is_shown_again_beside_its_field_and_nothing_is_written(
    personas: Personas, olga: User, change: dict[str, str], field: str, message: str
) -> None:
    before = snapshot()
    response = client_for(olga).post("/assistance/new/", {**FORM, **change})
    assert response.status_code == 200
    page = response.content.decode()
    error = page.split(f'id="id_{field}_error"')[1].split("</p>")[0]
    assert message in error
    assert snapshot() == before


def test_a_code_already_used_is_refused_beside_the_code(personas: Personas, olga: User) -> None:
    programme(personas)
    before = snapshot()
    page = client_for(olga).post("/assistance/new/", FORM).content.decode()
    assert "arrival-grant" in page.split('id="id_code_error"')[1].split("</p>")[0]
    assert snapshot() == before


# --- entitlements and payment lists -------------------------------------------------------------


def test_computing_and_listing_through_the_programme_page(
    personas: Personas, olga: User, registry: Registry
) -> None:
    registry.link_automatically("abc")  # one woman at three sites
    registry.pair("de", Status.PENDING, 0.8)  # a man who may be registered twice
    grant = programme(personas)
    client = client_for(olga)
    url = f"/assistance/programmes/{grant.uuid}/"

    response = client.post(f"{url}entitlements/", {"period": "1"})
    assert response["Location"] == url
    page = client.get(url).content.decode()
    assert "Period 1: 3 people entitled, 2 held, 300000 in all" in page
    assert "2 entitlements are held" in page
    runs = page.split('id="runs"')[1].split("</table>")[0]
    assert '<td class="num">5</td>' in runs  # records read

    response = client.post(f"{url}lists/", {"period": "1"})
    made = PaymentList.objects.get()
    assert response["Location"] == f"/assistance/lists/{made.uuid}/"
    page = client.get(response["Location"]).content.decode()
    assert "Payment list 1: 1 payments, 100000 in all." in page
    left_off = page.split('id="left-off"')[1].split("</table>")[0]
    assert 'Held: a possible duplicate awaits a caseworker</th><td class="num">2' in left_off
    # The officer sees how many are held, never who.
    for label in "de":
        assert registry.people[label].given_name not in client.get(url).content.decode()

    # Paying once: a second list for the period pays nobody again.
    client.post(f"{url}lists/", {"period": "1"})
    second = PaymentList.objects.get(number=2)
    assert (second.payments, second.left_off) == (0, {"already_paid": 1, "held": 2})


def test_a_bad_period_changes_nothing(personas: Personas, olga: User) -> None:
    grant = programme(personas)
    client = client_for(olga)
    before = snapshot()
    for period in ("2", "0", "x"):
        client.post(f"/assistance/programmes/{grant.uuid}/entitlements/", {"period": period})
        client.post(f"/assistance/programmes/{grant.uuid}/lists/", {"period": period})
    page = client.get(f"/assistance/programmes/{grant.uuid}/").content.decode()
    assert "has periods 1 to 1, not 2" in page
    assert snapshot() == before


def test_goods_have_no_payment_list(personas: Personas, olga: User) -> None:
    goods = food(personas)
    client = client_for(olga)
    before = snapshot()
    client.post(f"/assistance/programmes/{goods.uuid}/lists/", {"period": "1"})
    assert snapshot() == before
    page = client.get(f"/assistance/programmes/{goods.uuid}/").content.decode()
    assert "hands out goods; it has no payments" in page
    assert "Make a payment list" not in page


def test_downloading_the_bank_file(personas: Personas, olga: User) -> None:
    _, listed = paid_list(personas, olga)
    client = client_for(olga)
    response = client.get(f"/assistance/lists/{listed.uuid}/download.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    lines = text.splitlines()
    assert lines[0].startswith("reference,list_number,programme")
    references = sorted(Payment.objects.values_list("reference", flat=True))
    assert sorted(line.split(",")[0] for line in lines[1:]) == references
    assert "Harutyunyan" in text

    response = client.get(f"/assistance/lists/{listed.uuid}/download.xlsx")
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    assert len(list(sheet.iter_rows(values_only=True))) == 4
    assert client.get(f"/assistance/lists/{listed.uuid}/download.pdf").status_code == 404
    exports = AuditEvent.objects.filter(action="assistance.payment_export", user=olga)
    assert sorted(exports.values_list("detail__format", flat=True)) == ["csv", "xlsx"]


def _bank_file(rows: list[tuple[str, int, str, str]]) -> io.BytesIO:
    lines = ["reference,amount,status,reason"] + [",".join(map(str, row)) for row in rows]
    upload = io.BytesIO("\n".join(lines).encode())
    upload.name = "bank.csv"
    return upload


def test_a_bad_reconciliation_file_lists_its_errors_and_applies_nothing(
    personas: Personas, olga: User
) -> None:
    _, listed = paid_list(personas, olga)
    first, second, _third = Payment.objects.order_by("reference")
    client = client_for(olga)
    before = snapshot()
    response = client.post(
        f"/assistance/lists/{listed.uuid}/reconcile/",
        {
            "file": _bank_file(
                [
                    (first.reference, 100000, "paid", ""),
                    ("H999999-0000001", 100000, "paid", ""),
                    (second.reference, 100000, "failed", ""),
                ]
            )
        },
    )
    assert response.status_code == 400
    errors = response.content.decode().split('id="errors"')[1].split("</div>")[0]
    assert "nothing changed" in errors
    assert "row 3: reference: no payment has the reference H999999-0000001" in errors
    assert "row 4: reason" in errors
    assert snapshot() == before


def test_an_oversized_file_is_refused_before_it_is_read(
    personas: Personas, olga: User, settings: Any
) -> None:
    _, listed = paid_list(personas, olga)
    settings.HAVEN_RECONCILE_MAX_BYTES = 40
    before = snapshot()
    first = Payment.objects.order_by("reference").first()
    assert first is not None
    response = client_for(olga).post(
        f"/assistance/lists/{listed.uuid}/reconcile/",
        {"file": _bank_file([(first.reference, 100000, "paid", "")] * 3)},
    )
    assert response.status_code == 400
    assert "at most 40 bytes are accepted" in response.content.decode()
    assert snapshot() == before


def test_reconciling_the_list(personas: Personas, olga: User) -> None:
    _, listed = paid_list(personas, olga)
    first, second, third = Payment.objects.order_by("reference")
    client = client_for(olga)
    url = f"/assistance/lists/{listed.uuid}/"
    upload = _bank_file(
        [
            (first.reference, 100000, "paid", ""),
            (second.reference, 100000, "failed", "account closed"),
        ]
    )
    response = client.post(f"{url}reconcile/", {"file": upload})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "2 still await" not in page
    assert "1 paid, 1 failed, 0 already as the file says; 1 still await the bank." in page
    outcomes = page.split('id="outcomes"')[1].split("</table>")[0]
    assert 'data-status="paid"><td>Paid</td><td class="num">1</td>' in outcomes
    client.post(f"{url}reconcile/", {"file": _bank_file([(third.reference, 100000, "paid", "")])})
    page = client.get(url).content.decode()
    assert "The list is reconciled." in page
    listed.refresh_from_db()
    assert listed.status == PaymentList.Status.RECONCILED


# --- the distribution point ---------------------------------------------------------------------


def test_the_distribution_point_shows_only_what_handing_out_needs(
    personas: Personas, olga: User
) -> None:
    food(personas)
    household = register(personas, "GORIS", size=3)
    head = household.members.get(relationship="head")
    Person.objects.filter(pk=head.pk).update(specific_needs=["DS-PM"], phone="+374 93 777888")
    client = client_for(olga)

    page = client.get(f"/assistance/distribute/?person={head.uuid}&site=KOR").content.decode()

    facts = page.split('id="person"')[1].split("</section>")[0]
    assert head.given_name in facts
    assert "1980" in facts
    assert "<dd>3</dd>" in facts
    assert "May receive it now" in page
    for private in (
        "DS-PM",
        "mobility",
        "777888",
        "123456",
        head.patronymic or "@@",
        "Ստեփանակերտ",
    ):
        assert private not in page, private
    view = AuditEvent.objects.get(action="person.view")
    assert (view.user, view.object_uuid, view.record_site, view.detail) == (
        olga,
        head.uuid,
        personas.goris,
        {"via": "distribution_point"},
    )


def test_no_lookup_by_name_and_a_clear_answer_for_a_bad_number(
    personas: Personas, olga: User
) -> None:
    register(personas)
    client = client_for(olga)
    page = client.get("/assistance/distribute/?person=Harutyunyan").content.decode()
    assert "Harutyunyan is not a registration number." in page
    assert "Հասմիկ" not in page
    page = client.get(f"/assistance/distribute/?person={uuid.uuid4()}").content.decode()
    assert "No one is registered under" in page
    assert not AuditEvent.objects.filter(action="person.view").exists()


def test_giving_once_however_often_the_button_is_pressed(personas: Personas, olga: User) -> None:
    goods = food(personas)
    head = register(personas, "GORIS", size=1).members.get()
    client = client_for(olga)
    page = client.get(f"/assistance/distribute/?person={head.uuid}&site=KOR").content.decode()
    key = page.split('name="uuid" value="')[1].split('"')[0]
    form = {"person": str(head.uuid), "programme": str(goods.uuid), "site": "KOR", "uuid": key}

    first = client.post("/assistance/distribute/give/", form)
    again = client.post("/assistance/distribute/give/", form)  # a double submit

    assert first["Location"] == f"/assistance/distribute/?person={head.uuid}&site=KOR"
    given = Distribution.objects.get()
    assert (given.uuid, given.site, given.distributed_by) == (uuid.UUID(key), personas.kor, olga)
    page = client.get(again["Location"]).content.decode()
    assert "Given: 1 × food parcel." in page
    assert "given 1 time today, the most a day is 1; next from" in page
    assert "May receive it now" not in page

    fresh = {**form, "uuid": str(uuid.uuid4())}
    page = client.post("/assistance/distribute/give/", fresh, follow=True).content.decode()
    assert "the most a day is 1" in page
    assert Distribution.objects.count() == 1
    assert AuditEvent.objects.filter(action="assistance.distribute").count() == 1


# --- held payments ------------------------------------------------------------------------------


def test_a_caseworker_sees_the_held_payments_of_her_sites_with_the_pair_to_decide(
    personas: Personas, registry: Registry
) -> None:
    ab = registry.pair("ab", Status.PENDING, 0.8)  # Kornidzor and Goris
    de = registry.pair("de", Status.PENDING, 0.8)  # both at Goris
    grant = programme(personas)
    paying = programme(personas, code="rent", possible_duplicates="pay")
    compute(programme=grant, period=1, acting_user=personas.dan)
    compute(programme=paying, period=1, acting_user=personas.dan)

    page = client_for(personas.carol).get("/assistance/held/").content.decode()
    rows = page.split('id="held"')[-1].split("</table>")[0]
    assert "1 held entitlement at your sites." in page
    assert registry.people["a"].given_name in rows
    assert f'href="/identity/pairs/{ab.pk}/"' in rows
    assert f"/identity/pairs/{de.pk}/" not in rows
    assert "rent" not in rows  # paid under its policy, not held
    listed = AuditEvent.objects.filter(action="person.list", user=personas.carol)
    assert list(listed.values_list("object_uuid", flat=True)) == [registry.people["a"].uuid]

    everyone = client_for(personas.dan).get("/assistance/held/").content.decode()
    assert "4 held entitlements" in everyone

    # Decided: no longer held.
    decide_pairs(pair_ids=[ab.pk], verdict="different", acting_user=personas.dan)
    page = client_for(personas.carol).get("/assistance/held/").content.decode()
    assert "0 held entitlements" in page


def test_a_caseworker_sees_what_was_paid_to_a_possible_duplicate_while_in_review(
    personas: Personas, registry: Registry
) -> None:
    ab = registry.pair("ab", Status.PENDING, 0.8)  # Kornidzor and Goris
    held_grant = programme(personas)  # holds possible duplicates: nothing paid to them
    rent = programme(personas, code="rent", name="Rent support", possible_duplicates="pay")
    for each in (held_grant, rent):
        compute(programme=each, period=1, acting_user=personas.dan)
        create_list(programme=each, period=1, acting_user=personas.dan)
    paid_a = Payment.objects.get(person=registry.people["a"])
    assert paid_a.possible_duplicate
    assert Payment.objects.filter(possible_duplicate=True).count() == 2  # a and b

    page = client_for(personas.carol).get("/assistance/held/").content.decode()
    rows = page.split('id="paid-in-review"')[-1].split("</table>")[0]
    assert "1 payment made while in review at your sites." in page
    assert registry.people["a"].given_name in rows
    assert registry.people["b"].given_name not in rows  # Goris: not her site
    assert "Rent support" in rows
    assert paid_a.reference in rows
    assert "paid while in review: listed, awaiting the bank" in rows
    assert f'href="/identity/pairs/{ab.pk}/"' in rows
    listed = AuditEvent.objects.filter(action="person.list", user=personas.carol)
    assert list(listed.values_list("object_uuid", flat=True)) == [registry.people["a"].uuid]

    # Paid by the bank: still shown, with its status, while the pair awaits a decision.
    Payment.objects.filter(pk=paid_a.pk).update(status=Payment.Status.PAID)
    page = client_for(personas.carol).get("/assistance/held/").content.decode()
    assert "paid while in review: paid" in page
    everyone = client_for(personas.dan).get("/assistance/held/").content.decode()
    assert "2 payments made while in review" in everyone

    # Decided: no longer in review, so no longer shown.
    decide_pairs(pair_ids=[ab.pk], verdict="different", acting_user=personas.dan)
    page = client_for(personas.carol).get("/assistance/held/").content.decode()
    assert "0 payments made while in review" in page
    assert 'id="paid-in-review"' not in page
