"""Why two records may be one person, in words: the comparison levels of
`haven.identity.comparisons` as a registrar or caseworker reads them ("same family name,
Armenian ↔ Latin").

The desk-time check and the review queue both show reasons; they take their words from here, so a
level reads the same everywhere and is translated once.
"""

from collections.abc import Sequence

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from haven.registry.models import NameScript

# The name comparisons' levels; the field's own word comes in through %(name)s.
_NAME_LEVELS: dict[str, Promise] = {
    "same_spelling": _("same %(name)s"),
    "same_name": _("same %(name)s, another spelling"),
    "one_typo": _("%(name)s one letter apart"),
    "close": _("%(name)s very close"),
    "similar": _("%(name)s similar"),
    "swapped": _("%(name)s swapped with the other name"),
    "else": _("different %(name)s"),
}
# Across two alphabets "another spelling" says nothing: the alphabets are the difference.
_NAME_ACROSS_SCRIPTS: dict[str, Promise] = {
    "same_spelling": _("same %(name)s"),
    "same_name": _("same %(name)s"),
}
_NAMES: dict[str, Promise] = {
    "given": _("given name"),
    "family": _("family name"),
    "patronymic": _("patronymic"),
}

_OTHER_LEVELS: dict[str, dict[str, Promise]] = {
    "birth_date": {
        "same_date": _("same date of birth"),
        "day_month_swapped": _("same date of birth with day and month swapped"),
        "same_month": _("same month and year of birth"),
        "other_day": _("same month and year of birth, another day"),
        "same_year_partial": _("same year of birth (one date gives only the year)"),
        "same_year": _("same year of birth, another date"),
        "estimate_within_2": _("year of birth within 2 years of an estimated age"),
        "year_off_by_one": _("year of birth one year apart"),
        "estimate_within_5": _("year of birth within 5 years of an estimated age"),
        "else": _("different date of birth"),
    },
    "sex": {"same": _("same sex"), "else": _("different sex")},
    "origin": {"same": _("same origin settlement"), "else": _("different origin settlement")},
    "phone": {"same": _("same phone number"), "else": _("different phone number")},
    "documents": {
        "shared_number": _("a document number in common"),
        "number_one_typo": _("document numbers one digit apart"),
        "else": _("different document numbers"),
    },
    "needs": {
        "same": _("same specific needs"),
        "shared": _("some specific needs in common"),
        "else": _("different specific needs"),
    },
    "functioning": {
        "same": _("same answers on difficulties in functioning"),
        "else": _("different answers on difficulties in functioning"),
    },
    "household": {
        "relatives_match": _("relatives also match"),
        "same_household": _("same household (never linked automatically)"),
    },
}


def script_name(script: str) -> str:
    """An alphabet's name in the active language ("" for none)."""
    if not script or script not in NameScript.values:
        return ""
    return str(NameScript(script).label)


def reason_text(field: str, level: str, scripts: Sequence[str] = ("", "")) -> str:
    """One comparison's level in words; for a name typed in two alphabets, the two alphabets
    (the one being checked first: "Armenian ↔ Latin")."""
    if field in _NAMES:
        left, right = script_name(scripts[0]), script_name(scripts[1])
        across = bool(left and right and left != right)
        template = (_NAME_ACROSS_SCRIPTS if across else {}).get(level) or _NAME_LEVELS.get(level)
        if template is None:
            return _unknown(field, level)
        text = str(template) % {"name": _NAMES[field]}
        if across:
            return gettext("%(reason)s, %(left)s ↔ %(right)s") % {
                "reason": text,
                "left": left,
                "right": right,
            }
        return text
    words = _OTHER_LEVELS.get(field, {}).get(level)
    if words is None:
        return _unknown(field, level)
    return str(words)


def _unknown(field: str, level: str) -> str:
    # A level a newer model knows and this code does not: its codes, rather than nothing.
    return gettext("%(field)s: %(level)s") % {"field": field, "level": level}
