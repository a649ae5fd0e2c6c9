"""Assistance: programmes, what each identity is owed, payment lists and what the bank paid,
and goods handed out at distribution points.

Everything here is keyed by *identity* (`registry.Person.identity`), never by registration: two
records that haven.identity has linked share one identity and so one entitlement. Programmes
that pay the same benefit (`Programme.benefit`: the state's one-off grant run by two agencies,
say) share one gate: an identity is on at most one live payment for a benefit and period, across
every programme and site (the `payment_once` constraint; haven.assistance.payments checks the
records' current identities before it lists anyone, so a link made after payment still counts).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from haven.registry.models import Household, Person


class Programme(models.Model):
    """A kind of assistance, who may have it (the rules) and how much, once or per month."""

    class Kind(models.TextChoices):
        CASH = "cash", _("cash")
        IN_KIND = "in_kind", _("in kind")

    class Unit(models.TextChoices):
        PERSON = "person", _("per person")
        HOUSEHOLD = "household", _("per household")

    class Frequency(models.TextChoices):
        ONCE = "once", _("once")
        MONTHLY = "monthly", _("every month")

    class PossibleDuplicates(models.TextChoices):
        HOLD = "hold", _("hold until a caseworker decides")
        PAY = "pay", _("pay, and show to a caseworker")

    uuid = models.UUIDField(unique=True)
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    benefit = models.SlugField(
        max_length=32,
        help_text=_(
            "Programmes with the same benefit pay an identity once per period between them"
        ),
    )
    unit = models.CharField(max_length=10, choices=Unit.choices, default=Unit.PERSON)
    amount = models.PositiveIntegerField(
        help_text=_("In the currency's units (cash) or items (in kind), per person or household")
    )
    currency = models.CharField(max_length=3, blank=True, default="AMD")
    item = models.CharField(max_length=100, blank=True, help_text=_("What is handed out (in kind)"))
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    periods = models.PositiveSmallIntegerField(
        default=1, help_text=_("How many months a monthly programme pays (1 for once)")
    )
    starts_on = models.DateField(help_text=_("The first period begins on this day"))
    # Eligibility rules: each one left empty does not apply.
    arrived_from = models.DateField(null=True, blank=True)
    arrived_until = models.DateField(null=True, blank=True)
    age_min = models.PositiveSmallIntegerField(null=True, blank=True)
    age_max = models.PositiveSmallIntegerField(null=True, blank=True)
    needs_any = models.JSONField(
        default=list, blank=True, help_text=_("UNHCR specific-needs codes; any one qualifies")
    )
    document_required = models.BooleanField(
        default=False, help_text=_("Only identities with an identity document on record")
    )
    possible_duplicates = models.CharField(
        max_length=4, choices=PossibleDuplicates.choices, default=PossibleDuplicates.HOLD
    )
    # In kind, at the distribution point: repeat rules.
    min_days_between = models.PositiveSmallIntegerField(default=0)
    max_per_day = models.PositiveSmallIntegerField(default=0, help_text=_("0: no daily limit"))
    exclusive_group = models.SlugField(
        max_length=32,
        blank=True,
        help_text=_("Items of one group are alternatives: one of them per interval"),
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class EntitlementRun(models.Model):
    """One computation of a programme's entitlements for a period: what it found."""

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="runs")
    period = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    seconds = models.FloatField(default=0)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    records = models.PositiveIntegerField(default=0, help_text=_("Person records read"))
    identities = models.PositiveIntegerField(default=0, help_text=_("Identities entitled"))
    held = models.PositiveIntegerField(default=0)
    total_amount = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.programme_id} period {self.period}: {self.identities}"


class Entitlement(models.Model):
    """What one identity is owed by one programme for one period. `person` is the identity's
    record the payment is made out to (its earliest registration)."""

    class Status(models.TextChoices):
        DUE = "due", _("due")
        HELD = "held", _("held: possible duplicate")

    # A million rows are written at once, derived from the records and recomputed at will:
    # no index that no query reads (the programme is the first column of
    # `entitlement_identity`; the others are only ever read from an entitlement), and no
    # database foreign-key check (on PostgreSQL four a row, at commit, took longer than the
    # computation itself). Django still refuses to delete what they point to (PROTECT), and
    # records, programmes and runs are never deleted.
    programme = models.ForeignKey(
        Programme,
        on_delete=models.PROTECT,
        related_name="entitlements",
        db_index=False,
        db_constraint=False,
    )
    period = models.PositiveSmallIntegerField()
    identity = models.UUIDField()
    person = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    amount = models.PositiveIntegerField()
    status = models.CharField(max_length=4, choices=Status.choices)
    run = models.ForeignKey(
        EntitlementRun,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        # Not unique: an entitlement kept because it was paid stays under the identity it had,
        # and a link undone since may give that identity to others owed in their own right.
        # Payment once is held by `Payment.payment_once` and by haven.assistance.payments.
        indexes = [
            models.Index(fields=["programme", "period", "identity"], name="entitlement_identity")
        ]

    def __str__(self) -> str:
        return f"{self.programme_id}/{self.period} {self.identity}: {self.amount}"


class PaymentList(models.Model):
    """The payments of one programme and period sent to the bank together."""

    class Status(models.TextChoices):
        OPEN = "open", _("sent, awaiting the bank")
        RECONCILED = "reconciled", _("reconciled")

    uuid = models.UUIDField(unique=True)
    number = models.PositiveIntegerField(unique=True, help_text=_("Printed on the bank's file"))
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="lists")
    period = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    payments = models.PositiveIntegerField(default=0)
    total_amount = models.BigIntegerField(default=0)
    # Left off this list, with the reason: {"held": n, "already_paid": n, "linked": n, "closed": n}.
    left_off = models.JSONField(default=dict)
    reconciled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"list {self.number} ({self.programme_id}/{self.period})"


class Payment(models.Model):
    """One payment to one identity on one list. A failed payment may be listed again later; a
    live one (listed or paid) exists at most once per benefit, period and identity."""

    class Status(models.TextChoices):
        LISTED = "listed", _("listed, awaiting the bank")
        PAID = "paid", _("paid")
        FAILED = "failed", _("failed")

    reference = models.CharField(max_length=24, unique=True, help_text=_("The bank's key"))
    payment_list = models.ForeignKey(PaymentList, on_delete=models.PROTECT, related_name="items")
    entitlement = models.ForeignKey(Entitlement, on_delete=models.PROTECT, related_name="payments")
    # Read through `payment_once` and `payment_person_benefit`, not on its own.
    benefit = models.SlugField(max_length=32, db_index=False)
    period = models.PositiveSmallIntegerField()
    identity = models.UUIDField()
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+", db_index=False)
    amount = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.LISTED)
    possible_duplicate = models.BooleanField(
        default=False, help_text=_("Paid under the programme's policy while a review was open")
    )
    reason = models.CharField(max_length=200, blank=True, help_text=_("The bank's reason"))
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["payment_list", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["benefit", "period", "identity"],
                condition=models.Q(status__in=["listed", "paid"]),
                name="payment_once",
            )
        ]
        indexes = [models.Index(fields=["person", "benefit"], name="payment_person_benefit")]

    def __str__(self) -> str:
        return f"{self.reference}: {self.amount} {self.currency} ({self.status})"


class Distribution(models.Model):
    """Goods of an in-kind programme handed to one identity at a distribution point."""

    uuid = models.UUIDField(unique=True)
    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="distributions")
    identity = models.UUIDField()
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    site = models.ForeignKey("core.Site", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    distributed_at = models.DateTimeField()
    distributed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-distributed_at", "-id"]
        indexes = [
            models.Index(fields=["identity", "distributed_at"], name="distribution_identity")
        ]

    def __str__(self) -> str:
        return f"{self.programme_id} → {self.identity} ×{self.quantity}"
