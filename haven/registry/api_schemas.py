"""What the registry's JSON API answers with, and the functions that build it from stored rows.

Input schemas live in `haven.registry.schemas` (shared with the desk, the importer and the
simulator); these are the outputs, plus the batch envelope as the OpenAPI document shows it.
Serialisers read what the selectors already loaded (members and documents are prefetched), so
they never query the database themselves.
"""

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from haven.core.errors import FieldError
from haven.names import detect_script
from haven.registry.models import (
    CrossingCount,
    Household,
    Person,
    PersonCorrection,
    partial_date_text,
)
from haven.registry.schemas import HouseholdIn

BatchStatus = Literal["created", "exists", "conflict", "not_found", "invalid"]


class HouseholdBatchIn(BaseModel):
    """The batch request as documented. The view checks the envelope itself and validates each
    household on its own, so that one bad household does not reject the others."""

    model_config = ConfigDict(extra="forbid")

    households: list[HouseholdIn] = Field(
        min_length=1, description="At most HAVEN_BATCH_LIMIT (1000 by default) households"
    )


class ErrorOut(BaseModel):
    detail: str


class FieldErrorOut(BaseModel):
    field: str = Field(description="Dotted path of the field, e.g. members.0.given_name")
    message: str


class ValidationErrorOut(BaseModel):
    errors: list[FieldErrorOut]


class DocumentOut(BaseModel):
    kind: str
    number: str
    issuing_country: str


class DisabilityOut(BaseModel):
    """Washington Group short set answers: 1 no difficulty … 4 cannot do at all."""

    seeing: int | None
    hearing: int | None
    walking: int | None
    remembering: int | None
    selfcare: int | None
    communicating: int | None


class MemberOut(BaseModel):
    uuid: UUID
    given_name: str
    given_name_script: str
    family_name: str
    family_name_script: str
    patronymic: str
    patronymic_script: str
    sex: str
    birth_date: str = Field(description="YYYY, YYYY-MM or YYYY-MM-DD")
    birth_date_estimated: bool = Field(description="The year was derived from an estimated age")
    relationship: str
    phone: str
    documents: list[DocumentOut]
    specific_needs: list[str]
    disability: DisabilityOut


class HouseholdOut(BaseModel):
    uuid: UUID
    site: str = Field(description="Site code")
    registered_at: datetime
    origin_settlement: str
    phone: str
    members: list[MemberOut]


class HouseholdPageOut(BaseModel):
    items: list[HouseholdOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null at the end"
    )


class CorrectionOut(BaseModel):
    uuid: UUID
    field: str
    old_value: Any
    new_value: Any
    reason: str
    corrected_at: datetime
    corrected_by: str


class PersonOut(MemberOut):
    household: UUID
    site: str
    corrections: list[CorrectionOut]


class BatchItemOut(BaseModel):
    index: int
    uuid: UUID | None = Field(description="The household uuid, when the item had a readable one")
    status: BatchStatus
    errors: list[FieldErrorOut] = Field(default_factory=list)
    message: str = ""


class BatchOut(BaseModel):
    results: list[BatchItemOut]
    created: int
    exists: int
    rejected: int


class CrossingCountOut(BaseModel):
    uuid: UUID
    site: str
    period_start: datetime
    period_end: datetime
    people: int
    vehicles: int | None
    recorded_at: datetime


def utc(moment: datetime) -> datetime:
    """Times go out in UTC, whatever offset they came in with, so a replay answers identically."""
    return moment.astimezone(UTC)


def errors_out(errors: list[FieldError]) -> list[FieldErrorOut]:
    return [FieldErrorOut(field=e.field, message=e.message) for e in errors]


def _member_fields(person: Person) -> dict[str, Any]:
    return {
        "uuid": person.uuid,
        "given_name": person.given_name,
        "given_name_script": person.given_name_script,
        "family_name": person.family_name,
        "family_name_script": person.family_name_script,
        "patronymic": person.patronymic,
        "patronymic_script": person.patronymic_script,
        "sex": person.sex,
        "birth_date": person.birth_date,
        "birth_date_estimated": person.birth_year_estimated,
        "relationship": person.relationship,
        "phone": person.phone,
        "documents": [
            DocumentOut(kind=d.kind, number=d.number, issuing_country=d.issuing_country)
            for d in person.documents.all()
        ],
        "specific_needs": list(person.specific_needs),
        "disability": DisabilityOut(
            seeing=person.wg_seeing,
            hearing=person.wg_hearing,
            walking=person.wg_walking,
            remembering=person.wg_remembering,
            selfcare=person.wg_selfcare,
            communicating=person.wg_communicating,
        ),
    }


def household_out(household: Household) -> HouseholdOut:
    """A household with its members; expects site, members and documents already loaded."""
    return HouseholdOut(
        uuid=household.uuid,
        site=household.site.code,
        registered_at=utc(household.registered_at),
        origin_settlement=household.origin_settlement,
        phone=household.phone,
        members=[MemberOut(**_member_fields(p)) for p in household.members.all()],
    )


def registered_household_out(data: HouseholdIn, household: Household) -> HouseholdOut:
    """The household just registered from `data`, as a GET of it answers, without reading it back.

    Every value is derived as the registration stored it (scripts detected, the birth date in its
    parts, an estimated age counted back from the registration date); `household` is the stored
    row with its site. tests/test_api_households.py checks this body against a GET of the record.
    """
    on = data.registered_at.date()
    members = []
    for member in data.members:
        year, month, day, estimated = member.birth_parts(on)
        disability = member.disability
        members.append(
            MemberOut(
                uuid=member.uuid,
                given_name=member.given_name,
                given_name_script=detect_script(member.given_name).value,
                family_name=member.family_name,
                family_name_script=detect_script(member.family_name).value,
                patronymic=member.patronymic,
                patronymic_script=detect_script(member.patronymic).value,
                sex=member.sex,
                birth_date=partial_date_text(year, month, day),
                birth_date_estimated=estimated,
                relationship=member.relationship,
                phone=member.phone,
                documents=[
                    DocumentOut(kind=d.kind, number=d.number, issuing_country=d.issuing_country)
                    for d in member.documents
                ],
                specific_needs=list(member.specific_needs),
                disability=DisabilityOut(
                    seeing=disability.seeing,
                    hearing=disability.hearing,
                    walking=disability.walking,
                    remembering=disability.remembering,
                    selfcare=disability.selfcare,
                    communicating=disability.communicating,
                ),
            )
        )
    return HouseholdOut(
        uuid=household.uuid,
        site=household.site.code,
        registered_at=utc(household.registered_at),
        origin_settlement=household.origin_settlement,
        phone=household.phone,
        members=members,
    )


def _correction_out(correction: PersonCorrection) -> CorrectionOut:
    return CorrectionOut(
        uuid=correction.uuid,
        field=correction.field,
        old_value=correction.old_value,
        new_value=correction.new_value,
        reason=correction.reason,
        corrected_at=utc(correction.corrected_at),
        corrected_by=correction.corrected_by.get_username(),
    )


def person_out(person: Person) -> PersonOut:
    """One person; expects household, site, documents and corrections already loaded."""
    return PersonOut(
        **_member_fields(person),
        household=person.household.uuid,
        site=person.site.code,
        corrections=[_correction_out(c) for c in person.corrections.all()],
    )


def crossing_count_out(count: CrossingCount) -> CrossingCountOut:
    return CrossingCountOut(
        uuid=count.uuid,
        site=count.site.code,
        period_start=utc(count.period_start),
        period_end=utc(count.period_end),
        people=count.people,
        vehicles=count.vehicles,
        recorded_at=utc(count.recorded_at),
    )
