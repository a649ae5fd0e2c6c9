"""Signing in: the password form (Haven's and the admin's), the code page and TOTP enrolment.

The password forms refuse a locked-out username or address before the password is checked and
count each failure (haven.core.login_security). A user who needs a second factor
(haven.core.second_factor) then enters the code from their authenticator app, or, the first time,
enrols one: a QR code drawn here as inline SVG (no request leaves Haven) and the same secret as
text, confirmed by a first code. Wrong codes count towards the same lockout as wrong passwords.
"""

import re
from base64 import b32encode
from typing import Any

import django_otp
import segno
from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django_otp.plugins.otp_totp.models import TOTPDevice

from haven.core import audit
from haven.core.login_security import (
    Lockout,
    current_lockout,
    record_failure,
    record_success,
    remember_device,
)
from haven.core.models import User
from haven.core.second_factor import confirmed_device, is_verified, requires_second_factor


class SignInForm(AuthenticationForm):
    """Django's sign-in form, throttled. `locked_out` is set when the answer is a lockout."""

    locked_out: Lockout | None = None

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if self.request is None or not username or not password:
            return super().clean()
        lockout = current_lockout(self.request, username)
        if lockout is not None:
            self.locked_out = lockout
            raise ValidationError(lockout.message(), code="locked_out")
        try:
            cleaned = super().clean()
        except ValidationError:
            lockout = record_failure(self.request, username, stage="password")
            if lockout is not None:
                self.locked_out = lockout
                raise ValidationError(lockout.message(), code="locked_out") from None
            raise
        if not requires_second_factor(self.get_user()):
            record_success(self.request, username)
        return cleaned


class AdminSignInForm(SignInForm, AdminAuthenticationForm):
    """The admin's sign-in form (staff only), throttled the same way."""


class SignInView(LoginView):
    template_name = "core/login.html"
    authentication_form = SignInForm

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        if not requires_second_factor(user):  # else once the code is right (_signed_in)
            remember_device(self.request, response, user.get_username())
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if isinstance(form, SignInForm) and form.locked_out is not None:
            response.status_code = 429
        return response


class CodeForm(forms.Form):
    code = forms.CharField(
        label="",
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "autofocus": True,
                "pattern": r"[0-9 ]*",
                "size": 8,
            }
        ),
    )

    def clean_code(self) -> str:
        code = re.sub(r"\s", "", self.cleaned_data["code"])
        if not re.fullmatch(r"[0-9]{6}", code):
            raise ValidationError(_("Enter the 6 digits your app shows."), code="format")
        return code


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _signed_in(request: HttpRequest, user: User, device: TOTPDevice, next_url: str) -> HttpResponse:
    django_otp.login(request, device)
    # A new session key for the now fully signed-in session, as Django's login() does.
    request.session.cycle_key()
    record_success(request, user.get_username())
    response = redirect(next_url)
    remember_device(request, response, user.get_username())
    return response


def _wrong_code(request: HttpRequest, user: User, form: CodeForm) -> Lockout | None:
    lockout = record_failure(request, user.get_username(), stage="code")
    if lockout is None:
        form.add_error("code", _("That code is not right. Enter the code your app shows now."))
    return lockout


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], lockout: Lockout | None
) -> HttpResponse:
    context = {
        **context,
        "lockout_message": lockout.message() if lockout is not None else "",
        "second_factor_pending": True,
        "next": _next_url(request),
    }
    return render(request, template, context, status=429 if lockout is not None else 200)


@sensitive_post_parameters("code")
@never_cache
@csrf_protect
@login_required
def second_factor(request: HttpRequest) -> HttpResponse:
    """The "enter your 6-digit code" step after the password."""
    user = request.user
    next_url = _next_url(request)
    if not isinstance(user, User) or not requires_second_factor(user) or is_verified(request):
        return redirect(next_url)
    device = confirmed_device(user)
    if device is None:
        return redirect(f"{reverse('enrol')}?{urlencode({'next': next_url})}")
    form = CodeForm(request.POST if request.method == "POST" else None)
    lockout = current_lockout(request, user.get_username())
    if request.method == "POST" and lockout is None and form.is_valid():
        verified = django_otp.verify_token(user, device.persistent_id, form.cleaned_data["code"])
        if verified is not None:
            return _signed_in(request, user, verified, next_url)
        lockout = _wrong_code(request, user, form)
    return _page(request, "core/second_factor.html", {"form": form}, lockout)


def _qr_svg(device: TOTPDevice) -> SafeString:
    svg = segno.make(device.config_url, error="m").svg_inline(
        scale=5, border=2, title=_("QR code for your authenticator app")
    )
    # segno writes the SVG itself from the device's own URL: nothing a user typed is in it.
    return mark_safe(svg)  # noqa: S308


def _secret_text(device: TOTPDevice) -> str:
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# The session's key for the unconfirmed device its enrolment page showed: only that device, made
# for this session, may be confirmed by it.
_ENROL_DEVICE_KEY = "haven_enrol_device"


def _new_enrolment(request: HttpRequest, user: User) -> TOTPDevice:
    """A fresh secret for this session: every other unconfirmed device of the user goes, so a
    secret shown to another session (someone else holding the password) can never be confirmed."""
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=user.pk).first()
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name="Haven", confirmed=False)
    request.session[_ENROL_DEVICE_KEY] = device.pk
    return device


def _session_device(request: HttpRequest, user: User) -> TOTPDevice | None:
    """The unconfirmed device this session's enrolment page showed, if it is still there."""
    device_pk = request.session.get(_ENROL_DEVICE_KEY)
    if not isinstance(device_pk, int):
        return None
    device: TOTPDevice | None = TOTPDevice.objects.filter(
        pk=device_pk, user=user, confirmed=False
    ).first()
    return device


def _confirm(user: User, device_pk: int, code: str) -> tuple[TOTPDevice | None, bool]:
    """(The session's device, whether `code` confirmed it); (None, False) when the device is gone
    meanwhile (another session started enrolment) or another device was confirmed."""
    with transaction.atomic():
        # One enrolment of a user at a time: this and _new_enrolment lock the user's row.
        User.objects.select_for_update().filter(pk=user.pk).first()
        device: TOTPDevice | None = TOTPDevice.objects.filter(
            pk=device_pk, user=user, confirmed=False
        ).first()
        if device is None or confirmed_device(user) is not None:
            return None, False
        if not device.verify_token(code):
            return device, False
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        audit.record(
            user=user,
            action="user.second_factor_enrolled",
            object_type="user",
            object_uuid=None,
            detail={"pk": user.pk, "username": user.get_username()},
        )
    return device, True


@sensitive_post_parameters("code")
@never_cache
@csrf_protect
@login_required
def enrol(request: HttpRequest) -> HttpResponse:
    """The first sign-in of a user who needs a second factor: add the authenticator app.

    Each visit of the page makes a new secret for this session alone (see _new_enrolment)."""
    user = request.user
    next_url = _next_url(request)
    if not isinstance(user, User) or not requires_second_factor(user) or is_verified(request):
        return redirect(next_url)
    if confirmed_device(user) is not None:
        # Only a user without a device may add one here; a new phone goes through a reset.
        return redirect(f"{reverse('second_factor')}?{urlencode({'next': next_url})}")
    if request.method != "POST":
        return _enrol_page(request, user, _new_enrolment(request, user), CodeForm(), None)
    form = CodeForm(request.POST)
    lockout = current_lockout(request, user.get_username())
    device = _session_device(request, user)
    if device is not None and lockout is None and form.is_valid():
        checked, confirmed = _confirm(user, device.pk, form.cleaned_data["code"])
        if confirmed and checked is not None:
            request.session.pop(_ENROL_DEVICE_KEY, None)
            return _signed_in(request, user, checked, next_url)
        if checked is not None:
            lockout = _wrong_code(request, user, form)
        device = checked
    if device is None:
        # This session's secret is gone (another session started enrolment since) or it never
        # had one: start again, with a new secret, rather than confirm someone else's.
        if confirmed_device(user) is not None:
            return redirect(f"{reverse('second_factor')}?{urlencode({'next': next_url})}")
        device = _new_enrolment(request, user)
        form = CodeForm({"code": ""})
        form.errors.pop("code", None)  # not "this field is required", but why the key changed
        form.add_error(
            "code",
            _(
                "Setting up was started again, so the key has changed. Remove any Haven account "
                "you added to your app for this, add the new key below, and enter the code it "
                "shows."
            ),
        )
    return _enrol_page(request, user, device, form, lockout)


def _enrol_page(
    request: HttpRequest, user: User, device: TOTPDevice, form: CodeForm, lockout: Lockout | None
) -> HttpResponse:
    context = {
        "form": form,
        "qr_svg": _qr_svg(device),
        "secret": _secret_text(device),
        "account": user.get_username(),
    }
    return _page(request, "core/enrol.html", context, lockout)
