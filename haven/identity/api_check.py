"""The desk-time check as an API: POST /api/identity/check with one person as they are being
typed; the answer is who is already registered, at any site, who may be the same person, with the
probability and the reasons in words.

It writes nothing but the audit rows of the candidates it shows (`check.find_candidates` writes
them). A desk calls it whenever a member's names or birth date change, so it stays a handful of
indexed queries. What a candidate shows depends on the caller: everyone sees what tells two people
apart (names as typed, birth date, sex, site, when registered); phone and documents only a caller
who may read that site's full records, never a registrar.
"""

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from haven.core.auth import request_user
from haven.core.errors import NotFound
from haven.core.models import User
from haven.core.selectors import sees_personal_data, sites_with_personal_data
from haven.identity.check import Candidate, current_weights, find_candidates
from haven.identity.reasons import reason_text
from haven.registry import api as registry_api
from haven.registry.api_schemas import DocumentOut, ErrorOut, ValidationErrorOut
from haven.registry.models import IdentityDocument
from haven.registry.schemas import (
    MAX_AGE_YEARS,
    Member,
    birth_date_problem,
    checked_birth_date,
    checked_name,
    no_control_chars,
    normalise_phone,
)

router = Router(tags=["identity"])

MAX_CANDIDATES = 5


class CheckIn(BaseModel):
    """One person as typed at the desk: the registration's member fields that identify someone."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    given_name: str = Field(max_length=100)
    family_name: str = Field(max_length=100)
    patronymic: str = Field(default="", max_length=100)
    sex: Literal["F", "M"]
    birth_date: str | None = Field(
        default=None, description="YYYY, YYYY-MM or YYYY-MM-DD; or give estimated_age"
    )
    estimated_age: int | None = Field(default=None, ge=0, le=MAX_AGE_YEARS)
    origin_settlement: str = Field(default="", max_length=100)
    phone: str = ""
    documents: list[str] = Field(
        default_factory=list, max_length=10, description="Document numbers"
    )

    @field_validator("given_name", "family_name")
    @classmethod
    def _required_name(cls, value: str) -> str:
        # The registration's own rule: a name it would refuse is not looked up either.
        return checked_name(value)

    @field_validator("patronymic")
    @classmethod
    def _optional_name(cls, value: str) -> str:
        return checked_name(value) if value else value

    @field_validator("birth_date")
    @classmethod
    def _birth_date(cls, value: str | None) -> str | None:
        return checked_birth_date(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value)

    @field_validator("origin_settlement")
    @classmethod
    def _origin(cls, value: str) -> str:
        return no_control_chars(value)

    @field_validator("documents")
    @classmethod
    def _documents(cls, value: list[str]) -> list[str]:
        for number in value:
            no_control_chars(number)
            if len(number.strip()) > 40:
                raise ValueError(_("a document number has at most 40 characters"))
        return [number.strip().upper() for number in value if number.strip()]

    @model_validator(mode="after")
    def _birth(self) -> "CheckIn":
        if self.birth_date is None and self.estimated_age is None:
            # Member's words: one translation serves the registration and the check.
            raise ValueError(
                "birth_date: "
                + _("give a date of birth (YYYY, YYYY-MM or YYYY-MM-DD) or an estimated age")
            )
        problem = birth_date_problem(self.as_member(), timezone.localdate())
        if problem:
            raise ValueError(f"birth_date: {problem}")
        return self

    def as_member(self) -> Member:
        """This person as a registration's member (fields validated above), so that the
        registration's rules on dates of birth apply to the check unchanged."""
        return Member.model_construct(
            uuid=UUID(int=0),  # nobody yet: the check registers no one
            relationship="other",
            given_name=self.given_name,
            family_name=self.family_name,
            patronymic=self.patronymic,
            sex=self.sex,
            birth_date=self.birth_date,
            estimated_age=self.estimated_age,
        )


class SiteOut(BaseModel):
    code: str
    name: str


class ReasonOut(BaseModel):
    field: str = Field(description="The comparison: given, family, patronymic, birth_date, …")
    level: str = Field(description="How the two agree, e.g. same_name, one_typo, same_date")
    weight: float = Field(description="log2 Bayes factor: positive for, negative against")
    scripts: list[str] = Field(
        description="For names: the alphabets of the name checked and of the one registered"
    )
    text: str = Field(description="The reason in words, in the caller's language")


class CandidateOut(BaseModel):
    person_uuid: UUID
    household_uuid: UUID
    site: SiteOut
    registered_at: datetime
    given_name: str
    family_name: str
    patronymic: str
    sex: str
    birth_date: str = Field(description="YYYY, YYYY-MM or YYYY-MM-DD")
    birth_date_estimated: bool
    probability: float = Field(description="0 to 1: the trained model's probability")
    match_weight: float
    reasons: list[ReasonOut]
    phone: str | None = Field(
        default=None, description="Only for a caller who may read this site's full records"
    )
    documents: list[DocumentOut] | None = Field(
        default=None, description="Only for a caller who may read this site's full records"
    )

    def agreeing(self) -> list[ReasonOut]:
        return [r for r in self.reasons if r.weight > 0]

    def differing(self) -> list[ReasonOut]:
        return [r for r in self.reasons if r.weight <= 0]


class CheckOut(BaseModel):
    model: str = Field(description="The linkage model that scored: v<N>, or starter")
    threshold: float
    candidates: list[CandidateOut]


def candidate_out(candidate: Candidate, *, documents: list[DocumentOut] | None) -> CandidateOut:
    """One candidate as the API shows it; `documents` None for a caller who may not see the
    record's phone and documents."""
    person = candidate.person
    household = person.household
    return CandidateOut(
        person_uuid=person.uuid,
        household_uuid=household.uuid,
        site=SiteOut(code=person.site.code, name=person.site.name),
        registered_at=household.registered_at,
        given_name=person.given_name,
        family_name=person.family_name,
        patronymic=person.patronymic,
        sex=person.sex,
        birth_date=person.birth_date,
        birth_date_estimated=person.birth_year_estimated,
        probability=round(candidate.probability, 4),
        match_weight=round(candidate.match_weight, 2),
        reasons=[
            ReasonOut(
                field=r.field,
                level=r.level,
                weight=r.weight,
                scripts=list(r.scripts),
                text=reason_text(r.field, r.level, r.scripts),
            )
            for r in candidate.reasons
        ],
        phone=person.phone if documents is not None else None,
        documents=documents,
    )


def run_check(user: User, data: CheckIn, *, on: date | None = None) -> list[Candidate]:
    on = on or timezone.localdate()
    year, month, day, estimated = data.as_member().birth_parts(on)
    return find_candidates(
        user=user,
        given_name=data.given_name,
        family_name=data.family_name,
        patronymic=data.patronymic,
        sex=data.sex,
        birth_year=year,
        birth_month=month,
        birth_day=day,
        birth_estimated=estimated,
        registered_year=on.year,
        origin=data.origin_settlement,
        phone=data.phone,
        documents=data.documents,
        limit=MAX_CANDIDATES,
    )


def _full_records_of(user: User, candidates: list[Candidate]) -> set[int]:
    """Candidates whose phone and documents this caller may see: never a registrar's (the check
    reaches every site, a registrar's own included, and tells people apart without them)."""
    if user.role == User.Role.REGISTRAR:
        return set()
    visible = set(sites_with_personal_data(user).values_list("pk", flat=True))
    return {c.person.pk for c in candidates if c.person.site_id in visible}


def candidates_out(user: User, candidates: list[Candidate]) -> list[CandidateOut]:
    full = _full_records_of(user, candidates)
    documents: dict[int, list[DocumentOut]] = {pk: [] for pk in full}
    if full:
        for document in IdentityDocument.objects.filter(person_id__in=full).order_by("id"):
            documents[document.person_id].append(
                DocumentOut(
                    kind=document.kind,
                    number=document.number,
                    issuing_country=document.issuing_country,
                )
            )
    return [
        candidate_out(c, documents=documents.get(c.person.pk) if c.person.pk in full else None)
        for c in candidates
    ]


@router.post(
    "/identity/check",
    response={200: CheckOut, 404: ErrorOut, 422: ValidationErrorOut},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CheckIn.model_json_schema()}},
        }
    },
    url_name="identity_check",
    summary="Who may this person already be? (the desk-time check)",
    description="People registered at any site who may be the person being typed, most probable"
    " first, with the reasons. Writes nothing but an audit row per candidate shown.",
)
def identity_check(request: HttpRequest) -> CheckOut:
    user = request_user(request)
    if not sees_personal_data(user):
        # Partner analysts see aggregates only: for them this operation does not exist.
        raise NotFound("person", "")
    data = registry_api.parse_body(request, CheckIn)
    candidates = run_check(user, data)
    return CheckOut(
        model=current_weights().version,
        threshold=settings.HAVEN_IDENTITY_POSSIBLE,
        candidates=candidates_out(user, candidates),
    )
