"""The caseworkers' tracing pages: the queue, a new request, one request with its matches, what
the searcher may be told, and status notes on a person.

Each view authorises through the selectors (a request the user may not see is a 404, exactly as
one that does not exist, and so is every page for a role that does not trace), calls one action
and renders. Every person shown is an audited read. No JavaScript: each step is a form post.
"""

from datetime import datetime, time
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from haven.core import audit
from haven.core.bulk import insert_rows
from haven.core.errors import Conflict, InvalidInput, NotFound
from haven.core.models import AuditEvent, Site, User
from haven.core.selectors import sites_with_personal_data
from haven.identity.reasons import reason_text
from haven.registry.models import Person
from haven.registry.selectors import audit_listed, person_for
from haven.tracing import actions, selectors
from haven.tracing.forms import CLOSE_CHOICES, RequestForm, StatusNoteForm
from haven.tracing.models import StatusNote, TraceMatch, TracingRequest
from haven.tracing.search import may_trace


def _tracer(request: HttpRequest) -> User:
    """The signed-in caseworker, coordinator or administrator; anyone else gets a 404."""
    user = request.user
    if not isinstance(user, User) or not may_trace(user):
        raise Http404
    return user


def _request_or_404(user: User, request_uuid: UUID, purpose: str) -> TracingRequest:
    try:
        return selectors.request_for(user, request_uuid, purpose=purpose)
    except NotFound:
        raise Http404 from None


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    user = _tracer(request)
    requests = list(selectors.queue_for(user).select_related("site")[:200])
    # The sought names are personal data too: one audit row per request shown, in that request's
    # own trail (opening one is audited apart, selectors.request_for).
    now = timezone.now()
    insert_rows(
        AuditEvent,
        [
            audit.audit_row(
                user=user,
                action="tracing.request.listed",
                object_type="tracing_request",
                object_uuid=r.uuid,
                site_id=r.site_id,
                detail={"via": "queue"},
                at=now,
            )
            for r in requests
        ],
    )
    return render(request, "tracing/queue.html", {"requests": requests})


def _site_choices(user: User) -> list[tuple[str, str]]:
    return [(site.code, f"{site.name} ({site.code})") for site in sites_with_personal_data(user)]


@login_required
@require_http_methods(["GET", "POST"])
def new_request(request: HttpRequest) -> HttpResponse:
    user = _tracer(request)
    sites = _site_choices(user)
    form = RequestForm(request.POST or None, sites=sites)
    if request.method == "POST" and form.is_valid():
        site = Site.objects.get(code=form.cleaned_data["site"])
        try:
            data = actions.parse_request(form.payload())
            made, _created = actions.open_request(
                data=data,
                acting_user=user,
                source=TracingRequest.Source.CASEWORKER,
                site=site,
            )
        except InvalidInput as invalid:
            for error in invalid.errors:
                field = error.field if error.field in form.fields else None
                form.add_error(field, error.message)
        else:
            messages.success(request, _("The request is recorded and matched."))
            return redirect("tracing:request", request_uuid=made.uuid)
    return render(request, "tracing/new.html", {"form": form})


def searcher_message(tracing_request: TracingRequest) -> str:
    """What the caseworker may tell the searcher now: nothing of the person found without
    their consent."""
    if tracing_request.found is None:
        return _("We are still looking. Nothing has been found that can be shared.")
    if tracing_request.disclosure == TracingRequest.Disclosure.ALLOWED and (
        tracing_request.status in (TracingRequest.Status.FOUND, TracingRequest.Status.REUNITED)
    ):
        site = tracing_request.found.site
        return _(
            "The person you are looking for is registered with Haven at %(site)s, %(province)s, "
            "and agreed that you may know it."
        ) % {"site": site.name, "province": site.province}
    if tracing_request.disclosure == TracingRequest.Disclosure.REFUSED:
        return _("Your message was passed on. We cannot tell you more.")
    return _(
        "Ask the person found first whether their whereabouts may be shared; tell the searcher "
        "nothing yet."
    )


def _reason_words(reason: dict[str, Any]) -> str:
    if reason.get("field") == actions.RELATIVE_FIELD:
        return _("%(name)s, a relative the searcher named, is registered with them") % {
            "name": reason.get("detail", "")
        }
    scripts = tuple(reason.get("scripts") or ("", ""))
    return reason_text(str(reason.get("field")), str(reason.get("level")), scripts)


@login_required
def request_page(request: HttpRequest, request_uuid: UUID) -> HttpResponse:
    user = _tracer(request)
    tracing_request = _request_or_404(user, request_uuid, "page")
    if tracing_request.matched_at is None and not tracing_request.is_closed:
        with transaction.atomic():  # the public form's and imports': matched when first opened
            actions.match_request(tracing_request)
    matches = list(
        TraceMatch.objects.filter(request=tracing_request).select_related(
            "person", "person__site", "person__household"
        )
    )
    if matches:
        audit_listed(
            user,
            "person.trace",
            [(m.person.uuid, m.person.site_id) for m in matches],
            via="tracing_request",
            query=str(tracing_request.uuid),
        )
    if tracing_request.searcher is not None:  # the registered searcher's name is shown too
        audit_listed(
            user,
            "person.view",
            [(tracing_request.searcher.uuid, tracing_request.searcher.site_id)],
            via="tracing_request_searcher",
        )
    rows = [
        {
            "match": m,
            "reasons": [
                (_reason_words(r), float(r.get("weight", 0))) for r in m.reasons if r.get("weight")
            ][:5],
        }
        for m in matches
    ]
    actions.mark_seen(tracing_request, user)
    return render(
        request,
        "tracing/request.html",
        {
            "tr": tracing_request,
            "rows": rows,
            "notes": list(tracing_request.status_notes.select_related("recorded_by")),
            "note_form": StatusNoteForm(),
            "close_choices": CLOSE_CHOICES,
            "searcher_message": searcher_message(tracing_request),
            "relatives": [r for r in tracing_request.sought_relatives.splitlines() if r],
        },
    )


def _back(tracing_request: TracingRequest) -> HttpResponse:
    return redirect("tracing:request", request_uuid=tracing_request.uuid)


def _refused(request: HttpRequest, error: Exception) -> None:
    if isinstance(error, InvalidInput):
        messages.error(request, "; ".join(e.message for e in error.errors))
    else:
        messages.error(request, str(error))


@login_required
@require_POST
def found(request: HttpRequest, request_uuid: UUID) -> HttpResponse:
    user = _tracer(request)
    tracing_request = _request_or_404(user, request_uuid, "found")
    match = (
        TraceMatch.objects.filter(
            request=tracing_request, person__uuid=request.POST.get("person", "")
        ).first()
        if _is_uuid(request.POST.get("person", ""))
        else None
    )
    if match is None:
        raise Http404
    try:
        actions.mark_found(request=tracing_request, person=match.person, user=user)
    except (Conflict, NotFound) as error:
        _refused(request, error)
    else:
        messages.success(
            request, _("Recorded as found. Now ask them whether their whereabouts may be shared.")
        )
    return _back(tracing_request)


@login_required
@require_POST
def disclosure(request: HttpRequest, request_uuid: UUID) -> HttpResponse:
    user = _tracer(request)
    tracing_request = _request_or_404(user, request_uuid, "disclosure")
    answer = request.POST.get("allowed")
    if answer not in ("yes", "no"):
        messages.error(request, _("Say whether the person found agreed."))
        return _back(tracing_request)
    person = request.POST.get("person", "")
    if not _is_uuid(person):
        raise Http404
    try:
        actions.record_disclosure(
            request=tracing_request, person_uuid=UUID(person), allowed=answer == "yes", user=user
        )
    except Conflict as error:
        _refused(request, error)
    else:
        messages.success(request, _("Their answer is recorded."))
    return _back(tracing_request)


@login_required
@require_POST
def close(request: HttpRequest, request_uuid: UUID) -> HttpResponse:
    user = _tracer(request)
    tracing_request = _request_or_404(user, request_uuid, "close")
    try:
        actions.close_request(
            request=tracing_request, outcome=request.POST.get("outcome", ""), user=user
        )
    except (InvalidInput, Conflict) as error:
        _refused(request, error)
    else:
        messages.success(request, _("The request is closed."))
    return _back(tracing_request)


@login_required
@require_POST
def rematch(request: HttpRequest, request_uuid: UUID) -> HttpResponse:
    user = _tracer(request)
    tracing_request = _request_or_404(user, request_uuid, "rematch")
    with transaction.atomic():
        added = actions.match_request(tracing_request)
    messages.success(request, _("Matched again: %(count)d new candidates.") % {"count": len(added)})
    return _back(tracing_request)


def _note_from(
    request: HttpRequest,
    user: User,
    *,
    person: Person | None = None,
    tracing_request: TracingRequest | None = None,
) -> StatusNote | None:
    form = StatusNoteForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            "; ".join(f"{f}: {' '.join(str(m) for m in e)}" for f, e in form.errors.items()),
        )
        return None
    asserted_on = form.cleaned_data["asserted_on"]
    asserted_at = (
        timezone.make_aware(datetime.combine(asserted_on, time(12)))
        if asserted_on is not None
        else None
    )
    if asserted_at is not None and asserted_at > timezone.now():
        asserted_at = timezone.now() if asserted_on == timezone.localdate() else asserted_at
    try:
        note = actions.add_status_note(
            status=form.cleaned_data["status"],
            asserted_by=form.cleaned_data["asserted_by"],
            asserted_at=asserted_at,
            text=form.cleaned_data["text"],
            user=user,
            person=person,
            request=tracing_request,
        )
    except InvalidInput as invalid:
        _refused(request, invalid)
        return None
    messages.success(request, _("The note is recorded."))
    return note


@login_required
@require_POST
def request_note(request: HttpRequest, request_uuid: UUID) -> HttpResponse:
    user = _tracer(request)
    tracing_request = _request_or_404(user, request_uuid, "note")
    _note_from(request, user, tracing_request=tracing_request)
    return _back(tracing_request)


@login_required
@require_http_methods(["GET", "POST"])
def person_notes(request: HttpRequest, person_uuid: UUID) -> HttpResponse:
    """Status notes on a registered person: caseworkers of the person's site only."""
    user = _tracer(request)
    try:
        person = person_for(user, person_uuid, purpose="status_notes")
    except NotFound:
        raise Http404 from None
    if request.method == "POST":
        _note_from(request, user, person=person)
        return redirect("tracing:person_notes", person_uuid=person.uuid)
    return render(
        request,
        "tracing/person_notes.html",
        {
            "person": person,
            "notes": list(person.status_notes.select_related("recorded_by")),
            "note_form": StatusNoteForm(),
        },
    )


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True
