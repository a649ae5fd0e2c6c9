"""The caseworkers' review pages: the queue, one pair side by side, one identity.

The pairs are real: a simulated influx registered through the registry's actions and linked by the
batch (`run_linkage`) with a model trained once per module, plus one woman registered three times
in three alphabets. Decisions go through the pages' forms, without JavaScript, and every write is
checked in the rows it made or did not make.
"""

import re
from dataclasses import dataclass
from html import unescape
from typing import Any
from uuid import UUID

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from haven.core.models import AuditEvent, User
from haven.identity import engine
from haven.identity.batch import Thresholds, read_features, run_linkage, save_model
from haven.identity.models import CandidatePair, Decision, Link, LinkageRun
from haven.registry.actions import register_households
from haven.registry.models import Person
from haven.registry.schemas import HouseholdIn
from haven.simulate.influx import simulate_influx
from haven.simulate.loader import ensure_sites, load_influx
from tests import factories
from tests.conftest import Personas, sign_in

QUEUE = "/identity/review/"
REVIEW_SITES = {"KOR", "VAYK"}  # carol's
# Near-certain pairs are linked automatically, the rest wait for a decision: both kinds appear.
THRESHOLDS = Thresholds(duplicate=0.9999, possible=0.01)


# --- shared with tests/test_identity_review_api.py ----------------------------------------------


@pytest.fixture(scope="module")
def trained_model(django_db_setup: None, django_db_blocker: Any) -> dict[str, Any]:
    """A model trained once per module, on a simulated influx that is rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        user = User.objects.create_user(username="trainer", role=User.Role.COORDINATOR)
        ensure_sites(acting_user=None)
        load_influx(
            simulate_influx(people=400, seed=3, duplicate_share=0.1),
            acting_user=user,
            progress=False,
        )
        records, _skipped = read_features()
        trainer = engine.Engine(records)
        try:
            model = trainer.train()
        finally:
            trainer.close()
        transaction.set_rollback(True)
    return model


@dataclass
class Linked:
    run: LinkageRun
    # One woman registered three times: Armenian at Kornidzor, Latin at Goris, Cyrillic at Vayk.
    hasmik: tuple[Person, Person, Person]

    def trio_pair(self, first: int, second: int) -> CandidatePair:
        a, b = sorted((self.hasmik[first].pk, self.hasmik[second].pk))
        return CandidatePair.objects.get(person_a_id=a, person_b_id=b)


def hasmik_households() -> list[HouseholdIn]:
    spellings = [
        ("KOR", "Հասմիկ", "Հարությունյան"),
        ("GORIS", "Hasmik", "Harutyunyan"),
        ("VAYK", "Асмик", "Арутюнян"),
    ]
    households = []
    for site, given, family in spellings:
        payload = factories.household(site=site, size=1, phone="")
        payload["members"][0].update(
            given_name=given,
            family_name=family,
            patronymic="",
            documents=[{"kind": "passport", "number": "AM4455667"}],
        )
        households.append(HouseholdIn.model_validate(payload))
    return households


def link_influx(personas: Personas, model: dict[str, Any]) -> Linked:
    """A simulated influx and the Hasmik trio, registered and linked by the batch."""
    ensure_sites(acting_user=None)
    load_influx(
        simulate_influx(people=600, seed=5, duplicate_share=0.1),
        acting_user=personas.dan,
        progress=False,
    )
    outcomes = register_households(items=hasmik_households(), acting_user=personas.dan)
    first, second, third = (Person.objects.get(household__uuid=o.uuid) for o in outcomes)
    save_model(model, records=0, labels=0, user=None)
    run = run_linkage(acting_user=personas.dan, thresholds=THRESHOLDS)
    return Linked(run=run, hasmik=(first, second, third))


def touches(pair: CandidatePair, sites: set[str]) -> bool:
    return pair.person_a.site.code in sites or pair.person_b.site.code in sites


def pair_state() -> tuple[list[tuple[int, str]], int, int, list[tuple[int, str]]]:
    """Everything a decision changes: statuses, decisions, links, identities."""
    return (
        list(CandidatePair.objects.order_by("pk").values_list("pk", "status")),
        Decision.objects.count(),
        Link.objects.count(),
        [(pk, str(i)) for pk, i in Person.objects.order_by("pk").values_list("pk", "identity")],
    )


# --- this module's helpers ----------------------------------------------------------------------


@pytest.fixture
def linked(personas: Personas, trained_model: dict[str, Any]) -> Linked:
    return link_influx(personas, trained_model)


def _client(user: User) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def _html(response: Any) -> str:
    return unescape(str(response.content.decode()))


def _pair_url(pair: CandidatePair) -> str:
    return f"/identity/pairs/{pair.pk}/"


def _visible(user_sites: set[str], status: str = "pending") -> list[CandidatePair]:
    pairs = CandidatePair.objects.select_related("person_a__site", "person_b__site").filter(
        status=status
    )
    return [p for p in pairs if touches(p, user_sites)]


def _invisible_to_carol() -> CandidatePair:
    pairs = CandidatePair.objects.select_related("person_a__site", "person_b__site")
    return next(p for p in pairs if not touches(p, REVIEW_SITES))


# --- the queue ----------------------------------------------------------------------------------


def test_the_batch_found_pairs_of_every_kind(linked: Linked) -> None:
    statuses = set(CandidatePair.objects.values_list("status", flat=True))
    assert {"pending", "linked"} <= statuses
    assert linked.run.pairs == CandidatePair.objects.count()
    # The trio was found, in every pair of the three alphabets.
    for first, second in ((0, 1), (1, 2), (0, 2)):
        assert linked.trio_pair(first, second).match_probability > 0.5


def test_the_queue_shows_a_caseworker_the_pairs_touching_her_sites(
    personas: Personas, linked: Linked
) -> None:
    expected = _visible(REVIEW_SITES)
    assert expected, "the influx should leave pairs for carol to decide"
    response = _client(personas.carol).get(QUEUE)

    assert response.status_code == 200
    html = _html(response)
    shown = {int(n) for n in re.findall(r'name="pair" value="(\d+)"', html)}
    expected_ids = [p.pk for p in sorted(expected, key=lambda p: (-p.match_probability, p.pk))]
    assert list(shown)
    assert shown == set(expected_ids[:25])
    # The pairs of other sites are not there, not even as a count.
    others = [p.pk for p in _visible({"GORIS", "SISIAN", "KAPAN", "YEREVAN"}) if p not in expected]
    assert not shown & set(others)
    # Most probable first.
    order = [int(n) for n in re.findall(r'name="pair" value="(\d+)"', html)]
    assert order == expected_ids[: len(order)]
    # Works without JavaScript: plain forms, no script on the page.
    assert "<script" not in html
    assert 'name="verdict" value="same"' in html
    assert 'name="verdict" value="different"' in html
    assert "%" in html


def test_each_row_shows_both_records_and_the_reasons_in_words(
    personas: Personas, linked: Linked
) -> None:
    pair = linked.trio_pair(0, 2)  # Kornidzor (Armenian) and Vayk (Cyrillic)
    pair.status = CandidatePair.Status.PENDING
    pair.save()
    html = _html(_client(personas.carol).get(QUEUE, {"site": "VAYK"}))

    assert f'value="{pair.pk}"' in html
    assert "Հասմիկ" in html
    assert "Асмик" in html
    assert "Armenian" in html
    assert "Cyrillic" in html
    assert "1980-05-17" in html
    assert "Kornidzor" in html
    assert "Vayk hub" in html
    assert "a document number in common" in html
    assert "same_name" not in html  # codes are said in words


def test_listing_audits_every_record_shown(personas: Personas, linked: Linked) -> None:
    before = AuditEvent.objects.filter(action="person.list").count()
    html = _html(_client(personas.carol).get(QUEUE))
    shown = [int(n) for n in re.findall(r'name="pair" value="(\d+)"', html)]
    pairs = CandidatePair.objects.filter(pk__in=shown).select_related("person_a", "person_b")
    persons = {p.person_a.uuid for p in pairs} | {p.person_b.uuid for p in pairs}

    events = AuditEvent.objects.filter(action="person.list").order_by("pk")[before:]
    assert {e.object_uuid for e in events} == persons
    assert all(e.user == personas.carol and e.detail == {"via": "page"} for e in events)


def test_filters_select_status_band_and_site(personas: Personas, linked: Linked) -> None:
    client = _client(personas.dan)
    html = _html(client.get(QUEUE, {"status": "linked", "band": "duplicate", "site": "GORIS"}))
    shown = [int(n) for n in re.findall(r'name="pair" value="(\d+)"', html)]
    assert shown
    for pair in CandidatePair.objects.filter(pk__in=shown).select_related(
        "person_a__site", "person_b__site"
    ):
        assert pair.status == "linked"
        assert pair.band == "duplicate"
        assert touches(pair, {"GORIS"})


def test_a_bad_filter_is_reported_and_the_queue_still_shows(
    personas: Personas, linked: Linked
) -> None:
    response = _client(personas.carol).get(
        QUEUE, {"status": "lost", "band": "maybe", "site": "GORIS", "after": "x1"}
    )
    html = _html(response)
    assert response.status_code == 200
    assert "is not a status of a pair" in html
    assert "is not a band of a pair" in html
    # Goris is not carol's site: the filter does not reveal whether it exists.
    assert "is not one of your sites" in html
    assert "That page link is out of date" in html
    assert 'aria-invalid="true"' in html


def test_the_next_page_continues_after_the_last_pair(personas: Personas, linked: Linked) -> None:
    client = _client(personas.dan)
    every = [
        p.pk
        for p in CandidatePair.objects.filter(status="linked").order_by("-match_probability", "pk")
    ]
    assert len(every) > 25, "the influx should give more than a page of linked pairs"
    first = _html(client.get(QUEUE, {"status": "linked"}))
    next_link = re.search(r'href="([^"]+)" rel="next"', first)
    assert next_link is not None
    second = _html(client.get(next_link.group(1)))
    ids = [int(n) for n in re.findall(r'name="pair" value="(\d+)"', first + second)]
    assert ids == every[: len(ids)]
    assert len(ids) == min(50, len(every))


def test_the_queue_costs_the_same_queries_for_a_few_pairs_or_a_page(
    personas: Personas, linked: Linked
) -> None:
    client = _client(personas.dan)
    few = CandidatePair.objects.filter(status="pending").count()
    assert 0 < few < 25 <= CandidatePair.objects.filter(status="linked").count()
    client.get(QUEUE)  # the session, warm
    with CaptureQueriesContext(connection) as short:
        client.get(QUEUE, {"status": "pending"})
    with CaptureQueriesContext(connection) as full:
        client.get(QUEUE, {"status": "linked"})
    assert len(full.captured_queries) == len(short.captured_queries) <= 12


# --- deciding from the queue --------------------------------------------------------------------


def test_deciding_many_pairs_at_once(personas: Personas, linked: Linked) -> None:
    chosen = _visible(REVIEW_SITES)[:2]
    assert len(chosen) == 2
    client = _client(personas.carol)
    response = client.post(
        QUEUE,
        {
            "pair": [str(p.pk) for p in chosen],
            "verdict": "same",
            "note": "same passport photo",
            "back": f"{QUEUE}?status=pending",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"{QUEUE}?status=pending"
    for pair in chosen:
        pair.refresh_from_db()
        assert pair.status == "confirmed"
        assert pair.decided_by == personas.carol
        a = Person.objects.get(pk=pair.person_a_id)
        b = Person.objects.get(pk=pair.person_b_id)
        assert a.identity == b.identity
        decision = Decision.objects.get(pair=pair)
        assert (decision.verdict, decision.note) == ("same", "same passport photo")
        assert AuditEvent.objects.filter(
            action="identity.decide_same", detail__pair=pair.pk
        ).exists()
    page = _html(client.get(response["Location"]))
    assert "2 pairs recorded as the same person" in page


def test_deciding_different_people_keeps_identities_apart(
    personas: Personas, linked: Linked
) -> None:
    pair = _visible(REVIEW_SITES)[0]
    a_before, b_before = pair.person_a.identity, pair.person_b.identity
    _client(personas.carol).post(QUEUE, {"pair": [str(pair.pk)], "verdict": "different"})

    pair.refresh_from_db()
    assert pair.status == "rejected"
    assert Person.objects.get(pk=pair.person_a_id).identity == a_before
    assert Person.objects.get(pk=pair.person_b_id).identity == b_before


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"verdict": "same"}, "choose at least one pair"),
        ({"pair": ["PAIR"], "verdict": "maybe"}, "choose “same person” or “different people”"),
        ({"pair": ["PAIR"], "verdict": "same", "note": "x" * 501}, "at most 500 characters"),
        ({"pair": ["PAIR", "UNKNOWN"], "verdict": "same"}, "not in your queue any more"),
        ({"pair": ["PAIR", "INVISIBLE"], "verdict": "same"}, "not in your queue any more"),
        ({"pair": ["PAIR", "-3"], "verdict": "same"}, "is not a pair's number"),
    ],
)
def test_a_refused_decision_changes_nothing(
    personas: Personas, linked: Linked, form: dict[str, Any], message: str
) -> None:
    mine = _visible(REVIEW_SITES)[0]
    values = {
        "PAIR": str(mine.pk),
        "UNKNOWN": "999999999",
        "INVISIBLE": str(_invisible_to_carol().pk),
    }
    form = {
        key: [values.get(v, v) for v in value] if isinstance(value, list) else value
        for key, value in form.items()
    }
    before = pair_state()
    client = _client(personas.carol)
    response = client.post(QUEUE, form, follow=True)

    assert response.status_code == 200
    assert message in _html(response)
    assert "Nothing was changed" in _html(response)
    assert pair_state() == before


def test_back_goes_nowhere_but_this_site(personas: Personas, linked: Linked) -> None:
    pair = _visible(REVIEW_SITES)[0]
    response = _client(personas.carol).post(
        QUEUE, {"pair": [str(pair.pk)], "verdict": "same", "back": "https://evil.example/"}
    )
    assert response["Location"] == QUEUE


# --- one pair -----------------------------------------------------------------------------------


def test_the_pair_page_shows_both_records_side_by_side(personas: Personas, linked: Linked) -> None:
    pair = linked.trio_pair(0, 1)  # Kornidzor and Goris
    before = AuditEvent.objects.filter(action="person.view").count()
    response = _client(personas.carol).get(_pair_url(pair))

    assert response.status_code == 200
    html = _html(response)
    assert "<script" not in html
    for text in ("Հասմիկ", "Hasmik", "Հարությունյան", "Harutyunyan", "AM4455667"):
        assert text in html
    assert "Kornidzor" in html
    assert "Goris hub" in html
    assert "a document number in common" in html
    assert "Weight" in html
    assert f"{pair.match_weight:.2f}" in html
    assert 'name="action" value="same"' in html
    assert 'name="action" value="different"' in html
    if pair.status == "linked":
        assert "Undo the automatic link" in html
        assert "Linked by the model" in html  # the provenance of the link
    # Reading it is audited: each record of both households.
    viewed = AuditEvent.objects.filter(action="person.view").order_by("pk")[before:]
    assert {e.object_uuid for e in viewed} == {linked.hasmik[0].uuid, linked.hasmik[1].uuid}


def test_the_pair_page_shows_both_households(personas: Personas, linked: Linked) -> None:
    pair = next(
        p
        for p in CandidatePair.objects.select_related("person_a__household", "person_b__household")
        if p.person_a.household.members.count() > 1 and p.person_b.household.members.count() > 1
    )
    html = _html(_client(personas.dan).get(_pair_url(pair)))
    for person in (*pair.person_a.household.members.all(), *pair.person_b.household.members.all()):
        assert person.full_name in html
    assert "Their households" in html


def test_deciding_and_undoing_on_the_pair_page(personas: Personas, linked: Linked) -> None:
    pair = _visible(REVIEW_SITES)[0]
    a, b = pair.person_a, pair.person_b
    client = _client(personas.carol)
    identities_before = pair_state()[3]

    response = client.post(_pair_url(pair), {"action": "same", "note": "checked the passport"})
    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.status == "confirmed"
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.identity == b.identity
    links = Link.objects.filter(pair=pair, reason="decision")
    assert links.exists()
    assert all(link.made_by == personas.carol for link in links)
    page = _html(client.get(_pair_url(pair)))
    assert "Confirmed the same person" in page
    assert "checked the passport" in page
    assert "Linked by a caseworker" in page

    response = client.post(_pair_url(pair), {"action": "undo"})
    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.status == "pending"
    assert pair_state()[3] == identities_before
    assert Link.objects.filter(pair=pair, reason="undo").exists()
    assert AuditEvent.objects.filter(action="identity.undo", detail__pair=pair.pk).exists()
    page = _html(client.get(_pair_url(pair)))
    assert "Link undone" in page
    assert "Undo this decision" not in page  # nothing left to undo


def test_a_stale_undo_is_refused_and_changes_nothing(personas: Personas, linked: Linked) -> None:
    pair = _visible(REVIEW_SITES)[0]  # pending: nothing to undo
    before = pair_state()
    response = _client(personas.carol).post(_pair_url(pair), {"action": "undo"}, follow=True)
    assert "Nothing was changed: this pair has no decision or link to undo" in _html(response)
    assert pair_state() == before


def test_a_decision_that_contradicts_others_is_a_clear_conflict(
    personas: Personas, linked: Linked
) -> None:
    client = _client(personas.dan)
    kor_goris, goris_vayk, kor_vayk = (
        linked.trio_pair(0, 1),
        linked.trio_pair(1, 2),
        linked.trio_pair(0, 2),
    )
    client.post(_pair_url(kor_goris), {"action": "same"})
    client.post(_pair_url(goris_vayk), {"action": "same"})
    before = pair_state()

    response = client.post(_pair_url(kor_vayk), {"action": "different"}, follow=True)
    html = _html(response)
    assert "Nothing was changed" in html
    assert "confirmed as the same person" in html
    assert pair_state() == before


# --- who may see what ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "bob", "erin"])
def test_other_roles_find_no_review_pages(personas: Personas, linked: Linked, who: str) -> None:
    user = getattr(personas, who)
    pair = CandidatePair.objects.first()
    assert pair is not None
    client = _client(user)
    before = pair_state()
    for url in (QUEUE, _pair_url(pair), f"/identity/{pair.person_a.identity}/"):
        assert client.get(url).status_code == 404
    assert client.post(QUEUE, {"pair": [str(pair.pk)], "verdict": "same"}).status_code == 404
    assert client.post(_pair_url(pair), {"action": "same"}).status_code == 404
    assert client.post(_pair_url(pair), {"action": "undo"}).status_code == 404
    assert pair_state() == before
    assert ">Review<" not in _html(client.get("/registrations/" if who != "erin" else "/"))


def test_a_caseworker_finds_no_pair_outside_her_sites(personas: Personas, linked: Linked) -> None:
    other = _invisible_to_carol()
    client = _client(personas.carol)
    before = pair_state()
    unknown = client.get("/identity/pairs/999999999/")
    hidden = client.get(_pair_url(other))
    assert hidden.status_code == unknown.status_code == 404
    assert client.post(_pair_url(other), {"action": "same"}).status_code == 404
    assert client.post(_pair_url(other), {"action": "undo"}).status_code == 404
    assert client.get("/identity/pairs/99999999999999999999999/").status_code == 404
    assert pair_state() == before


def test_signing_in_is_required(linked: Linked) -> None:
    response = Client().get(QUEUE)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_menu_offers_review_to_reviewers_only(personas: Personas) -> None:
    assert f'href="{QUEUE}"' in _html(_client(personas.carol).get("/registrations/"))
    assert f'href="{QUEUE}"' in _html(_client(personas.dan).get("/registrations/"))
    assert f'href="{QUEUE}"' not in _html(_client(personas.alice).get("/registrations/"))


# --- one identity -------------------------------------------------------------------------------


def test_the_identity_page_lists_its_records_and_links(personas: Personas, linked: Linked) -> None:
    client = _client(personas.dan)
    for pair in (linked.trio_pair(0, 1), linked.trio_pair(1, 2)):
        client.post(_pair_url(pair), {"action": "same"})
    identity = Person.objects.get(pk=linked.hasmik[0].pk).identity
    html = _html(client.get(f"/identity/{identity}/"))
    for name in ("Հասմիկ", "Hasmik", "Асмик"):
        assert name in html
    assert "3 records of this identity" in html

    # Carol sees the records at her sites only (Kornidzor and Vayk, not Goris).
    html = _html(_client(personas.carol).get(f"/identity/{identity}/"))
    html = html.split("Pairs involving these records")[0]
    assert "Հասմիկ" in html
    assert "Асмик" in html
    assert "Hasmik Harutyunyan" not in html
    assert _client(personas.carol).get(f"/identity/{UUID(int=7)}/").status_code == 404
