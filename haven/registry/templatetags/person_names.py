"""How pages print a person's name: `{% load person_names %}`, then `{{ person|person_name }}`
(every name registered) or `{{ person|short_person_name }}` (given and family name only, where a
page deliberately leaves the patronymic out: the distribution point, held payments).

Retention (haven.registry.retention) empties an anonymised person's names, so a page that printed
them would show a blank cell or an empty link. Every page prints a name through these filters
instead, which give, for an anonymised record, "anonymised on YYYY-MM-DD" (the msgid of the person
page's case status, so there is one translation).
"""

from collections.abc import Sequence
from typing import Any

from django import template

from haven.registry.models import Person, anonymised_label

register = template.Library()


def _name(person: Any, parts: Sequence[str]) -> str:
    anonymised_at = getattr(person, "anonymised_at", None)
    if anonymised_at is not None:
        return anonymised_label(anonymised_at)
    return " ".join(name for part in parts if (name := getattr(person, part, "")))


@register.filter
def person_name(person: Any) -> str:
    """A Person's `full_name`; for any other row that carries a person's names and
    `anonymised_at`, the same words from those attributes."""
    if isinstance(person, Person):
        return person.full_name
    return _name(person, ("given_name", "patronymic", "family_name"))


@register.filter
def short_person_name(person: Any) -> str:
    """The given and family name, or when the record was anonymised."""
    return _name(person, ("given_name", "family_name"))
