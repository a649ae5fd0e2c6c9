"""The shelter pages: the shelters a user works for, one shelter (its capacity, who is staying,
check-out, occupancy over the last two weeks) and the allocation of waiting households to beds.

A shelter manager works for the shelters they manage, a coordinator or an administrator for every
shelter; for anyone else every page is a 404, and so is a shelter outside the user's scope,
exactly as one that does not exist. Each view parses, authorises through the selectors, calls one
action and renders. Every person shown is an audited read, and no page shows protection data:
no needs codes, documents, phones or notes; only whether a household needs a step-free place.

An allocation travels through the page as (household, shelter) choices and is never trusted: each
time it comes back it is checked again against the state of now (`allocation.review`), and
accepting checks every household in, all or nothing (`allocation.accept`).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from haven.core.errors import Conflict, InvalidInput, NotFound
from haven.core.models import User
from haven.core.selectors import sees_all_sites
from haven.shelter import actions, allocation, selectors
from haven.shelter.models import Shelter

HISTORY_DAYS = 14
# A page posts one field per household shown; Django refuses more than 1,000 fields a request.
PAGE_ASSIGNMENTS = 500
PAGE_WAITING = 100
# Up to this many shelters, each household's shelter is a drop-down list; beyond, a code typed
# with suggestions (a list of a thousand shelters in each of 500 rows would not be usable).
SELECT_SHELTERS = 30
CHOICE_PREFIX = "to-"


class BedsForm(forms.Form):
    beds = forms.IntegerField(label=gettext_lazy("Beds"), min_value=0, max_value=100_000)


def _shelter_user(request: HttpRequest) -> User:
    """The signed-in shelter manager, coordinator or administrator; anyone else gets a 404."""
    user = request.user
    if not isinstance(user, User) or not selectors.runs_shelters(user):
        raise Http404
    return user


def _shelter_or_404(user: User, code: str) -> Shelter:
    try:
        return selectors.shelter_for(user, code)
    except NotFound:
        raise Http404 from None


@login_required
def shelter_list(request: HttpRequest) -> HttpResponse:
    user = _shelter_user(request)
    occupied = selectors.occupancy_at(timezone.now())
    rows = [
        {
            "shelter": shelter,
            "occupied": occupied.get(shelter.pk, 0),
            "free": max(0, shelter.beds - occupied.get(shelter.pk, 0)),
        }
        for shelter in selectors.shelters_for(user).order_by("province", "town", "name")
    ]
    return render(request, "shelter/list.html", {"rows": rows})


CHART_HEIGHT = 100  # the bars' area in the chart, in pixels; each day's bar is BAR_STEP wide
BAR_STEP = 40


@dataclass(frozen=True)
class Day:
    label: str
    people: int
    x: int  # the bar's place and size in the chart
    y: int
    height: int


def _history(shelter: Shelter, now: datetime) -> list[tuple[str, int]]:
    """People staying at the end of each of the last days (local), today's as of now."""
    today = timezone.localtime(now).date()
    zone = timezone.get_current_timezone()
    days = []
    for back in range(HISTORY_DAYS - 1, -1, -1):
        day = today - timedelta(days=back)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
        moment = min(end - timedelta(microseconds=1), now)
        days.append((day.isoformat(), selectors.occupancy_at(moment).get(shelter.pk, 0)))
    return days


def _chart(history: list[tuple[str, int]], beds: int) -> dict[str, Any]:
    """The bars of the occupancy chart, on one scale with the beds now (drawn as an outline)."""
    top = max([people for _day, people in history] + [beds, 1])

    def height(value: int) -> int:
        return round(CHART_HEIGHT * value / top)

    return {
        "history": [
            Day(label, people, number * BAR_STEP, 4 + CHART_HEIGHT - height(people), height(people))
            for number, (label, people) in enumerate(history)
        ],
        "chart_width": len(history) * BAR_STEP,
        "beds_y": 4 + CHART_HEIGHT - height(beds),
        "beds_height": height(beds),
    }


@login_required
@require_http_methods(["GET", "POST"])
def shelter_page(request: HttpRequest, code: str) -> HttpResponse:
    user = _shelter_user(request)
    shelter = _shelter_or_404(user, code)
    form = BedsForm(request.POST or None, initial={"beds": shelter.beds})
    if request.method == "POST" and form.is_valid():
        beds = form.cleaned_data["beds"]
        try:
            actions.set_beds(shelter=shelter, beds=beds, acting_user=user)
        except InvalidInput:
            form.add_error(
                "beds",
                _(
                    "%(beds)d beds are fewer than the %(staying)d people staying here now."
                    " Check some out first. The capacity was not changed."
                )
                % {"beds": beds, "staying": actions.occupancy(shelter)},
            )
        else:
            messages.success(request, _("The shelter now has %(beds)d beds.") % {"beds": beds})
            return redirect("shelter:shelter", code=shelter.code)
    shelter, residents = selectors.presence(user, shelter.code)
    households = selectors.staying_households(residents)
    occupied = sum(h.persons for h in households)
    return render(
        request,
        "shelter/shelter.html",
        {
            "shelter": shelter,
            "form": form,
            "households": households,
            "occupied": occupied,
            "free": max(0, shelter.beds - occupied),
            **_chart(_history(shelter, timezone.now()), shelter.beds),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def check_out(request: HttpRequest, code: str) -> HttpResponse:
    user = _shelter_user(request)
    shelter = _shelter_or_404(user, code)
    try:
        household_uuid = UUID(request.POST.get("household", ""))
        household = selectors.staying_household(user, shelter, household_uuid)
    except (ValueError, NotFound):
        raise Http404 from None
    try:
        stay = actions.check_out(household=household, acting_user=user)
    except Conflict:
        messages.error(request, _("This household is no longer in the shelter."))
    else:
        messages.success(
            request,
            _("The household is checked out: %(persons)d people.") % {"persons": stay.persons},
        )
    return redirect("shelter:shelter", code=shelter.code)


# --- the allocation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A waiting household on the allocation page: what allocating needs and nothing more."""

    household: allocation.WaitingHousehold
    head: str
    shelter: str  # the code proposed (or chosen), "" for none


def _choices(request: HttpRequest) -> list[tuple[str, str]]:
    """The (household uuid, shelter code) pairs posted; a household left without a shelter is
    not placed. A field that names no household is refused."""
    choices = []
    for name in request.POST:
        if not name.startswith(CHOICE_PREFIX):
            continue
        try:
            household = str(UUID(name.removeprefix(CHOICE_PREFIX)))
        except ValueError:
            raise InvalidInput() from None
        code = request.POST.get(name, "").strip()
        if code:
            choices.append((household, code))
    return choices


def _proposal_id(request: HttpRequest) -> UUID | None:
    try:
        return UUID(request.POST.get("proposal", ""))
    except ValueError:
        return None


def _rows(user: User, proposal: allocation.Proposal) -> tuple[list[Row], list[Row]]:
    """The placed households (up to PAGE_ASSIGNMENTS) and some of those left waiting, with
    their heads' names (audited reads). A shelter manager reads the names of the households
    proposed for their shelters only: those left waiting (registered anywhere) are shown by
    size, province and step-free need, and a reference."""
    placed = proposal.assignments[:PAGE_ASSIGNMENTS]
    taken = {a.household.key for a in proposal.assignments}
    left = [h for h in proposal.households if h.key not in taken][:PAGE_WAITING]
    named = [a.household.key for a in placed]
    if sees_all_sites(user):
        named += [h.key for h in left]
    heads = selectors.heads_of(user, named, via="shelter_allocation")
    return (
        [Row(a.household, str(heads.get(a.household.key, "")), a.shelter.code) for a in placed],
        [Row(h, str(heads.get(h.key, "")) or _reference(h), "") for h in left],
    )


def _reference(household: allocation.WaitingHousehold) -> str:
    return _("household %(ref)s") % {"ref": str(household.uuid)[:8]}


def _render_allocation(
    request: HttpRequest, user: User, proposal: allocation.Proposal | None, *, status: int = 200
) -> HttpResponse:
    context: dict[str, Any] = {"proposal": proposal}
    if proposal is not None:
        placed, left = _rows(user, proposal)
        used: dict[int, int] = {}
        for a in proposal.assignments:
            used[a.shelter.key] = used.get(a.shelter.key, 0) + a.household.persons
        context.update(
            {
                "figures": proposal.figures(),
                "placed": placed,
                "left": left,
                "placed_hidden": max(0, len(proposal.assignments) - len(placed)),
                "left_hidden": max(0, proposal.households_waiting - len(left)),
                "shelters": [
                    {"beds": s, "used": used.get(s.key, 0), "after": s.free - used.get(s.key, 0)}
                    for s in proposal.shelters
                ],
                "as_select": len(proposal.shelters) <= SELECT_SHELTERS,
                "prefix": CHOICE_PREFIX,
            }
        )
    return render(request, "shelter/allocation.html", context, status=status)


def _reason(error: allocation.AllocationError) -> str:
    text = str(error)
    for said in ("; nothing was applied: propose again", "; nothing was applied"):
        text = text.removesuffix(said)
    return text


def _fresh(request: HttpRequest, user: User) -> allocation.Proposal | None:
    try:
        return allocation.propose(user=user)
    except allocation.AllocationError as error:
        messages.error(request, _("No allocation can be proposed: %(reason)s") % {"reason": error})
        return None


@login_required
@require_http_methods(["GET", "POST"])
def allocate(request: HttpRequest) -> HttpResponse:
    user = _shelter_user(request)
    if request.method == "GET":
        return _render_allocation(request, user, None)
    step = request.POST.get("step", "")
    if step == "propose":
        return _render_allocation(request, user, _fresh(request, user))
    if step not in ("review", "accept"):
        messages.error(request, _("Choose whether to propose, check or accept an allocation."))
        return _render_allocation(request, user, None, status=400)
    try:
        choices = _choices(request)
    except InvalidInput:
        messages.error(request, _("An assignment names no household. Nothing was applied."))
        return _render_allocation(request, user, None, status=400)
    try:
        proposal = allocation.review(user=user, choices=choices, proposal_id=_proposal_id(request))
        if step == "accept":
            placed = allocation.accept(proposal, acting_user=user)
    except allocation.AllocationError as error:
        messages.error(
            request,
            _("Nothing was applied: %(reason)s. Here is a new proposal for the beds free now.")
            % {"reason": _reason(error)},
        )
        return _render_allocation(request, user, _fresh(request, user), status=409)
    if step == "review":
        messages.success(request, _("The allocation fits. Accept it to check everyone in."))
        return _render_allocation(request, user, proposal)
    messages.success(
        request,
        _("Allocation accepted: %(households)d households checked in.") % {"households": placed},
    )
    return redirect("shelter:list")
