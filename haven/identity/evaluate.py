"""How good a clustering is against the truth: pairwise and cluster-level figures.

Pairwise: every two records put in one identity is a predicted pair; every two records of one true
person is a true pair. Precision, recall and F1 over those pairs are the usual record-linkage
figures; they are computed from cluster overlaps, never by listing pairs.
"""

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import asdict, dataclass
from typing import Any


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


@dataclass(frozen=True)
class Evaluation:
    records: int
    true_persons: int
    predicted_identities: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    precision: float
    recall: float
    f1: float
    # Cluster level: true persons whose records were gathered exactly (nothing missing, nothing
    # extra), and among true persons with two or more records, the share fully gathered.
    exact_clusters: int
    exact_cluster_share: float
    duplicated_persons: int
    duplicated_persons_gathered: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(predicted: Mapping[Any, Hashable], truth: Mapping[Any, Hashable]) -> Evaluation:
    """`predicted` and `truth` map each record to its identity; only records in both count."""
    records = [r for r in truth if r in predicted]
    true_sizes = Counter(truth[r] for r in records)
    predicted_sizes = Counter(predicted[r] for r in records)
    both = Counter((truth[r], predicted[r]) for r in records)
    true_pairs = sum(_pairs(n) for n in true_sizes.values())
    predicted_pairs = sum(_pairs(n) for n in predicted_sizes.values())
    correct = sum(_pairs(n) for n in both.values())
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    exact = sum(
        1
        for (person, identity), n in both.items()
        if n == true_sizes[person] == predicted_sizes[identity]
    )
    duplicated = [p for p, n in true_sizes.items() if n > 1]
    gathered = sum(1 for (p, _), n in both.items() if n == true_sizes[p] and true_sizes[p] > 1)
    return Evaluation(
        records=len(records),
        true_persons=len(true_sizes),
        predicted_identities=len(predicted_sizes),
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        correct_pairs=correct,
        precision=round(precision, 6),
        recall=round(recall, 6),
        f1=round(f1, 6),
        exact_clusters=exact,
        exact_cluster_share=round(exact / len(true_sizes), 6) if true_sizes else 1.0,
        duplicated_persons=len(duplicated),
        duplicated_persons_gathered=round(gathered / len(duplicated), 6) if duplicated else 1.0,
    )


def identities_from_clusters(records: list[int], clusters: list[list[int]]) -> dict[int, int]:
    """Each record's identity: the smallest record id of its cluster, or its own."""
    identity = {r: r for r in records}
    for group in clusters:
        head = min(group)
        for member in group:
            identity[member] = head
    return identity
