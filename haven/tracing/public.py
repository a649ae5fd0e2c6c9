"""The public tracing request form: anyone may ask Haven to look for a relative, in Armenian,
Russian or English, without an account.

It reveals nothing. A valid request is stored for the caseworkers' queue of unassigned requests
without being matched (it is matched when a caseworker first opens it), so nothing in the answer
can depend on who is registered: every accepted, refused or limited submission gets the same 303
to the same fixed thank-you page. Form errors are about the form alone (a name that cannot be a
name, a missing contact, no consent, an impossible year), never about the registry.

Floods and bots are refused quietly, with that same answer and nothing stored but a log line and
an audit row without personal data: more accepted requests than the day's limit from one address
or for one contact; a filled honeypot field; a form sent back faster than a person could fill it,
or with an expired or forged issue token. Nothing here calls a third-party service.
"""

import ipaddress
import logging
import re
import time
import uuid as uuid_lib
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.crypto import salted_hmac
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from haven.core import audit
from haven.core.errors import InvalidInput
from haven.tracing.actions import open_request, parse_request
from haven.tracing.models import PublicSubmission, TracingRequest
from haven.tracing.schemas import LANGUAGES, MAX_RELATIVES, TracingRequestIn
from haven.tracing.search import MAX_ORIGIN_LENGTH, name_parts

log = logging.getLogger(__name__)

# The form's issue token: signed (not secret) JSON with the time the form was issued and the uuid
# the request will be stored under, so a double submit of one form stores one request.
FORM_SIGNING_SALT = "haven.tracing.public.form"
# Nobody reads the form and types a name, a contact and a tick in less.
MIN_FILL_SECONDS = 3
# A form left open longer is refused; the person reloads it.
MAX_FILL_SECONDS = 24 * 3600
# The honeypot: a field people never see (hidden by CSS, from screen readers and from Tab) and
# that form-filling bots fill in.
HONEYPOT = "website"
# The window of the per-address and per-contact limits.
LIMIT_WINDOW = timedelta(days=1)
REFUSED = "tracing.public.refused"

LANGUAGE_NAMES = {"hy": "Հայերեն", "ru": "Русский", "en": "English"}


class PublicRequestForm(forms.Form):
    """The fields of `TracingRequestIn` a member of the public gives. The form only parses and
    requires; the schema checks the rest, as for every other door a request comes in by."""

    sought_name = forms.CharField(
        label=_("Name of the person you are looking for"),
        help_text=_("Given name and family name, as you know them, in any alphabet."),
        max_length=310,
    )
    sought_birth_year = forms.IntegerField(
        label=_("Year of birth"), required=False, help_text=_("If you know it.")
    )
    sought_age = forms.IntegerField(
        label=_("Or their approximate age"), required=False, min_value=0
    )
    sought_sex = forms.ChoiceField(
        label=_("Sex"),
        required=False,
        choices=[("", _("not known")), ("F", _("female")), ("M", _("male"))],
    )
    sought_origin = forms.CharField(
        label=_("Where they lived (town or village)"),
        required=False,
        max_length=MAX_ORIGIN_LENGTH,
    )
    sought_relatives = forms.CharField(
        label=_("Relatives who may be with them"),
        required=False,
        help_text=_("Their names, one per line."),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=MAX_RELATIVES * 311,
    )
    last_seen_place = forms.CharField(
        label=_("Where they were last seen"), required=False, max_length=200
    )
    last_seen_on = forms.CharField(
        label=_("When they were last seen"),
        required=False,
        max_length=40,
        help_text=_("A date, or as you remember it."),
    )
    distinguishing = forms.CharField(
        label=_("Anything else that would help us recognise them"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    searcher_name = forms.CharField(label=_("Your name"), max_length=310)
    searcher_contact = forms.CharField(
        label=_("How we can reach you"),
        max_length=200,
        help_text=_("A phone number or an e-mail address."),
    )
    searcher_language = forms.ChoiceField(
        label=_("The language we should use with you"),
        choices=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
    )
    consent = forms.BooleanField(
        label=_(
            "I agree that Haven stores this request and my contact details, and that the"
            " caseworkers who look for missing relatives read them and contact me."
        ),
        error_messages={
            "required": _("Tick this box to send the request: without it we cannot record it.")
        },
    )
    # Filled by bots only: see HONEYPOT.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}),
    )

    # The error summary names each field shortly (the consent's label is its whole statement).
    summary_labels = {"consent": _("Consent")}

    def clean_sought_name(self) -> str:
        # The schema's own rule, run here too so that a name that cannot be one is shown along
        # with the form's other errors, not after they are corrected.
        name = str(self.cleaned_data["sought_name"])
        try:
            name_parts(name)
        except InvalidInput as invalid:
            raise forms.ValidationError(invalid.errors[0].message) from None
        return name

    def error_summary(self) -> list[tuple[str, str, str]]:
        """(anchor, short label, message) for each field in error, in the form's order."""
        return [
            (field.auto_id, str(self.summary_labels.get(field.name, field.label)), str(message))
            for field in self
            for message in field.errors
        ]

    def schema_payload(self) -> dict[str, Any]:
        """The cleaned fields as the schema takes them (the form is valid)."""
        data = self.cleaned_data
        return {
            "sought_name": data["sought_name"],
            "sought_birth_year": data["sought_birth_year"],
            "sought_age": data["sought_age"],
            "sought_sex": data["sought_sex"],
            "sought_origin": data["sought_origin"],
            "sought_relatives": data["sought_relatives"].splitlines(),
            "last_seen_place": data["last_seen_place"],
            "last_seen_on": data["last_seen_on"],
            "distinguishing": data["distinguishing"],
            "searcher_name": data["searcher_name"],
            "searcher_contact": data["searcher_contact"],
            "searcher_language": data["searcher_language"],
            "consent": data["consent"],
        }

    def add_schema_errors(self, error: InvalidInput) -> None:
        for field_error in error.errors:
            name = field_error.field.split(".")[0]
            self.add_error(name if name in self.fields else None, field_error.message)


# --- the issue token --------------------------------------------------------------------------


def form_token(*, issued_at: float | None = None) -> str:
    """A signed token saying when this form was issued and which uuid its request will have."""
    issued = time.time() if issued_at is None else issued_at
    return signing.dumps({"at": int(issued), "id": str(uuid_lib.uuid4())}, salt=FORM_SIGNING_SALT)


def _token_problem(token: str) -> tuple[str, uuid_lib.UUID | None]:
    """("", the request's uuid) for a good token; (why it is refused, None) otherwise."""
    try:
        content = signing.loads(token, salt=FORM_SIGNING_SALT)
        issued, request_uuid = float(content["at"]), uuid_lib.UUID(content["id"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return "bad_token", None
    age = time.time() - issued
    if age < MIN_FILL_SECONDS:
        return "too_fast", None
    if age > MAX_FILL_SECONDS:
        return "expired_token", None
    return "", request_uuid


# --- rate limits ------------------------------------------------------------------------------


def client_address(request: HttpRequest) -> str:
    """The address the request came from: REMOTE_ADDR, or behind HAVEN_TRUSTED_PROXIES reverse
    proxies the address the outermost of them saw (X-Forwarded-For read from the right: what a
    client writes into the header itself is never trusted); an IPv6 address stands for its
    /64, which one client usually holds whole."""
    raw = str(request.META.get("REMOTE_ADDR", ""))
    proxies: int = settings.HAVEN_TRUSTED_PROXIES
    if proxies > 0:
        hops = [
            hop.strip()
            for hop in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")
            if hop.strip()
        ]
        if len(hops) >= proxies:
            raw = hops[-proxies]
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def normalised_contact(contact: str) -> str:
    """One form for the ways of writing one contact: an e-mail address case-folded, a phone
    number as its digits (an international 00 prefix taken as +)."""
    text = contact.strip().casefold()
    if "@" in text:
        return re.sub(r"\s+", "", text)
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 5:
        return digits.removeprefix("00")
    return re.sub(r"\s+", "", text)


def _keyed_hash(kind: str, value: str) -> str:
    digest = salted_hmac(f"haven.tracing.public.{kind}", value, algorithm="sha256")
    return str(digest.hexdigest())


def submit_public_request(
    *, data: TracingRequestIn, address: str
) -> tuple[TracingRequest | None, str]:
    """The public form's one write: the request for the unassigned queue (not matched) and its
    submission row, unless the address or the contact is over the day's limit; (request, "")
    or (None, why it was refused, which is logged and audited). A resubmission of one form
    (same uuid, same content) returns its stored request and counts once."""
    address_hash = _keyed_hash("address", address)
    contact_hash = _keyed_hash("contact", normalised_contact(data.searcher_contact))
    now = timezone.now()
    since = now - LIMIT_WINDOW
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Two submissions from one flood must not both pass the count: take turns.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [FORM_SIGNING_SALT])
        existing = TracingRequest.objects.filter(uuid=data.uuid).first()
        if existing is not None:
            if existing.source == TracingRequest.Source.PUBLIC and (
                existing.sought_name == data.sought_name
            ):
                return existing, ""
            # The same form sent again with other content (back, edit, send): a request of its
            # own, counted as one.
            data = data.model_copy(update={"uuid": uuid_lib.uuid4()})
        recent = PublicSubmission.objects.filter(at__gte=since)
        reason = ""
        if recent.filter(address_hash=address_hash).count() >= (
            settings.HAVEN_PUBLIC_REQUESTS_PER_ADDRESS
        ):
            reason = "address_limit"
        elif recent.filter(contact_hash=contact_hash).count() >= (
            settings.HAVEN_PUBLIC_REQUESTS_PER_CONTACT
        ):
            reason = "contact_limit"
        if reason:
            _record_refusal(reason)
            return None, reason
        request, _created = open_request(
            data=data, acting_user=None, source=TracingRequest.Source.PUBLIC, site=None, match=False
        )
        PublicSubmission.objects.filter(at__lt=since).delete()
        PublicSubmission.objects.create(
            address_hash=address_hash, contact_hash=contact_hash, at=now
        )
    return request, ""


def _record_refusal(reason: str) -> None:
    """A log line and an audit row saying why, and nothing about who."""
    log.warning("public tracing request refused: %s", reason)
    audit.record(
        user=None,
        action=REFUSED,
        object_type="tracing_request",
        object_uuid=None,
        detail={"reason": reason},
    )


# --- the pages --------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def request_form(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        form = PublicRequestForm(initial={"searcher_language": _current_language()})
        return _render_form(request, form)

    refusal, request_uuid = _bot_refusal(request)
    if refusal:
        _record_refusal(refusal)
        return _sent()
    form = PublicRequestForm(request.POST)
    if not form.is_valid():
        return _render_form(request, form)
    try:
        data = parse_request(form.schema_payload())
    except InvalidInput as invalid:
        form.add_schema_errors(invalid)
        return _render_form(request, form)
    if request_uuid is not None:
        data = data.model_copy(update={"uuid": request_uuid})
    submit_public_request(data=data, address=client_address(request))
    return _sent()


@require_GET
def sent(request: HttpRequest) -> HttpResponse:
    """The one answer everyone gets, whatever they asked and whoever is registered."""
    return render(request, "tracing/public_sent.html")


def _bot_refusal(request: HttpRequest) -> tuple[str, uuid_lib.UUID | None]:
    if request.POST.get(HONEYPOT, ""):
        return "honeypot", None
    return _token_problem(request.POST.get("token", ""))


def _render_form(request: HttpRequest, form: PublicRequestForm) -> HttpResponse:
    # Each showing of the form is issued anew (so a form corrected after errors carries a token
    # that has not expired, and a request uuid of its own).
    context = {"form": form, "token": form_token(), "honeypot": form[HONEYPOT]}
    response = render(request, "tracing/public_form.html", context)
    # Never from a cache: the token in a cached form would be a stale one.
    add_never_cache_headers(response)
    return response


def _sent() -> HttpResponse:
    return HttpResponseRedirect(reverse("public:sent"), status=303)


def _current_language() -> str:
    language = (get_language() or "").split("-")[0]
    return language if language in LANGUAGES else "en"
