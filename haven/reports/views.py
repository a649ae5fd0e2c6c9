"""The coordinator's pages: the live dashboard and the situation report for any moment.

Both show aggregate figures over every site, so only coordinators and administrators see them;
for anyone else they do not exist (404). Partner analysts get the suppressed exports instead.
Each view is audited: who looked at the situation, as of when.
"""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from haven.core import audit
from haven.core.models import User
from haven.core.selectors import sees_all_sites
from haven.reports.curves import parse_as_of
from haven.reports.sitrep import (
    build_report,
    local,
    render_html,
    render_pdf,
    report_charts,
    zone,
)

DASHBOARD_REFRESH_SECONDS = 300
FORMATS = {"html", "pdf", "json"}


def _coordinator(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not sees_all_sites(user):
        raise Http404
    return user


def _audit(user: User, action: str, as_of: str, output: str) -> None:
    audit.record(
        user=user,
        action=action,
        object_type="situation",
        object_uuid=None,
        detail={"as_of": as_of, "format": output},
    )


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _coordinator(request)
    # As of this minute: refreshed within it, with nothing new, the page is the cached one.
    report = build_report(timezone.now().replace(second=0, microsecond=0))
    _audit(user, "reports.dashboard", report.as_of.isoformat(), "page")
    return render(
        request,
        "reports/dashboard.html",
        {
            "report": report,
            "charts": report_charts(report),
            "refresh_seconds": DASHBOARD_REFRESH_SECONDS,
        },
    )


@login_required
def sitrep(request: HttpRequest) -> HttpResponse:
    user = _coordinator(request)
    text = request.GET.get("as_of", "").strip()
    output = request.GET.get("format", "page")
    if output not in FORMATS | {"page"}:
        return HttpResponse(
            _("Unknown format %(format)s: use html, pdf or json.") % {"format": output},
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    error = None
    moment = local(timezone.now())
    if text:
        try:
            moment = parse_as_of(text, zone=zone())
        except ValueError:
            error = _("%(text)s is not a date and time.") % {"text": text}
    as_of_value = local(moment).strftime("%Y-%m-%dT%H:%M")
    if error is not None:
        if output != "page":
            return HttpResponse(error, status=400, content_type="text/plain; charset=utf-8")
        return render(
            request, "reports/sitrep_page.html", {"error": error, "as_of_value": text}, status=400
        )
    report = build_report(moment)
    _audit(user, "reports.sitrep", report.as_of.isoformat(), output)
    stem = f"haven-sitrep-{local(moment):%Y%m%d-%H%M}"
    if output == "json":
        response = HttpResponse(
            json.dumps(report.as_dict(), ensure_ascii=False, indent=2),
            content_type="application/json",
        )
    elif output == "pdf":
        response = HttpResponse(render_pdf(report), content_type="application/pdf")
    elif output == "html":
        response = HttpResponse(render_html(report), content_type="text/html; charset=utf-8")
    else:
        return render(
            request,
            "reports/sitrep_page.html",
            {"report": report, "charts": report_charts(report), "as_of_value": as_of_value},
        )
    response["Content-Disposition"] = f'attachment; filename="{stem}.{output}"'
    return response
