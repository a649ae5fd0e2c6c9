"""Writes to programmes. Computing entitlements (haven.assistance.entitlements), listing payments
(haven.assistance.payments), reconciling them (haven.assistance.reconcile) and handing out goods
(haven.assistance.distributions) are actions too, each in the module of its rules."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.assistance.models import Programme
from haven.assistance.schemas import ProgrammeIn
from haven.core import audit
from haven.core.errors import Conflict
from haven.core.models import User
from haven.registry.schemas import validated


def parse_programme(payload: object) -> ProgrammeIn:
    return validated(ProgrammeIn, payload)


def add_programme(*, data: ProgrammeIn, acting_user: User | None) -> Programme:
    """A new programme; a code or uuid already used is a conflict and writes nothing."""
    fields = data.model_dump()
    try:
        with transaction.atomic():
            programme = Programme.objects.create(
                **fields, created_at=timezone.now(), created_by=acting_user
            )
            audit.record(
                user=acting_user,
                action="assistance.programme_add",
                object_type="programme",
                object_uuid=programme.uuid,
                detail={k: str(v) for k, v in fields.items() if k != "uuid"},
            )
    except IntegrityError:
        raise Conflict(
            _("a programme with code %(code)s or uuid %(uuid)s exists")
            % {"code": data.code, "uuid": data.uuid}
        ) from None
    return programme
