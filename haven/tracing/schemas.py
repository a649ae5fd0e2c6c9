"""What a tracing request must hold, checked the same way whichever door it came in by (the
caseworker's page, the public form, a PFIF import)."""

import uuid as uuid_lib
from typing import Self
from uuid import UUID

from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from haven.registry.schemas import MAX_AGE_YEARS, checked_name
from haven.tracing.search import MAX_ORIGIN_LENGTH, name_parts

MAX_RELATIVES = 10
LANGUAGES = ("hy", "ru", "en")


class TracingRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    uuid: UUID = Field(default_factory=uuid_lib.uuid4)
    sought_name: str = Field(max_length=310)
    sought_birth_year: int | None = None
    sought_age: int | None = Field(default=None, description="An approximate age, if no year")
    sought_sex: str = ""
    sought_origin: str = Field(default="", max_length=MAX_ORIGIN_LENGTH)
    sought_relatives: list[str] = Field(default_factory=list, max_length=MAX_RELATIVES)
    last_seen_place: str = Field(default="", max_length=200)
    last_seen_on: str = Field(default="", max_length=40)
    distinguishing: str = Field(default="", max_length=2000)
    searcher_person: UUID | None = None
    searcher_name: str = Field(default="", max_length=310)
    searcher_contact: str = Field(default="", max_length=200)
    searcher_language: str = ""
    consent: bool = False

    @field_validator("sought_name")
    @classmethod
    def _name(cls, value: str) -> str:
        from haven.core.errors import InvalidInput

        try:
            name_parts(value)
        except InvalidInput as invalid:
            raise ValueError(invalid.errors[0].message) from None
        return value

    @field_validator("sought_relatives")
    @classmethod
    def _relatives(cls, value: list[str]) -> list[str]:
        names = [name.strip() for name in value if name.strip()]
        for name in names:
            if len(name) > 310:
                raise ValueError(_("a relative's name must be at most 310 characters"))
            for part in name.split():
                checked_name(part)
        return names

    @field_validator("sought_sex")
    @classmethod
    def _sex(cls, value: str) -> str:
        value = value.upper()
        if value not in ("", "F", "M"):
            raise ValueError(_("must be F or M (or left empty), not %(sex)r") % {"sex": value})
        return value

    @field_validator("searcher_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if value not in ("", *LANGUAGES):
            raise ValueError(_("must be one of hy, ru, en"))
        return value

    @model_validator(mode="after")
    def _whole(self) -> Self:
        this_year = timezone.localdate().year
        if self.sought_birth_year is not None and not (
            this_year - MAX_AGE_YEARS <= self.sought_birth_year <= this_year
        ):
            raise ValueError(
                "sought_birth_year: "
                + _("%(year)s is not a possible year of birth") % {"year": self.sought_birth_year}
            )
        if self.sought_age is not None:
            if not 0 <= self.sought_age <= MAX_AGE_YEARS:
                raise ValueError(
                    "sought_age: " + _("must be from 0 to %(max)s") % {"max": MAX_AGE_YEARS}
                )
            if self.sought_birth_year is None:
                self.sought_birth_year = this_year - self.sought_age
        if not self.consent:
            raise ValueError(
                "consent: " + _("the searcher must consent to the request being recorded")
            )
        if self.searcher_person is None and not (self.searcher_name and self.searcher_contact):
            raise ValueError(
                "searcher_name: "
                + _("give the searcher's name and a way to reach them, or the registered searcher")
            )
        return self
