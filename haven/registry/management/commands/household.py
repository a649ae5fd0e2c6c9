"""`haven household`: close a household's case, or reopen one closed in error.

haven household close HOUSEHOLD_UUID --reason departed|resettled|integrated|deceased|duplicate|other
haven household reopen HOUSEHOLD_UUID
    as --as-user (a coordinator or an administrator; default: the first administrator), audited.
    A closed case is anonymised by `haven retention` once HAVEN_RETENTION_DAYS have passed.
"""

from argparse import ArgumentParser
from typing import Any
from uuid import UUID

from django.core.management.base import CommandError

from haven.core.errors import Conflict, InvalidInput
from haven.core.management.base import HavenCommand
from haven.registry.actions import close_household, may_close_households, reopen_household
from haven.registry.models import Household


class Command(HavenCommand):
    help = "Close a household's case (starting its retention period), or reopen it."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        close = sub.add_parser("close", help="close a household's case")
        super().add_arguments(close)
        close.add_argument("household", help="the household's UUID")
        close.add_argument(
            "--reason", required=True, choices=Household.ClosedReason.values, help="why"
        )
        reopen = sub.add_parser("reopen", help="reopen a case closed in error")
        super().add_arguments(reopen)
        reopen.add_argument("household", help="the household's UUID")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self.acting_user(options)
        if not may_close_households(user):
            raise CommandError(
                f"{user.username!r} may not close or reopen cases (a coordinator's decision)"
            )
        try:
            household_uuid = UUID(options["household"])
        except ValueError:
            raise CommandError(f"{options['household']!r} is not a household UUID") from None
        household = Household.objects.filter(uuid=household_uuid).first()
        if household is None:
            raise CommandError(f"no household {household_uuid}")
        try:
            if options["subcommand"] == "close":
                closed = close_household(
                    household=household, reason=options["reason"], acting_user=user
                )
                at = f"{closed.closed_at:%Y-%m-%d %H:%M %z}"
                self.stdout.write(f"closed {closed.uuid} ({closed.closed_reason}) at {at}")
            else:
                reopen_household(household=household, acting_user=user)
                self.stdout.write(f"reopened {household.uuid}")
        except (Conflict, InvalidInput) as refused:
            raise CommandError(str(refused)) from None
