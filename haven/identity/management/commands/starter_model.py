"""`haven starter_model`: train the linkage model that ships with Haven, on a simulated influx.

    haven starter_model --out haven/identity/data/starter_model.json

The desk-time check needs weights from the first registration on, before any batch run has
trained a model on real records. This trains one the same way `haven dedupe` does (u by random
sampling, m by expectation–maximisation), on the simulator's records; `haven dedupe` replaces it
with a model trained on the registry as soon as it runs. Same seed, same model.
"""

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from haven.identity.engine import Engine
from haven.identity.simulated import simulated_features


class Command(BaseCommand):
    help = "Train the starter linkage model on a simulated influx and write it as JSON."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--out", type=Path, required=True, help="where to write the model")
        parser.add_argument("--people", type=int, default=20_000)
        parser.add_argument("--seed", type=int, default=2023)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["people"] < 1000:
            raise CommandError("--people: at least 1,000 for a model worth shipping")
        records = simulated_features(options["people"], options["seed"])
        engine = Engine(records)
        try:
            model = engine.train()
        finally:
            engine.close()
        out: Path = options["out"]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(model, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        self.stdout.write(f"wrote {out} (trained on {len(records)} simulated records)")
