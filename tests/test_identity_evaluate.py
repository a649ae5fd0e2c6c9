"""Pairwise and cluster-level figures (haven.identity.evaluate), on cases worked out by hand."""

import pytest

from haven.identity.evaluate import evaluate, identities_from_clusters


def test_a_perfect_clustering() -> None:
    truth = {1: "p", 2: "p", 3: "q", 4: "r", 5: "r", 6: "r"}
    predicted = {1: 10, 2: 10, 3: 30, 4: 40, 5: 40, 6: 40}
    result = evaluate(predicted, truth)
    assert (result.true_pairs, result.predicted_pairs, result.correct_pairs) == (4, 4, 4)
    assert (result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0)
    assert result.exact_clusters == result.true_persons == 3
    assert result.exact_cluster_share == 1.0
    assert result.duplicated_persons == 2
    assert result.duplicated_persons_gathered == 1.0


def test_a_missed_record_and_a_wrong_merge() -> None:
    # Truth: p = {1, 2, 3}, q = {4}, r = {5, 6}.
    truth = {1: "p", 2: "p", 3: "p", 4: "q", 5: "r", 6: "r"}
    # Predicted: {1, 2} (3 missed), {3} alone, {4, 5, 6} (4 wrongly joined to r).
    predicted = {1: "A", 2: "A", 3: "B", 4: "C", 5: "C", 6: "C"}
    result = evaluate(predicted, truth)
    # True pairs: 3 within p + 1 within r = 4. Predicted: 1 within A + 3 within C = 4.
    # Correct: (1,2) and (5,6) = 2.
    assert (result.true_pairs, result.predicted_pairs, result.correct_pairs) == (4, 4, 2)
    assert result.precision == 0.5
    assert result.recall == 0.5
    assert result.f1 == 0.5
    # No true person is gathered exactly: p is split, q and r have an extra record.
    assert result.exact_clusters == 0
    assert result.exact_cluster_share == 0.0
    assert result.records == 6
    assert result.true_persons == 3
    assert result.predicted_identities == 3
    # Of the two persons with several records, r is fully gathered (with an extra), p is not.
    assert result.duplicated_persons == 2
    assert result.duplicated_persons_gathered == 0.5


def test_unequal_precision_and_recall() -> None:
    # One person registered four times, found as two pairs: precision 1, recall 2/6.
    truth = dict.fromkeys([1, 2, 3, 4], "p")
    predicted = {1: 1, 2: 1, 3: 3, 4: 3}
    result = evaluate(predicted, truth)
    assert result.precision == 1.0
    assert result.recall == pytest.approx(1 / 3, abs=1e-6)
    assert result.f1 == pytest.approx(2 * (1 / 3) / (1 + 1 / 3), abs=1e-6)
    assert result.duplicated_persons_gathered == 0.0


def test_nothing_predicted_and_nothing_to_find() -> None:
    singletons = {1: "p", 2: "q"}
    result = evaluate({1: 1, 2: 2}, singletons)
    assert (result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0)
    assert result.duplicated_persons == 0
    assert result.duplicated_persons_gathered == 1.0
    # All merged when nobody is a duplicate: no correct pair at all.
    merged = evaluate({1: 1, 2: 1}, singletons)
    assert (merged.precision, merged.recall, merged.f1) == (0.0, 1.0, 0.0)


def test_only_records_known_to_both_count() -> None:
    truth = {1: "p", 2: "p", 3: "q"}
    predicted = {1: 1, 2: 1, 99: 1}
    result = evaluate(predicted, truth)
    assert result.records == 2
    assert (result.true_pairs, result.correct_pairs) == (1, 1)
    assert evaluate({}, truth).records == 0


def test_identities_from_clusters() -> None:
    assert identities_from_clusters([1, 2, 3, 4, 5], [[2, 4], [5, 3]]) == {
        1: 1,
        2: 2,
        3: 3,
        4: 2,
        5: 3,
    }
