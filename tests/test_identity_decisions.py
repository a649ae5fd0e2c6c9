"""Caseworkers' decisions on candidate pairs (haven.identity.actions): merge, split, undo, scope.

The pairs are what a batch run stores: a run row, the model it used (the starter model) and the
candidate pairs; the automatic links are made by the batch's own clustering writer.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from haven.core.errors import Conflict, InvalidInput, NotFound
from haven.core.models import AuditEvent, User
from haven.identity import batch
from haven.identity.actions import decide_pairs, undo_decision
from haven.identity.models import CandidatePair, Decision, Link, LinkageRun
from haven.registry.actions import register_household
from haven.registry.models import Person
from haven.registry.schemas import HouseholdIn
from tests import factories
from tests.conftest import Personas

STARTER = Path(__file__).resolve().parent.parent / "haven/identity/data/starter_model.json"
Status = CandidatePair.Status


class Registry:
    """Five records: a, b, c one woman at Kornidzor, Goris and Vayk; d, e a man twice at Goris."""

    def __init__(self, personas: Personas) -> None:
        self.personas = personas
        self.people: dict[str, Person] = {}
        woman = [("a", "KOR", "Հասմիկ", "Հարությունյան"), ("b", "GORIS", "Hasmik", "Harutyunyan")]
        woman.append(("c", "VAYK", "Асмик", "Арутюнян"))
        man = [("d", "GORIS", "Aram", "Petrosyan"), ("e", "GORIS", "Арам", "Петросян")]
        for label, site, given, family in [*woman, *man]:
            payload = factories.household(
                site,
                size=1,
                members=[factories.member(given_name=given, family_name=family)],
            )
            household, _ = register_household(
                data=HouseholdIn.model_validate(payload), acting_user=personas.dan
            )
            self.people[label] = household.members.get()
        starter = json.loads(STARTER.read_text(encoding="utf-8"))
        self.model = batch.save_model(starter, records=0, labels=0, user=None)
        self.run = LinkageRun.objects.create(started_at=timezone.now(), model=self.model)
        self.pairs: dict[str, CandidatePair] = {}

    def pair(self, labels: str, status: str, probability: float = 0.995) -> CandidatePair:
        a, b = sorted((self.people[labels[0]], self.people[labels[1]]), key=lambda p: p.pk)
        band = CandidatePair.Band.DUPLICATE if probability >= 0.99 else CandidatePair.Band.POSSIBLE
        pair = CandidatePair.objects.create(
            person_a=a,
            person_b=b,
            match_weight=10.0,
            match_probability=probability,
            band=band,
            status=status,
            explanation=[{"field": "given", "level": "same_name", "weight": 5.0}],
            model=self.model,
            run=self.run,
            found_at=timezone.now(),
        )
        self.pairs[labels] = pair
        return pair

    def link_automatically(self, *groups: str) -> None:
        """What a batch run does with its clusters."""
        clusters = [[self.people[label].pk for label in group] for group in groups]
        batch._link_clusters(clusters, run=self.run, user=None)

    def identity(self, label: str) -> Any:
        return Person.objects.get(pk=self.people[label].pk).identity

    def same(self, *labels: str) -> bool:
        return len({self.identity(label) for label in labels}) == 1

    def snapshot(self) -> tuple[Any, ...]:
        return (
            sorted(Person.objects.values_list("id", "identity")),
            sorted(CandidatePair.objects.values_list("id", "status")),
            Decision.objects.count(),
            Link.objects.count(),
            AuditEvent.objects.filter(action__startswith="identity.").count(),
        )


@pytest.fixture
def registry(personas: Personas, settings: Any, tmp_path: Path) -> Registry:
    settings.VAR_DIR = tmp_path
    return Registry(personas)


def test_same_merges_identities_with_links_and_a_label(registry: Registry) -> None:
    dan = registry.personas.dan
    pair = registry.pair("de", Status.PENDING, 0.8)
    d, e = registry.people["d"], registry.people["e"]
    assert not registry.same("d", "e")
    (decided,) = decide_pairs(
        pair_ids=[pair.pk], verdict="same", note="same passport", acting_user=dan
    )
    assert decided.status == Status.CONFIRMED
    assert decided.decided_by == dan
    assert registry.identity("d") == registry.identity("e") == d.uuid  # the earlier record's
    link = Link.objects.get()
    assert (link.person_id, link.from_identity, link.to_identity) == (e.pk, e.uuid, d.uuid)
    assert link.reason == Link.Reason.DECISION
    assert link.pair == pair
    assert link.made_by == dan
    label = Decision.objects.get()
    assert (label.pair, label.verdict, label.note, label.decided_by) == (
        pair,
        "same",
        "same passport",
        dan,
    )
    event = AuditEvent.objects.get(action="identity.decide_same")
    assert event.user == dan
    assert event.object_uuid == d.uuid
    assert event.detail["pair"] == pair.pk
    assert event.detail["moved"] == 1

    # Undone: each record has its own identity again, and the pair waits for a decision.
    undone = undo_decision(pair_id=pair.pk, acting_user=dan)
    assert undone.status == Status.PENDING
    assert registry.identity("d") == d.uuid
    assert registry.identity("e") == e.uuid
    back = Link.objects.get(reason=Link.Reason.UNDO)
    assert (back.person_id, back.from_identity, back.to_identity) == (e.pk, d.uuid, e.uuid)
    assert AuditEvent.objects.get(action="identity.undo").detail["was"] == Status.CONFIRMED
    assert Decision.objects.count() == 1  # the decision stays as history


def test_different_splits_an_automatic_link(registry: Registry) -> None:
    dan = registry.personas.dan
    registry.pair("ab", Status.LINKED)
    registry.pair("bc", Status.LINKED)
    registry.link_automatically("abc")
    assert registry.same("a", "b", "c")
    assert Link.objects.filter(reason=Link.Reason.MODEL).count() == 2

    decide_pairs(pair_ids=[registry.pairs["ab"].pk], verdict="different", acting_user=dan)
    assert not registry.same("a", "b")
    assert registry.same("b", "c")  # still held by their own link
    undo_links = Link.objects.filter(reason=Link.Reason.UNDO)
    assert undo_links.exists()
    assert all(link.pair == registry.pairs["ab"] for link in undo_links)
    registry.pairs["ab"].refresh_from_db()
    assert registry.pairs["ab"].status == Status.REJECTED
    assert Decision.objects.get().verdict == "different"
    assert AuditEvent.objects.filter(action="identity.decide_different").count() == 1

    # Undoing the rejection puts the pair back in the queue.
    undone = undo_decision(pair_id=registry.pairs["ab"].pk, acting_user=dan)
    assert undone.status == Status.PENDING
    assert registry.same("b", "c")


def test_a_rejected_pair_still_joined_by_confirmed_pairs_is_a_conflict(registry: Registry) -> None:
    dan = registry.personas.dan
    ab = registry.pair("ab", Status.PENDING, 0.9)
    bc = registry.pair("bc", Status.PENDING, 0.9)
    ac = registry.pair("ac", Status.PENDING, 0.9)
    decide_pairs(pair_ids=[ab.pk, bc.pk], verdict="same", acting_user=dan)
    assert registry.same("a", "b", "c")
    before = registry.snapshot()
    with pytest.raises(Conflict, match="undo one of those decisions"):
        decide_pairs(pair_ids=[ac.pk], verdict="different", acting_user=dan)
    assert registry.snapshot() == before
    ac.refresh_from_db()
    assert ac.status == Status.PENDING


def test_confirming_a_pair_never_joins_a_rejected_pair(registry: Registry) -> None:
    """a and c were judged different people; confirming a~b and then b~c would put them in one
    identity, so the second confirmation is a contradiction to resolve first."""
    dan = registry.personas.dan
    ab = registry.pair("ab", Status.PENDING, 0.9)
    bc = registry.pair("bc", Status.PENDING, 0.9)
    ac = registry.pair("ac", Status.PENDING, 0.9)
    decide_pairs(pair_ids=[ac.pk], verdict="different", acting_user=dan)
    decide_pairs(pair_ids=[ab.pk], verdict="same", acting_user=dan)
    before = registry.snapshot()
    with pytest.raises(Conflict):
        decide_pairs(pair_ids=[bc.pk], verdict="same", acting_user=dan)
    assert registry.snapshot() == before
    assert not registry.same("a", "c")


def test_many_pairs_at_once_are_all_or_nothing(registry: Registry) -> None:
    dan = registry.personas.dan
    de = registry.pair("de", Status.PENDING, 0.8)
    ab = registry.pair("ab", Status.PENDING, 0.8)
    before = registry.snapshot()
    with pytest.raises(NotFound):
        decide_pairs(pair_ids=[de.pk, ab.pk, 999_999], verdict="same", acting_user=dan)
    assert registry.snapshot() == before
    decided = decide_pairs(pair_ids=[de.pk, ab.pk], verdict="same", acting_user=dan)
    assert [p.status for p in decided] == [Status.CONFIRMED, Status.CONFIRMED]
    assert registry.same("d", "e")
    assert registry.same("a", "b")
    assert AuditEvent.objects.filter(action="identity.decide_same").count() == 2


def test_a_caseworker_decides_only_pairs_touching_their_sites(registry: Registry) -> None:
    carol = registry.personas.carol  # Kornidzor and Vayk
    goris_only = registry.pair("de", Status.PENDING, 0.8)
    kor_and_goris = registry.pair("ab", Status.PENDING, 0.8)
    before = registry.snapshot()
    with pytest.raises(NotFound):
        decide_pairs(pair_ids=[goris_only.pk], verdict="same", acting_user=carol)
    # One pair out of reach spoils the whole request.
    with pytest.raises(NotFound):
        decide_pairs(pair_ids=[kor_and_goris.pk, goris_only.pk], verdict="same", acting_user=carol)
    assert registry.snapshot() == before
    decide_pairs(pair_ids=[kor_and_goris.pk], verdict="same", acting_user=carol)
    assert registry.same("a", "b")
    with pytest.raises(NotFound):
        undo_decision(pair_id=goris_only.pk, acting_user=carol)


@pytest.mark.parametrize("who", ["alice", "bob", "erin"])
def test_registrars_and_analysts_cannot_decide_at_all(registry: Registry, who: str) -> None:
    user: User = getattr(registry.personas, who)
    pair = registry.pair("ab", Status.PENDING, 0.8)
    linked = registry.pair("bc", Status.LINKED)
    registry.link_automatically("bc")
    before = registry.snapshot()
    with pytest.raises(NotFound):
        decide_pairs(pair_ids=[pair.pk], verdict="same", acting_user=user)
    with pytest.raises(NotFound):
        undo_decision(pair_id=linked.pk, acting_user=user)
    assert registry.snapshot() == before


def test_bad_requests_are_refused_and_change_nothing(registry: Registry) -> None:
    dan = registry.personas.dan
    pair = registry.pair("de", Status.PENDING, 0.8)
    before = registry.snapshot()
    with pytest.raises(InvalidInput, match="verdict"):
        decide_pairs(pair_ids=[pair.pk], verdict="maybe", acting_user=dan)
    with pytest.raises(InvalidInput, match="pairs"):
        decide_pairs(pair_ids=[], verdict="same", acting_user=dan)
    with pytest.raises(InvalidInput, match="note"):
        decide_pairs(pair_ids=[pair.pk], verdict="same", note="x" * 501, acting_user=dan)
    with pytest.raises(Conflict):
        undo_decision(pair_id=pair.pk, acting_user=dan)  # nothing to undo
    with pytest.raises(NotFound):
        undo_decision(pair_id=999_999, acting_user=dan)
    assert registry.snapshot() == before
