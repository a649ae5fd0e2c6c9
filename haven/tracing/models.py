"""Reuniting families: who is sought and by whom, who may be them, and what is believed about a
person's fate.

A `TracingRequest` is recorded by a caseworker (or arrives from the public form, or from another
repository as PFIF) with the searcher's consent; `TraceMatch` rows are the registered people who
may be the sought person, each with the identity model's probability and reasons, found when the
request is made and again whenever someone new registers. A found person is asked whether their
whereabouts may be shared (`disclosure`); only then does the searcher learn them. `StatusNote` is
what someone asserted about a person (alive, missing, dead), kept with who and when: caseworkers
only.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from haven.core.models import Site
from haven.registry.models import Person


class TracingRequest(models.Model):
    class Source(models.TextChoices):
        CASEWORKER = "caseworker", _("recorded by a caseworker")
        PUBLIC = "public", _("the public request form")
        PFIF = "pfif", _("imported as PFIF")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        FOUND = "found", _("found, asked about sharing")
        REUNITED = "reunited", _("closed: reunited")
        DECLINED = "declined", _("closed: the person found declined")
        DECEASED = "deceased", _("closed: the person is deceased")
        WITHDRAWN = "withdrawn", _("closed: withdrawn or not pursued")

    class Disclosure(models.TextChoices):
        NOT_ASKED = "", _("not asked")
        ALLOWED = "allowed", _("may share whereabouts")
        REFUSED = "refused", _("may pass on a message only")

    uuid = models.UUIDField(unique=True)
    source = models.CharField(max_length=12, choices=Source.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    # The caseworkers' queue it belongs to: the recording caseworker's site, or the queue of
    # unassigned requests (None) for the public form and imports.
    site = models.ForeignKey(Site, null=True, on_delete=models.PROTECT, related_name="+")

    # Who is sought.
    sought_name = models.CharField(max_length=310, help_text=_("As said, in any script"))
    sought_birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    sought_sex = models.CharField(max_length=1, blank=True)
    sought_origin = models.CharField(max_length=100, blank=True)
    sought_relatives = models.TextField(blank=True, help_text=_("Names of relatives, one per line"))
    last_seen_place = models.CharField(max_length=200, blank=True)
    last_seen_on = models.CharField(max_length=40, blank=True, help_text=_("As said"))
    distinguishing = models.TextField(blank=True)

    # Who is searching: a registered person, or an outside contact.
    searcher = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    searcher_name = models.CharField(max_length=310, blank=True)
    searcher_contact = models.CharField(max_length=200, blank=True)
    searcher_language = models.CharField(max_length=8, blank=True)
    consent_at = models.DateTimeField(help_text=_("When the searcher consented"))

    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    # The person found, and whether they allow their whereabouts to be shared.
    found = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    disclosure = models.CharField(
        max_length=8, choices=Disclosure.choices, blank=True, default=Disclosure.NOT_ASKED
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    # When the request was last matched against everyone registered (None: not yet; requests
    # from the public form are matched when a caseworker first opens them, so that the form's
    # answer never depends on the registry).
    matched_at = models.DateTimeField(null=True, blank=True)
    # PFIF: the record's id where it came from ("domain/local-id"), and when it expires.
    pfif_record_id = models.CharField(max_length=500, blank=True)
    expiry_date = models.DateTimeField(null=True, blank=True)
    # Set by `haven retention` once the request had been closed longer than the retention
    # period: who was sought and who searched are gone, its dates and outcome stay.
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "site"], name="tracing_queue")]
        constraints = [
            models.UniqueConstraint(
                fields=["pfif_record_id"],
                condition=~models.Q(pfif_record_id=""),
                name="tracing_pfif_record",
            )
        ]

    def __str__(self) -> str:
        return f"tracing request {self.uuid}"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class TraceKey(models.Model):
    """A phonetic key of a name part of the sought person (haven.names): a new registration with
    a name of that key re-matches the open requests that hold it."""

    request = models.ForeignKey(TracingRequest, on_delete=models.CASCADE, related_name="keys")
    key = models.CharField(max_length=100)

    class Meta:
        indexes = [models.Index(fields=["key"], name="trace_key")]
        constraints = [models.UniqueConstraint(fields=["request", "key"], name="trace_key_once")]

    def __str__(self) -> str:
        return self.key


class TraceMatch(models.Model):
    """A registered person who may be the sought person, as the model scored them."""

    request = models.ForeignKey(TracingRequest, on_delete=models.CASCADE, related_name="matches")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    probability = models.FloatField()
    match_weight = models.FloatField()
    reasons = models.JSONField(default=list)
    found_at = models.DateTimeField()
    # Found after the request was made (a new registration): its caseworker is told.
    is_new = models.BooleanField(default=False)
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-match_weight", "id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "person"], name="trace_match_once")
        ]

    def __str__(self) -> str:
        return f"{self.request_id} ~ {self.person_id} ({self.probability:.3f})"


class StatusNote(models.Model):
    """What someone asserted about a person's fate (PFIF note statuses), with who and when."""

    class Status(models.TextChoices):
        INFORMATION_SOUGHT = "information_sought", _("information sought")
        BELIEVED_ALIVE = "believed_alive", _("believed alive")
        BELIEVED_MISSING = "believed_missing", _("believed missing")
        BELIEVED_DEAD = "believed_dead", _("believed dead")

    uuid = models.UUIDField(unique=True)
    # About a registered person, or about the person a tracing request seeks.
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="status_notes"
    )
    request = models.ForeignKey(
        TracingRequest,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="status_notes",
    )
    status = models.CharField(max_length=20, choices=Status.choices)
    text = models.TextField(blank=True)
    asserted_by = models.CharField(
        max_length=310, help_text=_("Who asserted it (a name, an organisation)")
    )
    asserted_at = models.DateTimeField(help_text=_("When it was asserted"))
    # The one who asserted it has been in contact with the person (PFIF's author_made_contact).
    author_made_contact = models.BooleanField(default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    pfif_record_id = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-asserted_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(person__isnull=False) | models.Q(request__isnull=False),
                name="status_note_about_someone",
            ),
            models.UniqueConstraint(
                fields=["pfif_record_id"],
                condition=~models.Q(pfif_record_id=""),
                name="status_note_pfif_record",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.status} ({self.asserted_at:%Y-%m-%d})"


class PublicSubmission(models.Model):
    """A request accepted from the public form, kept only to limit how many one address and one
    contact may send in a day: keyed hashes (HMAC with the secret key) of the client's address
    and of the normalised contact, never the values themselves. Rows older than the limit's
    window are deleted as new ones are written."""

    address_hash = models.CharField(max_length=64)
    contact_hash = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["address_hash", "at"], name="public_submission_address"),
            models.Index(fields=["contact_hash", "at"], name="public_submission_contact"),
            models.Index(fields=["at"], name="public_submission_at"),
        ]

    def __str__(self) -> str:
        return f"public submission {self.at:%Y-%m-%d %H:%M}"
