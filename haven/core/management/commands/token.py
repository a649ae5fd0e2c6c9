"""`haven token create --user NAME [--name DEVICE]`: print a new API token for a device."""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from haven.core.actions import create_api_token
from haven.core.models import User


class Command(BaseCommand):
    help = "Create a device token for the JSON API (shown once; only its hash is stored)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        create = sub.add_parser("create", help="create a token and print it")
        create.add_argument("--user", required=True, help="username the device acts as")
        create.add_argument("--name", default="", help="a label for the device")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user named {options['user']!r}")
        _, raw = create_api_token(user=user, name=options["name"], acting_user=None)
        self.stdout.write(raw)
