"""Where people sleep: shelters with their capacity, and each household's stays in them.

A household is in at most one shelter at a time (an open `Stay`: checked in, not yet out); a
shelter's occupancy is the members of the households staying in it. Stays are never deleted: a
check-out closes one, so occupancy at any past moment can be read back.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from haven.registry.models import Household


class Shelter(models.Model):
    class Kind(models.TextChoices):
        COLLECTIVE = "collective", _("collective centre")
        HOTEL = "hotel", _("hotel or guest house")
        HOST_FAMILY = "host_family", _("host family")

    uuid = models.UUIDField(unique=True)
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    province = models.CharField(max_length=100, help_text=_("Marz of Armenia"))
    town = models.CharField(max_length=100)
    beds = models.PositiveIntegerField()
    rooms = models.PositiveIntegerField(default=0)
    step_free = models.BooleanField(default=False, help_text=_("Reachable without steps"))
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="managed_shelters",
        help_text=_("Shelter managers who run this shelter"),
    )

    class Meta:
        ordering = ["province", "town", "name"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Stay(models.Model):
    """One household in one shelter, from check-in to check-out."""

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="stays")
    shelter = models.ForeignKey(Shelter, on_delete=models.PROTECT, related_name="stays")
    persons = models.PositiveIntegerField(help_text=_("Members checked in"))
    checked_in_at = models.DateTimeField()
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    checked_out_at = models.DateTimeField(null=True, blank=True)
    checked_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-checked_in_at", "-id"]
        indexes = [models.Index(fields=["shelter", "checked_out_at"], name="stay_shelter_open")]
        constraints = [
            models.UniqueConstraint(
                fields=["household"],
                condition=models.Q(checked_out_at__isnull=True),
                name="stay_one_open_per_household",
            )
        ]

    def __str__(self) -> str:
        return f"{self.household_id} in {self.shelter_id}"
