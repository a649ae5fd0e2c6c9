"""`haven dedupe`: find the records that are the same person, across sites and scripts.

haven dedupe                      run the batch with the newest model (trains one if none)
haven dedupe --retrain            train a new model version first (uses reviewed pairs)
haven dedupe --evaluate TRUTH.csv run, then score the identities against the truth
                                  (person_uuid,true_person_id, as `haven simulate --truth`
                                  writes): JSON with pairwise and cluster-level figures
"""

import csv
import json
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any
from uuid import UUID

from django.core.management.base import CommandError
from tqdm import tqdm

from haven.core.management.base import HavenCommand
from haven.core.models import User
from haven.identity.batch import run_linkage
from haven.identity.evaluate import evaluate
from haven.registry.models import Person

STAGES = [
    "reading the registry",
    "training the model",
    "predicting",
    "clustering",
    "storing pairs and links",
]


def read_truth(path: Path) -> dict[UUID, str]:
    """person uuid → true person id; a clear error for a file that is not such a table."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = {"person_uuid", "true_person_id"} - set(reader.fieldnames or [])
            if missing:
                raise CommandError(
                    f"{path}: the truth file needs the columns person_uuid,true_person_id;"
                    f" missing: {', '.join(sorted(missing))}"
                )
            truth: dict[UUID, str] = {}
            for line, row in enumerate(reader, start=2):
                try:
                    truth[UUID(row["person_uuid"])] = row["true_person_id"]
                except (ValueError, TypeError):
                    raise CommandError(
                        f"{path}, line {line}: {row['person_uuid']!r} is not a UUID"
                    ) from None
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text") from None
    if not truth:
        raise CommandError(f"{path}: the truth file has no rows")
    return truth


class Command(HavenCommand):
    help = "Find records of the same person (identity resolution) and link them."

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--retrain", action="store_true", help="train a new model version")
        parser.add_argument("--evaluate", type=Path, metavar="TRUTH.csv", help="score the result")
        parser.add_argument(
            "--no-run", action="store_true", help="with --evaluate: score the identities as stored"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        truth = read_truth(options["evaluate"]) if options["evaluate"] else None
        if options["no_run"] and truth is None:
            raise CommandError("--no-run only makes sense with --evaluate")
        if not options["no_run"]:
            self._run(options)
        if truth is not None:
            identities = dict(
                Person.objects.filter(uuid__in=list(truth)).values_list("uuid", "identity")
            )
            if not identities:
                raise CommandError(
                    f"{options['evaluate']}: none of its {len(truth)} persons is registered here"
                )
            result = evaluate(identities, truth).as_dict()
            result["truth_rows_not_registered"] = len(truth) - len(identities)
            self.stdout.write(json.dumps(result, indent=2))

    def _run(self, options: dict[str, Any]) -> None:
        try:
            user: User | None = self.acting_user(options)
        except CommandError:
            if options.get("as_user"):
                raise
            user = None  # no administrator yet: the run is audited as Haven's own
        quiet = options["no_progress"] or not sys.stderr.isatty()
        bar = tqdm(total=len(STAGES), disable=quiet, unit="step", file=sys.stderr)

        def progress(stage: str) -> None:
            bar.set_description(stage)
            if stage in STAGES:
                bar.n = STAGES.index(stage) + 1
                bar.refresh()

        try:
            run = run_linkage(acting_user=user, retrain=options["retrain"], progress=progress)
        except ValueError as error:
            raise CommandError(str(error)) from None
        finally:
            bar.close()
        summary = run.summary
        out = self.stderr if options["evaluate"] else self.stdout
        out.write(
            f"linkage run {run.pk} with model v{summary['model_version']}:"
            f" {summary['records']} records compared, {summary['skipped']} skipped,"
            f" {summary['duplicate_pairs']} duplicate and {summary['possible_pairs']} possible"
            f" duplicate pairs, {summary['identities_joined']} identities joined,"
            f" {summary['persons_relinked']} records relinked"
            f" ({sum(summary['seconds'].values()):.1f} s)"
        )
        for skip in run.skipped[:20]:
            out.write(f"  skipped {skip['person']}: {skip['reason']} ({skip['detail']})")
        if len(run.skipped) > 20:
            out.write(f"  … and {len(run.skipped) - 20} more (see the run's record)")
