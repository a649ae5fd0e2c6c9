"""Match weights from a trained model, the same for the batch and for the desk.

Splink's model gives m and u per comparison level. On top of it, the name levels that say "the
same name" are adjusted for how common that name is (term frequency): two records called
Aghanshanyan are far stronger evidence than two called Hovhannisyan. The batch counts the names of
the records it links; the desk counts the registry. Both call `Weights.weight`.
"""

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

# The levels adjusted for the name's frequency, and the key whose frequency counts.
FREQUENCY_KEYS = {"given": "given_key", "family": "family_key"}
FREQUENCY_LEVELS = frozenset({"same_spelling", "same_name"})
MIN_SHARE = 1e-7  # a name seen once in ten million records
SWAPPED = "swapped"  # the name levels of given and family names written the other way round


class Frequencies(Protocol):
    def share(self, part: str, key: str) -> float:
        """The share of records whose `part` name has this key."""


class CountedFrequencies:
    """Name frequencies counted over a set of records."""

    def __init__(self, keys: dict[str, Iterable[str]]) -> None:
        self.counts = {part: Counter(k for k in values if k) for part, values in keys.items()}
        self.totals = {part: max(1, sum(c.values())) for part, c in self.counts.items()}

    def share(self, part: str, key: str) -> float:
        return self.counts[part][key] / self.totals[part]


@dataclass(frozen=True)
class Level:
    label: str
    m: float
    u: float

    @property
    def weight(self) -> float:
        return math.log2(self.m / self.u) if self.m > 0 and self.u > 0 else 0.0


def _odds_weight(probability: float) -> float:
    probability = min(max(probability, 1e-12), 1 - 1e-12)
    return math.log2(probability / (1 - probability))


class Weights:
    """A trained model's parameters, read for scoring."""

    def __init__(self, model: dict[str, Any], *, version: str = "") -> None:
        self.version = version
        self.prior = _odds_weight(float(model["probability_two_random_records_match"]))
        # Per comparison: levels in Splink's gamma order (gamma 0 is the last, "else", level).
        self.by_gamma: dict[str, list[Level]] = {}
        self.by_label: dict[str, dict[str, Level]] = {}
        for comparison in model["comparisons"]:
            levels = [
                Level(
                    lvl["label_for_charts"],
                    float(lvl.get("m_probability") or 0.0),
                    float(lvl.get("u_probability") or 0.0),
                )
                for lvl in comparison["comparison_levels"]
                if not lvl.get("is_null_level")
            ]
            name = comparison["output_column_name"]
            self.by_gamma[name] = list(reversed(levels))
            self.by_label[name] = {level.label: level for level in levels}

    def weight(self, comparison: str, label: str, share: float | None = None) -> float:
        """log2 Bayes factor of one level; for a name level, adjusted by the name's share."""
        level = self.by_label.get(comparison, {}).get(label)
        if level is None:
            return 0.0
        frequent = comparison in FREQUENCY_KEYS and label in FREQUENCY_LEVELS
        if share is not None and frequent and level.m > 0:
            return math.log2(level.m / max(share, MIN_SHARE))
        if label == SWAPPED:
            # Both name comparisons see one swap: together they weigh as the two names agreeing
            # in another spelling, never more (a swap seldom seen in training would else count
            # as rare, hence strong, twice over).
            return min(level.weight, self.weight(comparison, "same_name"))
        return level.weight


def probability(weight: float) -> float:
    if weight > 60:
        return 1.0
    if weight < -60:
        return 0.0
    odds: float = 2.0**weight
    return odds / (1 + odds)


def weight_of(probability_value: float) -> float:
    return _odds_weight(probability_value)
