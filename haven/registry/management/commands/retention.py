"""`haven retention`: anonymise the records closed longer than the retention period.

haven retention [--dry-run] [--as-of DATE] [--json] [--as-user USERNAME]

Households whose case a coordinator closed, with their members, and closed tracing requests are
anonymised once closed more than HAVEN_RETENTION_DAYS days (0: never) before --as-of (default:
now), unless something is still owed to them (kept: open obligation); see
haven.registry.retention for what is removed and what stays. Prints what was anonymised, the field
groups removed and what was kept, as a table or with --json as JSON. --dry-run reports the same
and changes nothing. Run it daily (cron or a systemd timer): a second run removes nothing.
"""

import json
from argparse import ArgumentParser
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from haven.core.management.base import HavenCommand
from haven.registry.retention import KINDS, RetentionReport, anonymise_closed

KIND_LABELS = {
    "households": "households",
    "persons": "persons",
    "tracing_requests": "tracing requests",
}
REASON_LABELS = {
    "open_shelter_stay": "open shelter stay",
    "unreconciled_payment": "payment listed, not yet reconciled",
    "open_tracing_request": "open tracing request",
}


def parse_as_of(value: str) -> datetime:
    """A date (its start) or a date and time, in the deployment's time zone unless an offset is
    given. A clear CommandError for anything else."""
    text = value.strip()
    zone = ZoneInfo(settings.TIME_ZONE)
    try:
        moment = parse_datetime(text)
        day = None if moment is not None else parse_date(text)
    except ValueError:
        moment = day = None
    if moment is None and day is not None:
        moment = datetime.combine(day, time(0, 0))
    if moment is None:
        raise CommandError(
            f"--as-of: {value!r} is not a date or a moment (YYYY-MM-DD or YYYY-MM-DDTHH:MM,"
            " optionally with an offset such as +04:00)"
        )
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=zone)
    return moment


class Command(HavenCommand):
    help = "Anonymise closed households and tracing requests past the retention period."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--as-user",
            dest="as_user",
            help="username the audit rows name (default: none, Haven itself)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would be removed; change nothing"
        )
        parser.add_argument(
            "--as-of",
            dest="as_of",
            help="the moment the period counts back from (default: now; a later moment only"
            " with --dry-run)",
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        as_of = parse_as_of(options["as_of"]) if options["as_of"] else now
        dry_run: bool = options["dry_run"]
        if as_of > now and not dry_run:
            raise CommandError(
                f"--as-of {as_of.isoformat()} is in the future: it would anonymise records"
                " before their retention period has passed (use it only with --dry-run)"
            )
        user = self.acting_user(options) if options.get("as_user") else None
        report = anonymise_closed(
            as_of=as_of,
            period_days=settings.HAVEN_RETENTION_DAYS,
            dry_run=dry_run,
            acting_user=user,
        )
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            self.stdout.write(report_text(report))


def report_text(report: RetentionReport) -> str:
    zone = ZoneInfo(settings.TIME_ZONE)
    as_of = report.as_of.astimezone(zone).strftime("%Y-%m-%d %H:%M %z")
    cutoff = report.cutoff
    if cutoff is None:
        return f"Retention is off (HAVEN_RETENTION_DAYS=0): nothing is anonymised. As of {as_of}.\n"
    lines = [
        f"Retention period: {report.period_days} days (HAVEN_RETENTION_DAYS). As of {as_of}:"
        f" records closed before {cutoff.astimezone(zone):%Y-%m-%d %H:%M %z}.",
    ]
    if report.dry_run:
        lines.append("Dry run: nothing was changed; this is what a run would do.")
    verb = "to anonymise" if report.dry_run else "anonymised"
    lines.append(f"{verb}:")
    for kind in KINDS:
        removed = report.removed[kind]
        groups = ", ".join(f"{group.replace('_', ' ')} {n}" for group, n in sorted(removed.items()))
        lines.append(
            f"  {KIND_LABELS[kind]:<18}{report.anonymised[kind]:>8}"
            + (f"   removed: {groups}" if groups else "")
        )
    lines.append("kept: open obligation:")
    for kind in KINDS:
        if kind != "tracing_requests":
            lines.append(f"  {KIND_LABELS[kind]:<18}{report.kept[kind]:>8}")
    for reason, label in REASON_LABELS.items():
        lines.append(f"    {label:<36}{report.kept_reasons[reason]:>6} households")
    return "\n".join(lines) + "\n"
