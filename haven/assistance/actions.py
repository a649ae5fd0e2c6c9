"""Writes to programmes. Computing entitlements (haven.assistance.entitlements), listing payments
(haven.assistance.payments), reconciling them (haven.assistance.reconcile) and handing out goods
(haven.assistance.distributions) are actions too, each in the module of its rules."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.assistance.models import Programme
from haven.assistance.schemas import ProgrammeIn
from haven.core import audit
from haven.core.errors import Conflict, FieldError, InvalidInput
from haven.core.models import User
from haven.registry.schemas import validated


def parse_programme(payload: object) -> ProgrammeIn:
    return validated(ProgrammeIn, payload)


def _same_periods_as_the_benefit(data: ProgrammeIn) -> None:
    """Programmes that pay one benefit share the payment-once gate, which counts their periods:
    they must start on the same day and repeat alike, so that period 2 is the same month in
    each."""
    other = (
        Programme.objects.select_for_update()
        .filter(benefit=data.benefit)
        .exclude(starts_on=data.starts_on, frequency=data.frequency)
        .first()
    )
    if other is not None:
        raise InvalidInput(
            [
                FieldError(
                    "benefit",
                    _(
                        "%(benefit)s is paid by %(code)s from %(day)s, %(frequency)s: a programme"
                        " paying the same benefit must start on the same day and repeat alike"
                    )
                    % {
                        "benefit": data.benefit,
                        "code": other.code,
                        "day": other.starts_on.isoformat(),
                        "frequency": other.get_frequency_display(),
                    },
                )
            ]
        )


def add_programme(*, data: ProgrammeIn, acting_user: User | None) -> Programme:
    """A new programme; a code or uuid already used is a conflict and writes nothing."""
    fields = data.model_dump()
    try:
        with transaction.atomic():
            _same_periods_as_the_benefit(data)
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
