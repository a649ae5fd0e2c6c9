"""Entitlements per identity and the payment-once gate (haven.assistance.entitlements and
.payments), on records registered through the real registration action and linked through the
identity actions."""

import threading
from datetime import date
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from haven.assistance import actions, payments
from haven.assistance.entitlements import age_on, compute, eligible_identity, period_start
from haven.assistance.models import Entitlement, Payment, PaymentList, Programme
from haven.assistance.payments import create_list
from haven.assistance.selectors import held_count
from haven.core.errors import Conflict, InvalidInput
from haven.core.models import AuditEvent
from haven.identity.actions import decide_pairs, undo_decision
from haven.identity.models import CandidatePair
from haven.registry.actions import close_household, register_household, reopen_household
from haven.registry.models import Household, IdentityDocument, Person
from haven.registry.schemas import HouseholdIn
from tests import factories
from tests.conftest import Personas
from tests.test_identity_decisions import Registry

Status = CandidatePair.Status


def programme(personas: Personas, **overrides: Any) -> Programme:
    data: dict[str, Any] = {
        "code": "arrival-grant",
        "name": "One-off support on arrival",
        "kind": "cash",
        "amount": 100_000,
        "frequency": "once",
        "starts_on": "2023-10-01",
    }
    data.update(overrides)
    return actions.add_programme(data=actions.parse_programme(data), acting_user=personas.dan)


def register(personas: Personas, site: str = "KOR", **overrides: Any) -> Household:
    household, _ = register_household(
        data=HouseholdIn.model_validate(factories.household(site, **overrides)),
        acting_user=personas.dan,
    )
    return household


def paid_identities(benefit: str) -> list[Any]:
    return list(
        Payment.objects.filter(benefit=benefit, status__in=["listed", "paid"]).values_list(
            "person__identity", flat=True
        )
    )


def test_ages_read_partial_dates_as_the_middle_of_what_is_unknown() -> None:
    day = date(2023, 10, 1)
    assert age_on(day, 2005, 10, 1) == 18
    assert age_on(day, 2005, 10, 2) == 17
    assert age_on(day, 2005, None, None) == 18  # counted as born 1 July
    assert age_on(date(2023, 6, 30), 2005, None, None) == 17
    assert age_on(day, 2005, 10, None) == 17  # counted as born 15 October


def test_monthly_periods_start_a_month_apart_clamped_to_the_month() -> None:
    monthly = Programme(starts_on=date(2023, 10, 31), periods=6)
    assert [period_start(monthly, p) for p in (1, 2, 5)] == [
        date(2023, 10, 31),
        date(2023, 11, 30),
        date(2024, 2, 29),
    ]


def test_every_identity_once_whatever_its_registrations(personas: Personas) -> None:
    registry = Registry(personas)  # a, b, c one woman at three sites; d, e one man twice
    registry.link_automatically("abc", "de")
    grant = programme(personas)

    run = compute(programme=grant, period=1, acting_user=personas.dan)

    assert (run.records, run.identities, run.held) == (5, 2, 0)
    assert run.total_amount == 200_000
    rows = Entitlement.objects.filter(programme=grant)
    assert sorted(e.identity for e in rows) == sorted(
        {registry.identity("a"), registry.identity("d")}
    )
    # Made out to the identity's earliest registration.
    assert {e.person_id for e in rows} == {registry.people["a"].pk, registry.people["d"].pk}
    assert AuditEvent.objects.filter(action="assistance.entitle").count() == 1


def test_rules_arrival_age_needs_and_documents(personas: Personas) -> None:
    early = register(personas, size=4, registered_at="2023-09-25T10:00:00+04:00")
    register(personas, size=1, registered_at="2023-10-20T10:00:00+04:00")
    children = programme(
        personas,
        code="children",
        age_max=17,
        arrived_until="2023-10-05",
        frequency="monthly",
        periods=6,
        amount=40_000,
    )

    compute(programme=children, period=1, acting_user=personas.dan)

    # The household of 25 September: a child born 2012-03 and one of about 4; the adults and the
    # later arrival are left out.
    entitled = set(
        Entitlement.objects.filter(programme=children).values_list("person_id", flat=True)
    )
    young = {p.pk for p in early.members.all() if p.birth_year >= 2006}
    assert entitled == young
    assert len(young) == 2

    with pytest.raises(InvalidInput, match="periods 1 to 6, not 7"):
        compute(programme=children, period=7, acting_user=personas.dan)

    needing = register(personas, size=1)
    person = needing.members.get()
    Person.objects.filter(pk=person.pk).update(specific_needs=["DS-PM"])
    mobility = programme(personas, code="mobility", needs_any=["DS-PM", "DS-PS"])
    compute(programme=mobility, period=1, acting_user=personas.dan)
    assert list(
        Entitlement.objects.filter(programme=mobility).values_list("person_id", flat=True)
    ) == [person.pk]

    documented = programme(personas, code="documented", document_required=True)
    IdentityDocument.objects.create(person=person, kind="passport", number="AN0123456")
    compute(programme=documented, period=1, acting_user=personas.dan)
    assert list(
        Entitlement.objects.filter(programme=documented).values_list("person_id", flat=True)
    ) == [person.pk]
    assert eligible_identity(documented, person)
    assert not eligible_identity(documented, early.members.first())  # type: ignore[arg-type]


def test_a_household_programme_pays_each_head_identity_once(personas: Personas) -> None:
    first = register(personas, size=3)
    second = register(personas, "GORIS", size=2)
    rent = programme(personas, code="rent", unit="household", amount=40_000)
    # The same family registered twice: the heads linked as one identity.
    heads = [h.members.get(relationship="head") for h in (first, second)]
    Person.objects.filter(pk=heads[1].pk).update(identity=heads[0].identity)

    run = compute(programme=rent, period=1, acting_user=personas.dan)

    assert (run.identities, run.total_amount) == (1, 40_000)


def test_the_gate_holds_across_programmes_sites_and_later_links(personas: Personas) -> None:
    registry = Registry(personas)
    registry.link_automatically("ab")  # c (Vayk) not yet known to be the same woman
    state = programme(personas, code="state-grant", benefit="arrival")
    agency = programme(personas, code="agency-grant", benefit="arrival")
    compute(programme=state, period=1, acting_user=personas.dan)

    first = create_list(programme=state, period=1, acting_user=personas.dan)
    # Four identities: the woman's records a and b (linked), c, d and e; a and b paid once.
    assert first.payments == 4
    assert registry.people["b"].pk not in set(first.items.values_list("person_id", flat=True))

    # c is found to be the same woman after she was paid as c, and the agency's programme pays
    # the same benefit: nobody already paid by the state's list is paid again.
    Person.objects.filter(pk=registry.people["c"].pk).update(identity=registry.identity("a"))
    compute(programme=agency, period=1, acting_user=personas.dan)
    second = create_list(programme=agency, period=1, acting_user=personas.dan)
    assert second.payments == 0
    assert second.left_off == {"already_paid": Entitlement.objects.filter(programme=agency).count()}

    # The database refuses a second live payment for one benefit, period and identity.
    payment = Payment.objects.filter(payment_list=first).first()
    assert payment is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            reference="X1",
            payment_list=second,
            entitlement=payment.entitlement,
            benefit="arrival",
            period=1,
            identity=payment.identity,
            person=payment.person,
            amount=1,
            currency="AMD",
        )


def test_a_failed_payment_is_listed_again_a_paid_one_never(personas: Personas) -> None:
    register(personas, size=2)
    grant = programme(personas)
    compute(programme=grant, period=1, acting_user=personas.dan)
    first = create_list(programme=grant, period=1, acting_user=personas.dan)
    assert first.payments == 2
    failed, paid = list(first.items.order_by("pk"))
    Payment.objects.filter(pk=failed.pk).update(status="failed", reason="card blocked")
    Payment.objects.filter(pk=paid.pk).update(status="paid")

    # Recomputing keeps what was listed; the next list pays only the failed one.
    compute(programme=grant, period=1, acting_user=personas.dan)
    again = create_list(programme=grant, period=1, acting_user=personas.dan)

    assert again.payments == 1
    assert again.items.get().person_id == failed.person_id
    assert again.left_off == {"already_paid": 1}
    assert sorted(paid_identities(grant.benefit)) == sorted({failed.identity, paid.identity})


@pytest.mark.parametrize("policy", ["hold", "pay"])
def test_possible_duplicates_follow_the_programmes_policy(personas: Personas, policy: str) -> None:
    registry = Registry(personas)
    pair = registry.pair("de", Status.PENDING, probability=0.9)
    grant = programme(personas, possible_duplicates=policy)

    run = compute(programme=grant, period=1, acting_user=personas.dan)
    listing = create_list(programme=grant, period=1, acting_user=personas.dan)

    if policy == "hold":
        assert run.held == 2
        assert listing.left_off == {"held": 2}
        assert listing.payments == 3
    else:
        assert run.held == 0
        assert listing.payments == 5
        flagged = listing.items.filter(possible_duplicate=True)
        assert {p.person_id for p in flagged} == {registry.people["d"].pk, registry.people["e"].pk}

    # A caseworker confirms the pair: one identity, paid once at most.
    decide_pairs(pair_ids=[pair.pk], verdict="same", acting_user=personas.dan)
    compute(programme=grant, period=1, acting_user=personas.dan)
    later = create_list(programme=grant, period=1, acting_user=personas.dan)
    man = registry.identity("d")
    assert paid_identities(grant.benefit).count(man) == (1 if policy == "hold" else 2)
    if policy == "hold":
        assert later.payments == 1
    else:
        # Both were paid under the "pay" policy before the decision: nothing more is paid, and
        # the double payment is visible as one identity with two live payments.
        assert later.payments == 0


def test_goods_have_no_payment_list(personas: Personas) -> None:
    kits = programme(personas, code="kits", kind="in_kind", item="hygiene kit", amount=1)
    with pytest.raises(InvalidInput, match="hands out goods"):
        create_list(programme=kits, period=1, acting_user=personas.dan)
    assert PaymentList.objects.count() == 0


def test_a_programme_with_bad_rules_is_refused_whole(personas: Personas) -> None:
    bad = {
        "code": "Bad Code",
        "name": "",
        "kind": "cash",
        "amount": 0,
        "frequency": "once",
        "periods": 3,
        "starts_on": "2023-10-01",
        "needs_any": ["XX-NOPE"],
    }
    with pytest.raises(InvalidInput) as raised:
        actions.parse_programme(bad)
    fields = {e.field for e in raised.value.errors}
    assert {"code", "name", "amount", "needs_any"} <= fields
    assert Programme.objects.count() == 0


def test_a_link_undone_after_payment_leaves_nobody_unpaid(personas: Personas) -> None:
    registry = Registry(personas)
    ac = registry.pair("ac", Status.PENDING)
    bc = registry.pair("bc", Status.PENDING)
    decide_pairs(pair_ids=[ac.pk], verdict="same", acting_user=personas.dan)
    decide_pairs(pair_ids=[bc.pk], verdict="same", acting_user=personas.dan)
    grant = programme(personas)
    compute(programme=grant, period=1, acting_user=personas.dan)
    create_list(programme=grant, period=1, acting_user=personas.dan)  # a (for a, b, c) paid

    # a was not c after all: a keeps the payment, b and c (one identity) are owed their own.
    undo_decision(pair_id=ac.pk, acting_user=personas.dan)
    assert not registry.same("a", "b")
    compute(programme=grant, period=1, acting_user=personas.dan)
    held = create_list(programme=grant, period=1, acting_user=personas.dan)
    assert held.left_off == {"already_paid": 3, "held": 1}  # (a, c) is back in review
    decide_pairs(pair_ids=[ac.pk], verdict="different", acting_user=personas.dan)
    compute(programme=grant, period=1, acting_user=personas.dan)
    again = create_list(programme=grant, period=1, acting_user=personas.dan)

    assert again.payments == 1
    assert again.items.get().person_id == registry.people["b"].pk
    everyone = {registry.identity(label) for label in "abcde"}
    assert sorted(paid_identities(grant.benefit)) == sorted(everyone)


def test_programmes_of_one_benefit_count_the_same_months(personas: Personas) -> None:
    programme(personas, code="rent-state", benefit="rent", frequency="monthly", periods=6)
    with pytest.raises(InvalidInput, match="must start on the same day"):
        programme(
            personas,
            code="rent-agency",
            benefit="rent",
            frequency="monthly",
            periods=6,
            starts_on="2023-11-01",
        )
    assert list(Programme.objects.values_list("code", flat=True)) == ["rent-state"]
    programme(personas, code="rent-agency", benefit="rent", frequency="monthly", periods=3)


def test_a_household_qualifies_through_any_member(personas: Personas) -> None:
    family = register(personas, size=3)  # the head born 1980, a child born 2012-03
    adults = register(personas, size=2)
    children = programme(personas, code="families", unit="household", age_max=17, amount=30_000)
    child = family.members.get(relationship="child")
    Person.objects.filter(pk=adults.members.get(relationship="head").pk).update(
        specific_needs=["DS-PM"]
    )
    mobility = programme(personas, code="mobility", unit="household", needs_any=["DS-PM"])

    compute(programme=children, period=1, acting_user=personas.dan)
    compute(programme=mobility, period=1, acting_user=personas.dan)

    assert child.birth_year == 2012
    assert list(
        Entitlement.objects.filter(programme=children).values_list("household", flat=True)
    ) == [family.pk]
    assert list(
        Entitlement.objects.filter(programme=mobility).values_list("household", flat=True)
    ) == [adults.pk]
    head = family.members.get(relationship="head")
    assert eligible_identity(children, head)
    assert not eligible_identity(children, adults.members.get(relationship="head"))


@pytest.mark.django_db(transaction=True)
def test_a_link_committed_while_a_list_is_made_refuses_the_list(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL reads each statement's own snapshot: a link committed between reading who is
    paid and reading the entitlements would pay one person twice; the list fails whole."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's write transaction excludes the link: nothing can commit meanwhile")
    registry = Registry(personas)
    d, e = registry.people["d"], registry.people["e"]
    IdentityDocument.objects.create(person=e, kind="passport", number="AN1")
    first = programme(personas, code="first", benefit="arrival", document_required=True)
    second = programme(personas, code="second", benefit="arrival")
    compute(programme=first, period=1, acting_user=personas.dan)
    assert create_list(programme=first, period=1, acting_user=personas.dan).payments == 1  # e
    compute(programme=second, period=1, acting_user=personas.dan)
    pair = registry.pair("de", Status.PENDING)

    def link_meanwhile() -> set[Any]:
        def work() -> None:
            try:
                decide_pairs(pair_ids=[pair.pk], verdict="same", acting_user=personas.dan)
            finally:
                connection.close()

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        return set()

    monkeypatch.setattr(payments, "identities_in_review", link_meanwhile)
    with pytest.raises(Conflict, match="at the same time"):
        create_list(programme=second, period=1, acting_user=personas.dan)

    assert PaymentList.objects.count() == 1
    live = list(
        Payment.objects.filter(status__in=["listed", "paid"]).values_list(
            "person__identity", flat=True
        )
    )
    assert len(live) == len(set(live))
    assert registry.same("d", "e")
    assert d.pk != e.pk


def test_a_closed_case_entitles_nobody_until_it_is_reopened(personas: Personas) -> None:
    registry = Registry(personas)
    registry.link_automatically("abc")  # one woman registered at three sites
    a, b, c = (registry.people[label] for label in "abc")
    Person.objects.filter(pk=b.pk).update(specific_needs=["DS-PM"])
    Person.objects.filter(pk=c.pk).update(specific_needs=["DS-PM"])
    closed = register(personas, size=2)
    grant = programme(personas)
    mobility = programme(personas, code="mobility", needs_any=["DS-PM"])
    rent = programme(personas, code="rent", unit="household", amount=40_000)

    def entitled(benefit: Programme) -> set[int]:
        compute(programme=benefit, period=1, acting_user=personas.dan)
        return set(
            Entitlement.objects.filter(programme=benefit).values_list("person_id", flat=True)
        )

    head = closed.members.get(relationship="head")
    assert head.pk in entitled(grant)
    assert closed.pk in set(
        Entitlement.objects.filter(programme=grant).values_list("household", flat=True)
    )
    # The woman's earliest record (a) is paid; her record b has the need.
    assert entitled(mobility) == {a.pk}

    close_household(household=closed, reason="departed", acting_user=personas.dan)
    close_household(household=a.household, reason="duplicate", acting_user=personas.dan)
    close_household(household=b.household, reason="duplicate", acting_user=personas.dan)

    run = compute(programme=grant, period=1, acting_user=personas.dan)
    assert run.records == 3  # c, d and e: the closed households' records are not read
    paid = set(Entitlement.objects.filter(programme=grant).values_list("person_id", flat=True))
    assert not paid & {p.pk for p in closed.members.all()}
    # Her open record c is paid now, not the closed a; and it still has the need itself.
    assert c.pk in paid
    assert a.pk not in paid
    assert entitled(mobility) == {c.pk}
    assert head.pk not in entitled(rent)
    assert not eligible_identity(grant, head)
    assert not eligible_identity(rent, head)
    assert eligible_identity(grant, a)  # through her open record c
    # A closed record's need no longer makes her qualify once c has none.
    Person.objects.filter(pk=c.pk).update(specific_needs=[])
    assert entitled(mobility) == set()
    assert not eligible_identity(mobility, a)

    reopen_household(household=closed, acting_user=personas.dan)
    reopen_household(household=b.household, acting_user=personas.dan)

    assert head.pk in entitled(grant)
    assert head.pk in entitled(rent)
    assert eligible_identity(grant, head)
    assert entitled(mobility) == {b.pk}
    assert eligible_identity(mobility, a)


def test_a_case_closed_after_the_entitlements_were_computed_is_left_off_the_list(
    personas: Personas,
) -> None:
    staying = register(personas, size=1)
    departing = register(personas, size=2)
    grant = programme(personas)
    compute(programme=grant, period=1, acting_user=personas.dan)
    departing_ids = {p.pk for p in departing.members.all()}
    assert departing_ids <= set(
        Entitlement.objects.filter(programme=grant).values_list("person_id", flat=True)
    )

    close_household(household=departing, reason="departed", acting_user=personas.dan)
    made = create_list(programme=grant, period=1, acting_user=personas.dan)

    listed = set(Payment.objects.filter(payment_list=made).values_list("person_id", flat=True))
    assert listed == {p.pk for p in staying.members.all()}
    assert made.payments == 1
    assert made.left_off == {"closed": 2}
    event = AuditEvent.objects.get(action="assistance.payment_list", object_uuid=made.uuid)
    assert event.detail["left_off"] == {"closed": 2}

    # Reopened, the household is owed again and the next list pays it; nobody twice.
    reopen_household(household=departing, acting_user=personas.dan)
    again = create_list(programme=grant, period=1, acting_user=personas.dan)
    assert (
        set(Payment.objects.filter(payment_list=again).values_list("person_id", flat=True))
        == departing_ids
    )
    assert again.left_off == {"already_paid": 1}


def test_an_identity_still_served_by_an_open_record_is_paid_and_closed_ones_are_not_held(
    personas: Personas,
) -> None:
    """Her paid record's household closed as a duplicate (she was registered twice): she is still
    owed through her open records, and listed. d and e, a possible duplicate the programme holds,
    departed: not listed, and no longer waiting for a caseworker on the held page."""
    registry = Registry(personas)
    registry.link_automatically("abc")  # one woman registered at three sites
    registry.pair("de", Status.PENDING, probability=0.9)
    grant = programme(personas)  # holds possible duplicates
    compute(programme=grant, period=1, acting_user=personas.dan)
    woman = registry.identity("a")
    payee = Entitlement.objects.get(programme=grant, person__identity=woman).person
    assert held_count(grant) == 2

    close_household(household=payee.household, reason="duplicate", acting_user=personas.dan)
    for label in "de":
        close_household(
            household=registry.people[label].household, reason="departed", acting_user=personas.dan
        )

    assert held_count(grant) == 0
    made = create_list(programme=grant, period=1, acting_user=personas.dan)
    listed = set(Payment.objects.filter(payment_list=made).values_list("identity", flat=True))
    assert woman in listed
    assert made.left_off == {"closed": 2}
    assert made.payments == 1
