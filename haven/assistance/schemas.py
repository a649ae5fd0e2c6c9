"""What a programme must hold, checked the same way for the pages and the command line."""

import re
import uuid as uuid_lib
from datetime import date
from typing import Self
from uuid import UUID

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from haven.assistance.models import Programme
from haven.registry.reference import specific_needs_codes

SLUG = r"^[a-z0-9][a-z0-9-]*$"


class ProgrammeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    uuid: UUID = Field(default_factory=uuid_lib.uuid4)
    code: str = Field(min_length=1, max_length=32, pattern=SLUG)
    name: str = Field(min_length=1, max_length=200)
    kind: str
    benefit: str = Field(default="", max_length=32)
    unit: str = Programme.Unit.PERSON
    amount: int = Field(ge=1, le=100_000_000)
    currency: str = Field(default="AMD", max_length=3)
    item: str = Field(default="", max_length=100)
    frequency: str = Programme.Frequency.ONCE
    periods: int = Field(default=1, ge=1, le=120)
    starts_on: date
    arrived_from: date | None = None
    arrived_until: date | None = None
    age_min: int | None = Field(default=None, ge=0, le=130)
    age_max: int | None = Field(default=None, ge=0, le=130)
    needs_any: list[str] = Field(default_factory=list, max_length=50)
    document_required: bool = False
    possible_duplicates: str = Programme.PossibleDuplicates.HOLD
    min_days_between: int = Field(default=0, ge=0, le=3650)
    max_per_day: int = Field(default=0, ge=0, le=1000)
    exclusive_group: str = Field(default="", max_length=32)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        return _one_of(value, Programme.Kind.values)

    @field_validator("unit")
    @classmethod
    def _unit(cls, value: str) -> str:
        return _one_of(value, Programme.Unit.values)

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, value: str) -> str:
        return _one_of(value, Programme.Frequency.values)

    @field_validator("possible_duplicates")
    @classmethod
    def _policy(cls, value: str) -> str:
        return _one_of(value, Programme.PossibleDuplicates.values)

    @field_validator("needs_any")
    @classmethod
    def _needs(cls, value: list[str]) -> list[str]:
        known = specific_needs_codes()
        unknown = [code for code in value if code not in known]
        if unknown:
            raise ValueError(
                _("not UNHCR specific-needs codes: %(codes)s") % {"codes": ", ".join(unknown)}
            )
        return sorted(set(value))

    @field_validator("benefit", "exclusive_group")
    @classmethod
    def _slug(cls, value: str) -> str:
        if value and not _is_slug(value):
            raise ValueError(_("only lower-case letters, digits and hyphens"))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.benefit:
            self.benefit = self.code
        if self.frequency == Programme.Frequency.ONCE and self.periods != 1:
            raise ValueError(_("periods: a programme paid once has one period"))
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError(_("age_max: is below age_min"))
        if self.arrived_from and self.arrived_until and self.arrived_from > self.arrived_until:
            raise ValueError(_("arrived_until: is before arrived_from"))
        if self.kind == Programme.Kind.CASH and not self.currency:
            raise ValueError(_("currency: a cash programme needs a currency"))
        if self.kind == Programme.Kind.IN_KIND and not self.item:
            raise ValueError(_("item: an in-kind programme names what is handed out"))
        return self


def _is_slug(value: str) -> bool:
    return re.fullmatch(SLUG, value) is not None


def _one_of(value: str, allowed: list[str]) -> str:
    if value not in allowed:
        raise ValueError(_("must be one of %(values)s") % {"values": ", ".join(allowed)})
    return value
