"""`haven simulate --people N --seed S`: a realistic influx, written through Haven's actions.

    haven simulate --people 20000 --seed 2023 --truth truth.csv --out households.jsonl

The ground truth (which records are the same person) goes only to --truth, never to the database.
"""

import csv
import json
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from haven.core.errors import InvalidInput
from haven.core.management.base import HavenCommand
from haven.core.models import User
from haven.core.selectors import sees_all_sites
from haven.simulate.curve import CurveError, default_curve, read_curve
from haven.simulate.influx import Influx, simulate_influx
from haven.simulate.loader import (
    LoadReport,
    check_can_register,
    ensure_sites,
    load_influx,
    simulator_user,
)
from haven.simulate.shelters import ShelterReport, add_shelters


def write_jsonl(influx: Influx, path: Path) -> None:
    """The households in the API's household schema, one JSON object a line (UTF-8)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for registration in influx.registrations:
            f.write(json.dumps(registration.payload, ensure_ascii=False) + "\n")


def write_truth(influx: Influx, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["person_uuid", "true_person_id"])
        for person_uuid, true_id in influx.truth_rows():
            writer.writerow([person_uuid, true_id])


class Command(HavenCommand):
    help = "Simulate a realistic influx of displaced people and register it."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--people", type=int, default=20_000, help="people who arrive")
        parser.add_argument("--seed", type=int, default=2023, help="the same seed, the same data")
        parser.add_argument(
            "--curve", type=Path, help="CSV of datetime_local,cumulative_arrivals (default: 2023)"
        )
        parser.add_argument(
            "--truth", type=Path, help="write person_uuid,true_person_id to this CSV"
        )
        parser.add_argument(
            "--out", type=Path, help="write the households as JSON Lines (the import format)"
        )
        parser.add_argument(
            "--duplicate-share",
            type=float,
            default=0.03,
            help="share of people registered a second time at another site (default 0.03)",
        )
        parser.add_argument("--no-db", action="store_true", help="only write the files")
        parser.add_argument(
            "--shelters",
            type=int,
            default=0,
            help="also add this many shelters across the provinces (haven.simulate.shelters)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        people: int = options["people"]
        if people < 1:
            raise CommandError(_("--people: must be at least 1"))
        if options["shelters"] < 0:
            raise CommandError(_("--shelters: must not be negative"))
        share: float = options["duplicate_share"]
        if not 0 <= share <= 0.5:
            raise CommandError(_("--duplicate-share: must be between 0 and 0.5"))
        try:
            zone = ZoneInfo(settings.TIME_ZONE)  # HAVEN_TIME_ZONE: local times without an offset
            curve = read_curve(options["curve"], zone=zone) if options["curve"] else default_curve()
        except CurveError as exc:
            raise CommandError(_("--curve: %(error)s") % {"error": exc}) from exc
        user: User | None = None
        if not options["no_db"]:
            user = self.acting_user(options) if options.get("as_user") else simulator_user()

        started = time.perf_counter()
        influx = simulate_influx(
            people=people, seed=options["seed"], curve=curve, duplicate_share=share
        )
        generated = time.perf_counter() - started
        if options["out"]:
            write_jsonl(influx, options["out"])
        if options["truth"]:
            write_truth(influx, options["truth"])

        report: LoadReport | None = None
        if user is not None:
            codes = {r.site for r in influx.registrations} | {
                c.payload["site"] for c in influx.crossings
            }
            refused = [] if sees_all_sites(user) else check_can_register(user, codes)
            if refused:
                raise CommandError(
                    _(
                        "%(user)s may not register people at %(sites)s; use a coordinator or"
                        " an administrator (--as-user)"
                    )
                    % {"user": user.username, "sites": ", ".join(refused)}
                )
            try:
                ensure_sites(acting_user=user)
            except InvalidInput as exc:
                raise CommandError(str(exc)) from exc
            report = load_influx(influx, acting_user=user)
        shelters: ShelterReport | None = None
        if user is not None and options["shelters"]:
            shelters = add_shelters(
                count=options["shelters"], seed=options["seed"], acting_user=user
            )
        self._summary(influx, report, generated, time.perf_counter() - started, options)
        if shelters is not None:
            self.stdout.write(
                _(
                    "  shelters added:        %(n)d (%(beds)d beds, %(step)d step-free;"
                    " %(existing)d already there)"
                )
                % {
                    "n": shelters.added,
                    "beds": shelters.beds,
                    "step": shelters.step_free,
                    "existing": shelters.existing,
                }
            )

    def _summary(
        self,
        influx: Influx,
        report: LoadReport | None,
        generated: float,
        seconds: float,
        options: dict[str, Any],
    ) -> None:
        households = len(influx.registrations)
        persons = sum(len(r.payload["members"]) for r in influx.registrations)
        write = self.stdout.write
        write(
            _("Simulated %(people)d people arriving (seed %(seed)d).")
            % {"people": influx.people, "seed": options["seed"]}
        )
        write(_("  households registered: %(n)d") % {"n": households})
        write(_("  person records:        %(n)d") % {"n": persons})
        write(
            _("  duplicate records:     %(n)d (people registered a second time)")
            % {"n": influx.duplicate_records}
        )
        write(
            _(
                "  crossing counts:       %(n)d hours at KOR, %(people)d people, %(vehicles)d"
                " vehicles"
            )
            % {
                "n": len(influx.crossings),
                "people": sum(c.payload["people"] for c in influx.crossings),
                "vehicles": sum(c.payload["vehicles"] for c in influx.crossings),
            }
        )
        write(
            _("  largest backlog:       %(n)d people waiting to be registered")
            % {"n": influx.max_backlog}
        )
        write(_("  generated in:          %(s).1f s") % {"s": generated})
        if report is not None:
            rate = report.persons_created / report.seconds if report.seconds else 0.0
            outcomes = ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))
            write(_("  households by outcome: %(o)s") % {"o": outcomes})
            write(
                _("  persons written:       %(n)d in %(s).1f s (%(rate).0f persons/s)")
                % {"n": report.persons_created, "s": report.seconds, "rate": rate}
            )
            write(_("  crossing counts new:   %(n)d") % {"n": report.crossing_counts})
            for problem in report.problems[:20]:
                self.stderr.write(problem)
        if options["out"]:
            write(_("  households written to  %(path)s") % {"path": options["out"]})
        if options["truth"]:
            write(_("  ground truth written to %(path)s") % {"path": options["truth"]})
        write(_("Done in %(s).1f s.") % {"s": seconds})
