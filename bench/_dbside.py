"""The benchmark's helper that runs inside Haven: set up a database, make payloads, check counts.

`bench_registration.py` and `bench_load.py` never import Django themselves: they benchmark two
databases in one run, and Django reads its settings once per process. So they run this script in a
subprocess with the environment (HAVEN_DATABASE_URL, HAVEN_VAR_DIR) of the database under test:

    python bench/_dbside.py setup              # site BENCH, a registrar, a token -> JSON
    python bench/_dbside.py payloads --people N --seed S --out FILE.jsonl
    python bench/_dbside.py inspect            # counts and durability settings -> JSON
    python bench/_dbside.py registrars --sites KOR,GORIS --count N --passwords P  # users, tokens
    python bench/_dbside.py verify --sent FILE.json  # what a load run was told, against the DB
    python bench/_dbside.py profile --payloads FILE.jsonl --mode batch|single --count K --token T

Each prints one JSON object on its last line of stdout (profile prints a report instead).
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

BENCH_SITE = "BENCH"
BENCH_USER = "bench-registrar"


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haven.settings")
    import django

    django.setup()


def setup() -> dict[str, Any]:
    """A site, a registrar working there and a device token for the registrar."""
    _django()
    from haven.core.actions import add_site, create_api_token
    from haven.core.models import User

    site = add_site(
        code=BENCH_SITE, name="Benchmark hub", kind="hub", province="Syunik", acting_user=None
    )
    user = User.objects.create_user(
        username=BENCH_USER, role=User.Role.REGISTRAR, site=site, password=None
    )
    _, raw = create_api_token(user=user, name="benchmark", acting_user=None)
    return {"site": site.code, "user": user.username, "token": raw}


def payloads(*, people: int, seed: int, out: Path) -> dict[str, Any]:
    """A simulated influx's registrations (duplicates included), as JSON Lines in the API's
    household schema. The simulator is plain Python: no database is touched."""
    from haven.simulate.influx import simulate_influx

    influx = simulate_influx(people=people, seed=seed)
    persons = 0
    with out.open("w", encoding="utf-8") as handle:
        for registration in influx.registrations:
            handle.write(json.dumps(registration.payload, ensure_ascii=False))
            handle.write("\n")
            persons += len(registration.payload["members"])
    return {
        "households": len(influx.registrations),
        "persons": persons,
        "duplicate_records": influx.duplicate_records,
    }


def inspect() -> dict[str, Any]:
    """What was written (to check the run against what was sent) and how durable the writes are."""
    _django()
    from django.db import connection
    from django.db.models import Subquery

    from haven.core.models import AuditEvent
    from haven.registry.models import Household, Person

    registrations = AuditEvent.objects.filter(action="household.register")
    result: dict[str, Any] = {
        "vendor": connection.vendor,
        "persons": Person.objects.count(),
        "households": Household.objects.count(),
        "register_audit_rows": registrations.count(),
        "households_without_audit_row": Household.objects.exclude(
            uuid__in=Subquery(registrations.values("object_uuid"))
        ).count(),
    }
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA journal_mode")
            result["journal_mode"] = cursor.fetchone()[0]
            cursor.execute("PRAGMA synchronous")
            level = cursor.fetchone()[0]
            names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            result["synchronous"] = names.get(level, str(level))
            cursor.execute("SELECT sqlite_version()")
            result["version"] = cursor.fetchone()[0]
        else:
            for setting in ("synchronous_commit", "fsync", "wal_sync_method", "server_version"):
                cursor.execute(f"SHOW {setting}")
                result[setting] = cursor.fetchone()[0]
            result["version"] = result.pop("server_version")
    return result


def registrars(*, sites: list[str], count: int, passwords: int) -> list[dict[str, Any]]:
    """`count` registrars spread over `sites` (which must exist), each with a device token (made by
    the same action as `haven token create`); every other one, `passwords` in all, with a password
    to sign in with (hashing a password takes a good part of a second: only those who sign in)."""
    _django()
    import secrets

    from haven.core.actions import create_api_token, create_user
    from haven.core.models import Site, User

    by_code = {site.code: site for site in Site.objects.filter(code__in=sites)}
    missing = sorted(set(sites) - set(by_code))
    if missing:
        raise SystemExit(f"no such sites: {', '.join(missing)}")
    made = []
    for number in range(count):
        site = by_code[sites[number % len(sites)]]
        password = secrets.token_urlsafe(16) if number % 2 == 0 and number // 2 < passwords else ""
        user = create_user(
            username=f"load-registrar-{number:03d}",
            role=User.Role.REGISTRAR,
            password=password or None,
            site=site,
            acting_user=None,
        )
        _, token = create_api_token(user=user, name=f"load {number}", acting_user=None)
        made.append(
            {"username": user.username, "password": password, "token": token, "site": site.code}
        )
    return made


def verify(sent_file: Path) -> dict[str, Any]:
    """Every household and crossing count a load run was acknowledged, looked up in the database.

    `sent_file` is JSON: {"households": {uuid: members sent}, "crossings": [uuid, …]}. Returns
    what is missing, duplicated or different, and the totals of the tables.
    """
    _django()
    from django.db.models import Count

    from haven.core.models import AuditEvent
    from haven.registry.models import CrossingCount, Household, Person

    sent = json.loads(sent_file.read_text())
    households: dict[str, int] = sent["households"]
    stored: dict[str, int] = {}
    copies: dict[str, int] = {}
    uuids = list(households)
    for start in range(0, len(uuids), 500):  # SQLite allows a bounded number of parameters
        chunk = uuids[start : start + 500]
        for row in (
            Household.objects.filter(uuid__in=chunk)
            .values("uuid")
            .annotate(
                member_count=Count("members", distinct=True), copies=Count("id", distinct=True)
            )
        ):
            stored[str(row["uuid"])] = row["member_count"]
            copies[str(row["uuid"])] = row["copies"]
    audited: dict[str, int] = {}
    for start in range(0, len(uuids), 500):
        chunk = uuids[start : start + 500]
        for row in (
            AuditEvent.objects.filter(action="household.register", object_uuid__in=chunk)
            .values("object_uuid")
            .annotate(rows=Count("id"))
        ):
            audited[str(row["object_uuid"])] = row["rows"]
    crossings = sent["crossings"]
    crossings_stored = sum(
        CrossingCount.objects.filter(uuid__in=crossings[start : start + 500]).count()
        for start in range(0, len(crossings), 500)
    )
    return {
        "households_sent": len(households),
        "households_found": len(stored),
        "missing": [u for u in households if u not in stored][:5],
        "duplicated": [u for u, n in copies.items() if n != 1][:5],
        "members_differ": [u for u, n in stored.items() if n != households[u]][:5],
        "audit_rows_differ": [u for u in households if audited.get(u) != 1][:5],
        "crossings_sent": len(crossings),
        "crossings_found": crossings_stored,
        "households_total": Household.objects.count(),
        "persons_total": Person.objects.count(),
        "persons_sent": sum(households.values()),
    }


def profile(*, payload_file: Path, mode: str, count: int, batch_size: int, token: str) -> str:
    """Send requests through Django's whole request path in this process, timed then profiled.

    This is the server side of the benchmark's requests without gunicorn and the network:
    middleware, token check, django-ninja, the action, the response. `count` requests are timed
    without the profiler (persons per second in one process), then `count` more run under cProfile
    and the report lists where the time goes, by own time and by cumulative time. The payload file
    must hold households at site BENCH, none of them registered yet.
    """
    _django()
    from django.db import connection
    from django.test import Client

    lines = payload_file.read_text(encoding="utf-8").splitlines()
    per_request = batch_size if mode == "batch" else 1
    bodies: list[tuple[bytes, int]] = []
    for start in range(0, min(len(lines), 2 * count * per_request), per_request):
        chunk = lines[start : start + per_request]
        persons = sum(len(json.loads(line)["members"]) for line in chunk)
        text = f'{{"households": [{",".join(chunk)}]}}' if mode == "batch" else chunk[0]
        bodies.append((text.encode(), persons))
    if len(bodies) < 2 * count:
        raise SystemExit(f"{payload_file} holds too few households for {2 * count} requests")
    path = "/api/households/batch" if mode == "batch" else "/api/households"
    expected = 200 if mode == "batch" else 201
    client = Client(SERVER_NAME="127.0.0.1")  # a host the default ALLOWED_HOSTS accepts
    headers = {"Authorization": f"Bearer {token}"}

    def send(body: bytes) -> None:
        response = client.post(path, data=body, content_type="application/json", headers=headers)
        if response.status_code != expected:
            raise SystemExit(f"{path} answered {response.status_code}: {response.content[:500]!r}")

    send(bodies[0][0])  # the first request builds the URLconf and the API: not part of the figures
    timed, profiled = bodies[1 : count + 1], bodies[count + 1 :]
    statements: list[str] = []

    def counting(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    started, cpu_started = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(counting):
        for body, _ in timed:
            send(body)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    persons = sum(n for _, n in timed)
    profiler = cProfile.Profile()
    for body, _ in profiled:
        profiler.enable()
        send(body)
        profiler.disable()
    out = io.StringIO()
    out.write(
        f"{mode}: {len(timed)} requests, {persons} persons in {elapsed:.2f} s without the profiler:"
        f" {persons / elapsed:,.0f} persons/s, {elapsed / len(timed) * 1000:.1f} ms a request"
        f" ({cpu / len(timed) * 1000:.1f} ms of CPU in this process),"
        f" {len(statements) / len(timed):.1f} SQL statements a request\n"
    )
    if mode == "single":
        out.write("the statements of one request:\n")
        for sql_text in statements[-len(statements) // len(timed) :]:
            out.write(f"  {sql_text[:150]}\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(45)
    return out.getvalue()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup")
    sub.add_parser("inspect")
    staff = sub.add_parser("registrars")
    staff.add_argument("--sites", required=True, help="site codes, comma-separated")
    staff.add_argument("--count", type=int, required=True)
    staff.add_argument("--passwords", type=int, default=0, help="how many may sign in")
    check = sub.add_parser("verify")
    check.add_argument("--sent", type=Path, required=True)
    make = sub.add_parser("payloads")
    make.add_argument("--people", type=int, required=True)
    make.add_argument("--seed", type=int, default=1)
    make.add_argument("--out", type=Path, required=True)
    prof = sub.add_parser("profile")
    prof.add_argument("--payloads", type=Path, required=True)
    prof.add_argument("--mode", choices=["batch", "single"], default="batch")
    prof.add_argument("--count", type=int, default=3, help="requests timed, then as many profiled")
    prof.add_argument("--batch-size", type=int, default=1000)
    prof.add_argument("--token", required=True)
    args = parser.parse_args(argv)
    if args.command == "setup":
        print(json.dumps(setup()))
    elif args.command == "inspect":
        print(json.dumps(inspect()))
    elif args.command == "registrars":
        sites = [code.strip() for code in args.sites.split(",") if code.strip()]
        print(
            json.dumps(
                {"registrars": registrars(sites=sites, count=args.count, passwords=args.passwords)}
            )
        )
    elif args.command == "verify":
        print(json.dumps(verify(args.sent)))
    elif args.command == "payloads":
        print(json.dumps(payloads(people=args.people, seed=args.seed, out=args.out)))
    else:
        print(
            profile(
                payload_file=args.payloads,
                mode=args.mode,
                count=args.count,
                batch_size=args.batch_size,
                token=args.token,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
