"""`haven assistance`: programmes, entitlements, payment lists and the bank's files.

haven assistance programme add --from FILE.json
    a new programme (the JSON object the programme form takes: code, name, kind, amount,
    frequency, starts_on, and the rules).
haven assistance programme list [--json]
    every programme with its amount, frequency and rules.
haven assistance entitle CODE --period N [--json]
    who the programme owes for the period, per identity: records read, identities entitled,
    held for a possible duplicate, the total, and the seconds it took.
haven assistance pay CODE --period N [--json]
    a payment list of everyone owed who may be paid now (the payment-once gate): its number,
    payments, total, and who was left off and why.
haven assistance export NUMBER --format csv|xlsx --out FILE
    the payment list for the bank (audited: one row for the export).
haven assistance reconcile NUMBER FILE [--encoding cp1251] [--json]
    the bank's reconciliation file (CSV or XLSX: reference, amount, status, reason): all of it,
    or, if any row is wrong, nothing (each error names its row and column).

Every write acts as --as-user (an assistance officer, coordinator or administrator), else the
first administrator, and is audited. An error writes nothing and exits non-zero.
"""

import json
import os
import tempfile
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from haven.assistance import entitlements, export, payments
from haven.assistance.actions import add_programme, parse_programme
from haven.assistance.models import PaymentList, Programme
from haven.assistance.reconcile import reconcile
from haven.assistance.selectors import may_assist
from haven.core.errors import HavenError, InvalidInput, NotFound
from haven.core.management.base import HavenCommand
from haven.core.models import User


def _message(error: HavenError) -> str:
    if isinstance(error, InvalidInput):
        lines = [f"{e.field}: {e.message}" for e in error.errors]
        return "\n".join([_("nothing was written:"), *lines])
    return str(error)


class Command(HavenCommand):
    help = "Assistance: programmes, entitlements, payment lists, the bank's files."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)

        programme = sub.add_parser("programme", help="add or list programmes")
        about = programme.add_subparsers(dest="programme_command", required=True)
        add = about.add_parser("add", help="add a programme from a JSON file")
        super().add_arguments(add)
        add.add_argument("--from", dest="from_file", type=Path, required=True, help="FILE.json")
        listing = about.add_parser("list", help="every programme")
        super().add_arguments(listing)
        listing.add_argument("--json", action="store_true")

        entitle = sub.add_parser("entitle", help="compute who a programme owes for a period")
        super().add_arguments(entitle)
        entitle.add_argument("code", help="the programme's code")
        entitle.add_argument("--period", type=int, required=True)
        entitle.add_argument("--json", action="store_true")

        pay = sub.add_parser("pay", help="make a payment list for a period")
        super().add_arguments(pay)
        pay.add_argument("code", help="the programme's code")
        pay.add_argument("--period", type=int, required=True)
        pay.add_argument("--json", action="store_true")

        out = sub.add_parser("export", help="write a payment list for the bank")
        super().add_arguments(out)
        out.add_argument("number", type=int, help="the list's number")
        out.add_argument("--format", dest="fmt", choices=export.FORMATS, required=True)
        out.add_argument("--out", type=Path, required=True, help="the file to write")

        settle = sub.add_parser("reconcile", help="read the bank's reconciliation file")
        super().add_arguments(settle)
        settle.add_argument("number", type=int, help="the list's number")
        settle.add_argument("file", type=Path, help="the bank's CSV or XLSX file")
        settle.add_argument(
            "--encoding", help="cp1251 for a CSV saved as Windows-1251 (default: UTF-8)"
        )
        settle.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        command = options["subcommand"]
        try:
            if command == "programme" and options["programme_command"] == "list":
                self._list(options)
                return
            user = self._officer(options)
            if command == "programme":
                self._add(user, options)
            elif command == "entitle":
                self._entitle(user, options)
            elif command == "pay":
                self._pay(user, options)
            elif command == "export":
                self._export(user, options)
            else:
                self._reconcile(user, options)
        except HavenError as exc:
            raise CommandError(_message(exc)) from None

    def _officer(self, options: dict[str, Any]) -> User:
        user = self.acting_user(options)
        if not may_assist(user):
            raise CommandError(
                _("%(user)r may not run assistance (not an assistance officer or coordinator)")
                % {"user": user.username}
            )
        return user

    def _print(self, options: dict[str, Any], figures: dict[str, Any]) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(figures, ensure_ascii=False, indent=2))
            return
        width = max(len(key) for key in figures)
        for key, value in figures.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
            self.stdout.write(f"{key:<{width}}  {value}")

    @staticmethod
    def _programme(code: str) -> Programme:
        programme = Programme.objects.filter(code=code).first()
        if programme is None:
            raise NotFound("programme", code)
        return programme

    @staticmethod
    def _payment_list(number: int) -> PaymentList:
        found = PaymentList.objects.select_related("programme").filter(number=number).first()
        if found is None:
            raise NotFound("payment list", number)
        return found

    def _add(self, user: User, options: dict[str, Any]) -> None:
        path: Path = options["from_file"]
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise CommandError(
                _("%(file)s is not UTF-8: save it as UTF-8 and add it again") % {"file": path}
            ) from None
        except json.JSONDecodeError as exc:
            raise CommandError(
                _("%(file)s is not JSON: %(msg)s at line %(line)d, column %(col)d")
                % {"file": path, "msg": exc.msg, "line": exc.lineno, "col": exc.colno}
            ) from None
        programme = add_programme(data=parse_programme(payload), acting_user=user)
        self.stdout.write(
            _("added %(code)s: %(name)s") % {"code": programme.code, "name": programme.name}
        )

    def _list(self, options: dict[str, Any]) -> None:
        rows = [
            {
                "code": p.code,
                "name": p.name,
                "kind": p.kind,
                "benefit": p.benefit,
                "unit": p.unit,
                "amount": p.amount,
                "currency": p.currency if p.kind == Programme.Kind.CASH else p.item,
                "frequency": p.frequency,
                "periods": p.periods,
                "starts_on": p.starts_on.isoformat(),
            }
            for p in Programme.objects.order_by("code")
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not rows:
            self.stdout.write(_("no programmes yet: add one with `haven assistance programme add`"))
        for r in rows:
            self.stdout.write(
                f"{r['code']:<20} {r['kind']:<8} {r['amount']:>10} {r['currency']:<6}"
                f" {r['unit']:<10} {r['frequency']:<8} x{r['periods']:<3} from {r['starts_on']}"
                f"  {r['name']}"
            )

    def _entitle(self, user: User, options: dict[str, Any]) -> None:
        programme = self._programme(options["code"])
        run = entitlements.compute(programme=programme, period=options["period"], acting_user=user)
        self._print(
            options,
            {
                "programme": programme.code,
                "period": run.period,
                "records": run.records,
                "identities": run.identities,
                "held": run.held,
                "total": run.total_amount,
                "seconds": run.seconds,
            },
        )

    def _pay(self, user: User, options: dict[str, Any]) -> None:
        programme = self._programme(options["code"])
        made = payments.create_list(programme=programme, period=options["period"], acting_user=user)
        self._print(
            options,
            {
                "list": made.number,
                "programme": programme.code,
                "period": made.period,
                "payments": made.payments,
                "total": made.total_amount,
                "currency": programme.currency,
                "left_off": made.left_off,
            },
        )

    def _export(self, user: User, options: dict[str, Any]) -> None:
        payment_list = self._payment_list(options["number"])
        out: Path = options["out"]
        if not out.parent.is_dir():
            raise CommandError(_("%(dir)s: no such directory") % {"dir": out.parent})
        # Written beside the target and renamed when complete: a failure leaves no half file.
        handle, partial = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                if options["fmt"] == "csv":
                    export.write_csv(payment_list, file, acting_user=user)
                else:
                    export.write_xlsx(payment_list, file, acting_user=user)
            Path(partial).replace(out)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        self.stdout.write(
            _("list %(number)d: %(rows)d payments written to %(file)s")
            % {"number": payment_list.number, "rows": payment_list.payments, "file": out}
        )

    def _reconcile(self, user: User, options: dict[str, Any]) -> None:
        payment_list = self._payment_list(options["number"])
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(_("%(file)s: no such file") % {"file": path})
        limit: int = settings.HAVEN_RECONCILE_MAX_BYTES
        with path.open("rb") as file:
            data = file.read(limit + 1)  # reconcile refuses what is over the limit
        result = reconcile(
            payment_list=payment_list,
            data=data,
            filename=path.name,
            encoding=options["encoding"],
            acting_user=user,
        )
        self._print(
            options,
            {
                "list": payment_list.number,
                "rows": result.rows,
                "paid": result.paid,
                "failed": result.failed,
                "unchanged": result.unchanged,
                "still_listed": result.still_listed,
                "reconciled": result.reconciled,
            },
        )
