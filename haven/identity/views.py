"""The caseworkers' review pages: the queue of candidate pairs, one pair side by side, an identity.

Each view parses the request, authorises through the selectors (a pair the user may not see is a
404, exactly as one that does not exist, and so is every page for a role that does not review),
calls one action, and renders. The pages work without JavaScript: every decision is a form post.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from haven.core.errors import Conflict, InvalidInput, NotFound
from haven.core.models import User
from haven.core.selectors import sites_with_personal_data
from haven.identity import actions, selectors
from haven.identity.forms import (
    BAND_CHOICES,
    MAX_NOTE,
    STATUS_CHOICES,
    DecisionForm,
    QueueQuery,
    Reason,
    page_of_pairs,
    reasons,
    top_reasons,
)
from haven.identity.models import CandidatePair, Decision, Link
from haven.registry.models import IdentityDocument, Person
from haven.registry.selectors import audit_listed


def _reviewer(request: HttpRequest) -> User:
    """The signed-in caseworker, coordinator or administrator; anyone else gets a 404."""
    user = request.user
    if not isinstance(user, User) or not selectors.may_review(user):
        raise Http404
    return user


def _queue_url(params: dict[str, str]) -> str:
    return f"{reverse('review_queue')}?{urlencode(params)}"


def _safe_back(request: HttpRequest, default: str) -> str:
    """Where to go after a decision: the queue page it was made from, if it is ours."""
    back = request.POST.get("back", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return back
    return default


def _decided_message(request: HttpRequest, pairs: list[CandidatePair], verdict: str) -> None:
    count = len(pairs)
    if verdict == Decision.Verdict.SAME:
        text = ngettext(
            "%(count)d pair recorded as the same person: their records now share one identity.",
            "%(count)d pairs recorded as the same person: their records now share one identity.",
            count,
        )
    else:
        text = ngettext(
            "%(count)d pair recorded as different people.",
            "%(count)d pairs recorded as different people.",
            count,
        )
    messages.success(request, text % {"count": count})


def _refused(request: HttpRequest, exc: Exception) -> None:
    """A refused decision as a message on the page; nothing was changed."""
    if isinstance(exc, Conflict):
        messages.error(request, _("Nothing was changed: %(reason)s") % {"reason": str(exc)})
    elif isinstance(exc, InvalidInput):
        messages.error(
            request,
            _("Nothing was changed: %(reason)s")
            % {"reason": "; ".join(e.message for e in exc.errors)},
        )
    else:
        messages.error(
            request,
            _(
                "Nothing was changed: a pair you chose is not in your queue any more,"
                " or you may not review it."
            ),
        )


# --- the queue ----------------------------------------------------------------------------------


@dataclass
class QueueRow:
    pair: CandidatePair
    reasons: list[Reason]

    @property
    def percent(self) -> str:
        return _percent(self.pair.match_probability)


def _percent(probability: float) -> str:
    """As a caseworker reads it: 99.97 % is not 100 %, so near-certain pairs keep two decimals."""
    value = probability * 100
    if value >= 99.995:
        return "> 99.99"
    if value >= 99:
        return f"{value:.2f}"
    return f"{value:.0f}" if value >= 1 else f"{value:.1f}"


@login_required
@require_http_methods(["GET", "POST"])
def queue(request: HttpRequest) -> HttpResponse:
    user = _reviewer(request)
    if request.method == "POST":
        return _decide_from_queue(request, user)
    query = QueueQuery.parse(request.GET, user)
    try:
        page = page_of_pairs(user, query)
    except InvalidInput as exc:
        # A stale or edited cursor: start from the top rather than refuse the page.
        query.errors.extend(exc.errors)
        query.cursor = ""
        page = page_of_pairs(user, query)
    selectors.audit_pairs_listed(user, page.pairs, via="page")
    sites = list(sites_with_personal_data(user).order_by("code").values_list("code", "name"))
    context = {
        "query": query,
        "errors": {e.field: e.message for e in query.errors},
        "rows": [QueueRow(pair, top_reasons(pair)) for pair in page.pairs],
        "next_url": _queue_url(query.as_params(cursor=page.next_cursor))
        if page.next_cursor
        else "",
        "first_url": _queue_url(query.as_params()) if query.cursor else "",
        "this_url": request.get_full_path(),
        "status_choices": STATUS_CHOICES,
        "band_choices": BAND_CHOICES,
        "sites": sites,
        "max_note": MAX_NOTE,
    }
    return render(request, "identity/queue.html", context)


def _decide_from_queue(request: HttpRequest, user: User) -> HttpResponse:
    back = _safe_back(request, reverse("review_queue"))
    form = DecisionForm.parse(
        request.POST.getlist("pair"), request.POST.get("verdict", ""), request.POST.get("note", "")
    )
    if form.errors:
        messages.error(
            request,
            _("Nothing was changed: %(reason)s")
            % {"reason": "; ".join(e.message for e in form.errors)},
        )
        return redirect(back)
    try:
        decided = actions.decide_pairs(
            pair_ids=form.pair_ids, verdict=form.verdict, note=form.note, acting_user=user
        )
    except (Conflict, InvalidInput, NotFound) as exc:
        _refused(request, exc)
        return redirect(back)
    _decided_message(request, decided, form.verdict)
    return redirect(back)


# --- one pair -----------------------------------------------------------------------------------


@dataclass
class ComparedField:
    """One row of the explanation: the two records' values beside what the model made of them."""

    reason: Reason
    left: str
    right: str
    left_script: str
    right_script: str


def _value(person: Person, name: str, documents: list[IdentityDocument]) -> tuple[str, str]:
    """A compared field's value on one record, with the script a name was typed in."""
    if name == "given":
        return person.given_name, person.get_given_name_script_display()
    if name == "family":
        return person.family_name, person.get_family_name_script_display()
    if name == "patronymic":
        script = person.get_patronymic_script_display() if person.patronymic else ""
        return person.patronymic, script
    if name == "birth_date":
        return person.birth_date_display, ""
    if name == "sex":
        return person.get_sex_display(), ""
    if name == "origin":
        return person.household.origin_settlement, ""
    if name == "phone":
        return person.phone, ""
    if name == "documents":
        return ", ".join(d.number for d in documents), ""
    return "", ""


def _compared(pair: CandidatePair, documents: dict[int, list[IdentityDocument]]) -> list[Any]:
    rows = []
    for reason in reasons(pair):
        left, left_script = _value(pair.person_a, reason.field, documents[pair.person_a_id])
        right, right_script = _value(pair.person_b, reason.field, documents[pair.person_b_id])
        rows.append(ComparedField(reason, left, right, left_script, right_script))
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def pair(request: HttpRequest, pair_id: int) -> HttpResponse:
    user = _reviewer(request)
    if request.method == "POST":
        return _act_on_pair(request, user, pair_id)
    try:
        detail = selectors.pair_for(user, pair_id, purpose="page")
    except NotFound:
        raise Http404 from None
    found = detail.pair
    documents: dict[int, list[IdentityDocument]] = {found.person_a_id: [], found.person_b_id: []}
    for document in IdentityDocument.objects.filter(
        person_id__in=[found.person_a_id, found.person_b_id]
    ).order_by("id"):
        documents[document.person_id].append(document)
    left_members, right_members = detail.households
    # A member of one household who already shares an identity with a member of the other.
    left_identities = {m.identity for m in left_members}
    right_identities = {m.identity for m in right_members}
    context = {
        "pair": found,
        "a": found.person_a,
        "b": found.person_b,
        "documents_a": documents[found.person_a_id],
        "documents_b": documents[found.person_b_id],
        "households": [
            (found.person_a, left_members, right_identities),
            (found.person_b, right_members, left_identities),
        ],
        "compared": _compared(found, documents),
        "total_weight": found.match_weight,
        "percent": _percent(found.match_probability),
        "decisions": list(found.decisions.select_related("decided_by").order_by("decided_at")),
        "links": detail.links,
        "undoable": found.status != CandidatePair.Status.PENDING,
        "max_note": MAX_NOTE,
        "back": _safe_back_get(request),
        "same_identity": found.person_a.identity == found.person_b.identity,
        "visible_sites": set(sites_with_personal_data(user).values_list("pk", flat=True)),
    }
    return render(request, "identity/pair.html", context)


def _safe_back_get(request: HttpRequest) -> str:
    back = request.GET.get("back", "")
    if back and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return back
    return reverse("review_queue")


def _act_on_pair(request: HttpRequest, user: User, pair_id: int) -> HttpResponse:
    here = reverse("review_pair", kwargs={"pair_id": pair_id})
    action = request.POST.get("action", "")
    try:
        if action == "undo":
            actions.undo_decision(pair_id=pair_id, acting_user=user)
            messages.success(
                request,
                _("The pair is back in the queue; any link it made between the records is undone."),
            )
            return redirect(here)
        form = DecisionForm.parse([str(pair_id)], action, request.POST.get("note", ""))
        if form.errors:
            messages.error(
                request,
                _("Nothing was changed: %(reason)s")
                % {"reason": "; ".join(e.message for e in form.errors)},
            )
            return redirect(here)
        decided = actions.decide_pairs(
            pair_ids=form.pair_ids, verdict=form.verdict, note=form.note, acting_user=user
        )
    except NotFound:
        raise Http404 from None
    except (Conflict, InvalidInput) as exc:
        _refused(request, exc)
        return redirect(here)
    _decided_message(request, decided, form.verdict)
    return redirect(_safe_back(request, here))


# --- one identity -------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET"])
def identity(request: HttpRequest, identity: UUID) -> HttpResponse:
    user = _reviewer(request)
    members = selectors.identity_members(user, identity)
    if not members:
        raise Http404
    audit_listed(user, "person.view", [(p.uuid, p.site_id) for p in members], via="identity page")
    links = list(
        Link.objects.filter(person__in=members)
        .select_related("person", "made_by", "pair", "run")
        .order_by("made_at", "id")
    )
    pairs = list(
        selectors.pairs_for(user)
        .filter(Q(person_a__in=members) | Q(person_b__in=members))
        .select_related("person_a", "person_b")
        .order_by("-match_probability", "id")[:100]
    )
    # The pairs name their other record too (a caseworker compares across sites): audited.
    selectors.audit_pairs_listed(user, pairs, via="identity page")
    context = {"identity": identity, "members": members, "links": links, "pairs": pairs}
    return render(request, "identity/identity.html", context)
