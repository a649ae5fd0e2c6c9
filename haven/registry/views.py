"""The registrar's pages: the desk form, the list of registrations, a person and their audit trail.

Each view parses the request, authorises through the selectors (a record the user may not see is a
404, never a 403), calls one action, and renders. Nothing here validates a registration itself:
the desk hands `schemas.HouseholdIn` the same payload the JSON API receives.
"""

import uuid as uuid_lib
from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods
from pydantic import ValidationError

from haven.core.errors import Conflict, FieldError, InvalidInput, NotFound
from haven.core.models import Site, User
from haven.core.selectors import REGISTERING_ROLES, sees_personal_data, sites_with_personal_data
from haven.identity.api_check import CandidateOut, CheckIn, candidates_out, run_check
from haven.identity.selectors import identity_members, may_review
from haven.registry import actions, selectors
from haven.registry.audit_trail import may_read_audit_trail, person_audit_trail
from haven.registry.forms import (
    FIELD_LABELS,
    DeskForm,
    MemberRow,
    split_codes,
    wg_answer,
    wg_question,
)
from haven.registry.models import Household, IdentityDocument, Person
from haven.registry.reference import WG_ANSWERS, WG_DOMAINS, settlements_nk, specific_needs_codes
from haven.registry.schemas import HouseholdIn, validated

PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 100


def _active_user(request: HttpRequest) -> User:
    """The signed-in user (the views are behind login_required); an inactive one sees nothing."""
    user = request.user
    if not isinstance(user, User) or not user.is_active:
        raise Http404
    return user


def _personal_data_user(request: HttpRequest) -> User:
    user = _active_user(request)
    if not sees_personal_data(user):
        # Partner analysts see aggregates only: these pages do not exist for them.
        raise Http404
    return user


# --- the desk ---------------------------------------------------------------------------------


def _registration_sites(user: User) -> list[Site]:
    if user.role not in REGISTERING_ROLES:
        return []
    return list(sites_with_personal_data(user).order_by("code"))


@login_required
@require_http_methods(["GET", "POST"])
def desk(request: HttpRequest) -> HttpResponse:
    user = _personal_data_user(request)
    sites = _registration_sites(user)
    if not sites:
        if user.role not in REGISTERING_ROLES:
            raise Http404
        return render(request, "registry/desk_no_site.html", status=403)
    # A registrar registers at their own site; others pick one of the sites they may write to.
    fixed_site = sites[0].code if user.role == User.Role.REGISTRAR or len(sites) == 1 else None

    if request.method == "GET":
        form = DeskForm.blank(site=fixed_site or "")
        return _render_desk(request, form, sites, fixed_site)

    form = DeskForm.from_post(request.POST, site=fixed_site)
    if not form.rows:
        form.add_row()
    if request.POST.get("action") == "add_member":
        # The no-JavaScript way to add a member: the same form again with one more row.
        if len(form.rows) < settings.HAVEN_MAX_MEMBERS:
            form.add_row()
        return _render_desk(request, form, sites, fixed_site, checks=_desk_checks(user, form))

    try:
        household, created = _register(form, user)
    except InvalidInput as exc:
        form.add_errors(exc.errors)
        return _render_desk(request, form, sites, fixed_site, checks=_desk_checks(user, form))
    except NotFound:
        form.add_error("site", _("You may not register people at this site."))
        return _render_desk(request, form, sites, fixed_site)
    except Conflict:
        form.add_error(
            "household",
            _(
                "This form's household number was already used for a different registration,"
                " so nothing was saved. Open a new desk form to register this household."
            ),
        )
        return _render_desk(request, form, sites, fixed_site, conflict=True)

    head = next((p for p in household.members.all() if p.relationship == "head"), None)
    count = household.members.count()
    values = {
        "head": head.full_name if head is not None else "",
        "count": count,
        "uuid": str(household.uuid)[:8],
    }
    if created:
        messages.success(
            request,
            ngettext(
                "Registered the household of %(head)s (%(uuid)s): %(count)d member.",
                "Registered the household of %(head)s (%(uuid)s): %(count)d members.",
                count,
            )
            % values,
        )
    else:
        messages.info(
            request,
            _(
                "The household of %(head)s (%(uuid)s) was already registered from this form;"
                " nothing new was saved."
            )
            % values,
        )
    return redirect("registrations")


def _register(form: DeskForm, user: User) -> tuple[Household, bool]:
    """Validate the form's payload with the registration schema and register it.

    A resubmitted form (a double click, a browser retry) must be the same payload to be answered
    as a retry, so it reuses the stored registration time instead of "now".
    """
    stored = _stored_registration_time(user, form.household_uuid)
    try:
        return actions.register_household(
            data=_validated(form, stored or timezone.now()), acting_user=user
        )
    except Conflict:
        # Two submits of one form racing each other: the other one has just stored it.
        if stored is None and (stored := _stored_registration_time(user, form.household_uuid)):
            return actions.register_household(data=_validated(form, stored), acting_user=user)
        raise


def _validated(form: DeskForm, registered_at: datetime) -> HouseholdIn:
    return validated(HouseholdIn, form.payload(registered_at=registered_at))


def _stored_registration_time(user: User, household_uuid: str) -> datetime | None:
    try:
        key = UUID(household_uuid)
    except ValueError:
        return None
    try:
        return selectors.household_for(user, key).registered_at
    except NotFound:
        return None


def _desk_checks(user: User, form: DeskForm) -> list[tuple[MemberRow, list[CandidateOut]]]:
    """The desk-time check for a form sent back to the desk (one more row, or errors to fix):
    the members typed so far and who may already be registered as them. With JavaScript the
    desk shows the same while the names are typed (desk.js); without it, this is when it shows."""
    checks = []
    for row in form.rows:
        if row.is_blank:
            continue
        payload = row.check_payload(origin_settlement=form.origin_settlement)
        try:
            data = CheckIn.model_validate(payload)
        except ValidationError:
            continue  # not enough typed yet, or an error the registration itself points out
        candidates = candidates_out(user, run_check(user, data))
        if candidates:
            checks.append((row, candidates))
    return checks


def _render_desk(
    request: HttpRequest,
    form: DeskForm,
    sites: list[Site],
    fixed_site: str | None,
    *,
    conflict: bool = False,
    checks: list[tuple[MemberRow, list[CandidateOut]]] | None = None,
) -> HttpResponse:
    spare = max(0, settings.HAVEN_MAX_MEMBERS - len(form.rows))
    context = {
        "form": form,
        "sites": sites,
        "fixed_site": next((s for s in sites if s.code == fixed_site), None),
        "settlements": sorted(settlements_nk(), key=lambda s: -s[2]),
        "needs_codes": list(specific_needs_codes().values()),
        "sex_choices": Person.Sex.choices,
        "relationship_choices": Person.Relationship.choices,
        "document_choices": IdentityDocument.Kind.choices,
        "wg_answers": [(str(answer), wg_answer(answer)) for answer in WG_ANSWERS],
        # The row the browser copies for "Add member": not the head (the first row is).
        "template_row": MemberRow.blank(1),
        # Member UUIDs for rows added in the browser, made here so that a retry is recognised.
        "spare_uuids": [str(uuid_lib.uuid4()) for _ in range(spare)],
        "max_members": settings.HAVEN_MAX_MEMBERS,
        "conflict": conflict,
        "checks": checks or [],
    }
    return render(request, "registry/desk.html", context)


# --- the list of registrations ----------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def registrations(request: HttpRequest) -> HttpResponse:
    user = _personal_data_user(request)
    query = request.GET.get("q", "").strip()[:200]
    persons = selectors.search_persons(user, query)
    page = Paginator(persons, PAGE_SIZE).get_page(request.GET.get("page"))
    selectors.audit_listed(
        user, "person.list", [(p.uuid, p.site_id) for p in page], via="page", query=query
    )
    context = {
        "page": page,
        "query": query,
        "sites": sites_with_personal_data(user),
        # Registrations of one person (linked by haven.identity) count once here.
        "unique_people": 0 if query else selectors.unique_people(user),
    }
    return render(request, "registry/registrations.html", context)


# --- one person -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def person(request: HttpRequest, person_uuid: UUID) -> HttpResponse:
    user = _personal_data_user(request)
    try:
        record = selectors.person_for(user, person_uuid, purpose="page")
    except NotFound:
        raise Http404 from None

    correction: dict[str, Any] = {
        "uuid": str(uuid_lib.uuid4()),
        "field": "",
        "value": "",
        "reason": "",
        "errors": {},
    }
    if request.method == "POST":
        correction.update(
            uuid=request.POST.get("correction_uuid", ""),
            field=request.POST.get("field", ""),
            value=request.POST.get("value", ""),
            reason=request.POST.get("reason", ""),
        )
        errors = _correct(record, user, correction)
        if not errors:
            messages.success(
                request,
                _("The correction of %(field)s was recorded.")
                % {"field": FIELD_LABELS[correction["field"]]},
            )
            return redirect("person", person_uuid=record.uuid)
        correction["errors"] = errors

    needs = specific_needs_codes()
    disability = _disability_answers(record)
    context = {
        "person": record,
        "household": record.household,
        "members": _household_members(user, record),
        "documents": record.documents.order_by("id"),
        "needs": [
            (code, needs[code].label if code in needs else "") for code in record.specific_needs
        ],
        "disability": disability,
        "wg_disability": record.has_wg_disability,
        "corrections": record.corrections.all(),
        "correctable": [(name, FIELD_LABELS[name]) for name in actions.CORRECTABLE_FIELDS],
        "correction": correction,
        "may_read_audit_trail": may_read_audit_trail(user),
        "same_person": _same_person(user, record),
        "may_review": may_review(user),
        "may_close": actions.may_close_households(user),
        "closed_reasons": Household.ClosedReason.choices,
    }
    return render(request, "registry/person.html", context)


@login_required
@require_http_methods(["POST"])
def household_case(request: HttpRequest, person_uuid: UUID) -> HttpResponse:
    """Close the case of a person's household (with why), or reopen one closed in error: a
    coordinator's decision, which starts (or stops) the household's retention period."""
    user = _personal_data_user(request)
    if not actions.may_close_households(user):
        raise Http404  # before the record is read: a refused user leaves no read in its trail
    try:
        record = selectors.person_for(user, person_uuid, purpose="case")
    except NotFound:
        raise Http404 from None
    household = record.household
    try:
        if request.POST.get("action") == "reopen":
            actions.reopen_household(household=household, acting_user=user)
            messages.success(request, _("The household's case was reopened."))
        else:
            reason = request.POST.get("reason", "")
            actions.close_household(household=household, reason=reason, acting_user=user)
            messages.success(request, _("The household's case was closed."))
    except InvalidInput:
        messages.error(request, _("Choose why the household's case is closed."))
    except Conflict:
        messages.error(request, _("The household's case was changed meanwhile: nothing was done."))
    return redirect("person", person_uuid=record.uuid)


def _disability_answers(record: Person) -> list[tuple[str, int, str]]:
    """The Washington Group questions asked: (question, answer 1–4, answer's words)."""
    answers = []
    stored = record.wg_answers
    for domain, _question in WG_DOMAINS:
        answer = stored[domain]
        if answer is not None:
            answers.append((wg_question(domain), int(answer), wg_answer(int(answer))))
    return answers


def _correct(record: Person, user: User, form: dict[str, Any]) -> dict[str, list[str]]:
    """Record one correction; the errors by form input ("field", "value", "reason") if refused."""
    try:
        correction_uuid = UUID(form["uuid"])
    except ValueError:
        correction_uuid = uuid_lib.uuid4()
    value: Any = form["value"]
    if form["field"] == "specific_needs":
        value = split_codes(value)
    try:
        actions.correct_person(
            person=record,
            field=form["field"],
            value=value,
            reason=form["reason"],
            acting_user=user,
            correction_uuid=correction_uuid,
        )
    except InvalidInput as exc:
        return _correction_errors(exc.errors)
    except Conflict as exc:
        return {"field": [str(exc)]}
    return {}


def _correction_errors(errors: list[FieldError]) -> dict[str, list[str]]:
    by_input: dict[str, list[str]] = {}
    for error in errors:
        # The new value is re-validated as a whole member: any member path is the value's error.
        name = error.field if error.field in {"field", "reason"} else "value"
        by_input.setdefault(name, []).append(error.message)
    return by_input


def _household_members(user: User, record: Person) -> list[Person]:
    """The household's members, shown beside the record (names, relationship, sex, birth date):
    each other member shown is a read of them, as in any list."""
    members = list(record.household.members.all())
    others = [(m.uuid, m.site_id) for m in members if m.pk != record.pk]
    if others:
        selectors.audit_listed(user, "person.view", others, via="household_members")
    return members


def _same_person(user: User, record: Person) -> list[Person]:
    """Other records of this person at the sites the user may see; showing them is a read."""
    others = [p for p in identity_members(user, record.identity) if p.pk != record.pk]
    if others:
        selectors.audit_listed(
            user, "person.view", [(p.uuid, p.site_id) for p in others], via="same_person"
        )
    return others


# --- a person's audit trail -------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def person_audit(request: HttpRequest, person_uuid: UUID) -> HttpResponse:
    user = _personal_data_user(request)
    try:
        trail = person_audit_trail(user, person_uuid)
    except NotFound:
        raise Http404 from None
    page = Paginator(trail.events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "registry/person_audit.html", {"person": trail.person, "page": page})
