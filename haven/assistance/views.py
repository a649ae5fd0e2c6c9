"""The assistance pages: programmes and their rules, entitlements, payment lists with the bank's
files, the distribution point, and the payments held for a caseworker's decision.

Each view parses, authorises through the selectors (every other role gets a 404, exactly as for
a page that does not exist), calls one action and renders. An assistance officer sees what
payment needs and nothing more: at the distribution point a person's name, year of birth and
household size, each look-up an audited read; never needs, protection notes or tracing.
"""

import tempfile
import uuid as uuid_lib
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Sum
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from haven.assistance import distributions, export, selectors
from haven.assistance.actions import add_programme, parse_programme
from haven.assistance.entitlements import compute
from haven.assistance.forms import PeriodForm, ProgrammeForm, ReconcileForm, reconcile_max_bytes
from haven.assistance.models import Payment, PaymentList, Programme
from haven.assistance.payments import create_list
from haven.assistance.reconcile import Result, reconcile
from haven.core.errors import Conflict, InvalidInput, NotFound
from haven.core.models import Site, User
from haven.registry.models import Person
from haven.registry.selectors import audit_listed

HELD_PAGE = 500  # rows of held entitlements shown at once


def _officer(request: HttpRequest) -> User:
    """The signed-in assistance officer, coordinator or administrator; anyone else gets a 404."""
    user = request.user
    if not isinstance(user, User) or not selectors.may_assist(user):
        raise Http404
    return user


def _programme_or_404(user: User, programme_uuid: UUID) -> Programme:
    try:
        return selectors.programme_for(user, programme_uuid)
    except NotFound:
        raise Http404 from None


def _list_or_404(user: User, list_uuid: UUID) -> PaymentList:
    try:
        return selectors.payment_list_for(user, list_uuid)
    except NotFound:
        raise Http404 from None


def _refused(request: HttpRequest, error: Exception) -> None:
    if isinstance(error, InvalidInput):
        messages.error(request, "; ".join(e.message for e in error.errors))
    else:
        messages.error(request, str(error))


# --- programmes -------------------------------------------------------------------------------


@login_required
@require_GET
def programmes(request: HttpRequest) -> HttpResponse:
    user = _officer(request)
    return render(
        request,
        "assistance/programmes.html",
        {"programmes": list(selectors.programmes_for(user))},
    )


@login_required
@require_http_methods(["GET", "POST"])
def new_programme(request: HttpRequest) -> HttpResponse:
    user = _officer(request)
    form = ProgrammeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            made = add_programme(data=parse_programme(form.payload()), acting_user=user)
        except InvalidInput as invalid:
            for error in invalid.errors:
                field = error.field if error.field in form.fields else None
                form.add_error(field, error.message)
        except Conflict as conflict:
            form.add_error("code", str(conflict))
        else:
            messages.success(request, _("The programme %(name)s is added.") % {"name": made.name})
            return redirect("assistance:programme", programme_uuid=made.uuid)
    return render(request, "assistance/new.html", {"form": form})


def rules_in_words(programme: Programme) -> list[str]:
    """The programme's rules as sentences, for the programme page."""
    words = []
    if programme.kind == Programme.Kind.CASH:
        amount = _("%(amount)s %(currency)s") % {
            "amount": f"{programme.amount:,}".replace(",", "\u202f"),
            "currency": programme.currency,
        }
    else:
        amount = _("%(amount)d × %(item)s") % {"amount": programme.amount, "item": programme.item}
    if programme.unit == Programme.Unit.HOUSEHOLD and programme.kind == Programme.Kind.CASH:
        words.append(_("%(amount)s per household, paid to its head") % {"amount": amount})
    elif programme.unit == Programme.Unit.HOUSEHOLD:
        words.append(
            _("%(amount)s per household member, handed to any of them") % {"amount": amount}
        )
    else:
        words.append(_("%(amount)s per person") % {"amount": amount})
    if programme.frequency == Programme.Frequency.ONCE:
        words.append(_("Once, from %(day)s.") % {"day": programme.starts_on.isoformat()})
    else:
        words.append(
            ngettext(
                "Every month for %(count)d month, from %(day)s.",
                "Every month for %(count)d months, from %(day)s.",
                programme.periods,
            )
            % {"count": programme.periods, "day": programme.starts_on.isoformat()}
        )
    if programme.arrived_from or programme.arrived_until:
        words.append(
            _("For people who arrived from %(start)s until %(end)s.")
            % {
                "start": programme.arrived_from.isoformat() if programme.arrived_from else "…",
                "end": programme.arrived_until.isoformat() if programme.arrived_until else "…",
            }
        )
    if programme.age_min is not None or programme.age_max is not None:
        words.append(
            _("Aged %(low)s to %(high)s on the first day of each period.")
            % {
                "low": programme.age_min if programme.age_min is not None else 0,
                "high": programme.age_max if programme.age_max is not None else "…",
            }
        )
    if programme.needs_any:
        words.append(
            _("Only people with one of these specific needs: %(codes)s.")
            % {"codes": ", ".join(programme.needs_any)}
        )
    if programme.document_required:
        words.append(_("Only people with an identity document on record."))
    if programme.possible_duplicates == Programme.PossibleDuplicates.HOLD:
        words.append(_("A possible duplicate is held until a caseworker decides."))
    else:
        words.append(_("A possible duplicate is paid and shown to a caseworker."))
    if programme.kind == Programme.Kind.CASH:
        words.append(
            _("Paid once per period to each person across every programme of benefit %(b)s.")
            % {"b": programme.benefit}
        )
    else:
        if programme.min_days_between:
            words.append(
                ngettext(
                    "At least %(count)d day between two handings-out.",
                    "At least %(count)d days between two handings-out.",
                    programme.min_days_between,
                )
                % {"count": programme.min_days_between}
            )
        if programme.max_per_day:
            words.append(
                ngettext(
                    "At most %(count)d a day.", "At most %(count)d a day.", programme.max_per_day
                )
                % {"count": programme.max_per_day}
            )
        if programme.exclusive_group:
            words.append(
                _("One item of group %(group)s per interval: its items are alternatives.")
                % {"group": programme.exclusive_group}
            )
    return words


@login_required
@require_GET
def programme_page(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    user = _officer(request)
    programme = _programme_or_404(user, programme_uuid)
    return render(
        request,
        "assistance/programme.html",
        {
            "programme": programme,
            "rules": rules_in_words(programme),
            "runs": list(programme.runs.select_related("started_by")[:20]),
            "lists": list(programme.lists.all()[:50]),
            "held": selectors.held_count(programme),
            "periods": range(1, programme.periods + 1),
        },
    )


def _period(request: HttpRequest) -> int | None:
    form = PeriodForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a period: a whole number from 1."))
        return None
    return int(form.cleaned_data["period"])


@login_required
@require_POST
def compute_entitlements(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    user = _officer(request)
    programme = _programme_or_404(user, programme_uuid)
    period = _period(request)
    if period is not None:
        try:
            run = compute(programme=programme, period=period, acting_user=user)
        except InvalidInput as invalid:
            _refused(request, invalid)
        else:
            messages.success(
                request,
                _(
                    "Period %(period)d: %(identities)d people entitled, %(held)d held,"
                    " %(total)s in all (%(seconds).1f s)."
                )
                % {
                    "period": period,
                    "identities": run.identities,
                    "held": run.held,
                    "total": run.total_amount,
                    "seconds": run.seconds,
                },
            )
    return redirect("assistance:programme", programme_uuid=programme.uuid)


@login_required
@require_POST
def make_list(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    user = _officer(request)
    programme = _programme_or_404(user, programme_uuid)
    period = _period(request)
    if period is None:
        return redirect("assistance:programme", programme_uuid=programme.uuid)
    try:
        made = create_list(programme=programme, period=period, acting_user=user)
    except (InvalidInput, Conflict) as error:
        _refused(request, error)
        return redirect("assistance:programme", programme_uuid=programme.uuid)
    messages.success(
        request,
        _("Payment list %(number)d: %(payments)d payments, %(total)s in all.")
        % {"number": made.number, "payments": made.payments, "total": made.total_amount},
    )
    return redirect("assistance:payment_list", list_uuid=made.uuid)


# --- payment lists ----------------------------------------------------------------------------


def _left_off(payment_list: PaymentList) -> list[tuple[str, int]]:
    left = payment_list.left_off or {}
    return [
        (_("held: a possible duplicate awaits a caseworker"), int(left.get("held", 0))),
        (_("already paid for this benefit and period"), int(left.get("already_paid", 0))),
        (_("linked with another entitlement: one person"), int(left.get("linked", 0))),
        (_("case closed since the entitlements were computed"), int(left.get("closed", 0))),
    ]


def _list_figures(payment_list: PaymentList) -> list[dict[str, Any]]:
    by_status = {
        row["status"]: row
        for row in Payment.objects.filter(payment_list=payment_list)
        .values("status")
        .annotate(count=Count("pk"), amount=Sum("amount"))
    }
    return [
        {
            "status": status,
            "label": label,
            "count": by_status.get(status, {}).get("count", 0),
            "amount": by_status.get(status, {}).get("amount") or 0,
        }
        for status, label in Payment.Status.choices
    ]


def _list_page(
    request: HttpRequest,
    payment_list: PaymentList,
    form: ReconcileForm | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "assistance/payment_list.html",
        {
            "payment_list": payment_list,
            "programme": payment_list.programme,
            "figures": _list_figures(payment_list),
            "left_off": _left_off(payment_list),
            "flagged": Payment.objects.filter(
                payment_list=payment_list, possible_duplicate=True
            ).count(),
            "form": form or ReconcileForm(),
            "errors": errors or [],
            "max_mb": max(reconcile_max_bytes() // (1024 * 1024), 1),
        },
        status=status,
    )


@login_required
@require_GET
def payment_list_page(request: HttpRequest, list_uuid: UUID) -> HttpResponse:
    user = _officer(request)
    return _list_page(request, _list_or_404(user, list_uuid))


@login_required
@require_GET
def download(request: HttpRequest, list_uuid: UUID, fmt: str) -> HttpResponseBase:
    user = _officer(request)
    payment_list = _list_or_404(user, list_uuid)
    name = export.filename(payment_list, fmt)
    if fmt == "csv":
        response = StreamingHttpResponse(
            export.csv_chunks(payment_list, acting_user=user),
            content_type=export.CONTENT_TYPES["csv"],
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    if fmt == "xlsx":
        # openpyxl writes the workbook as a whole: to a temporary file, then streamed from it
        # (FileResponse closes, and so deletes, the file when the response is done).
        out = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
        try:
            export.write_xlsx(payment_list, out, acting_user=user)
            out.seek(0)
        except BaseException:
            out.close()
            raise
        return FileResponse(
            out, as_attachment=True, filename=name, content_type=export.CONTENT_TYPES["xlsx"]
        )
    raise Http404


@login_required
@require_POST
def reconcile_upload(request: HttpRequest, list_uuid: UUID) -> HttpResponse:
    user = _officer(request)
    payment_list = _list_or_404(user, list_uuid)
    # An oversized upload is refused before Django reads it.
    declared = request.META.get("CONTENT_LENGTH") or "0"
    limit = reconcile_max_bytes()
    if declared.isdigit() and int(declared) > limit + 64 * 1024:
        message = _(
            "The file is larger than the %(limit)d bytes accepted; nothing was applied."
        ) % {"limit": limit}
        return _list_page(request, payment_list, errors=[message], status=413)
    form = ReconcileForm(request.POST, request.FILES)
    if not form.is_valid():
        return _list_page(request, payment_list, form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        result = reconcile(
            payment_list=payment_list,
            data=upload.read(),
            filename=upload.name or "",
            encoding=form.cleaned_data["encoding"] or None,
            acting_user=user,
        )
    except (InvalidInput, Conflict) as error:
        lines = (
            [f"{e.field}: {e.message}" if e.field else e.message for e in error.errors]
            if isinstance(error, InvalidInput)
            else [str(error)]
        )
        return _list_page(request, payment_list, form=form, errors=lines, status=400)
    messages.success(request, _reconciled_message(result))
    return redirect("assistance:payment_list", list_uuid=payment_list.uuid)


def _reconciled_message(result: Result) -> str:
    message = _(
        "The bank's file is applied: %(paid)d paid, %(failed)d failed, %(unchanged)d already"
        " as the file says; %(listed)d still await the bank."
    ) % {
        "paid": result.paid,
        "failed": result.failed,
        "unchanged": result.unchanged,
        "listed": result.still_listed,
    }
    if result.reconciled:
        message += " " + _("The list is reconciled.")
    return message


# --- the distribution point -------------------------------------------------------------------


def _site_choice(user: User, code: str) -> Site | None:
    if code:
        return Site.objects.filter(code=code).first()
    return user.site


def _parse_uuid(value: str) -> UUID | None:
    try:
        return UUID(value.strip())
    except ValueError:
        return None


@login_required
@require_GET
def distribution_point(request: HttpRequest) -> HttpResponse:
    user = _officer(request)
    number = request.GET.get("person", "").strip()
    site = _site_choice(user, request.GET.get("site", ""))
    person: Person | None = None
    error = ""
    rows: list[dict[str, Any]] = []
    if number:
        parsed = _parse_uuid(number)
        if parsed is None:
            error = _("%(number)s is not a registration number.") % {"number": number}
        else:
            try:
                person = selectors.person_at_distribution_point(user, parsed)
            except NotFound:
                error = _("No one is registered under %(number)s.") % {"number": number}
    if person is not None:
        for programme in Programme.objects.filter(kind=Programme.Kind.IN_KIND).order_by("name"):
            rows.append(
                {
                    "programme": programme,
                    "reasons": distributions.check(programme, person),
                    "quantity": distributions.quantity(programme, person.household),
                    "uuid": uuid_lib.uuid4(),
                }
            )
    return render(
        request,
        "assistance/distribute.html",
        {
            "number": number,
            "error": error,
            "person": person,
            "rows": rows,
            "site": site,
            "sites": list(Site.objects.order_by("code")),
        },
    )


@login_required
@require_POST
def give(request: HttpRequest) -> HttpResponse:
    user = _officer(request)
    person_uuid = _parse_uuid(request.POST.get("person", ""))
    programme_uuid = _parse_uuid(request.POST.get("programme", ""))
    given_uuid = _parse_uuid(request.POST.get("uuid", ""))
    site = Site.objects.filter(code=request.POST.get("site", "")).first()
    if person_uuid is None or programme_uuid is None or given_uuid is None:
        raise Http404
    person = Person.objects.select_related("household").filter(uuid=person_uuid).first()
    programme = selectors.programmes_for(user).filter(uuid=programme_uuid).first()
    if person is None or programme is None:
        raise Http404
    back = reverse("assistance:distribute") + f"?person={person.uuid}"
    if site is None:
        messages.error(request, _("Choose the distribution point's site first."))
        return redirect(back)
    back += f"&site={site.code}"
    try:
        given = distributions.distribute(
            programme=programme, person=person, site=site, acting_user=user, uuid=given_uuid
        )
    except (InvalidInput, Conflict) as error:
        _refused(request, error)
    else:
        messages.success(
            request,
            _("Given: %(quantity)d × %(item)s.")
            % {"quantity": given.quantity, "item": programme.item},
        )
    return redirect(back)


# --- held payments, for caseworkers -----------------------------------------------------------


@login_required
@require_GET
def held(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not isinstance(user, User) or not selectors.may_see_held(user):
        raise Http404
    entitlements = list(
        selectors.held_for(user)
        .select_related("programme", "person", "person__site")
        .order_by("programme__code", "period", "pk")[:HELD_PAGE]
    )
    payments = list(
        selectors.paid_in_review_for(user)
        .select_related("payment_list__programme", "person", "person__site")
        .order_by("payment_list__number", "pk")[:HELD_PAGE]
    )
    people = [e.person for e in entitlements] + [p.person for p in payments]
    pairs = selectors.pending_pairs_by_identity(user, {person.identity for person in people})
    if people:
        audit_listed(
            user,
            "person.list",
            list({person.uuid: person.site_id for person in people}.items()),
            via="held_payments",
        )
    rows = [{"entitlement": e, "pairs": pairs.get(e.person.identity, [])} for e in entitlements]
    paid_rows = [{"payment": p, "pairs": pairs.get(p.person.identity, [])} for p in payments]
    total = selectors.held_for(user).count() if len(entitlements) == HELD_PAGE else len(rows)
    paid_total = (
        selectors.paid_in_review_for(user).count() if len(payments) == HELD_PAGE else len(paid_rows)
    )
    return render(
        request,
        "assistance/held.html",
        {
            "rows": rows,
            "total": total,
            "shown": len(rows),
            "paid_rows": paid_rows,
            "paid_total": paid_total,
            "paid_shown": len(paid_rows),
        },
    )
