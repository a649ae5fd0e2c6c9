"""`haven trace`: tracing from the command line.

haven trace find --name "NAME" [--birth-year Y] [--sex F|M] [--origin PLACE] [--limit N] [--json]
    the registered people who may be the sought person, most probable first: a table, or with
    --json a JSON list (person_uuid, probability, reasons, then the record as registered). Each
    person shown is an audited read, by --as-user or else by Haven itself.
"""

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import CommandError

from haven.core.errors import InvalidInput
from haven.core.management.base import HavenCommand
from haven.core.models import User
from haven.identity.check import Candidate
from haven.identity.reasons import reason_text
from haven.tracing.search import find_people, may_trace


def candidate_json(candidate: Candidate) -> dict[str, Any]:
    """One candidate as the JSON list shows it: what decides first, then the record."""
    person = candidate.person
    return {
        "person_uuid": str(person.uuid),
        "probability": round(candidate.probability, 4),
        "reasons": [
            {
                "field": reason.field,
                "level": reason.level,
                "weight": reason.weight,
                "scripts": list(reason.scripts),
                "text": reason_text(reason.field, reason.level, reason.scripts),
            }
            for reason in candidate.reasons
        ],
        "given_name": person.given_name,
        "family_name": person.family_name,
        "patronymic": person.patronymic,
        "sex": person.sex,
        "birth_date": person.birth_date,
        "birth_year_estimated": person.birth_year_estimated,
        "site": person.site.code,
        "household_uuid": str(person.household.uuid),
    }


class Command(HavenCommand):
    help = "Tracing: search the registry for a sought person."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        find = sub.add_parser("find", help="rank the registered people who may be a sought person")
        # On the subcommand, so that it may follow `find` as every other option does.
        super().add_arguments(find)
        find.add_argument("--name", required=True, help="the name as the searcher says it")
        # Typed here as text so that a wrong value gets the search's own message.
        find.add_argument("--birth-year", dest="birth_year", help="year of birth, if known")
        find.add_argument("--sex", help="F or M, if known")
        find.add_argument("--origin", default="", help="home settlement, if known")
        find.add_argument("--limit", type=int, default=10, help="at most this many (default 10)")
        find.add_argument("--json", action="store_true", help="print a JSON list")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._reader(options)
        birth_year = self._year(options["birth_year"])
        try:
            found = find_people(
                name=options["name"],
                birth_year=birth_year,
                sex=options["sex"].strip().upper() if options["sex"] else None,
                origin=options["origin"],
                limit=options["limit"],
                user=user,
            )
        except InvalidInput as invalid:
            raise CommandError(str(invalid)) from None
        if options["json"]:
            self.stdout.write(
                json.dumps([candidate_json(c) for c in found], ensure_ascii=False, indent=2)
            )
            return
        if not found:
            self.stdout.write("no registered person may be this person")
            return
        for candidate in found:
            person = candidate.person
            names = " ".join(
                n for n in (person.given_name, person.patronymic, person.family_name) if n
            )
            self.stdout.write(
                f"{candidate.probability:7.2%}  {names}  {person.sex}  {person.birth_date}"
                f"  {person.site.code}  {person.uuid}"
            )
            words = "; ".join(reason_text(r.field, r.level, r.scripts) for r in candidate.reasons)
            self.stdout.write(f"         {words}")

    def _reader(self, options: dict[str, Any]) -> User | None:
        """Who reads the records: --as-user (a caseworker, coordinator or administrator), else
        the first administrator, else Haven itself (audited without a user, as `haven dedupe`)."""
        if not options.get("as_user"):
            try:
                return self.acting_user(options)
            except CommandError:
                return None
        user = self.acting_user(options)
        if not may_trace(user):
            raise CommandError(f"{user.username!r} may not search for people (not a caseworker)")
        return user

    @staticmethod
    def _year(value: str | None) -> int | None:
        if value is None or not value.strip():
            return None
        try:
            return int(value.strip())
        except ValueError:
            raise CommandError(f"birth_year: {value!r} is not a year (give four digits)") from None
