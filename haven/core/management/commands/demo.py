"""`haven demo`: from an empty ./var to a running Haven full of a realistic influx.

    haven demo [--people 20000] [--seed 2023] [--port 8000] [--no-serve]

Migrates, adds the 2023 sites, gives one demo user per role a fresh random password (printed
once), simulates the influx unless the database already holds people (then links its
duplicates, adds shelters for about half of them and houses them by the allocation, defines the
2023 programmes, computes entitlements and makes the first payment list), and serves Haven with
`haven serve` (gunicorn, a production server).
"""

import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from argparse import ArgumentParser
from dataclasses import dataclass
from types import FrameType
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from haven.assistance.actions import add_programme, parse_programme
from haven.assistance.entitlements import compute
from haven.assistance.models import Programme
from haven.assistance.payments import create_list
from haven.core.actions import create_user, set_password
from haven.core.models import Site, User
from haven.identity.batch import run_linkage
from haven.registry.models import Person
from haven.shelter.allocation import accept, propose
from haven.shelter.models import Shelter
from haven.simulate.influx import simulate_influx
from haven.simulate.loader import ensure_sites, load_influx, simulator_user
from haven.simulate.shelters import add_shelters


def _stop(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    site: str | None = None
    assigned: tuple[str, ...] = ()


DEMO_USERS = (
    DemoUser("registrar.kor", User.Role.REGISTRAR, site="KOR"),
    DemoUser("registrar.goris", User.Role.REGISTRAR, site="GORIS"),
    DemoUser("caseworker", User.Role.CASEWORKER, assigned=("KOR", "GORIS", "VAYK")),
    DemoUser("shelter.manager", User.Role.SHELTER_MANAGER),
    DemoUser("assistance", User.Role.ASSISTANCE_OFFICER),
    DemoUser("coordinator", User.Role.COORDINATOR),
    DemoUser("analyst", User.Role.PARTNER_ANALYST),
    DemoUser("admin", User.Role.ADMIN),
)


# The assistance of 2023: 100,000 AMD once to each person who arrived, then 40,000 AMD rent and
# 10,000 AMD utilities a month for six months; and a hygiene kit at most once a month.
DEMO_PROGRAMMES: tuple[dict[str, object], ...] = (
    {
        "code": "arrival-grant",
        "name": "One-off support to each arrival (100,000 AMD)",
        "kind": "cash",
        "amount": 100_000,
        "frequency": "once",
        "starts_on": "2023-10-01",
        "arrived_from": "2023-09-19",
    },
    {
        "code": "housing-support",
        "name": "Rent and utilities (40,000 + 10,000 AMD a month)",
        "kind": "cash",
        "amount": 50_000,
        "frequency": "monthly",
        "periods": 6,
        "starts_on": "2023-10-15",
        "arrived_from": "2023-09-19",
    },
    {
        "code": "hygiene-kit",
        "name": "Hygiene kit",
        "kind": "in_kind",
        "item": "hygiene kit",
        "amount": 1,
        "frequency": "once",
        "starts_on": "2023-09-25",
        "min_days_between": 30,
        "max_per_day": 1,
        "exclusive_group": "hygiene",
    },
)


def fresh_password() -> str:
    """Four groups of four letters and digits: easy to read off a screen, hard to guess."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4))


class Command(BaseCommand):
    help = "Set up a demonstration Haven with users and a simulated influx, and serve it."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--people", type=int, default=20_000, help="people to simulate")
        parser.add_argument("--seed", type=int, default=2023)
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="set up, then stop")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        if options["people"] < 1:
            raise CommandError(_("--people: must be at least 1"))
        port: int = options["port"]
        if not 1 <= port <= 65535:
            raise CommandError(_("--port: must be between 1 and 65535"))
        write = self.stdout.write
        write(_("Migrating the database…"))
        call_command("migrate", interactive=False, verbosity=0)
        ensure_sites(acting_user=None)
        logins = self._users()
        base = f"http://127.0.0.1:{port}/"
        write("")
        write(_("Demo users (passwords are new each time `haven demo` runs):"))
        role, username, password_label, site_label = (
            _("role"),
            _("username"),
            _("password"),
            _("site"),
        )
        write(f"  {role:<17} {username:<16} {password_label:<20} {site_label}")
        for user, password in logins:
            if user.role == User.Role.PARTNER_ANALYST:
                site = _("aggregates only")
            elif user.site:
                site = user.site.code
            else:
                site = ", ".join(s.code for s in user.assigned_sites.all()) or _("all")
            write(f"  {user.get_role_display():<17} {user.username:<16} {password:<20} {site}")
        write(_("Log in at %(url)slogin/") % {"url": base})
        write(
            _(
                "The coordinator, caseworker and admin also enter a code from an authenticator"
                " app: at their first sign-in Haven shows the QR code to add (haven otp reset"
                " USERNAME starts again)."
            )
        )
        write("")

        existing = Person.objects.count()
        if existing:
            write(
                _("The database already holds %(n)d people; not simulating again.")
                % {"n": existing}
            )
        else:
            write(
                _("Simulating an influx of %(n)d people (seed %(seed)d)…")
                % {"n": options["people"], "seed": options["seed"]}
            )
            influx = simulate_influx(people=options["people"], seed=options["seed"])
            report = load_influx(influx, acting_user=simulator_user())
            write(
                _(
                    "Registered %(p)d person records (%(d)d of them people registered a second"
                    " time) in %(h)d households, and %(c)d hourly crossing counts, in %(s).1f s."
                )
                % {
                    "p": report.persons_created,
                    "h": report.outcomes.get("created", 0),
                    "d": influx.duplicate_records,
                    "c": report.crossing_counts,
                    "s": report.seconds,
                }
            )
            write(_("Finding the people registered twice (identity resolution)…"))
            run = run_linkage(acting_user=simulator_user())
            write(
                _(
                    "%(dup)d pairs linked as one person, %(pos)d possible duplicates for review"
                    " (model v%(v)d), in %(s).1f s."
                )
                % {
                    "dup": run.duplicates,
                    "pos": run.possible,
                    "v": run.model.version,
                    "s": sum(run.summary["seconds"].values()),
                }
            )
            self._house_and_pay(options["people"], options["seed"])
        if options["no_serve"]:
            write(
                _("Set up in %(s).1f s (not serving: --no-serve).")
                % {"s": time.perf_counter() - started}
            )
            return
        self._serve(port, base, started)

    def _house_and_pay(self, people: int, seed: int) -> None:
        """Shelters for about half the people (as the state housed in 2023), the allocation
        accepted, the 2023 programmes defined, entitlements computed and the first payment list
        made: every page of the demo has something to show."""
        write = self.stdout.write
        system = simulator_user()
        report = add_shelters(count=max(10, people // 100), seed=seed, acting_user=system)
        manager = User.objects.get(username="shelter.manager")
        # The shelters of Syunik, where Goris is (or the first few, in a small demo without any).
        mine = Shelter.objects.filter(province="Syunik")
        manager.managed_shelters.set(mine if mine.exists() else Shelter.objects.all()[:5])
        proposal = propose(user=None)
        placed = accept(proposal, acting_user=system)
        write(
            _(
                "%(s)d shelters with %(b)d beds; %(h)d households (%(p)d people) housed by the"
                " allocation (objective %(o).0f; the greedy rule %(g).0f)."
            )
            % {
                "s": report.added,
                "b": report.beds,
                "h": placed,
                "p": proposal.persons_placed,
                "o": proposal.objective,
                "g": proposal.greedy_objective,
            }
        )
        for payload in DEMO_PROGRAMMES:
            add_programme(data=parse_programme(payload), acting_user=system)
        grant = Programme.objects.get(code="arrival-grant")
        compute(programme=grant, period=1, acting_user=system)
        compute(
            programme=Programme.objects.get(code="housing-support"), period=1, acting_user=system
        )
        payments = create_list(programme=grant, period=1, acting_user=system)
        write(
            _(
                "Programmes of 2023 defined; payment list %(n)d of the arrival grant: %(c)d"
                " payments, %(t)d AMD, %(h)d held for review."
            )
            % {
                "n": payments.number,
                "c": payments.payments,
                "t": payments.total_amount,
                "h": payments.left_off.get("held", 0),
            }
        )

    def _users(self) -> list[tuple[User, str]]:
        sites = {site.code: site for site in Site.objects.all()}
        logins = []
        for demo in DEMO_USERS:
            password = fresh_password()
            user = User.objects.filter(username=demo.username).first()
            if user is None:
                user = create_user(
                    username=demo.username,
                    role=demo.role,
                    password=password,
                    site=sites[demo.site] if demo.site else None,
                    assigned_sites=[sites[code] for code in demo.assigned],
                    acting_user=None,
                )
            else:
                set_password(user=user, password=password, acting_user=None)
            logins.append((user, password))
        return logins

    def _serve(self, port: int, base: str, started: float) -> None:
        command = [
            sys.executable, "-m", "haven", "serve", "--port", str(port),
            # Computing entitlements or a payment list on the page runs in the request.
            "--workers", "2", "--timeout", "120",
        ]  # fmt: skip
        server = subprocess.Popen(command)  # noqa: S603 - our own interpreter and fixed arguments
        # A polite kill (SIGTERM) of `haven demo` stops gunicorn too, instead of orphaning it.
        signal.signal(signal.SIGTERM, _stop)
        try:
            if not self._wait_until_up(base + "login/", server):
                raise CommandError(
                    _("gunicorn did not start on port %(port)d (is the port in use?)")
                    % {"port": port}
                )
            self.stdout.write(self.style.SUCCESS(_("Haven is running at %(url)s") % {"url": base}))
            self.stdout.write(
                _("(from start to a served page in %(s).1f s; press Ctrl+C to stop)")
                % {"s": time.perf_counter() - started}
            )
            server.wait()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=30)

    @staticmethod
    def _wait_until_up(url: str, server: "subprocess.Popen[bytes]") -> bool:
        deadline = time.monotonic() + 180  # the first start compresses the static files
        while time.monotonic() < deadline:
            if server.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - a fixed http URL
                    return True
            except urllib.error.HTTPError:
                return True  # the server answered, even if the page itself is an error
            except OSError:
                time.sleep(0.2)
        return False
