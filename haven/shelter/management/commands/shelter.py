"""`haven shelter`: shelters and their allocation from the command line.

haven shelter add --code C --name N --kind K --province P --town T --beds N [--rooms N]
        [--step-free]
    a new shelter (kind: collective, hotel or host_family; province: a marz of Armenia).
haven shelter list [--json]
    every shelter with its beds, people staying and free beds.
haven shelter presence CODE [--json]
    who is staying in the shelter now (names, sex, date of birth), household by household;
    each person listed is an audited read.
haven shelter allocate [--accept] [--from FILE] [--json]
    propose an allocation of the waiting households to the free beds (HiGHS), beside what the
    greedy rule would do; with --accept, check them all in (all or nothing, audited). --from
    reads an edited proposal (the JSON this prints, its "assignments" changed) to check and
    accept instead of the solver's.
"""

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from haven.core.errors import HavenError
from haven.core.management.base import HavenCommand
from haven.core.models import User
from haven.shelter.actions import add_shelter, parse_shelter
from haven.shelter.allocation import Proposal, accept, edited, free_beds, may_allocate, propose
from haven.shelter.models import Shelter
from haven.shelter.selectors import presence


def proposal_json(proposal: Proposal, *, accepted: bool) -> dict[str, Any]:
    return {
        **proposal.figures(),
        "accepted": accepted,
        "assignments": [
            {
                "household": a.household.uuid,
                "persons": a.household.persons,
                "shelter": a.shelter.code,
                "province": a.shelter.province,
            }
            for a in proposal.assignments
        ],
    }


class Command(HavenCommand):
    help = "Shelters: add, list, and allocate the waiting households to free beds."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        add = sub.add_parser("add", help="add a shelter")
        super().add_arguments(add)
        add.add_argument("--code", required=True)
        add.add_argument("--name", required=True)
        add.add_argument("--kind", required=True, help=", ".join(Shelter.Kind.values))
        add.add_argument("--province", required=True)
        add.add_argument("--town", required=True)
        add.add_argument("--beds", type=int, required=True)
        add.add_argument("--rooms", type=int, default=0)
        add.add_argument("--step-free", dest="step_free", action="store_true")
        listing = sub.add_parser("list", help="every shelter with its free beds")
        super().add_arguments(listing)
        listing.add_argument("--json", action="store_true")
        present = sub.add_parser("presence", help="who is staying in a shelter now")
        super().add_arguments(present)
        present.add_argument("code", help="the shelter's code")
        present.add_argument("--json", action="store_true")
        allocate = sub.add_parser("allocate", help="propose (and --accept) an allocation")
        super().add_arguments(allocate)
        allocate.add_argument("--accept", action="store_true", help="check them all in")
        allocate.add_argument("--from", dest="from_file", type=Path, help="an edited proposal")
        allocate.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self.acting_user(options)
        try:
            if options["subcommand"] == "add":
                self._add(user, options)
            elif options["subcommand"] == "list":
                self._list(options)
            elif options["subcommand"] == "presence":
                self._presence(user, options)
            else:
                self._allocate(user, options)
        except HavenError as exc:
            raise CommandError(str(exc)) from None

    def _add(self, user: User, options: dict[str, Any]) -> None:
        keys = ("code", "name", "kind", "province", "town", "beds", "rooms", "step_free")
        shelter = add_shelter(data=parse_shelter({k: options[k] for k in keys}), acting_user=user)
        self.stdout.write(f"added {shelter.code}: {shelter.beds} beds in {shelter.town}")

    def _list(self, options: dict[str, Any]) -> None:
        free = {f.key: f.free for f in free_beds()}
        rows = [
            {
                "code": s.code,
                "name": s.name,
                "kind": s.kind,
                "province": s.province,
                "town": s.town,
                "beds": s.beds,
                "free": free.get(s.pk, 0),
                "step_free": s.step_free,
            }
            for s in Shelter.objects.order_by("code")
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not rows:
            self.stdout.write("no shelters yet: add one with `haven shelter add`")
        for r in rows:
            step = "step-free" if r["step_free"] else ""
            self.stdout.write(
                f"{r['code']:<16} {r['province']:<12} {r['town']:<14} {r['kind']:<12}"
                f" {r['beds']:>5} beds {r['free']:>5} free  {step}"
            )

    def _presence(self, user: User, options: dict[str, Any]) -> None:
        shelter, residents = presence(user, options["code"])
        if options["json"]:
            rows = [
                {
                    "household": str(r.household),
                    "person": str(r.person),
                    "given_name": r.given_name,
                    "family_name": r.family_name,
                    "sex": r.sex,
                    "birth_date": r.birth_date,
                    "checked_in_at": r.checked_in_at.isoformat(),
                }
                for r in residents
            ]
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"{shelter.code} — {shelter.name}: {len(residents)} people staying")
        for r in residents:
            self.stdout.write(
                f"  {r.family_name} {r.given_name}  {r.sex}  {r.birth_date}"
                f"  (household {r.household}, in since {r.checked_in_at:%Y-%m-%d %H:%M})"
            )

    def _allocate(self, user: User, options: dict[str, Any]) -> None:
        if not may_allocate(user):
            raise CommandError(
                f"{user.username!r} may not allocate shelter"
                " (not a coordinator or a shelter manager)"
            )
        proposal = propose(user=user)
        if options["from_file"]:
            proposal = edited(proposal, self._choices(options["from_file"]))
        accepted = False
        if options["accept"]:
            if not proposal.assignments:
                raise CommandError(
                    "nothing to accept: no waiting household fits the free beds"
                    if proposal.households
                    else "nothing to accept: no household is waiting for a bed"
                )
            accept(proposal, acting_user=user)
            accepted = True
        if options["json"]:
            self.stdout.write(
                json.dumps(proposal_json(proposal, accepted=accepted), ensure_ascii=False, indent=2)
            )
            return
        figures = proposal.figures()
        width = max(len(k) for k in figures)
        for key, value in figures.items():
            self.stdout.write(f"{key:<{width}}  {value}")
        self.stdout.write(
            "accepted: every household above is checked in"
            if accepted
            else "not applied: run again with --accept to check them in"
        )

    @staticmethod
    def _choices(path: Path) -> list[tuple[str, str]]:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            return [(str(a["household"]), str(a["shelter"])) for a in document["assignments"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(
                f"--from: {path} is not a proposal (a JSON object with assignments of"
                f" household and shelter): {exc}"
            ) from None
