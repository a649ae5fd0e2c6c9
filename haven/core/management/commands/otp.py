"""`haven otp reset USERNAME`: remove a user's second-factor devices (a lost or replaced phone).

The user then enrols a new authenticator at their next sign-in. The reset is audited to the acting
user (`--as-user`, by default the first active administrator).
"""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from haven.core.management.base import HavenCommand
from haven.core.models import User
from haven.core.second_factor import reset_second_factor


class Command(HavenCommand):
    help = "Manage users' second factor (TOTP): `reset USERNAME` removes their devices."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        sub = parser.add_subparsers(dest="subcommand", required=True)
        reset = sub.add_parser("reset", help="remove a user's devices; they enrol anew")
        reset.add_argument("username", help="whose second factor to reset")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user named {options['username']!r}")
        removed = reset_second_factor(
            user=user, acting_user=self.acting_user(options), via="command"
        )
        self.stdout.write(
            f"{user.get_username()}: {removed} device(s) removed; they enrol a new one at next"
            " sign-in."
        )
