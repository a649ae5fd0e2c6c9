"""Sites from the command line.

`haven site add CODE "NAME" --kind crossing|hub|shelter --province PROVINCE`; `haven site list`.
"""

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from haven.core.actions import add_site
from haven.core.errors import InvalidInput
from haven.core.models import Site


class Command(BaseCommand):
    help = "Add or list sites (crossing points, reception hubs, shelters)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        add = sub.add_parser("add", help="add a site")
        add.add_argument("code")
        add.add_argument("name")
        add.add_argument("--kind", required=True, choices=Site.Kind.values)
        add.add_argument("--province", required=True)
        add.add_argument("--time-zone", default="Asia/Yerevan")
        sub.add_parser("list", help="list sites")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "list":
            for site in Site.objects.all():
                self.stdout.write(f"{site.code}\t{site.kind}\t{site.province}\t{site.name}")
            return
        try:
            site = add_site(
                code=options["code"],
                name=options["name"],
                kind=options["kind"],
                province=options["province"],
                time_zone=options["time_zone"],
                acting_user=None,
            )
        except InvalidInput as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"added site {site.code}: {site.name} ({site.kind}, {site.province})")
