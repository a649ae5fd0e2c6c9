"""Sites (the tenant), users and their roles, the audit log and device tokens."""

import hashlib
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Site(models.Model):
    """A place where Haven is used: a crossing point, a reception hub or a shelter. The tenant."""

    class Kind(models.TextChoices):
        CROSSING = "crossing", _("crossing point")
        HUB = "hub", _("reception hub")
        SHELTER = "shelter", _("shelter")

    code = models.SlugField(
        max_length=32, unique=True, help_text=_("Short code, e.g. KOR or GORIS")
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    province = models.CharField(max_length=100, help_text=_("Marz of Armenia"))
    time_zone = models.CharField(max_length=64, default="Asia/Yerevan")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class User(AbstractUser):
    """A person who uses Haven, with one role. Registrars and shelter managers work at one site."""

    class Role(models.TextChoices):
        REGISTRAR = "registrar", _("registrar")
        CASEWORKER = "caseworker", _("caseworker")
        SHELTER_MANAGER = "shelter_manager", _("shelter manager")
        ASSISTANCE_OFFICER = "assistance_officer", _("assistance officer")
        COORDINATOR = "coordinator", _("coordinator")
        PARTNER_ANALYST = "partner_analyst", _("partner analyst")
        ADMIN = "admin", _("administrator")

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.REGISTRAR)
    site = models.ForeignKey(
        Site,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
        help_text=_("The site a registrar works at"),
    )
    assigned_sites = models.ManyToManyField(
        Site, blank=True, related_name="caseworkers", help_text=_("Sites a caseworker covers")
    )


class AuditEvent(models.Model):
    """Who did what to which record, when, from which site. Written in the same transaction."""

    at = models.DateTimeField(db_index=True)
    user = models.ForeignKey(User, null=True, on_delete=models.PROTECT, related_name="+")
    acting_site = models.ForeignKey(
        Site,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Where the user works"),
    )
    record_site = models.ForeignKey(
        Site,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The record's site"),
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=32)
    object_uuid = models.UUIDField(null=True, db_index=True)
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["action", "at"], name="audit_action_at")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type} {self.object_uuid}"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    """A device's credential for the JSON API. Only the hash is stored; the token is shown once."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text=_("First characters, to tell tokens apart"))
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


class LoginThrottle(models.Model):
    """Failed sign-ins counted for one username, one client address or one remembered browser
    (haven.core.login_security), and the lockout they earn.

    In the database, not in a worker's memory, so that every worker process of a deployment counts
    the same failures. The username or address is stored only as a keyed hash: a mistyped password
    typed into the username field is not kept in the clear.
    """

    class Kind(models.TextChoices):
        USERNAME = "username", _("username")
        ADDRESS = "address", _("client address")
        DEVICE = "device", _("remembered browser")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    key = models.CharField(
        max_length=64, help_text=_("Keyed hash of the username, address or browser")
    )
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "key"], name="login_throttle_kind_key")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key[:8]}… {self.failures}"
