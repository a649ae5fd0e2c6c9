"""Crossing counts, households, persons, their documents and the corrections made to them."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from haven.core.models import Site


class NameScript(models.TextChoices):
    ARMENIAN = "armenian", _("Armenian")
    CYRILLIC = "cyrillic", _("Cyrillic")
    LATIN = "latin", _("Latin")
    MIXED = "mixed", _("mixed")
    NONE = "", _("none")


def partial_date_text(year: int, month: int | None, day: int | None) -> str:
    """YYYY, YYYY-MM or YYYY-MM-DD: a date written only as precisely as it is known."""
    if month and day:
        return f"{year:04d}-{month:02d}-{day:02d}"
    if month:
        return f"{year:04d}-{month:02d}"
    return f"{year:04d}"


def anonymised_label(at: datetime) -> str:
    """What pages show in place of the names of a record anonymised at `at`."""
    day = timezone.localtime(at).date().isoformat()
    return gettext("anonymised on %(date)s") % {"date": day}


class CrossingCount(models.Model):
    """People and vehicles counted crossing at a site during one period (usually an hour)."""

    uuid = models.UUIDField(unique=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="crossing_counts")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    people = models.PositiveIntegerField()
    vehicles = models.PositiveIntegerField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    payload_digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["site", "period_start"]
        indexes = [models.Index(fields=["site", "period_start"], name="crossing_site_period")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")),
                name="crossing_period_positive",
            )
        ]

    def __str__(self) -> str:
        return f"{self.site.code} {self.period_start:%Y-%m-%d %H:%M}: {self.people}"


class Household(models.Model):
    """People registered together. The UUID is the client's, so a retried request is recognised.

    A coordinator closes the household's case when Haven no longer serves it (`closed_at`, with
    why); once closed longer than the retention period (HAVEN_RETENTION_DAYS), `haven retention`
    anonymises it and its members (haven.registry.retention) and sets `anonymised_at`."""

    class ClosedReason(models.TextChoices):
        DEPARTED = "departed", _("departed (left the country or the area)")
        RESETTLED = "resettled", _("resettled elsewhere")
        INTEGRATED = "integrated", _("integrated: no longer needs support")
        DECEASED = "deceased", _("all members deceased")
        DUPLICATE = "duplicate", _("a duplicate registration of another household")
        OTHER = "other", _("other reason")

    uuid = models.UUIDField(unique=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="households")
    registered_at = models.DateTimeField()
    origin_settlement = models.CharField(max_length=100, blank=True)
    phone = models.CharField(max_length=20, blank=True)
    # Written with the members (a household's members are never added or removed later), so the
    # figures count records by household without reading the million person rows.
    member_count = models.PositiveIntegerField(db_default=0, editable=False)
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    payload_digest = models.CharField(
        max_length=64, help_text=_("Hash of the registration as first received, to spot a replay")
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    # db_default: the registration actions insert households column by column (core.bulk).
    closed_reason = models.CharField(
        max_length=12, choices=ClosedReason.choices, blank=True, default="", db_default=""
    )
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-registered_at", "-id"]
        indexes = [
            models.Index(fields=["site", "registered_at"], name="household_site_time"),
            # Every column the situation figures read, by time: a moment's households are a
            # range of this index and nothing else (haven.reports.figures).
            models.Index(
                fields=["registered_at", "site", "member_count", "origin_settlement"],
                name="household_figures",
            ),
        ]

    def __str__(self) -> str:
        return str(self.uuid)


class Person(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "F", _("female")
        MALE = "M", _("male")

    class Relationship(models.TextChoices):
        HEAD = "head", _("head of household")
        SPOUSE = "spouse", _("spouse")
        CHILD = "child", _("child")
        PARENT = "parent", _("parent")
        SIBLING = "sibling", _("sibling")
        GRANDCHILD = "grandchild", _("grandchild")
        OTHER = "other", _("other relative or non-relative")

    uuid = models.UUIDField(unique=True)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="members")
    # Denormalised from the household so that every scoped query is one indexed filter.
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="persons")
    relationship = models.CharField(max_length=16, choices=Relationship.choices)
    given_name = models.CharField(max_length=100)
    given_name_script = models.CharField(max_length=10, choices=NameScript.choices)
    family_name = models.CharField(max_length=100)
    family_name_script = models.CharField(max_length=10, choices=NameScript.choices)
    patronymic = models.CharField(max_length=100, blank=True)
    patronymic_script = models.CharField(max_length=10, choices=NameScript.choices, blank=True)
    # The three names case-folded in one string, for case-insensitive search in any script on
    # every database (SQLite folds only ASCII in LIKE): derived, rewritten on every name change.
    name_search = models.CharField(max_length=310, editable=False, default="")
    # Phonetic keys of the names in any script (haven.names), so that Հարությունյան, Harutyunyan
    # and Арутюнян are found together: derived, rewritten on every name change.
    given_key = models.CharField(max_length=100, editable=False, default="")
    family_key = models.CharField(max_length=100, editable=False, default="")
    patronymic_key = models.CharField(max_length=100, editable=False, default="")
    # Who this record is: the person's own uuid until haven.identity links it with other records
    # of the same person (every move is an identity.Link, so a merge can be undone).
    identity = models.UUIDField(editable=False)
    sex = models.CharField(max_length=1, choices=Sex.choices)
    # A date of birth may be known to the day, the month, the year, or only as an estimated age.
    birth_year = models.PositiveSmallIntegerField()
    birth_month = models.PositiveSmallIntegerField(null=True, blank=True)
    birth_day = models.PositiveSmallIntegerField(null=True, blank=True)
    birth_year_estimated = models.BooleanField(
        default=False, help_text=_("The year was derived from an estimated age")
    )
    phone = models.CharField(max_length=20, blank=True)
    specific_needs = models.JSONField(default=list, blank=True, help_text=_("UNHCR codes"))
    # Washington Group short set: 1 no difficulty, 2 some, 3 a lot, 4 cannot do at all.
    wg_seeing = models.PositiveSmallIntegerField(null=True, blank=True)
    wg_hearing = models.PositiveSmallIntegerField(null=True, blank=True)
    wg_walking = models.PositiveSmallIntegerField(null=True, blank=True)
    wg_remembering = models.PositiveSmallIntegerField(null=True, blank=True)
    wg_selfcare = models.PositiveSmallIntegerField(null=True, blank=True)
    wg_communicating = models.PositiveSmallIntegerField(null=True, blank=True)
    # Set by `haven retention`: names, contacts, documents and the day and month of birth are
    # gone; what the situation figures count stays (haven.registry.retention).
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["household", "id"]
        indexes = [
            models.Index(fields=["site", "family_name"], name="person_site_family"),
            models.Index(fields=["site", "given_name"], name="person_site_given"),
            # Both names' keys, then the year: a search by a name finds its candidates' years in
            # the index, without reading their rows (haven.tracing.search, the desk check).
            models.Index(
                fields=["family_key", "given_key", "birth_year"], name="person_name_keys_year"
            ),
            models.Index(fields=["given_key", "birth_year"], name="person_given_year"),
            models.Index(fields=["family_key", "birth_year"], name="person_family_year"),
            # By identity, holding the columns the situation figures read of the records whose
            # identity others share (haven.reports.figures), so that they read no person rows.
            models.Index(
                fields=[
                    "identity",
                    "household",
                    "site",
                    "sex",
                    "birth_year",
                    "birth_month",
                    "birth_day",
                    "specific_needs",
                ],
                name="person_identity_figures",
            ),
            # The situation figures' age bands on a date: the people of a few birth years whose
            # birthday has (or has not) come yet that year (haven.reports.figures).
            models.Index(
                fields=["birth_year", "birth_month", "birth_day", "site", "sex"],
                name="person_birth",
            ),
            # Every column the situation figures group persons by, after the household: the
            # figures read this index alone, never the wide person rows (haven.reports.figures).
            models.Index(
                fields=[
                    "household",
                    "site",
                    "sex",
                    "birth_year",
                    "birth_month",
                    "birth_day",
                    "specific_needs",
                ],
                name="person_figures",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def birth_date(self) -> str:
        """The date of birth as precisely as it is known: YYYY, YYYY-MM or YYYY-MM-DD."""
        return partial_date_text(self.birth_year, self.birth_month, self.birth_day)

    @property
    def birth_date_display(self) -> str:
        return self.birth_date + (" (estimated)" if self.birth_year_estimated else "")

    @property
    def wg_answers(self) -> dict[str, int | None]:
        return {
            "seeing": self.wg_seeing,
            "hearing": self.wg_hearing,
            "walking": self.wg_walking,
            "remembering": self.wg_remembering,
            "selfcare": self.wg_selfcare,
            "communicating": self.wg_communicating,
        }

    @property
    def has_wg_disability(self) -> bool:
        """The Washington Group's cut-off for reporting: in at least one domain, a lot of
        difficulty (3) or cannot do at all (4)."""
        return any(answer is not None and answer >= 3 for answer in self.wg_answers.values())

    @property
    def full_name(self) -> str:
        """The names as registered, or for an anonymised record when it was anonymised."""
        if self.anonymised_at is not None:
            return anonymised_label(self.anonymised_at)
        return " ".join(p for p in (self.given_name, self.patronymic, self.family_name) if p)


class IdentityDocument(models.Model):
    class Kind(models.TextChoices):
        PASSPORT = "passport", _("passport")
        ID_CARD = "id_card", _("identity card")
        BIRTH_CERTIFICATE = "birth_certificate", _("birth certificate")
        NK_PASSPORT = "nk_passport", _("Nagorno-Karabakh passport")
        SOCIAL_CARD = "social_card", _("social security card")
        OTHER = "other", _("other document")

    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    number = models.CharField(max_length=40)
    issuing_country = models.CharField(max_length=3, blank=True, help_text=_("ISO 3166 alpha-3"))

    class Meta:
        indexes = [models.Index(fields=["number"], name="document_number")]

    def __str__(self) -> str:
        return f"{self.kind} {self.number}"


class PersonCorrection(models.Model):
    """One field of a person changed, with the old and new value and why: nothing is lost."""

    uuid = models.UUIDField(unique=True)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="corrections")
    field = models.CharField(max_length=40)
    old_value = models.JSONField(null=True)
    new_value = models.JSONField(null=True)
    reason = models.CharField(max_length=500)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    corrected_at = models.DateTimeField()

    class Meta:
        ordering = ["corrected_at", "id"]

    def __str__(self) -> str:
        return f"{self.person_id}.{self.field}: {self.old_value!r} → {self.new_value!r}"


class FigureTally(models.Model):
    """Running counts of what has been registered, kept by the registration actions in the same
    transaction as the records, so that the situation figures after the last registration (the
    dashboard's "now") are read from a few thousand rows instead of a million records
    (haven.registry.tallies; haven.reports.figures compares them with the records in its tests).

    One row per key and kind:
    - "hour": households and their records by site and hour of registration (hours since 1970
      in UTC);
    - "origin": records by site and settlement of origin as typed;
    - "people": records by site, sex and year of birth;
    - "needs": records with specific needs by site, sex and needs (the codes as a sorted JSON
      list).
    Unused parts of the key are 0 or "". Counts only ever change by adding to them.
    """

    class Kind(models.TextChoices):
        HOUR = "hour", "hour"
        ORIGIN = "origin", "origin"
        PEOPLE = "people", "people"
        NEEDS = "needs", "needs"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+")
    hour = models.BigIntegerField(default=0)
    sex = models.CharField(max_length=1, blank=True, default="")
    birth_year = models.PositiveSmallIntegerField(default=0)
    text = models.TextField(blank=True, default="")
    households = models.BigIntegerField(default=0)
    persons = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "site", "hour", "sex", "birth_year", "text"],
                name="figure_tally_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.site_id} {self.hour} {self.sex} {self.birth_year} {self.text!r}"
