"""Small-cell suppression for what partners download: no published count reveals a few people.

A cell whose count is 1 to 4 (below `THRESHOLD`) is *primary* suppressed; 0 may be shown. Most
published tables also state totals (a province's people are its women plus its men; the national
figure is the sum of the provinces), and a single hidden cell among published totals is recovered
by subtraction, so cells are suppressed a second time (*secondary*) until:

1. every published sum that involves a hidden cell (as a part or as the total) has at least two
   hidden cells, the others chosen smallest first, non-zero cells before zeros and parts before
   totals (hiding a total costs the reader the most); and
2. no hidden cell can be narrowed to one value from all the published sums together (a chain of
   subtractions across rows and columns can do what a single row cannot): for each hidden cell
   the smallest and largest values consistent with every published sum and with counts being
   non-negative are found by linear programming (SciPy's HiGHS); a range narrower than one person
   means the cell is exposed, and one more cell beside it is hidden.

The caller describes its table as cells (any hashable key → count) and the sums that are
published (`Sum(total, parts)`), including sums whose total is published elsewhere (a national
total in the situation figures counts as published).
"""

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
from scipy.optimize import linprog

THRESHOLD = 5  # counts from 1 to THRESHOLD - 1 are never published
K = TypeVar("K", bound=Hashable)
# Integer counts: a range narrower than this holds at most one whole number.
_EXPOSED_WIDTH = 1.0 - 1e-6


@dataclass(frozen=True)
class Sum(Generic[K]):
    """Published: the cell `total` equals the sum of the cells `parts`."""

    total: K
    parts: tuple[K, ...]

    @property
    def cells(self) -> tuple[K, ...]:
        return (*self.parts, self.total)


@dataclass(frozen=True)
class Suppressed(Generic[K]):
    """A table's counts and which of them may not be shown."""

    values: Mapping[K, int]
    hidden: frozenset[K] = field(default_factory=frozenset)
    primary: frozenset[K] = field(default_factory=frozenset)

    def shown(self, key: K) -> int | None:
        """The count to publish, or None where it is suppressed."""
        return None if key in self.hidden else self.values[key]


def suppress(
    values: Mapping[K, int], sums: Sequence[Sum[K]] = (), *, threshold: int = THRESHOLD
) -> Suppressed[K]:
    """Which cells to hide so that no count from 1 to threshold-1 is published or recoverable."""
    for key, value in values.items():
        if value < 0:
            raise ValueError(f"a count cannot be negative: {key!r} is {value}")
    for relation in sums:
        missing = [c for c in relation.cells if c not in values]
        if missing:
            raise ValueError(f"a published sum names cells without a count: {missing!r}")
    order = {key: index for index, key in enumerate(values)}
    totals = {relation.total for relation in sums}
    primary = frozenset(k for k, v in values.items() if 0 < v < threshold)
    hidden = set(primary)

    def cost(key: K) -> tuple[bool, bool, int, int]:
        value = values[key]
        return (key in totals, value == 0, value, order[key])

    while True:
        _complete(sums, hidden, cost)
        exposed = _first_exposed(values, sums, hidden)
        if exposed is None:
            return Suppressed(values=dict(values), hidden=frozenset(hidden), primary=primary)
        candidates = [
            c for relation in sums if exposed in relation.cells for c in relation.cells
        ] or [c for relation in sums for c in relation.cells]
        visible = [c for c in candidates if c not in hidden]
        if not visible:  # pragma: no cover - with every cell hidden nothing can be exposed
            return Suppressed(values=dict(values), hidden=frozenset(hidden), primary=primary)
        hidden.add(min(visible, key=cost))


def _complete(
    sums: Sequence[Sum[K]], hidden: set[K], cost: Callable[[K], tuple[bool, bool, int, int]]
) -> None:
    """Hide the cheapest other cell of every published sum that has exactly one hidden cell,
    until none is left (a newly hidden cell can leave another sum with one)."""
    changed = True
    while changed:
        changed = False
        for relation in sums:
            cells = relation.cells
            inside = [c for c in cells if c in hidden]
            if len(inside) != 1:
                continue
            visible = [c for c in cells if c not in hidden]
            if visible:
                hidden.add(min(visible, key=cost))
                changed = True


def _first_exposed(values: Mapping[K, int], sums: Sequence[Sum[K]], hidden: set[K]) -> K | None:
    """The first hidden cell whose value the published sums pin down to less than one person."""
    for key, low, high in protection_ranges(values, sums, hidden):
        if high - low < _EXPOSED_WIDTH:
            return key
    return None


def protection_ranges(
    values: Mapping[K, int], sums: Iterable[Sum[K]], hidden: Iterable[K]
) -> list[tuple[K, float, float]]:
    """For each hidden cell, the smallest and largest value consistent with the published sums
    (with the shown cells at their values) and with every count being at least 0. A reader who
    knows only what is published can narrow a hidden cell no further than this range."""
    order = {key: index for index, key in enumerate(values)}
    unknown = sorted(hidden, key=order.__getitem__)
    if not unknown:
        return []
    column = {key: index for index, key in enumerate(unknown)}
    rows: list[list[float]] = []
    right: list[float] = []
    for relation in sums:
        coefficients = [0.0] * len(unknown)
        known = 0.0
        for part in relation.parts:
            if part in column:
                coefficients[column[part]] += 1.0
            else:
                known += values[part]
        if relation.total in column:
            coefficients[column[relation.total]] -= 1.0
            rhs = -known
        else:
            rhs = values[relation.total] - known
        if any(coefficients):
            rows.append(coefficients)
            right.append(rhs)
    ranges: list[tuple[K, float, float]] = []
    a_eq = np.array(rows) if rows else None
    b_eq = np.array(right) if rows else None
    for key in unknown:
        objective = np.zeros(len(unknown))
        objective[column[key]] = 1.0
        low = linprog(objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        high = linprog(-objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        lowest = float(low.fun) if low.status == 0 else 0.0
        # Unbounded above (status 3): nothing published caps this cell.
        highest = float(-high.fun) if high.status == 0 else float("inf")
        ranges.append((key, lowest, highest))
    return ranges


def table_sums(
    rows: Sequence[Hashable],
    columns: Sequence[Hashable],
    *,
    row_total: Hashable,
    column_total: Hashable,
) -> list[Sum[tuple[Hashable, Hashable]]]:
    """The published sums of a two-way table with margins: each row's cells add up to the row's
    total column, each column's cells to the column's total row, and both margins to the corner.
    Cells are keyed (row, column); the margins are (row, column_total) and (row_total, column)."""
    sums: list[Sum[tuple[Hashable, Hashable]]] = []
    for row in [*rows, row_total]:
        sums.append(Sum((row, column_total), tuple((row, c) for c in columns)))
    for column in [*columns, column_total]:
        sums.append(Sum((row_total, column), tuple((r, column) for r in rows)))
    return sums
