"""What a shelter must hold, checked the same way for every door (pages, commands, simulator)."""

import uuid as uuid_lib
from uuid import UUID

from django.utils.translation import gettext as _
from pydantic import BaseModel, ConfigDict, Field, field_validator

from haven.shelter.models import Shelter

PROVINCES = (
    "Yerevan",
    "Aragatsotn",
    "Ararat",
    "Armavir",
    "Gegharkunik",
    "Kotayk",
    "Lori",
    "Shirak",
    "Syunik",
    "Tavush",
    "Vayots Dzor",
)


class ShelterIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    uuid: UUID = Field(default_factory=uuid_lib.uuid4)
    code: str = Field(min_length=1, max_length=20, pattern=r"^[A-Z0-9][A-Z0-9-]*$")
    name: str = Field(min_length=1, max_length=200)
    kind: str
    province: str
    town: str = Field(min_length=1, max_length=100)
    beds: int = Field(ge=0, le=100_000)
    rooms: int = Field(default=0, ge=0, le=100_000)
    step_free: bool = False

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in Shelter.Kind.values:
            raise ValueError(
                _("must be one of %(kinds)s") % {"kinds": ", ".join(Shelter.Kind.values)}
            )
        return value

    @field_validator("province")
    @classmethod
    def _province(cls, value: str) -> str:
        if value not in PROVINCES:
            raise ValueError(
                _("%(province)r is not a province of Armenia (one of %(provinces)s)")
                % {"province": value, "provinces": ", ".join(PROVINCES)}
            )
        return value
