"""The base of Haven's management commands: acting user, clear errors, progress bars."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from haven.core.models import User


class HavenCommand(BaseCommand):
    """A command that acts as a named user (`--as-user`), so its writes are audited to someone."""

    acting_user_required = False

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--as-user",
            dest="as_user",
            help="username to act as (default: the first active administrator)",
        )

    def acting_user(self, options: dict[str, Any]) -> User:
        username = options.get("as_user")
        if username:
            user = User.objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"no active user named {username!r}")
            return user
        user = (
            User.objects.filter(is_active=True, role=User.Role.ADMIN).order_by("pk").first()
            or User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
        )
        if user is None:
            raise CommandError(
                "no administrator exists to act as; create one with `haven createsuperuser`"
                " or name a user with --as-user"
            )
        return user
