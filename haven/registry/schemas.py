"""The registration payload: one household with its members, as the API, the desk page, the
importer and the simulator all send it. Validation lives here, once, and every error names a field.
"""

import calendar
import functools
import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from haven.core.errors import FieldError
from haven.names import name_problem
from haven.registry.reference import specific_needs_codes

MAX_AGE_YEARS = 120
CLOCK_SKEW = timedelta(minutes=10)

_BIRTH_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()\-.]{6,30}$")
_DOCUMENT_NUMBER = re.compile(r"^[0-9A-Za-z\-/ ]{2,40}$")
_NOT_DIGITS = re.compile(r"[^0-9]")


def _no_control_chars(value: str, *, what: str) -> str:
    for char in value:
        if ord(char) < 32 or ord(char) == 127 or 0x80 <= ord(char) < 0xA0:
            raise ValueError(f"{what} contains a control character (U+{ord(char):04X})")
    return value


def normalise_phone(value: str) -> str:
    """Digits with an optional leading +, or a ValueError that says what is wrong."""
    value = value.strip()
    if not value:
        return ""
    if not _PHONE_CHARS.match(value):
        raise ValueError("must be a phone number: digits, optionally a leading + and spaces")
    digits = _NOT_DIGITS.sub("", value)
    if not 6 <= len(digits) <= 15:
        raise ValueError(f"must have 6 to 15 digits (it has {len(digits)})")
    return ("+" if value.startswith("+") else "") + digits


# Validation, the household rules and the insert each need a member's birth date as parts: the
# cache makes that one parse per value (it holds the few recent ones; errors are not cached).
@functools.lru_cache(maxsize=4096)
def parse_birth_date(value: str) -> tuple[int, int | None, int | None]:
    match = _BIRTH_DATE.match(value.strip())
    if not match:
        raise ValueError("must be YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else None
    day = int(match.group(3)) if match.group(3) else None
    if month is not None and not 1 <= month <= 12:
        raise ValueError(f"has month {month}, which does not exist")
    if day is not None and month is not None:
        last = calendar.monthrange(year, month)[1] if year >= 1 else 31
        if not 1 <= day <= last:
            raise ValueError(f"has day {day}, but {year:04d}-{month:02d} has {last} days")
    return year, month, day


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Literal["passport", "id_card", "birth_certificate", "nk_passport", "social_card", "other"]
    number: str = Field(min_length=2, max_length=40)
    issuing_country: str = Field(default="", max_length=3)

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        if not _DOCUMENT_NUMBER.match(value):
            raise ValueError("may hold only Latin letters, digits, spaces, - and /")
        return value.upper()

    @field_validator("issuing_country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z]{3}", value):
            raise ValueError("must be a three-letter ISO 3166 code such as ARM")
        return value.upper()


WgAnswer = Annotated[int, Field(ge=1, le=4)]


class Disability(BaseModel):
    """Washington Group short set answers: 1 no difficulty … 4 cannot do at all."""

    model_config = ConfigDict(extra="forbid")

    seeing: WgAnswer | None = None
    hearing: WgAnswer | None = None
    walking: WgAnswer | None = None
    remembering: WgAnswer | None = None
    selfcare: WgAnswer | None = None
    communicating: WgAnswer | None = None


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    uuid: UUID
    given_name: str
    family_name: str
    patronymic: str = ""
    sex: Literal["F", "M"]
    birth_date: str | None = Field(
        default=None, description="YYYY, YYYY-MM or YYYY-MM-DD; or give estimated_age"
    )
    estimated_age: int | None = Field(default=None, ge=0, le=MAX_AGE_YEARS)
    relationship: Literal["head", "spouse", "child", "parent", "sibling", "grandchild", "other"]
    phone: str = ""
    documents: list[Document] = Field(default_factory=list, max_length=10)
    specific_needs: list[str] = Field(default_factory=list, max_length=30)
    disability: Disability = Field(default_factory=Disability)

    @field_validator("given_name", "family_name")
    @classmethod
    def _required_name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("patronymic")
    @classmethod
    def _optional_name(cls, value: str) -> str:
        if value == "":
            return value
        problem = name_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("birth_date")
    @classmethod
    def _birth_date_format(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        parse_birth_date(value)
        return value.strip()

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value)

    @field_validator("specific_needs")
    @classmethod
    def _needs(cls, value: list[str]) -> list[str]:
        known = specific_needs_codes()
        codes = [code.strip().upper() for code in value if code.strip()]
        unknown = [code for code in codes if code not in known]
        if unknown:
            raise ValueError(f"unknown UNHCR specific-needs code(s): {', '.join(unknown)}")
        return sorted(set(codes))

    @model_validator(mode="after")
    def _birth_or_age(self) -> "Member":
        if self.birth_date is None and self.estimated_age is None:
            raise ValueError(
                "birth_date: give a date of birth (YYYY, YYYY-MM or YYYY-MM-DD) or an estimated_age"
            )
        return self

    def birth_parts(self, on: date) -> tuple[int, int | None, int | None, bool]:
        """(year, month, day, estimated) of birth, with an estimated age counted back from `on`."""
        if self.birth_date is not None:
            year, month, day = parse_birth_date(self.birth_date)
            return year, month, day, False
        assert self.estimated_age is not None  # noqa: S101 - guaranteed by _birth_or_age
        return on.year - self.estimated_age, None, None, True


def birth_date_problem(member: Member, on: date) -> str | None:
    """Why a member's date of birth is impossible for a registration made on `on`; None if fine."""
    year, month, day, _ = member.birth_parts(on)
    earliest = (year, month or 1, day or 1)
    if member.birth_date is not None and earliest > (on.year, on.month, on.day):
        return f"{member.birth_date} is after the registration ({on.isoformat()})"
    if on.year - year > MAX_AGE_YEARS:
        return f"more than {MAX_AGE_YEARS} years before the registration"
    return None


class HouseholdIn(BaseModel):
    """One household as registered: the field names are Haven's JSON Lines import format too."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    uuid: UUID
    site: str = Field(min_length=1, max_length=32, description="Site code")
    registered_at: AwareDatetime = Field(description="ISO 8601 with a UTC offset")
    origin_settlement: str = Field(default="", max_length=100)
    phone: str = ""
    members: list[Member] = Field(max_length=40)

    @field_validator("origin_settlement")
    @classmethod
    def _origin(cls, value: str) -> str:
        return _no_control_chars(value, what="the settlement")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value)

    @field_validator("registered_at")
    @classmethod
    def _not_future(cls, value: datetime) -> datetime:
        if value > datetime.now(UTC) + CLOCK_SKEW:
            raise ValueError("is in the future")
        return value

    @model_validator(mode="after")
    def _household_rules(self) -> "HouseholdIn":
        if not self.members:
            raise ValueError("members: a household needs at least one member")
        heads = sum(1 for m in self.members if m.relationship == "head")
        if heads != 1:
            raise ValueError(f"members: a household has exactly one head (this one has {heads})")
        seen: set[UUID] = set()
        for member in self.members:
            if member.uuid in seen:
                raise ValueError(f"members: the uuid {member.uuid} is given to two members")
            seen.add(member.uuid)
        on = self.registered_at.date()
        for index, member in enumerate(self.members):
            problem = birth_date_problem(member, on)
            if problem:
                raise ValueError(f"members.{index}.birth_date: {problem}")
        return self

    def digest(self) -> str:
        """A stable hash of the payload, to tell a retry (same) from a reused UUID (different).

        The model's JSON lists fields in the model's order, whatever order the input gave them
        in, so it is canonical as it is.
        """
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class CrossingCountIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    uuid: UUID
    site: str = Field(min_length=1, max_length=32)
    period_start: AwareDatetime
    period_end: AwareDatetime
    people: int = Field(ge=0, le=1_000_000)
    vehicles: int | None = Field(default=None, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _period(self) -> "CrossingCountIn":
        if self.period_end <= self.period_start:
            raise ValueError("period_end: must be after period_start")
        if self.period_end > datetime.now(UTC) + CLOCK_SKEW:
            raise ValueError("period_end: is in the future")
        if self.period_end - self.period_start > timedelta(days=7):
            raise ValueError("period_end: a counting period is at most 7 days long")
        return self

    def digest(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors as (field path, message) pairs fit to show beside a form field.

    Model-level rules put the field path at the start of their message ("members.2.birth_date: …")
    because pydantic gives them no location of their own.
    """
    errors = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"])
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if ": " in message:
            prefix, rest = message.split(": ", 1)
            if re.fullmatch(r"[a-z_]+(\.\d+\.[a-z_]+)?", prefix):
                loc = f"{loc}.{prefix}" if loc else prefix
                message = rest
        errors.append(FieldError(field=loc or "__all__", message=message))
    return errors


def parse_household(data: Any) -> HouseholdIn:
    """Validate a decoded JSON object as a household; raises pydantic's ValidationError."""
    return HouseholdIn.model_validate(data)
