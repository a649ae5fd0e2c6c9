"""Goods handed out at a distribution point: who may have an in-kind programme's item now.

Everything is counted by *identity* (`Person.identity`): records linked as one person share it, so
someone registered at Goris and again at Vayk is one person at the distribution point. A
per-household item (unit "household": the amount times the household's members) is counted by
*household* instead: a handing-out to any member of the person's household, or of a household
whose head has the same identity as this household's head (a household registered twice, heads
linked), counts for every member, so that the household has its share once. Before an item is
given:

- the programme must be in kind, and have begun;
- the identity must meet the programme's rules (haven.assistance.entitlements.eligible_identity);
- the *minimum interval*: the last time this identity had this programme's item must be at least
  `min_days_between` days ago (Yerevan's calendar days: given on 1 October with 7 days between,
  next from 8 October);
- the *daily maximum*: fewer than `max_per_day` of this programme's items today (Yerevan's day);
- *alternatives*: no item of another programme of the same `exclusive_group` within the
  group's interval: the largest `min_days_between` of its programmes, at least the same day (so
  the order in which two alternatives are asked for does not matter).

A refusal names the rule and when the person may come back. Two desks giving the same person the
same item (or two alternatives) at the same moment are serialised by locking the programme rows
of the group, in primary-key order, before anything is read: the second desk then sees the first
one's distribution and is refused. A retry under the same client UUID returns the first
distribution; a different payload under it is a Conflict.
"""

from datetime import date, datetime, time, timedelta
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from haven.assistance.entitlements import CALENDAR, eligible_identity, period_start
from haven.assistance.models import Distribution, Programme
from haven.core import audit
from haven.core.errors import Conflict, FieldError, InvalidInput
from haven.core.models import Site, User
from haven.registry.models import Household, Person


def local_day(moment: datetime) -> date:
    """The day `moment` falls on in Yerevan."""
    return timezone.localtime(moment, CALENDAR).date()


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in Yerevan."""
    return datetime.combine(day, time(0), tzinfo=CALENDAR)


def _day_text(day: date) -> str:
    return day.isoformat()


def current_period(programme: Programme, today: date) -> int | None:
    """The programme's period `today` falls in (the last one once they are all past), or None
    before the programme begins."""
    if today < programme.starts_on:
        return None
    period = 1
    while period < programme.periods and period_start(programme, period + 1) <= today:
        period += 1
    return period


def quantity(programme: Programme, household: Household) -> int:
    """How many items one handing-out is: per person, or per household times its members."""
    if programme.unit == Programme.Unit.HOUSEHOLD:
        return programme.amount * max(household.member_count, 1)
    return programme.amount


def group_of(programme: Programme) -> list[Programme]:
    """The programme and its alternatives (same exclusive group), in primary-key order."""
    condition = Q(pk=programme.pk)
    if programme.exclusive_group:
        condition |= Q(exclusive_group=programme.exclusive_group)
    return list(Programme.objects.filter(condition).order_by("pk"))


def counted(programme: Programme, person: Person) -> Q:
    """The distributions that count for `person` under the programme's repeat rules, as a filter
    on Distribution: those to the records of the person's identity (read now: it may have been
    linked since an earlier handing-out); for a per-household item, those to any member of the
    person's household or of a household whose head has the same identity as its head."""
    current = Person.objects.only("identity", "household_id").get(pk=person.pk)
    if programme.unit != Programme.Unit.HOUSEHOLD:
        return Q(person__identity=current.identity)
    heads = Person.objects.filter(
        household_id=current.household_id, relationship=Person.Relationship.HEAD
    ).values("identity")
    households = {current.household_id} | set(
        Person.objects.filter(
            relationship=Person.Relationship.HEAD, identity__in=heads
        ).values_list("household_id", flat=True)
    )
    return Q(person__household_id__in=households)


def group_interval(programme: Programme) -> int:
    """Days between two alternatives of the programme's exclusive group: the largest minimum
    interval of the group's programmes, at least one (the same day)."""
    largest = Programme.objects.filter(exclusive_group=programme.exclusive_group).aggregate(
        days=Max("min_days_between")
    )["days"]
    return max(largest or 0, programme.min_days_between, 1)


def _refusals(programme: Programme, person: Person, now: datetime) -> list[FieldError]:
    """Every rule that stops `person` having the programme's item at `now`, each as an error
    naming the rule and when they may come back. Empty: they may have it."""
    if programme.kind != Programme.Kind.IN_KIND:
        return [
            FieldError(
                "kind",
                _("%(programme)s pays cash; nothing is handed out at a distribution point")
                % {"programme": programme.name},
            )
        ]
    today = local_day(now)
    period = current_period(programme, today)
    if period is None:
        return [
            FieldError(
                "starts_on",
                _("%(programme)s begins on %(day)s")
                % {"programme": programme.name, "day": _day_text(programme.starts_on)},
            )
        ]
    # The record as it is now: it may have been linked to others since it was read.
    current = Person.objects.get(pk=person.pk)
    if not eligible_identity(programme, current, period):
        return [
            FieldError(
                "eligibility",
                _("not eligible for %(programme)s: the programme's rules do not include them")
                % {"programme": programme.name},
            )
        ]
    errors: list[FieldError] = []
    # By the records that are this identity (or household) now: a link made since an earlier
    # handing-out (to the person's other record) still counts it.
    theirs = counted(programme, current)
    per_household = programme.unit == Programme.Unit.HOUSEHOLD
    mine = Distribution.objects.filter(theirs, programme=programme)
    if programme.min_days_between:
        last = mine.order_by("-distributed_at").values_list("distributed_at", flat=True).first()
        if last is not None:
            next_day = local_day(last) + timedelta(days=programme.min_days_between)
            if today < next_day:
                errors.append(
                    FieldError(
                        "min_days_between",
                        (
                            _(
                                "%(item)s: last given to this household on %(last)s; %(days)d"
                                " days must pass between two; next from %(next)s"
                            )
                            if per_household
                            else _(
                                "%(item)s: last given on %(last)s; %(days)d days must pass"
                                " between two; next from %(next)s"
                            )
                        )
                        % {
                            "item": programme.item,
                            "last": _day_text(local_day(last)),
                            "days": programme.min_days_between,
                            "next": _day_text(next_day),
                        },
                    )
                )
    if programme.max_per_day:
        given_today = mine.filter(
            distributed_at__gte=day_start(today),
            distributed_at__lt=day_start(today + timedelta(days=1)),
        ).count()
        if given_today >= programme.max_per_day:
            errors.append(
                FieldError(
                    "max_per_day",
                    (
                        ngettext(
                            "%(item)s: given %(count)d time to this household today, the most a"
                            " day is %(most)d; next from %(next)s",
                            "%(item)s: given %(count)d times to this household today, the most"
                            " a day is %(most)d; next from %(next)s",
                            given_today,
                        )
                        if per_household
                        else ngettext(
                            "%(item)s: given %(count)d time today, the most a day is %(most)d;"
                            " next from %(next)s",
                            "%(item)s: given %(count)d times today, the most a day is %(most)d;"
                            " next from %(next)s",
                            given_today,
                        )
                    )
                    % {
                        "item": programme.item,
                        "count": given_today,
                        "most": programme.max_per_day,
                        "next": _day_text(today + timedelta(days=1)),
                    },
                )
            )
    if programme.exclusive_group:
        window = group_interval(programme)
        other = (
            Distribution.objects.filter(
                theirs,
                programme__exclusive_group=programme.exclusive_group,
                distributed_at__gte=day_start(today - timedelta(days=window - 1)),
            )
            .exclude(programme=programme)
            .select_related("programme")
            .order_by("-distributed_at")
            .first()
        )
        if other is not None:
            given_on = local_day(other.distributed_at)
            errors.append(
                FieldError(
                    "exclusive_group",
                    (
                        _(
                            "%(other)s was given to this household on %(day)s instead, and"
                            " %(item)s is its alternative; next from %(next)s"
                        )
                        if per_household
                        else _(
                            "%(other)s was given on %(day)s instead, and %(item)s is its"
                            " alternative; next from %(next)s"
                        )
                    )
                    % {
                        "other": other.programme.item or other.programme.name,
                        "day": _day_text(given_on),
                        "item": programme.item,
                        "next": _day_text(given_on + timedelta(days=window)),
                    },
                )
            )
    return errors


def check(programme: Programme, person: Person, *, now: datetime | None = None) -> list[str]:
    """Why `person` may not have the programme's item now, in words; empty when they may. What
    the distribution point shows before giving (distribute checks again, under the lock)."""
    return [error.message for error in _refusals(programme, person, now or timezone.now())]


def _same(distribution: Distribution, programme: Programme, person: Person, site: Site) -> bool:
    return (distribution.programme_id, distribution.person_id, distribution.site_id) == (
        programme.pk,
        person.pk,
        site.pk,
    )


def _replayed(uuid: UUID, programme: Programme, person: Person, site: Site) -> Distribution | None:
    """The distribution already made under `uuid`, if this is a retry of it; Conflict when the
    UUID names a different one."""
    existing = Distribution.objects.filter(uuid=uuid).first()
    if existing is None:
        return None
    if not _same(existing, programme, person, site):
        raise Conflict(
            _("distribution %(uuid)s was already recorded with different details") % {"uuid": uuid}
        )
    return existing


def distribute(
    *, programme: Programme, person: Person, site: Site, acting_user: User | None, uuid: UUID
) -> Distribution:
    """Hand the programme's item to `person` at `site`: once per client `uuid`, and only when no
    rule refuses (InvalidInput, each error naming its rule; nothing written)."""
    try:
        with transaction.atomic():
            # Lock the programme and its alternatives first (always in the same order, so two
            # desks never deadlock): a concurrent handing-out to anyone waits here until this
            # one commits, and then reads it.
            list(
                Programme.objects.select_for_update()
                .filter(pk__in=[p.pk for p in group_of(programme)])
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            replayed = _replayed(uuid, programme, person, site)
            if replayed is not None:
                return replayed
            now = timezone.now()
            errors = _refusals(programme, person, now)
            if errors:
                raise InvalidInput(errors)
            fresh = Person.objects.select_related("household").get(pk=person.pk)
            distribution = Distribution.objects.create(
                uuid=uuid,
                programme=programme,
                identity=fresh.identity,
                person=fresh,
                site=site,
                quantity=quantity(programme, fresh.household),
                distributed_at=now,
                distributed_by=acting_user,
            )
            audit.record(
                user=acting_user,
                action="assistance.distribute",
                object_type="person",
                object_uuid=fresh.uuid,
                site=fresh.site,
                detail={
                    "distribution": str(uuid),
                    "programme": programme.code,
                    "item": programme.item,
                    "quantity": distribution.quantity,
                    "at_site": site.code,
                },
                at=now,
            )
    except IntegrityError:
        # The same UUID written at the same moment under another programme's lock.
        replayed = _replayed(uuid, programme, person, site)
        if replayed is None:
            raise
        return replayed
    return distribution
