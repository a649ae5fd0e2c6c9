"""What the review queue's JSON API reads and answers with, and the functions that build it.

Serialisers read what the selectors already loaded (both persons with their site and household),
so a page of pairs costs the same few queries however long it is.
"""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from haven.identity.forms import MAX_DECIDED, MAX_NOTE, reasons
from haven.identity.models import CandidatePair, Decision, Link
from haven.registry.api_schemas import DocumentOut, utc
from haven.registry.models import IdentityDocument, Person
from haven.registry.schemas import no_control_chars

StatusIn = Literal["pending", "linked", "confirmed", "rejected"]
BandIn = Literal["duplicate", "possible"]
LINE_BREAKS = str.maketrans("", "", "\n\r\t")


class DecisionsIn(BaseModel):
    """One verdict on one or more pairs: all of them are decided, or on any error none."""

    model_config = ConfigDict(extra="forbid")

    pairs: list[int] = Field(
        min_length=1, max_length=MAX_DECIDED, description="Ids of the pairs to decide"
    )
    verdict: Literal["same", "different"]
    note: str = Field(default="", max_length=MAX_NOTE)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        # A note may run over several lines; other control characters (NUL among them) it may
        # not hold.
        no_control_chars(value.translate(LINE_BREAKS))
        return value


class ReasonOut(BaseModel):
    field: str = Field(description="given, family, patronymic, birth_date, sex, origin, …")
    level: str = Field(description="The comparison level, e.g. same_name, day_month_swapped")
    weight: float = Field(description="log2 Bayes factor: above 0 for the match, below against")
    text: str = Field(description="The level in words, in the request's language")


class PersonBriefOut(BaseModel):
    uuid: UUID
    identity: UUID
    given_name: str
    given_name_script: str
    family_name: str
    family_name_script: str
    patronymic: str
    patronymic_script: str
    sex: str
    birth_date: str = Field(description="YYYY, YYYY-MM or YYYY-MM-DD")
    birth_date_estimated: bool
    site: str = Field(description="Site code")
    household: UUID
    registered_at: datetime


class PairOut(BaseModel):
    id: int
    person_a: PersonBriefOut
    person_b: PersonBriefOut
    match_probability: float
    match_weight: float
    band: str
    status: str
    explanation: list[ReasonOut]
    found_at: datetime
    decided_by: str | None
    decided_at: datetime | None


class PairPageOut(BaseModel):
    items: list[PairOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end"
    )


class PersonDetailOut(PersonBriefOut):
    relationship: str
    phone: str
    documents: list[DocumentOut]
    origin_settlement: str
    household_phone: str


class MemberBriefOut(BaseModel):
    uuid: UUID
    identity: UUID
    given_name: str
    family_name: str
    patronymic: str
    relationship: str
    sex: str
    birth_date: str


class DecisionOut(BaseModel):
    verdict: str
    note: str
    decided_by: str
    decided_at: datetime


class LinkOut(BaseModel):
    person: UUID
    from_identity: UUID
    to_identity: UUID
    reason: str
    pair: int | None
    run: int | None
    made_by: str | None
    made_at: datetime
    undone: bool


class PairDetailOut(PairOut):
    record_a: PersonDetailOut
    record_b: PersonDetailOut
    household_a: list[MemberBriefOut]
    household_b: list[MemberBriefOut]
    decisions: list[DecisionOut]
    links: list[LinkOut]


class DecidedOut(BaseModel):
    pairs: list[PairOut]


def person_brief(person: Person) -> PersonBriefOut:
    """Expects the person's site and household loaded."""
    return PersonBriefOut.model_validate(_brief_fields(person))


def _brief_fields(person: Person) -> dict[str, object]:
    return {
        "uuid": person.uuid,
        "identity": person.identity,
        "given_name": person.given_name,
        "given_name_script": person.given_name_script,
        "family_name": person.family_name,
        "family_name_script": person.family_name_script,
        "patronymic": person.patronymic,
        "patronymic_script": person.patronymic_script,
        "sex": person.sex,
        "birth_date": person.birth_date,
        "birth_date_estimated": person.birth_year_estimated,
        "site": person.site.code,
        "household": person.household.uuid,
        "registered_at": utc(person.household.registered_at),
    }


def _optional_utc(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment is not None else None


def _pair_fields(pair: CandidatePair) -> dict[str, object]:
    """Expects both persons with site and household, and decided_by, loaded."""
    return {
        "id": pair.pk,
        "person_a": person_brief(pair.person_a),
        "person_b": person_brief(pair.person_b),
        "match_probability": pair.match_probability,
        "match_weight": pair.match_weight,
        "band": pair.band,
        "status": pair.status,
        "explanation": [
            ReasonOut(field=r.field, level=r.level, weight=r.weight, text=r.text)
            for r in reasons(pair)
        ],
        "found_at": utc(pair.found_at),
        "decided_by": pair.decided_by.get_username() if pair.decided_by is not None else None,
        "decided_at": _optional_utc(pair.decided_at),
    }


def pair_out(pair: CandidatePair) -> PairOut:
    return PairOut.model_validate(_pair_fields(pair))


def _member(person: Person) -> MemberBriefOut:
    return MemberBriefOut(
        uuid=person.uuid,
        identity=person.identity,
        given_name=person.given_name,
        family_name=person.family_name,
        patronymic=person.patronymic,
        relationship=person.relationship,
        sex=person.sex,
        birth_date=person.birth_date,
    )


def _detail(person: Person, documents: list[IdentityDocument]) -> PersonDetailOut:
    return PersonDetailOut.model_validate(
        {
            **_brief_fields(person),
            "relationship": person.relationship,
            "phone": person.phone,
            "documents": [
                DocumentOut(kind=d.kind, number=d.number, issuing_country=d.issuing_country)
                for d in documents
            ],
            "origin_settlement": person.household.origin_settlement,
            "household_phone": person.household.phone,
        }
    )


def _decision(decision: Decision) -> DecisionOut:
    return DecisionOut(
        verdict=decision.verdict,
        note=decision.note,
        decided_by=decision.decided_by.get_username(),
        decided_at=utc(decision.decided_at),
    )


def _link(link: Link) -> LinkOut:
    return LinkOut(
        person=link.person.uuid,
        from_identity=link.from_identity,
        to_identity=link.to_identity,
        reason=link.reason,
        pair=link.pair_id,
        run=link.run_id,
        made_by=link.made_by.get_username() if link.made_by is not None else None,
        made_at=utc(link.made_at),
        undone=link.undone_by_id is not None,
    )


def pair_detail_out(
    pair: CandidatePair,
    *,
    households: tuple[list[Person], list[Person]],
    documents: dict[int, list[IdentityDocument]],
    decisions: list[Decision],
    links: list[Link],
) -> PairDetailOut:
    return PairDetailOut.model_validate(
        {
            **_pair_fields(pair),
            "record_a": _detail(pair.person_a, documents.get(pair.person_a_id, [])),
            "record_b": _detail(pair.person_b, documents.get(pair.person_b_id, [])),
            "household_a": [_member(p) for p in households[0]],
            "household_b": [_member(p) for p in households[1]],
            "decisions": [_decision(d) for d in decisions],
            "links": [_link(link) for link in links],
        }
    )
