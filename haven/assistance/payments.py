"""Payment lists and the payment-once gate.

`create_list` turns a programme's entitlements for a period into payments for the bank. Before it
lists anyone it reads every record's *current* identity, because records may have been linked
since the entitlements were computed:

- an identity with a live payment (listed or paid) for the same benefit and period, by this
  programme or any other paying that benefit, at any site, is left off ("already_paid");
- two entitlements whose records are now one identity are listed once ("linked");
- an identity with a possible duplicate awaiting review is left off where the programme's policy
  is to hold ("held"), or listed and flagged for a caseworker where it is to pay;
- an identity none of whose records is in an open case any more (its households' cases were
  closed since the entitlements were computed: departed, deceased, a duplicate;
  haven.registry.actions.close_household) is left off ("closed"). One whose paid record's case
  was closed as a duplicate but who has another record in an open case is still paid.

The database holds the same rule (`Payment.payment_once`: one live payment per benefit, period
and identity), so two lists made at once cannot both pay one person: the second fails whole.
A failed payment (the bank's reconciliation says so) no longer counts, and the next list pays it.
"""

import uuid as uuid_lib
from collections import Counter
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.assistance.entitlements import OPEN_CASE, check_period, identities_in_review
from haven.assistance.models import Entitlement, Payment, PaymentList, Programme
from haven.core import audit
from haven.core.bulk import insert_rows
from haven.core.errors import Conflict, FieldError, InvalidInput
from haven.core.models import User
from haven.registry.models import Person

LIVE = (Payment.Status.LISTED, Payment.Status.PAID)
WRITE_CHUNK = 20_000


def live_identities(benefit: str, period: int) -> set[Any]:
    """The current identities of everyone with a live payment for `benefit` and `period`."""
    return set(
        Payment.objects.filter(benefit=benefit, period=period, status__in=LIVE).values_list(
            "person__identity", flat=True
        )
    )


def _follow_identities(benefit: str, period: int) -> None:
    """Live payments move to their record's identity now, so that the `payment_once` constraint
    speaks of today's identities: after a link is undone, the records split off may be paid in
    their own right. A payment whose record now shares an identity already paid stays as it was
    (paid twice before the records were known to be one: the gate pays that identity no more)."""
    live = Payment.objects.filter(benefit=benefit, period=period, status__in=LIVE)
    moved = list(live.exclude(identity=F("person__identity")).values_list("pk", "person__identity"))
    if not moved:
        return
    taken = set(
        live.filter(identity__in=[identity for _pk, identity in moved]).values_list(
            "identity", flat=True
        )
    )
    for pk, identity in moved:
        if identity not in taken:
            Payment.objects.filter(pk=pk).update(identity=identity)
            taken.add(identity)


def _paid_twice(payment_list: PaymentList) -> bool:
    """Whether a record on this list is now one identity with a record of another live payment
    of the same benefit and period."""
    others = Payment.objects.filter(
        benefit=payment_list.programme.benefit, period=payment_list.period, status__in=LIVE
    ).exclude(payment_list=payment_list)
    return (
        Payment.objects.filter(payment_list=payment_list)
        .filter(person__identity__in=others.values("person__identity"))
        .exists()
    )


def reference(number: int, sequence: int) -> str:
    """The bank's key for a payment: the list's number and the payment's place on it."""
    return f"H{number:06d}-{sequence:07d}"


def create_list(*, programme: Programme, period: int, acting_user: User | None) -> PaymentList:
    """A payment list of everyone the programme owes for `period` who may be paid now."""
    if programme.kind != Programme.Kind.CASH:
        raise InvalidInput(
            [
                FieldError(
                    "programme",
                    _("%(code)s hands out goods; it has no payments") % {"code": programme.code},
                )
            ]
        )
    check_period(programme, period)
    hold = programme.possible_duplicates == Programme.PossibleDuplicates.HOLD
    try:
        with transaction.atomic():
            # One list at a time (lists are made a few times a month): every programme is
            # locked, so that two lists of one benefit cannot both pay a person and two lists
            # of any benefits cannot take the same number.
            list(Programme.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
            _follow_identities(programme.benefit, period)
            paid = live_identities(programme.benefit, period)
            in_review = identities_in_review()
            number = (PaymentList.objects.aggregate(n=Max("number"))["n"] or 0) + 1
            payment_list = PaymentList.objects.create(
                uuid=uuid_lib.uuid4(),
                number=number,
                programme=programme,
                period=period,
                created_at=timezone.now(),
                created_by=acting_user,
            )
            left_off: Counter[str] = Counter()
            listed: set[Any] = set()
            batch: list[dict[str, Any]] = []
            count = total = flagged = 0
            owed = Entitlement.objects.filter(programme=programme, period=period)
            # Identities of entitlements whose record's case was closed, that are still served
            # through another record in an open case (read as one subquery: closing is rare).
            still_open = set(
                Person.objects.filter(
                    OPEN_CASE,
                    identity__in=owed.filter(person__household__closed_at__isnull=False).values(
                        "person__identity"
                    ),
                ).values_list("identity", flat=True)
            )
            entitlements = owed.order_by("pk").values_list(
                "pk", "person_id", "person__identity", "amount", "person__household__closed_at"
            )
            for entitlement_id, person_id, identity, amount, closed_at in entitlements.iterator(
                chunk_size=WRITE_CHUNK
            ):
                if identity in paid:
                    left_off["already_paid"] += 1
                    continue
                if closed_at is not None and identity not in still_open:
                    left_off["closed"] += 1
                    continue
                if identity in listed:
                    left_off["linked"] += 1
                    continue
                possible = identity in in_review
                if possible and hold:
                    left_off["held"] += 1
                    continue
                listed.add(identity)
                count += 1
                total += amount
                flagged += possible
                batch.append(
                    {
                        "reference": reference(number, count),
                        "payment_list_id": payment_list.pk,
                        "entitlement_id": entitlement_id,
                        "benefit": programme.benefit,
                        "period": period,
                        "identity": identity,
                        "person_id": person_id,
                        "amount": amount,
                        "currency": programme.currency,
                        "status": Payment.Status.LISTED,
                        "possible_duplicate": possible,
                        "reason": "",
                        "settled_at": None,
                    }
                )
                if len(batch) >= WRITE_CHUNK:
                    insert_rows(Payment, batch)
                    batch = []
            insert_rows(Payment, batch)
            if connection.vendor == "postgresql" and _paid_twice(payment_list):
                # A link committed while this list was read (PostgreSQL reads each statement's
                # own snapshot; SQLite's write transaction excludes it) made two identities one.
                raise IntegrityError("payment_once: an identity linked while the list was made")
            payment_list.payments = count
            payment_list.total_amount = total
            payment_list.left_off = dict(left_off)
            payment_list.save(update_fields=["payments", "total_amount", "left_off"])
            audit.record(
                user=acting_user,
                action="assistance.payment_list",
                object_type="payment_list",
                object_uuid=payment_list.uuid,
                detail={
                    "programme": programme.code,
                    "period": period,
                    "payments": count,
                    "total_amount": total,
                    "possible_duplicates_paid": flagged,
                    "left_off": dict(left_off),
                },
            )
    except IntegrityError:
        raise Conflict(
            _(
                "another payment list of %(benefit)s for period %(period)d, or a link between two"
                " records, was made at the same time; nothing was listed: make the list again"
            )
            % {"benefit": programme.benefit, "period": period}
        ) from None
    return payment_list
