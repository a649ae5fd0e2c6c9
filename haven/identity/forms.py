"""The review queue's inputs and words: filters and cursor parsed from a request, the page of pairs
they select, and the model's level codes said in words a caseworker reads.

The pages and the JSON API parse the same filters here, so that a bad value gets the same message
through either door; the reads themselves go through `haven.identity.selectors`.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from haven.core.errors import FieldError, InvalidInput
from haven.core.models import User
from haven.core.selectors import sites_with_personal_data
from haven.identity import selectors
from haven.identity.models import NOTE_LENGTH, CandidatePair, Decision
from haven.identity.reasons import reason_text

PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
MAX_NOTE = NOTE_LENGTH
# Pairs decided in one go: a page of the queue, with room to spare.
MAX_DECIDED = 500

# What each compared field is called on the page.
FIELD_NAMES: dict[str, Promise] = {
    "given": _("Given name"),
    "family": _("Family name"),
    "patronymic": _("Patronymic"),
    "birth_date": _("Birth date"),
    "sex": _("Sex"),
    "origin": _("Origin settlement"),
    "phone": _("Phone"),
    "documents": _("Documents"),
    "household": _("Household"),
}

# Levels the words of `haven.identity.reasons` (shared with the desk-time check) leave out: a
# field missing on one record, which the desk never shows, and the household evidence the batch
# adds, which the desk does not have.
EXTRA_LEVEL_WORDS: dict[tuple[str, str], Promise] = {
    ("given", "null"): _("given name missing on one record"),
    ("family", "null"): _("family name missing on one record"),
    ("patronymic", "null"): _("patronymic missing on one record"),
    ("origin", "null"): _("origin settlement missing on one record"),
    ("phone", "null"): _("phone missing on one record"),
    ("documents", "null"): _("documents missing on one record"),
    ("household", "relatives_match"): _("relatives also match"),
    ("household", "same_household"): _("same household (never linked automatically)"),
}

STATUS_CHOICES = CandidatePair.Status.choices
BAND_CHOICES = CandidatePair.Band.choices
VERDICT_CHOICES = Decision.Verdict.choices


def level_words(field_name: str, level: str, scripts: tuple[str, str] = ("", "")) -> str:
    """A stored level in the active language, naming the two alphabets of a name typed in two."""
    words = EXTRA_LEVEL_WORDS.get((field_name, level))
    if words is not None:
        return str(words)
    return reason_text(field_name, level, scripts)


def field_words(field_name: str) -> str:
    words = FIELD_NAMES.get(field_name)
    return str(words) if words is not None else field_name


@dataclass(frozen=True)
class Reason:
    """One line of a pair's explanation: which field, what the model saw, and how much it
    weighed (log2 of the Bayes factor: above zero for the match, below zero against it)."""

    field: str
    level: str
    weight: float
    scripts: tuple[str, str] = ("", "")

    @property
    def text(self) -> str:
        return level_words(self.field, self.level, self.scripts)

    @property
    def field_name(self) -> str:
        return field_words(self.field)

    @property
    def supports(self) -> bool:
        return self.weight > 0


_SCRIPT_FIELDS = {
    "given": "given_name_script",
    "family": "family_name_script",
    "patronymic": "patronymic_script",
}


def reasons(pair: CandidatePair) -> list[Reason]:
    """The stored explanation, in the model's field order; expects both persons loaded.

    The scripts of compared names are read from the two records, which hold them as typed.
    """
    items = pair.explanation if isinstance(pair.explanation, list) else []
    found = []
    for item in items:
        if not isinstance(item, dict):
            continue
        name = str(item.get("field", ""))
        column = _SCRIPT_FIELDS.get(name)
        scripts = (
            (str(getattr(pair.person_a, column)), str(getattr(pair.person_b, column)))
            if column
            else ("", "")
        )
        found.append(
            Reason(
                field=name,
                level=str(item.get("level", "")),
                weight=float(item.get("weight", 0.0)),
                scripts=scripts,
            )
        )
    return found


def top_reasons(pair: CandidatePair, *, supporting: int = 3) -> list[Reason]:
    """What a row of the queue shows: the strongest evidence for, then the strongest against."""
    every = reasons(pair)
    for_it = sorted((r for r in every if r.weight > 0), key=lambda r: -r.weight)[:supporting]
    against = sorted((r for r in every if r.weight < 0), key=lambda r: r.weight)[:1]
    return for_it + against


# --- the queue's filters and pages --------------------------------------------------------------


@dataclass
class QueueQuery:
    """What the caseworker asked the queue for: status, band, site, and where the page starts."""

    status: str = CandidatePair.Status.PENDING
    band: str = ""
    site: str = ""
    cursor: str = ""
    errors: list[FieldError] = field(default_factory=list)

    @classmethod
    def parse(cls, params: Mapping[str, Any], user: User) -> "QueueQuery":
        """The filters from a query string; an unknown value is reported and left out."""
        query = cls()
        status = str(params.get("status") or "").strip()
        if status:
            if status in CandidatePair.Status.values:
                query.status = status
            else:
                query.errors.append(FieldError("status", gettext("is not a status of a pair")))
        band = str(params.get("band") or "").strip()
        if band:
            if band in CandidatePair.Band.values:
                query.band = band
            else:
                query.errors.append(FieldError("band", gettext("is not a band of a pair")))
        site = str(params.get("site") or "").strip()
        if site:
            # Only the user's own sites: the filter is no way to learn which other sites exist.
            if sites_with_personal_data(user).filter(code=site).exists():
                query.site = site
            else:
                query.errors.append(FieldError("site", gettext("is not one of your sites")))
        query.cursor = str(params.get("after") or params.get("cursor") or "").strip()
        return query

    def as_params(self, *, cursor: str | None = None) -> dict[str, str]:
        """The query string that shows this query again (the cursor only when asked)."""
        params = {"status": self.status}
        if self.band:
            params["band"] = self.band
        if self.site:
            params["site"] = self.site
        if cursor:
            params["after"] = cursor
        return params


@dataclass
class PairPage:
    pairs: list[CandidatePair]
    next_cursor: str | None


def page_of_pairs(user: User, query: QueueQuery, *, limit: int = PAGE_SIZE) -> PairPage:
    """One page of the queue, most probable first, continuing after the cursor's pair.

    The cursor is the id of the last pair of the previous page. It stays good when that pair is
    decided meanwhile (deciding moves a pair to another status, never its probability), it is
    only accepted for a pair the user may see, and it says nothing about how many pairs exist.
    """
    pairs = selectors.review_queue(
        user, status=query.status, band=query.band or None, site_code=query.site or None
    ).select_related("decided_by")
    if query.cursor:
        bad = InvalidInput([FieldError("cursor", gettext("is not a cursor this server gave out"))])
        if not query.cursor.isdigit() or len(query.cursor) > 18:
            raise bad
        last = (
            selectors.pairs_for(user)
            .filter(pk=int(query.cursor))
            .values_list("pk", "match_probability")
            .first()
        )
        if last is None:
            raise bad
        pk, probability = last
        pairs = pairs.filter(
            Q(match_probability__lt=probability) | Q(match_probability=probability, pk__gt=pk)
        )
    rows = list(pairs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return PairPage(rows, str(rows[-1].pk) if more and rows else None)


# --- decisions ----------------------------------------------------------------------------------


@dataclass
class DecisionForm:
    """A verdict on one or more pairs, as posted from the queue or a pair's page."""

    pair_ids: list[int]
    verdict: str
    note: str
    errors: list[FieldError] = field(default_factory=list)

    @classmethod
    def parse(cls, pair_ids: Sequence[str], verdict: str, note: str) -> "DecisionForm":
        form = cls(pair_ids=[], verdict=verdict.strip(), note=note.strip())
        for raw in pair_ids:
            raw = raw.strip()
            if not raw.isdigit() or len(raw) > 18:
                form.errors.append(FieldError("pairs", gettext("is not a pair's number")))
                break
            if int(raw) not in form.pair_ids:
                form.pair_ids.append(int(raw))
        if not form.pair_ids and not form.errors:
            form.errors.append(FieldError("pairs", gettext("choose at least one pair")))
        if len(form.pair_ids) > MAX_DECIDED:
            form.errors.append(
                FieldError(
                    "pairs",
                    gettext("at most %(limit)d pairs can be decided at once")
                    % {"limit": MAX_DECIDED},
                )
            )
        if form.verdict not in Decision.Verdict.values:
            form.errors.append(
                FieldError("verdict", gettext("choose “same person” or “different people”"))
            )
        if len(form.note) > MAX_NOTE:
            form.errors.append(
                FieldError("note", gettext("at most %(limit)d characters") % {"limit": MAX_NOTE})
            )
        return form
