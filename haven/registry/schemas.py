"""The registration payload: one household with its members, as the API, the desk page, the
importer and the simulator all send it. Validation lives here, once, and every error names a field.
"""

import calendar
import functools
import hashlib
import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from haven.core.errors import FieldError, InvalidInput
from haven.names import name_problem
from haven.registry.reference import specific_needs_codes

MAX_AGE_YEARS = 120
CLOCK_SKEW = timedelta(minutes=10)

# haven.names is pure Python and speaks English; these are its sentences for the catalogues,
# keyed by NameProblem code, with the same %(name)s placeholders (a test keeps them in step).
NAME_PROBLEMS = {
    "too_long": gettext_lazy("must be at most %(max)s characters (it has %(length)s)"),
    "empty": gettext_lazy("must not be empty"),
    "control": gettext_lazy("contains a control or invisible character (%(codepoint)s)"),
    "not_letter": gettext_lazy(
        "contains %(char)s, which is not a letter of the Armenian, Cyrillic or Latin alphabet"
    ),
    "no_letter": gettext_lazy("must contain at least one letter"),
    "mixed": gettext_lazy(
        "mixes alphabets (Armenian, Cyrillic, Latin) in one name; type it in one alphabet"
    ),
}

# Pydantic's own errors, by type, in words a registrar reads (and translated); a type not listed
# keeps pydantic's English message.
_PYDANTIC_MESSAGES = {
    "missing": gettext_lazy("is required"),
    "string_too_long": gettext_lazy("must be at most %(max_length)s characters"),
    "too_long": gettext_lazy("may hold at most %(max_length)s items"),
    "literal_error": gettext_lazy("must be one of %(expected)s"),
    "uuid_parsing": gettext_lazy("must be a UUID, e.g. 3f1c7a52-0d55-4b8e-9a57-1f4a0c2d9e10"),
    "uuid_type": gettext_lazy("must be a UUID, e.g. 3f1c7a52-0d55-4b8e-9a57-1f4a0c2d9e10"),
    "int_parsing": gettext_lazy("must be a whole number"),
    "int_type": gettext_lazy("must be a whole number"),
    "int_from_float": gettext_lazy("must be a whole number"),
    "greater_than_equal": gettext_lazy("must be at least %(ge)s"),
    "less_than_equal": gettext_lazy("must be at most %(le)s"),
    "extra_forbidden": gettext_lazy("is not a field Haven knows; check its spelling"),
    "timezone_aware": gettext_lazy("must carry a UTC offset, e.g. 2023-09-26T08:00:00+04:00"),
    "datetime_parsing": gettext_lazy(
        "must be a date and time in ISO 8601, e.g. 2023-09-26T08:00:00+04:00"
    ),
    "datetime_from_date_parsing": gettext_lazy(
        "must be a date and time in ISO 8601, e.g. 2023-09-26T08:00:00+04:00"
    ),
    "datetime_type": gettext_lazy(
        "must be a date and time in ISO 8601, e.g. 2023-09-26T08:00:00+04:00"
    ),
    "list_type": gettext_lazy("must be a list"),
    "model_type": gettext_lazy("must be an object"),
    "dict_type": gettext_lazy("must be an object"),
    "string_type": gettext_lazy("must be text"),
}


def _pydantic_message(error: Any) -> str:
    error_type = str(error["type"])
    ctx = dict(error.get("ctx") or {})
    if error_type == "literal_error":
        # pydantic joins the choices with an English "or": a comma reads in every language.
        ctx["expected"] = str(ctx.get("expected", "")).replace(" or ", ", ")
    if error_type == "string_too_short" and ctx.get("min_length") == 1:
        return str(NAME_PROBLEMS["empty"])
    template = _PYDANTIC_MESSAGES.get(error_type)
    if template is None:
        return str(error["msg"])
    try:
        return str(template) % ctx if "%(" in str(template) else str(template)
    except (KeyError, TypeError, ValueError):
        return str(error["msg"])


_BIRTH_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()\-.]{6,30}$")
_DOCUMENT_NUMBER = re.compile(r"^[0-9A-Za-z\-/ ]{2,40}$")
_NOT_DIGITS = re.compile(r"[^0-9]")


def no_control_chars(value: str) -> str:
    """`value`, or ValueError naming its first control character (NUL among them: PostgreSQL's
    text cannot hold it, and no code, name or note needs one)."""
    for char in value:
        if ord(char) < 32 or ord(char) == 127 or 0x80 <= ord(char) < 0xA0:
            raise ValueError(_("contains a control character (U+%(code)04X)") % {"code": ord(char)})
    return value


def normalise_phone(value: str) -> str:
    """Digits with an optional leading +, or a ValueError that says what is wrong."""
    value = value.strip()
    if not value:
        return ""
    if not _PHONE_CHARS.match(value):
        raise ValueError(_("must be a phone number: digits, optionally a leading + and spaces"))
    digits = _NOT_DIGITS.sub("", value)
    if not 6 <= len(digits) <= 15:
        raise ValueError(_("must have 6 to 15 digits (it has %(count)d)") % {"count": len(digits)})
    return ("+" if value.startswith("+") else "") + digits


# Validation, the household rules and the insert each need a member's birth date as parts: the
# cache makes that one parse per value (it holds the few recent ones; errors are not cached).
@functools.lru_cache(maxsize=4096)
def parse_birth_date(value: str) -> tuple[int, int | None, int | None]:
    match = _BIRTH_DATE.match(value.strip())
    if not match:
        raise ValueError(_("must be YYYY, YYYY-MM or YYYY-MM-DD"))
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else None
    day = int(match.group(3)) if match.group(3) else None
    if month is not None and not 1 <= month <= 12:
        raise ValueError(_("has month %(month)d, which does not exist") % {"month": month})
    if day is not None and month is not None:
        last = calendar.monthrange(year, month)[1] if year >= 1 else 31
        if not 1 <= day <= last:
            raise ValueError(
                _("has day %(day)d, but %(year)04d-%(month)02d has %(last)d days")
                % {"day": day, "year": year, "month": month, "last": last}
            )
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
            raise ValueError(_("may hold only Latin letters, digits, spaces, - and /"))
        return value.upper()

    @field_validator("issuing_country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z]{3}", value):
            raise ValueError(_("must be a three-letter ISO 3166 code such as ARM"))
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


def checked_name(value: str) -> str:
    """A name as typed, or ValueError saying why it cannot be a name (shared by every schema
    that takes a name: registration, the desk check)."""
    problem = name_problem(value)
    if problem:
        raise ValueError(problem.render(str(NAME_PROBLEMS[problem.code])))
    return value


def checked_birth_date(value: str | None) -> str | None:
    """A partial date of birth as typed (YYYY, YYYY-MM, YYYY-MM-DD), None when blank."""
    if value is None or value.strip() == "":
        return None
    parse_birth_date(value)
    return value.strip()


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
        return checked_name(value)

    @field_validator("patronymic")
    @classmethod
    def _optional_name(cls, value: str) -> str:
        return checked_name(value) if value else value

    @field_validator("birth_date")
    @classmethod
    def _birth_date_format(cls, value: str | None) -> str | None:
        return checked_birth_date(value)

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
            raise ValueError(
                _("unknown UNHCR specific-needs code(s): %(codes)s") % {"codes": ", ".join(unknown)}
            )
        return sorted(set(codes))

    @model_validator(mode="after")
    def _birth_or_age(self) -> "Member":
        if self.birth_date is None and self.estimated_age is None:
            raise ValueError(
                "birth_date: "
                + _("give a date of birth (YYYY, YYYY-MM or YYYY-MM-DD) or an estimated age")
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
    year, month, day, _estimated = member.birth_parts(on)
    earliest = (year, month or 1, day or 1)
    if member.birth_date is not None and earliest > (on.year, on.month, on.day):
        return _("%(birth)s is after the registration (%(on)s)") % {
            "birth": member.birth_date,
            "on": on.isoformat(),
        }
    if on.year - year > MAX_AGE_YEARS:
        return _("more than %(years)d years before the registration") % {"years": MAX_AGE_YEARS}
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

    @field_validator("origin_settlement", "site")
    @classmethod
    def _text(cls, value: str) -> str:
        return no_control_chars(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        return normalise_phone(value)

    @field_validator("registered_at")
    @classmethod
    def _not_future(cls, value: datetime) -> datetime:
        if value > datetime.now(UTC) + CLOCK_SKEW:
            raise ValueError(_("is in the future"))
        return value

    @model_validator(mode="after")
    def _household_rules(self) -> "HouseholdIn":
        if not self.members:
            raise ValueError("members: " + _("a household needs at least one member"))
        heads = sum(1 for m in self.members if m.relationship == "head")
        if heads != 1:
            raise ValueError(
                "members: "
                + _("a household has exactly one head (this one has %(heads)d)") % {"heads": heads}
            )
        seen: set[UUID] = set()
        for member in self.members:
            if member.uuid in seen:
                raise ValueError(
                    "members: "
                    + _("the uuid %(uuid)s is given to two members") % {"uuid": member.uuid}
                )
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

    @field_validator("site")
    @classmethod
    def _site(cls, value: str) -> str:
        return no_control_chars(value)

    @model_validator(mode="after")
    def _period(self) -> "CrossingCountIn":
        if self.period_end <= self.period_start:
            raise ValueError("period_end: " + _("must be after the start of the period"))
        if self.period_end > datetime.now(UTC) + CLOCK_SKEW:
            raise ValueError("period_end: " + _("is in the future"))
        if self.period_end - self.period_start > timedelta(days=7):
            raise ValueError("period_end: " + _("a counting period is at most 7 days long"))
        return self

    def digest(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


# A free-text query parameter (a site code, a cursor, a moment): no control characters.
QueryText = Annotated[str, AfterValidator(no_control_chars)]

SchemaT = TypeVar("SchemaT", bound=BaseModel)


def validated(schema: type[SchemaT], payload: object) -> SchemaT:
    """`payload` read by `schema`, or InvalidInput with each field's error (nothing else done)."""
    try:
        return schema.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc)) from exc


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors as (field path, message) pairs fit to show beside a form field.

    Model-level rules put the field path at the start of their message ("members.2.birth_date: …")
    because pydantic gives them no location of their own.
    """
    errors = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"])
        if error["type"] == "value_error":
            message = str(error["ctx"]["error"]) if "ctx" in error else str(error["msg"])
        else:
            message = _pydantic_message(error)
        if ": " in message:
            prefix, rest = message.split(": ", 1)
            if re.fullmatch(r"[a-z_]+(\.\d+\.[a-z_]+)?", prefix):
                loc = f"{loc}.{prefix}" if loc else prefix
                message = rest
        errors.append(FieldError(field=loc or "__all__", message=message))
    return errors
