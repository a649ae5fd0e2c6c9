"""The registration desk's form: POST fields to a registration payload, and errors back to fields.

This module only parses and maps. Validation is `schemas.HouseholdIn`'s, once, for every door: the
desk builds the same payload the JSON API receives and shows each of the schema's field errors
beside the input it names ("members.2.given_name" → member 3's given-name box).
"""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.http import QueryDict
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from haven.core.errors import FieldError
from haven.registry.reference import WG_ANSWERS, WG_DOMAINS

# The desk takes up to three documents a member (the schema allows more, for imports). The first
# document's kind and number sit in the row itself, where a registrar types them most often; its
# issuing country and the other two documents are in the row's collapsed "Documents" block.
DESK_DOCUMENTS = 3
# Each document's inputs (kind, number, issuing country) by its place on the form.
DOCUMENT_INPUTS: tuple[tuple[str, str, str], ...] = (
    ("document_kind", "document_number", "document_country"),
    *(
        (f"document_{n}_kind", f"document_{n}_number", f"document_{n}_country")
        for n in range(2, DESK_DOCUMENTS + 1)
    ),
)
_DOCUMENT_PART = {"kind": 0, "number": 1, "issuing_country": 2}
# The Washington Group answers, one select per domain, in questionnaire order.
WG_INPUTS = tuple(f"wg_{domain}" for domain, _question in WG_DOMAINS)

# A member row's inputs, in tab order. Their POST names are "m-<row>-<field>". The first eleven
# are the row's own; the rest are in its two collapsed blocks, which Tab passes over unless opened.
MEMBER_FIELDS = (
    "given_name",
    "family_name",
    "patronymic",
    "sex",
    "birth_date",
    "estimated_age",
    "relationship",
    "phone",
    "document_kind",
    "document_number",
    "specific_needs",
    DOCUMENT_INPUTS[0][2],
    *(name for document in DOCUMENT_INPUTS[1:] for name in document),
    *WG_INPUTS,
)
_EXTRA_DOCUMENT_FIELDS = MEMBER_FIELDS[MEMBER_FIELDS.index("document_country") : -len(WG_INPUTS)]

# reference.WG_DOMAINS and WG_ANSWERS hold the wording in English; these markers put the same
# strings in the translation catalogues, and wg_question/wg_answer translate them when shown.
_WG_MESSAGES = (
    gettext_noop("Difficulty seeing, even if wearing glasses"),
    gettext_noop("Difficulty hearing, even if using a hearing aid"),
    gettext_noop("Difficulty walking or climbing steps"),
    gettext_noop("Difficulty remembering or concentrating"),
    gettext_noop("Difficulty with self-care, such as washing all over or dressing"),
    gettext_noop("Difficulty communicating in the usual language"),
    gettext_noop("no difficulty"),
    gettext_noop("some difficulty"),
    gettext_noop("a lot of difficulty"),
    gettext_noop("cannot do at all"),
)
_WG_QUESTION = dict(WG_DOMAINS)


def wg_question(domain: str) -> str:
    """A Washington Group question (its domain's wording) in the active language."""
    return gettext(_WG_QUESTION[domain])


def wg_answer(answer: int) -> str:
    """A Washington Group answer (1 no difficulty … 4 cannot do at all) in the active language."""
    return gettext(WG_ANSWERS[answer])


# Inputs of a row that hold what the registrar typed; a row with all of them empty is ignored, so an
# extra row added by mistake does not need removing. The relationship select has a default, so it
# does not count.
_TYPED_FIELDS = tuple(f for f in MEMBER_FIELDS if f != "relationship")
HOUSEHOLD_FIELDS = ("site", "origin_settlement", "phone")

FIELD_LABELS: dict[str, Promise] = {
    "site": _("Site"),
    "origin_settlement": _("Origin settlement"),
    "phone": _("Phone"),
    "members": _("Members"),
    "given_name": _("Given name"),
    "family_name": _("Family name"),
    "patronymic": _("Patronymic"),
    "sex": _("Sex"),
    "birth_date": _("Birth date"),
    "estimated_age": _("Estimated age"),
    "relationship": _("Relationship"),
    "document_kind": _("Document"),
    "document_number": _("Document number"),
    "document_country": _("Issuing country"),
    "document_2_kind": _("Document 2"),
    "document_2_number": _("Document 2 number"),
    "document_2_country": _("Document 2 issuing country"),
    "document_3_kind": _("Document 3"),
    "document_3_number": _("Document 3 number"),
    "document_3_country": _("Document 3 issuing country"),
    "specific_needs": _("Specific needs"),
    **{f"wg_{domain}": _(question) for domain, question in WG_DOMAINS},
}

# Rows read from one POST are bounded, whatever a client sends; the schema limits members anyway.
MAX_ROWS = 100
_ROW_KEY = re.compile(r"^m-(\d{1,3})-uuid$")
_MEMBER_PATH = re.compile(r"^members\.(\d+)(?:\.(.+))?$")


@dataclass
class MemberRow:
    """One member's inputs as typed, and the errors to show beside them."""

    index: int
    values: dict[str, str]
    errors: dict[str, list[str]] = field(default_factory=dict)
    focus: str = ""
    # The payload's document index → the form's document it came from (blank ones are left out).
    document_slots: list[int] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"m-{self.index}"

    def _input(self, name: str, label: str) -> "RowInput":
        return RowInput(
            name=name,
            label=label,
            value=self.values.get(name, ""),
            errors=self.errors.get(name, []),
            autofocus=self.focus == name,
        )

    @property
    def first_document_country(self) -> "RowInput":
        return self._input(DOCUMENT_INPUTS[0][2], str(_("Issuing country")))

    @property
    def more_documents(self) -> list["DocumentInputs"]:
        """The documents after the first, each with its kind, number and issuing country."""
        return [
            DocumentInputs(
                number=place + 1,
                kind=self._input(kind, str(_("Kind"))),
                document_number=self._input(number, str(_("Number"))),
                country=self._input(country, str(_("Issuing country"))),
            )
            for place, (kind, number, country) in enumerate(DOCUMENT_INPUTS)
            if place > 0
        ]

    @property
    def wg_questions(self) -> list["RowInput"]:
        return [
            self._input(f"wg_{domain}", wg_question(domain)) for domain, _question in WG_DOMAINS
        ]

    @property
    def documents_open(self) -> bool:
        """The Documents block starts open when it holds something typed or an error."""
        return any(self.values.get(n, "") or n in self.errors for n in _EXTRA_DOCUMENT_FIELDS)

    @property
    def disability_open(self) -> bool:
        return any(self.values.get(n, "") or n in self.errors for n in WG_INPUTS)

    def input_for(self, path: str) -> str:
        """The row input that shows an error at `path` inside one member ("documents.0.kind" …)."""
        parts = path.split(".")
        if parts[0] == "documents":
            if len(parts) >= 3 and parts[1].isdigit() and parts[2] in _DOCUMENT_PART:
                index = int(parts[1])
                slot = self.document_slots[index] if index < len(self.document_slots) else 0
                return DOCUMENT_INPUTS[slot][_DOCUMENT_PART[parts[2]]]
            return "document_kind"
        if parts[0] == "specific_needs":
            return "specific_needs"
        if parts[0] == "disability":
            name = f"wg_{parts[1]}" if len(parts) > 1 else ""
            return name if name in WG_INPUTS else "member"
        return parts[0] if parts[0] in MEMBER_FIELDS else "member"

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def is_blank(self) -> bool:
        return not any(self.values.get(name, "").strip() for name in _TYPED_FIELDS)

    def check_payload(self, *, origin_settlement: str) -> dict[str, Any]:
        """What identifies this member, as the desk-time check (POST /api/identity/check) reads
        it; desk.js builds the same from the inputs."""
        payload: dict[str, Any] = {
            name: self.values.get(name, "").strip()
            for name in ("given_name", "family_name", "patronymic", "sex", "phone")
        }
        birth_date = self.values.get("birth_date", "").strip()
        if birth_date:
            payload["birth_date"] = birth_date
        else:
            payload["estimated_age"] = self.values.get("estimated_age", "").strip() or None
        payload["origin_settlement"] = origin_settlement.strip()
        payload["documents"] = [
            number for _kind, name, _country in DOCUMENT_INPUTS if (number := self.values.get(name))
        ]
        return payload

    @classmethod
    def blank(cls, index: int, *, member_uuid: str | None = None) -> "MemberRow":
        values = dict.fromkeys(MEMBER_FIELDS, "")
        values["uuid"] = member_uuid or str(uuid.uuid4())
        values["relationship"] = "head" if index == 0 else ""
        return cls(index=index, values=values)


@dataclass(frozen=True)
class RowInput:
    """One input of a member row as the template draws it (for the inputs drawn in a loop)."""

    name: str
    label: str
    value: str
    errors: list[str]
    autofocus: bool


@dataclass(frozen=True)
class DocumentInputs:
    number: int
    kind: RowInput
    document_number: RowInput
    country: RowInput


@dataclass
class SummaryError:
    label: str
    message: str
    anchor: str


@dataclass
class DeskForm:
    """The household being typed at the desk: the household's inputs and one row per member."""

    household_uuid: str
    site: str
    origin_settlement: str = ""
    phone: str = ""
    rows: list[MemberRow] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)
    focus: str = ""
    # The payload's member index → the row it came from (blank rows are left out of the payload).
    _row_of_member: list[int] = field(default_factory=list)

    @classmethod
    def blank(cls, *, site: str, members: int = 1) -> "DeskForm":
        """A fresh form. The UUIDs are made here, once, so that a resubmission is recognised."""
        form = cls(household_uuid=str(uuid.uuid4()), site=site)
        form.rows = [MemberRow.blank(i) for i in range(members)]
        form.focus = "origin_settlement"
        return form

    @classmethod
    def from_post(cls, post: QueryDict, *, site: str | None = None) -> "DeskForm":
        """The form as submitted. `site` overrides the posted site (a registrar has only one)."""
        indexes = sorted(
            {int(m.group(1)) for key in post if (m := _ROW_KEY.match(key)) is not None}
        )[:MAX_ROWS]
        rows = []
        for position, index in enumerate(indexes):
            values = {"uuid": post.get(f"m-{index}-uuid", "")}
            for name in MEMBER_FIELDS:
                values[name] = post.get(f"m-{index}-{name}", "")
            # Rows are renumbered 0..n-1 so that ids stay dense whatever the client sent.
            rows.append(MemberRow(index=position, values=values))
        return cls(
            household_uuid=post.get("household_uuid", ""),
            site=site if site is not None else post.get("site", ""),
            origin_settlement=post.get("origin_settlement", ""),
            phone=post.get("phone", ""),
            rows=rows,
        )

    def add_row(self, *, member_uuid: str | None = None) -> MemberRow:
        row = MemberRow.blank(len(self.rows), member_uuid=member_uuid)
        self.rows.append(row)
        self.focus = ""
        for other in self.rows:
            other.focus = ""
        row.focus = "given_name"
        return row

    def payload(self, *, registered_at: datetime) -> dict[str, Any]:
        """The registration as `schemas.HouseholdIn` reads it. Blank rows are left out."""
        members = []
        self._row_of_member = []
        for row in self.rows:
            if row.is_blank:
                continue
            self._row_of_member.append(row.index)
            member, row.document_slots = _member_payload(row.values)
            members.append(member)
        return {
            "uuid": self.household_uuid,
            "site": self.site,
            "registered_at": registered_at,
            "origin_settlement": self.origin_settlement,
            "phone": self.phone,
            "members": members,
        }

    def add_errors(self, errors: list[FieldError]) -> None:
        """Put each error beside its input; errors without an input of their own go to the top."""
        for error in errors:
            path = error.field
            match = _MEMBER_PATH.match(path)
            if match is not None:
                member = int(match.group(1))
                if member < len(self._row_of_member):
                    row = self.rows[self._row_of_member[member]]
                    name = row.input_for(match.group(2) or "")
                    row.errors.setdefault(name, []).append(error.message)
                    continue
                path = "members"
            name = path if path in HOUSEHOLD_FIELDS or path == "members" else "household"
            self.errors.setdefault(name, []).append(error.message)
        self._focus_first_error()

    def add_error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)
        self._focus_first_error()

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(row.errors for row in self.rows)

    @property
    def summary(self) -> list[SummaryError]:
        """Every error, in the order of the page, each linking to its input."""
        items = []
        for name in ("household", *HOUSEHOLD_FIELDS, "members"):
            for message in self.errors.get(name, []):
                label = str(FIELD_LABELS.get(name, _("Household")))
                anchor = "members" if name in {"members", "household"} else f"id_{name}"
                items.append(SummaryError(label, message, anchor))
        for row in self.rows:
            for name in (*MEMBER_FIELDS, "member"):
                for message in row.errors.get(name, []):
                    label = str(_("Member %(number)s — %(field)s")) % {
                        "number": row.number,
                        "field": FIELD_LABELS.get(name, _("details")),
                    }
                    anchor = f"id_{row.prefix}-{name}" if name != "member" else row.prefix
                    items.append(SummaryError(label, message, anchor))
        return items

    def _focus_first_error(self) -> None:
        self.focus = ""
        for row in self.rows:
            row.focus = ""
        for name in HOUSEHOLD_FIELDS:
            if name in self.errors:
                self.focus = name
                return
        for row in self.rows:
            for name in MEMBER_FIELDS:
                if name in row.errors:
                    row.focus = name
                    return
        for row in self.rows:
            if "member" in row.errors:
                row.focus = "given_name"
                return
        if self.rows:
            # An error about the household as a whole (no members, two heads): start at the top
            # of the members, where it is fixed.
            self.rows[0].focus = "given_name"


def _member_payload(values: Mapping[str, str]) -> tuple[dict[str, Any], list[int]]:
    """A row's member as the schema reads it, and the form's place of each document sent."""
    member: dict[str, Any] = {
        "uuid": values.get("uuid", ""),
        "given_name": values.get("given_name", ""),
        "family_name": values.get("family_name", ""),
        "patronymic": values.get("patronymic", ""),
        "sex": values.get("sex", ""),
        "relationship": values.get("relationship", ""),
        "phone": values.get("phone", ""),
    }
    birth_date = values.get("birth_date", "").strip()
    if birth_date:
        member["birth_date"] = birth_date
    estimated_age = values.get("estimated_age", "").strip()
    if estimated_age:
        member["estimated_age"] = estimated_age  # the schema parses and bounds it
    documents, slots = [], []
    for slot, names in enumerate(DOCUMENT_INPUTS):
        kind, number, country = (values.get(name, "").strip() for name in names)
        if kind or number or country:
            documents.append({"kind": kind, "number": number, "issuing_country": country})
            slots.append(slot)
    if documents:
        member["documents"] = documents
    needs = split_codes(values.get("specific_needs", ""))
    if needs:
        member["specific_needs"] = needs
    # A blank answer is a question not asked; anything else goes to the schema, which bounds it.
    disability = {
        domain: answer
        for domain, _question in WG_DOMAINS
        if (answer := values.get(f"wg_{domain}", "").strip())
    }
    if disability:
        member["disability"] = disability
    return member, slots


def split_codes(text: str) -> list[str]:
    """Specific-needs codes typed as a list: commas, semicolons or spaces between them."""
    return [code for code in re.split(r"[\s,;]+", text) if code]
