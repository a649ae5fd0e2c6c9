"""Who is who: linkage models, candidate pairs, decisions and the links that join records.

Every person carries an identity (`registry.Person.identity`, a UUID that starts as the person's
own). Records found to be the same person are *linked* by giving them one identity; each move is a
`Link` row with where it came from, so a merge is never a deletion and can be undone.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from haven.registry.models import Person


class LinkageModel(models.Model):
    """One trained version of the Fellegi–Sunter model (Splink's JSON, m and u per level)."""

    version = models.PositiveIntegerField(unique=True)
    trained_at = models.DateTimeField()
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    records = models.PositiveIntegerField(help_text=_("Persons it was trained on"))
    labels = models.PositiveIntegerField(default=0, help_text=_("Reviewed pairs used as labels"))
    sha256 = models.CharField(max_length=64)
    # The model itself, so that every server of a deployment reads the same weights; the same
    # JSON is written to a versioned file under HAVEN_VAR_DIR/identity/ for export and reuse.
    settings = models.JSONField()

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"linkage model v{self.version}"


class LinkageRun(models.Model):
    """One batch run of `haven dedupe`: what it read, skipped and found."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    model = models.ForeignKey(LinkageModel, on_delete=models.PROTECT, related_name="runs")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    persons = models.PositiveIntegerField(default=0)
    pairs = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    possible = models.PositiveIntegerField(default=0)
    linked = models.PositiveIntegerField(default=0, help_text=_("Persons given another identity"))
    # [{"person": uuid, "reason": code, "detail": text}] for records the batch could not compare.
    skipped = models.JSONField(default=list)
    summary = models.JSONField(default=dict)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"linkage run {self.pk} ({self.started_at:%Y-%m-%d %H:%M})"


class CandidatePair(models.Model):
    """Two records that may be one person, with the model's weight and its reasons."""

    class Band(models.TextChoices):
        DUPLICATE = "duplicate", _("duplicate")
        POSSIBLE = "possible", _("possible duplicate")

    class Status(models.TextChoices):
        LINKED = "linked", _("linked automatically")
        PENDING = "pending", _("needs a decision")
        CONFIRMED = "confirmed", _("confirmed the same person")
        REJECTED = "rejected", _("confirmed different people")

    # person_a is always the lower id, so a pair is stored once.
    person_a = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    person_b = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    match_weight = models.FloatField()
    match_probability = models.FloatField()
    band = models.CharField(max_length=10, choices=Band.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    # [{"field": …, "level": …, "weight": …}]: why the model thinks so, field by field.
    explanation = models.JSONField(default=list)
    model = models.ForeignKey(LinkageModel, on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(LinkageRun, on_delete=models.PROTECT, related_name="pairs_found")
    found_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["person_a", "person_b"], name="pair_once"),
            models.CheckConstraint(
                condition=models.Q(person_a__lt=models.F("person_b")), name="pair_ordered"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-match_probability"], name="pair_queue"),
            models.Index(fields=["person_b"], name="pair_person_b"),
        ]

    def __str__(self) -> str:
        return f"{self.person_a_id}~{self.person_b_id} ({self.match_probability:.3f})"


NOTE_LENGTH = 500  # a decision's note


class Decision(models.Model):
    """A caseworker's decision on a pair: the labels that can retrain the model."""

    class Verdict(models.TextChoices):
        SAME = "same", _("the same person")
        DIFFERENT = "different", _("different people")

    pair = models.ForeignKey(CandidatePair, on_delete=models.PROTECT, related_name="decisions")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    note = models.CharField(max_length=NOTE_LENGTH, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["decided_at", "id"]

    def __str__(self) -> str:
        return f"{self.pair_id}: {self.verdict}"


class Link(models.Model):
    """One person moved from one identity to another, and why: a merge, or the undoing of one."""

    class Reason(models.TextChoices):
        MODEL = "model", _("linked by the model")
        DECISION = "decision", _("linked by a caseworker")
        UNDO = "undo", _("link undone")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="links")
    from_identity = models.UUIDField()
    to_identity = models.UUIDField()
    reason = models.CharField(max_length=10, choices=Reason.choices)
    pair = models.ForeignKey(
        CandidatePair, null=True, on_delete=models.PROTECT, related_name="links"
    )
    run = models.ForeignKey(LinkageRun, null=True, on_delete=models.PROTECT, related_name="links")
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    made_at = models.DateTimeField()
    # The undo that reversed this move, if any.
    undone_by = models.OneToOneField(
        "self", null=True, on_delete=models.PROTECT, related_name="undoes"
    )

    class Meta:
        ordering = ["made_at", "id"]
        indexes = [models.Index(fields=["pair"], name="link_pair")]

    def __str__(self) -> str:
        return f"{self.person_id}: {self.from_identity} → {self.to_identity}"
