"""PFIF 1.4 (People Finder Interchange Format): tracing requests out to, and in from, other
family-tracing repositories (Person Finder and the like). The field list and its rules are in
`../shared/reference/STANDARDS.md` §2 and `pfif_1_4_fields.csv`.

Export (`export_pfif`). Every tracing request's sought person is one `pfif:person`, its id
`<HAVEN_PFIF_DOMAIN>/request.<uuid>` (an imported request keeps the id it came with), with its
status notes nested (`<domain>/note.<uuid>`, or the id they came with), and two notes Haven writes
itself: `<domain>/sought.<uuid>` (information_sought) while one of Haven's own requests is open,
and `<domain>/found.<uuid>` (believed_alive, author_made_contact true) once the person found has
allowed their whereabouts to be shared. Registered persons are never exported: only that note
says someone was found, and names where only at the "full" sharing level. What a record carries
depends on HAVEN_PFIF_SHARING:

- minimal: full_name, sex (and the record's ids and dates, and source_name "Haven" on records
  with Haven's domain: an imported record's home repository is not kept);
- names: also given_name, family_name, alternate_names (the name's Latin spellings), date_of_birth
  as the year only (all Haven holds), home_city (the settlement of origin);
- full: also description (distinguishing marks, relatives, where and when last seen) and the
  searcher as author_name with author_email or author_phone (only a searcher with an e-mail
  address or a telephone number; a registered searcher is a registered person: never).

Notes carry their author's name and their text only at "full"; below it, author_name is the
repository the note comes from (Haven, or the domain of its id) and the text says the status in
words. A record whose expiry_date has passed is exported as a placeholder (person_record_id,
entry_date, expiry_date, source_date: no names, no notes), so that other repositories delete
their copies. source_date is when the searcher consented (`consent_at`: for Haven's own requests
when it was recorded; for an imported one the source_date it came with), entry_date when the
record was stored in Haven; dates are UTC `yyyy-mm-ddThh:mm:ssZ`; persons are in order of id and
notes in order of source_date.

Import (`import_pfif`). The file is refused before it is parsed if it is larger than
HAVEN_PFIF_MAX_BYTES; it is parsed by defusedxml with DTDs refused (so no entity, internal or
external, is ever expanded), and must be a `pfif:pfif` document in the PFIF 1.4 namespace. Every
record is then checked (mandatory fields, `domain/local-id` ids, dates, the request's own rules);
any error, each naming its record and field, refuses the whole file. Only then is it written, in
one transaction, with one audit row for the import besides the actions' own rows:

- A person becomes a tracing request (source "pfif", the queue of unassigned requests, matched
  when a caseworker opens it) holding its id. The consent is the source repository's: it was
  given when the record was made there, so `consent_at` is the record's source_date. The searcher
  is the record's author: author_name (or else the source_name, or else the id's domain), reached
  by author_email, or else author_phone, or else the record's source_url or source_name (through
  the repository). sought_name is the first line of full_name (Person Finder puts other scripts
  on further lines; the name keys are made from it, and alternate_names, given_name and
  family_name are not kept); a year of birth comes from date_of_birth, or else from age at the
  source_date; home_city is the origin; description becomes the distinguishing marks (cut to
  their 2,000 characters).
- A person already held (by its id) is skipped: its fields are not updated even if its
  source_date is newer (a caseworker may have acted on what it said); news about a person comes
  as notes, and the notes not yet held are added to it. A person with Haven's domain that names a
  request Haven holds is skipped as our own (notes of other repositories about it are added).
- A note becomes a status note (its author asserted it at its source_date). is_note_author (the
  author is the person sought) is recorded as believed_alive; a note with no status, or a status
  PFIF does not define, is skipped with that reason; author_made_contact is kept with it. Notes'
  author_email, author_phone, email_of_found_person, phone_of_found_person and last_known_location
  are not kept: Haven does not store where others say someone is, nor contacts for them.
- A person whose expiry_date has passed is not imported. Held, its personal data is removed: the
  request is closed (withdrawn), its names, searcher, matches, name keys and notes are deleted,
  and only its id, source_date and expiry_date remain, exported from then on as a placeholder.
  Not held, that placeholder alone is stored, so the expiry travels on and an older copy of the
  record arriving later is skipped as held. Haven's own records are never expired by a file.
"""

import hashlib
import re
import uuid as uuid_lib
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden
from defusedxml import ElementTree as SafeET
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from haven.core import audit
from haven.core.errors import Conflict, FieldError, HavenError, InvalidInput
from haven.core.models import AuditEvent, User
from haven.names import detect_script, to_latin
from haven.names.scripts import Script
from haven.names.translit import System
from haven.tracing import actions
from haven.tracing.models import StatusNote, TracingRequest
from haven.tracing.schemas import TracingRequestIn
from haven.tracing.search import name_parts, readings

NS = "http://zesty.ca/pfif/1.4"
PFIF_NAMESPACES = "http://zesty.ca/pfif/"
SOURCE_NAME = "Haven"
SHARING_LEVELS = ("minimal", "names", "full")

PERSON_FIELDS = (
    "person_record_id",
    "entry_date",
    "expiry_date",
    "author_name",
    "author_email",
    "author_phone",
    "source_name",
    "source_date",
    "source_url",
    "full_name",
    "given_name",
    "family_name",
    "alternate_names",
    "description",
    "sex",
    "date_of_birth",
    "age",
    "home_street",
    "home_neighborhood",
    "home_city",
    "home_state",
    "home_postal_code",
    "home_country",
    "photo_url",
    "profile_urls",
)
NOTE_FIELDS = (
    "note_record_id",
    "person_record_id",
    "linked_person_record_id",
    "entry_date",
    "author_name",
    "author_email",
    "author_phone",
    "source_date",
    "author_made_contact",
    "status",
    "email_of_found_person",
    "phone_of_found_person",
    "last_known_location",
    "text",
    "photo_url",
)
PERSON_MANDATORY = ("person_record_id", "source_date", "full_name")
NOTE_MANDATORY = ("note_record_id", "author_name", "source_date", "text")

# PFIF note status -> StatusNote.status; "" and anything else are skipped.
STATUSES = {
    "information_sought": StatusNote.Status.INFORMATION_SOUGHT,
    "is_note_author": StatusNote.Status.BELIEVED_ALIVE,  # the author is the person sought
    "believed_alive": StatusNote.Status.BELIEVED_ALIVE,
    "believed_missing": StatusNote.Status.BELIEVED_MISSING,
    "believed_dead": StatusNote.Status.BELIEVED_DEAD,
}
# A note's text where the export may not carry what its author wrote.
STATUS_TEXT = {
    StatusNote.Status.INFORMATION_SOUGHT: "Someone is seeking information about this person.",
    StatusNote.Status.BELIEVED_ALIVE: "This person is believed to be alive.",
    StatusNote.Status.BELIEVED_MISSING: "This person is believed to be missing.",
    StatusNote.Status.BELIEVED_DEAD: "This person is believed to be dead.",
}
# author_made_contact true, as an imported note's text keeps it.

# The uuids of imported records are derived from their PFIF ids, so an import is repeatable.
PFIF_UUIDS = uuid_lib.UUID("6f1d2c0e-5b7a-4e2f-9c61-3a8e5d4b7f10")

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?Z$")
_BIRTH = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_AGE = re.compile(r"^(\d{1,3})(?:-(\d{1,3}))?$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")
_PHONE = re.compile(r"^\+?[\d\s().-]+$")
# Characters XML 1.0 cannot hold (a control character typed into a free-text field).
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_OWN = re.compile(r"^(request|note|sought|found)\.([0-9a-f-]{36})$")
MAX_RECORD_ID = 500  # the models' pfif_record_id
MAX_DESCRIPTION = 2000  # TracingRequestIn.distinguishing
MAX_NOTE_TEXT = 5000  # add_status_note
MAX_AUTHOR = 310  # StatusNote.asserted_by
# A source_date this far ahead of our clock is an error; less is a clock's skew, taken as now.
CLOCK_SKEW = timedelta(days=1)
ERRORS_SHOWN = 20
CHUNK = 500

ET.register_namespace("pfif", NS)


class PfifError(HavenError):
    """A PFIF file Haven refuses; nothing was written. The message says why."""


class PfifInvalid(PfifError):
    """Records that fail PFIF's or Haven's rules, each error naming its record and field."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        shown = self.errors[:ERRORS_SHOWN]
        more = len(self.errors) - len(shown)
        text = "\n".join(shown) + (f"\n… and {more} more" if more else "")
        super().__init__(f"{len(self.errors)} error(s) in the PFIF file, nothing imported:\n{text}")


# -- reading ---------------------------------------------------------------------------------


@dataclass
class NoteRecord:
    note_record_id: str
    person_record_id: str
    author_name: str
    source_date: datetime
    author_made_contact: bool
    status: str  # as in the file
    text: str


@dataclass
class PersonRecord:
    person_record_id: str
    source_date: datetime
    expiry_date: datetime | None
    fields: dict[str, str]
    notes: list[NoteRecord] = field(default_factory=list)


@dataclass
class Document:
    persons: list[PersonRecord]
    notes: list[NoteRecord]  # top-level notes, each naming its person


def parse_pfif(data: bytes, *, now: datetime | None = None) -> Document:
    """Read and check a PFIF 1.4 document; PfifError (or PfifInvalid, listing every bad record)
    if Haven cannot take it."""
    now = now or timezone.now()
    root = _root(data)
    errors: list[str] = []
    persons: list[PersonRecord] = []
    notes: list[NoteRecord] = []
    for position, child in enumerate(root, start=1):
        if not isinstance(child.tag, str):  # a comment or a processing instruction
            continue
        namespace, name = _split(child.tag)
        if namespace != NS:
            _foreign(namespace, child.tag, errors)
            continue
        if name == "person":
            person = _person(child, position, now, errors)
            if person is not None:
                persons.append(person)
        elif name == "note":
            note = _note(child, f"note #{position}", None, now, errors)
            if note is not None:
                notes.append(note)
        else:
            errors.append(f"pfif:{name} (#{position}): not a PFIF 1.4 record (person or note)")
    _unique([p.person_record_id for p in persons], "person", errors)  # one record, one request
    _unique(
        [n.note_record_id for p in persons for n in p.notes] + [n.note_record_id for n in notes],
        "note",
        errors,
    )
    if errors:
        raise PfifInvalid(errors)
    return Document(persons=persons, notes=notes)


def _root(data: bytes) -> ET.Element:
    limit: int = settings.HAVEN_PFIF_MAX_BYTES
    if len(data) > limit:
        raise PfifError(too_large(len(data), limit))
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except (DTDForbidden, EntitiesForbidden) as refused:
        raise PfifError(
            "the file declares a DTD or entities (<!DOCTYPE …>, <!ENTITY …>); PFIF files have"
            " none, and Haven expands no entity: refused, nothing imported"
        ) from refused
    except DefusedXmlException as refused:
        raise PfifError(
            f"the file refers to something outside it ({type(refused).__name__}):"
            " refused, nothing imported"
        ) from refused
    except ET.ParseError as bad:
        raise PfifError(f"not well-formed XML ({bad}): nothing imported") from None
    except (LookupError, ValueError) as bad:  # an encoding the parser does not know or take
        raise PfifError(
            f"the XML declares an encoding Haven cannot read ({bad}): nothing imported"
        ) from None
    namespace, name = _split(root.tag)
    if namespace != NS or name != "pfif":
        found = f"namespace {namespace}" if namespace else "no namespace"
        raise PfifError(
            f"the document is <{name}> in {found}; Haven reads PFIF 1.4, a <pfif:pfif> document"
            f" in the namespace {NS}: nothing imported"
        )
    return root


def too_large(size: int, limit: int) -> str:
    return (
        f"the file is {size} bytes; the largest PFIF file Haven reads is {limit} bytes"
        " (HAVEN_PFIF_MAX_BYTES): refused, nothing imported"
    )


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _foreign(namespace: str, tag: str, errors: list[str]) -> None:
    """An element of another PFIF version, or with no namespace, where PFIF 1.4 is read: an
    error (a mixed file is not trusted). Elements of other namespaces are extensions: ignored."""
    if namespace.startswith(PFIF_NAMESPACES) or not namespace:
        where = f"namespace {namespace}" if namespace else "no namespace"
        errors.append(f"<{_split(tag)[1]}> is in {where}, not PFIF 1.4 ({NS})")


def _fields(
    element: ET.Element, label: str, known: Sequence[str], errors: list[str]
) -> tuple[dict[str, str], list[ET.Element]]:
    """The PFIF fields of a record (its text, stripped) and its nested notes."""
    values: dict[str, str] = {}
    nested: list[ET.Element] = []
    for child in element:
        if not isinstance(child.tag, str):
            continue
        namespace, name = _split(child.tag)
        if namespace != NS:
            _foreign(namespace, child.tag, errors)
            continue
        if name == "note" and "note_record_id" not in known:
            nested.append(child)
            continue
        if name not in known:
            continue  # a field of a later PFIF: ignored
        if name in values:
            errors.append(f"{label}: {name} appears twice")
            continue
        values[name] = "".join(child.itertext()).strip()
    return values, nested


def _person(
    element: ET.Element, position: int, now: datetime, errors: list[str]
) -> PersonRecord | None:
    values, nested = _fields(element, f"person #{position}", PERSON_FIELDS, errors)
    record_id = values.get("person_record_id", "")
    label = f"person {record_id}" if record_id else f"person #{position}"
    before = len(errors)
    _record_id(values, "person_record_id", label, errors)
    source_date = _date(values, "source_date", label, errors, now=now)
    expiry_date = _date(values, "expiry_date", label, errors)
    _date(values, "entry_date", label, errors)
    expired = expiry_date is not None and expiry_date <= now
    for name in PERSON_MANDATORY:
        if not values.get(name) and not (expired and name == "full_name"):
            errors.append(f"{label}: {name} is missing (mandatory in PFIF 1.4)")
    notes = [
        _note(child, f"{label}, note #{i}", record_id, now, errors)
        for i, child in enumerate(nested, start=1)
    ]
    if len(errors) > before or source_date is None:
        return None
    return PersonRecord(
        person_record_id=record_id,
        source_date=source_date,
        expiry_date=expiry_date,
        fields=values,
        notes=[n for n in notes if n is not None],
    )


def _note(
    element: ET.Element, position: str, person_id: str | None, now: datetime, errors: list[str]
) -> NoteRecord | None:
    values, _ = _fields(element, position, NOTE_FIELDS, errors)
    record_id = values.get("note_record_id", "")
    label = f"note {record_id}" if record_id else position
    before = len(errors)
    _record_id(values, "note_record_id", label, errors)
    source_date = _date(values, "source_date", label, errors, now=now)
    _date(values, "entry_date", label, errors)
    for name in NOTE_MANDATORY:
        if not values.get(name):
            errors.append(f"{label}: {name} is missing (mandatory in PFIF 1.4)")
    about = values.get("person_record_id", "")
    if person_id is None:
        if not about:
            errors.append(f"{label}: person_record_id is missing (a note outside a person)")
        else:
            _record_id(values, "person_record_id", label, errors)
    elif about and about != person_id:
        errors.append(f"{label}: person_record_id {_shown(about)} is not its person's")
    contact = values.get("author_made_contact", "").lower()
    if contact not in ("", "true", "false"):
        errors.append(f"{label}: author_made_contact must be true or false, not {_shown(contact)}")
    if len(values.get("author_name", "")) > MAX_AUTHOR:
        errors.append(f"{label}: author_name must be at most {MAX_AUTHOR} characters")
    if len(errors) > before or source_date is None:
        return None
    return NoteRecord(
        note_record_id=record_id,
        person_record_id=person_id or about,
        author_name=values["author_name"],
        source_date=source_date,
        author_made_contact=contact == "true",
        status=values.get("status", ""),
        text=values["text"],
    )


def _record_id(values: dict[str, str], name: str, label: str, errors: list[str]) -> None:
    value = values.get(name, "")
    if value and not is_record_id(value):
        errors.append(
            f"{label}: {name} {_shown(value)} is not a PFIF record id (domain/local-id, at most"
            f" {MAX_RECORD_ID} characters)"
        )


def is_record_id(value: str) -> bool:
    domain, slash, local = value.partition("/")
    return (
        bool(slash and local)
        and len(value) <= MAX_RECORD_ID
        and _DOMAIN.match(domain) is not None
        and not any(c.isspace() for c in local)
    )


def _date(
    values: dict[str, str],
    name: str,
    label: str,
    errors: list[str],
    *,
    now: datetime | None = None,
) -> datetime | None:
    """A UTC date field; with `now`, one more than a clock's skew ahead is an error, and less
    is taken as now."""
    value = values.get(name, "")
    if not value:
        return None
    match = _DATE.match(value)
    parsed = None
    if match:
        try:
            year, month, day, hour, minute, second = (int(g) for g in match.groups())
            parsed = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            parsed = None
    if parsed is None:
        errors.append(f"{label}: {name} {_shown(value)} is not a UTC date (yyyy-mm-ddThh:mm:ssZ)")
        return None
    if now is not None and parsed > now:
        if parsed > now + CLOCK_SKEW:
            errors.append(f"{label}: {name} {value} is in the future")
            return None
        parsed = now.replace(microsecond=0)
    return parsed


def _unique(ids: list[str], kind: str, errors: list[str]) -> None:
    seen: set[str] = set()
    for record_id in ids:
        if record_id in seen:
            errors.append(f"{kind} {record_id}: appears more than once in the file")
        seen.add(record_id)


def _shown(value: str) -> str:
    """A value from the file as an error message quotes it: short."""
    return repr(value if len(value) <= 60 else value[:57] + "...")


# -- importing -------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    persons_added: int = 0
    persons_expired: int = 0  # placeholders stored, or held records emptied
    persons_skipped: list[tuple[str, str]] = field(default_factory=list)
    notes_added: int = 0
    notes_skipped: list[tuple[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "persons_added": self.persons_added,
            "persons_expired": self.persons_expired,
            "persons_skipped": len(self.persons_skipped),
            "notes_added": self.notes_added,
            "notes_skipped": len(self.notes_skipped),
        }


@dataclass
class _NewPerson:
    record: PersonRecord
    data: TracingRequestIn


@dataclass
class _Plan:
    new: list[_NewPerson] = field(default_factory=list)
    placeholders: list[PersonRecord] = field(default_factory=list)
    emptied: list[tuple[TracingRequest, PersonRecord]] = field(default_factory=list)
    # (note, status, its request: held, or the record id of a new one)
    notes: list[tuple[NoteRecord, str, TracingRequest | str]] = field(default_factory=list)


def import_pfif(data: bytes, *, user: User | None, now: datetime | None = None) -> ImportSummary:
    """Import a PFIF 1.4 file: all of it, or (PfifError) nothing."""
    now = now or timezone.now()
    document = parse_pfif(data, now=now)
    summary = ImportSummary()
    plan = _plan(document, now, summary)
    try:
        with transaction.atomic():
            _write(plan, user, now, summary)
            audit.record(
                user=user,
                action="tracing.pfif.import",
                object_type="pfif_file",
                object_uuid=None,
                detail={
                    **summary.as_json(),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data),
                },
                at=now,
            )
    except (IntegrityError, Conflict):
        raise PfifError(
            "another import stored some of these records meanwhile: nothing imported; run the"
            " import again"
        ) from None
    except InvalidInput as invalid:  # checked before writing; here only if Haven's rules moved
        raise PfifError(f"{invalid}: nothing imported") from None
    return summary


def _plan(document: Document, now: datetime, summary: ImportSummary) -> _Plan:
    """What the import will write, every record checked; PfifInvalid if any fails."""
    plan = _Plan()
    errors: list[str] = []
    held = _held_requests(
        [p.person_record_id for p in document.persons]
        + [n.person_record_id for n in document.notes]
    )
    taken: dict[str, TracingRequest | str | None] = {}  # record id -> where its notes go
    for person in document.persons:
        record_id = person.person_record_id
        request = held.get(record_id)
        expired = person.expiry_date is not None and person.expiry_date <= now
        if request is not None and _is_own(record_id):
            summary.persons_skipped.append((record_id, "our own record"))
            taken[record_id] = request
        elif expired:
            if request is None:
                plan.placeholders.append(person)
            elif request.sought_name or request.expiry_date != person.expiry_date:
                plan.emptied.append((request, person))
            else:
                summary.persons_skipped.append((record_id, "expired, already removed"))
            taken[record_id] = None
        elif request is not None:
            reason = "expired and removed" if not request.sought_name else "already held"
            summary.persons_skipped.append((record_id, reason))
            taken[record_id] = request if request.sought_name else None
        else:
            try:
                plan.new.append(_NewPerson(person, _request_in(person)))
                taken[record_id] = record_id
            except InvalidInput as invalid:
                errors.extend(f"person {record_id}: {e.field}: {e.message}" for e in invalid.errors)
    if errors:
        raise PfifInvalid(errors)
    notes = [n for p in document.persons for n in p.notes] + document.notes
    held_notes = _held_notes([n.note_record_id for n in notes])
    for note in notes:
        note_id = note.note_record_id
        if note.person_record_id in taken:
            target = taken[note.person_record_id]
        else:
            target = held.get(note.person_record_id)
            if target is not None and not target.sought_name:
                target = None
        status = STATUSES.get(note.status)
        if note_id in held_notes:
            reason = "our own note" if _is_own(note_id) else "already held"
        elif note.person_record_id not in taken and note.person_record_id not in held:
            reason = f"its person {note.person_record_id} is neither in the file nor held"
        elif target is None:
            reason = "its person's record has expired"
        elif status is None:
            reason = (
                f"status {note.status!r} is not one Haven records"
                if note.status
                else "no status (Haven records notes that say what is believed)"
            )
        else:
            plan.notes.append((note, status, target))
            continue
        summary.notes_skipped.append((note_id, reason))
    return plan


def _request_in(person: PersonRecord) -> TracingRequestIn:
    """The tracing request an imported person becomes; InvalidInput naming the field."""
    values = person.fields
    domain = person.person_record_id.partition("/")[0]
    name = next((line.strip() for line in values["full_name"].splitlines() if line.strip()), "")
    sex = values.get("sex", "").lower()
    if sex not in ("", "female", "male", "other"):
        raise InvalidInput(
            [_field_error("sex", f"must be female, male or other, not {_shown(sex)}")]
        )
    source = values.get("source_name", "")
    url = values.get("source_url", "")
    contact = (
        values.get("author_email")
        or values.get("author_phone")
        or (url if len(url) <= 200 else "")
        or source
        or domain
    )
    description = values.get("description", "")
    if len(description) > MAX_DESCRIPTION:
        description = description[: MAX_DESCRIPTION - 1].rstrip() + "…"
    return actions.parse_request(
        {
            "uuid": str(record_uuid(person.person_record_id)),
            "sought_name": name,
            "sought_birth_year": _birth_year(values, person.source_date),
            "sought_sex": {"female": "F", "male": "M"}.get(sex, ""),
            "sought_origin": values.get("home_city", ""),
            "distinguishing": description,
            "searcher_name": values.get("author_name") or source or domain,
            "searcher_contact": contact,
            "consent": True,
        }
    )


def _birth_year(values: dict[str, str], source_date: datetime) -> int | None:
    born = values.get("date_of_birth", "")
    if born:
        match = _BIRTH.match(born)
        if match is None:
            raise InvalidInput(
                [
                    _field_error(
                        "date_of_birth", f"{_shown(born)} is not YYYY, YYYY-MM or YYYY-MM-DD"
                    )
                ]
            )
        return int(match.group(1))
    age = values.get("age", "")
    if age:
        match = _AGE.match(age)
        if match is None:
            raise InvalidInput([_field_error("age", f"{_shown(age)} is not N or N-M")])
        low = int(match.group(1))
        high = int(match.group(2) or low)
        return source_date.year - (low + high) // 2
    return None


def _field_error(name: str, message: str) -> FieldError:
    return FieldError(field=name, message=message)


def record_uuid(record_id: str) -> uuid_lib.UUID:
    """The uuid of the request or note an imported record becomes: the same every time."""
    return uuid_lib.uuid5(PFIF_UUIDS, record_id)


def _is_own(record_id: str) -> bool:
    return record_id.partition("/")[0].lower() == own_domain().lower()


def own_domain() -> str:
    domain: str = settings.HAVEN_PFIF_DOMAIN
    return domain


def _own_uuid(record_id: str, kinds: Iterable[str]) -> uuid_lib.UUID | None:
    """The uuid in one of Haven's own ids (`<domain>/request.<uuid>`), if it is one."""
    if not _is_own(record_id):
        return None
    match = _OWN.match(record_id.partition("/")[2])
    if match is None or match.group(1) not in kinds:
        return None
    try:
        return uuid_lib.UUID(match.group(2))
    except ValueError:
        return None


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _held_requests(record_ids: Sequence[str]) -> dict[str, TracingRequest]:
    """The requests Haven holds under these PFIF ids: imported ones by their id, its own by
    the uuid in it."""
    ids = sorted(set(record_ids))
    held: dict[str, TracingRequest] = {}
    for chunk in _chunks(ids):
        for request in TracingRequest.objects.filter(pfif_record_id__in=chunk):
            held[request.pfif_record_id] = request
    own = {u: rid for rid in ids if (u := _own_uuid(rid, ["request"])) is not None}
    for chunk in _chunks(list(own)):
        for request in TracingRequest.objects.filter(uuid__in=chunk):
            held.setdefault(own[request.uuid], request)
    return held


def _held_notes(record_ids: Sequence[str]) -> set[str]:
    ids = sorted(set(record_ids))
    held: set[str] = set()
    for chunk in _chunks(ids):
        held.update(
            StatusNote.objects.filter(pfif_record_id__in=chunk).values_list(
                "pfif_record_id", flat=True
            )
        )
    own_notes = {u: rid for rid in ids if (u := _own_uuid(rid, ["note"])) is not None}
    for chunk in _chunks(list(own_notes)):
        for uuid in StatusNote.objects.filter(uuid__in=chunk).values_list("uuid", flat=True):
            held.add(own_notes[uuid])
    # The notes Haven writes about its requests (sought, found) are held while the request is.
    made = {u: rid for rid in ids if (u := _own_uuid(rid, ["sought", "found"])) is not None}
    for chunk in _chunks(list(made)):
        for uuid in TracingRequest.objects.filter(uuid__in=chunk).values_list("uuid", flat=True):
            held.update(rid for u, rid in made.items() if u == uuid)
    return held


def _write(plan: _Plan, user: User | None, now: datetime, summary: ImportSummary) -> None:
    created: dict[str, TracingRequest] = {}
    for new in plan.new:
        record = new.record
        request, _ = actions.open_request(
            data=new.data,
            acting_user=user,
            source=TracingRequest.Source.PFIF,
            site=None,
            match=False,
            pfif_record_id=record.person_record_id,
            expiry_date=record.expiry_date,
        )
        # The consent is the source repository's, given when the record was made there.
        TracingRequest.objects.filter(pk=request.pk).update(consent_at=record.source_date)
        created[record.person_record_id] = request
        summary.persons_added += 1
    for record in plan.placeholders:
        actions.store_expired_record(
            record_uuid=record_uuid(record.person_record_id),
            pfif_record_id=record.person_record_id,
            source_date=record.source_date,
            expiry_date=record.expiry_date,
            user=user,
        )
        summary.persons_expired += 1
    for request, record in plan.emptied:
        actions.expire_request(request=request, expiry_date=record.expiry_date, user=user)
        summary.persons_expired += 1
    for note, status, target in plan.notes:
        actions.add_status_note(
            status=status,
            asserted_by=note.author_name,
            asserted_at=note.source_date,
            text=_cut(note.text, MAX_NOTE_TEXT),
            author_made_contact=note.author_made_contact,
            user=user,
            request=target if isinstance(target, TracingRequest) else created[target],
            note_uuid=record_uuid(note.note_record_id),
            pfif_record_id=note.note_record_id,
        )
        summary.notes_added += 1


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


# -- exporting -------------------------------------------------------------------------------


@dataclass
class ExportSummary:
    persons: int = 0
    placeholders: int = 0
    notes: int = 0
    whereabouts_shared: list[str] = field(default_factory=list)  # found persons' uuids


def export_pfif(
    *, user: User | None, sharing: str | None = None, now: datetime | None = None
) -> tuple[bytes, ExportSummary]:
    """Every tracing request as PFIF 1.4, limited to `sharing` (at most HAVEN_PFIF_SHARING);
    the document and what it holds. One audit row says who exported what."""
    allowed: str = settings.HAVEN_PFIF_SHARING
    sharing = sharing or allowed
    if sharing not in SHARING_LEVELS:
        raise PfifError(f"sharing must be one of {', '.join(SHARING_LEVELS)}, not {sharing!r}")
    if SHARING_LEVELS.index(sharing) > SHARING_LEVELS.index(allowed):
        raise PfifError(
            f"this deployment shares at most {allowed!r} (HAVEN_PFIF_SHARING), not {sharing!r}"
        )
    now = now or timezone.now()
    summary = ExportSummary()
    requests = TracingRequest.objects.select_related("found__site").prefetch_related("status_notes")
    disclosed = _disclosure_times(requests)
    records = []
    for request in requests:
        record_id = request.pfif_record_id or f"{own_domain()}/request.{request.uuid}"
        records.append(
            (record_id, _person_element(request, record_id, sharing, now, disclosed, summary))
        )
    root = ET.Element(_tag("pfif"))
    for _, element in sorted(records, key=lambda r: r[0]):
        root.append(element)
    ET.indent(root, space="  ")
    document = ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
    with transaction.atomic():
        audit.record(
            user=user,
            action="tracing.pfif.export",
            object_type="pfif_file",
            object_uuid=None,
            detail={
                "sharing": sharing,
                "persons": summary.persons,
                "placeholders": summary.placeholders,
                "notes": summary.notes,
                "whereabouts_shared": summary.whereabouts_shared,
            },
            at=now,
        )
    return document, summary


def _disclosure_times(requests: Iterable[TracingRequest]) -> dict[uuid_lib.UUID, datetime]:
    """When each found person allowed their whereabouts to be shared (from the audit trail)."""
    found = [r.uuid for r in requests if r.disclosure == TracingRequest.Disclosure.ALLOWED]
    times: dict[uuid_lib.UUID, datetime] = {}
    for chunk in _chunks(found):
        for object_uuid, at in AuditEvent.objects.filter(
            action="tracing.request.disclosure", object_uuid__in=chunk
        ).values_list("object_uuid", "at"):
            if object_uuid is not None and (object_uuid not in times or at > times[object_uuid]):
                times[object_uuid] = at
    return times


def _tag(name: str) -> str:
    return f"{{{NS}}}{name}"


def _add(element: ET.Element, values: dict[str, str], order: Sequence[str]) -> None:
    for name in order:
        value = _NOT_XML.sub("", values.get(name, ""))
        if value:
            ET.SubElement(element, _tag(name)).text = value


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _person_element(
    request: TracingRequest,
    record_id: str,
    sharing: str,
    now: datetime,
    disclosed: dict[uuid_lib.UUID, datetime],
    summary: ExportSummary,
) -> ET.Element:
    person = ET.Element(_tag("person"))
    values = {
        "person_record_id": record_id,
        "entry_date": utc(request.created_at),
        "expiry_date": utc(request.expiry_date) if request.expiry_date else "",
        "source_date": utc(request.consent_at),
    }
    if (request.expiry_date is not None and request.expiry_date <= now) or not request.sought_name:
        _add(person, values, PERSON_FIELDS)
        summary.placeholders += 1
        return person
    values["full_name"] = request.sought_name
    values["sex"] = {"F": "female", "M": "male"}.get(request.sought_sex, "")
    if _is_own(record_id):
        values["source_name"] = SOURCE_NAME
    if sharing in ("names", "full"):
        given, family = _given_family(request.sought_name)
        values["given_name"], values["family_name"] = given, family
        values["alternate_names"] = "\n".join(alternate_names(request.sought_name))
        if request.sought_birth_year:
            values["date_of_birth"] = f"{request.sought_birth_year:04d}"
        values["home_city"] = request.sought_origin
    if sharing == "full":
        values["description"] = _description(request)
        values.update(_author(request))
    _add(person, values, PERSON_FIELDS)
    summary.persons += 1
    notes = [_stored_note(note, record_id, sharing) for note in request.status_notes.all()]
    if (
        request.source != TracingRequest.Source.PFIF
        and request.status == TracingRequest.Status.OPEN
    ):
        notes.append(
            {
                "note_record_id": f"{own_domain()}/sought.{request.uuid}",
                "person_record_id": record_id,
                "entry_date": utc(request.created_at),
                "author_name": SOURCE_NAME,
                "source_date": utc(request.consent_at),
                "status": StatusNote.Status.INFORMATION_SOUGHT,
                "text": STATUS_TEXT[StatusNote.Status.INFORMATION_SOUGHT],
            }
        )
    found = request.found
    # The found person agreed that the searcher may know; a searcher who asked through another
    # repository learns it there, so the note goes out for those requests only (one who asked
    # Haven hears it from a caseworker, and no other repository needs to know).
    if (
        found is not None
        and request.source == TracingRequest.Source.PFIF
        and request.disclosure == TracingRequest.Disclosure.ALLOWED
        and request.status in (TracingRequest.Status.FOUND, TracingRequest.Status.REUNITED)
    ):
        when = disclosed.get(request.uuid, request.consent_at)
        text = STATUS_TEXT[StatusNote.Status.BELIEVED_ALIVE]
        if sharing == "full":
            text = (
                f"Found: registered by Haven at {found.site.name}, in contact, and agreed that"
                " their whereabouts be shared."
            )
            summary.whereabouts_shared.append(str(found.uuid))
        notes.append(
            {
                "note_record_id": f"{own_domain()}/found.{request.uuid}",
                "person_record_id": record_id,
                "entry_date": utc(when),
                "author_name": SOURCE_NAME,
                "source_date": utc(when),
                "author_made_contact": "true",
                "status": StatusNote.Status.BELIEVED_ALIVE,
                "text": text,
            }
        )
    for values in sorted(notes, key=lambda n: (n["source_date"], n["note_record_id"])):
        _add(ET.SubElement(person, _tag("note")), values, NOTE_FIELDS)
        summary.notes += 1
    return person


def _stored_note(note: StatusNote, person_id: str, sharing: str) -> dict[str, str]:
    record_id = note.pfif_record_id or f"{own_domain()}/note.{note.uuid}"
    text = note.text
    contact = note.author_made_contact
    if sharing == "full":
        author = note.asserted_by
    else:
        author = SOURCE_NAME if _is_own(record_id) else record_id.partition("/")[0]
        text = STATUS_TEXT[StatusNote.Status(note.status)]
    return {
        "note_record_id": record_id,
        "person_record_id": person_id,
        "entry_date": utc(note.recorded_at),
        "author_name": author,
        "source_date": utc(note.asserted_at),
        "author_made_contact": "true" if contact else "",
        "status": note.status,
        "text": text or STATUS_TEXT[StatusNote.Status(note.status)],
    }


def _given_family(name: str) -> tuple[str, str]:
    try:
        parts = name_parts(name)
    except InvalidInput:
        return "", ""
    given, family, _ = readings(parts)[0]
    return given, family


def alternate_names(name: str) -> list[str]:
    """The name's Latin spellings (passport-style, BGN/PCGN, ISO 9985 for Armenian), those that
    differ from it and from each other."""
    if detect_script(name) in (Script.LATIN, Script.NONE):
        return []
    spellings: list[str] = []
    systems: tuple[System, ...] = ("passport", "bgn", "iso9985")
    for system in systems:
        latin = to_latin(name, system)
        if latin != name and latin not in spellings:
            spellings.append(latin)
    return spellings


def _description(request: TracingRequest) -> str:
    lines = [request.distinguishing.strip()] if request.distinguishing.strip() else []
    relatives = [r.strip() for r in request.sought_relatives.splitlines() if r.strip()]
    if relatives:
        lines.append("Relatives: " + ", ".join(relatives))
    seen = ", ".join(p for p in (request.last_seen_place, request.last_seen_on) if p)
    if seen:
        lines.append("Last seen: " + seen)
    return "\n".join(lines)


def _author(request: TracingRequest) -> dict[str, str]:
    """The searcher as the record's author: only an outside searcher with an e-mail address or
    a telephone number (a registered searcher is a registered person: never exported)."""
    name, contact = request.searcher_name.strip(), request.searcher_contact.strip()
    if request.searcher_id is not None or not name or not contact:
        return {}
    if request.source != TracingRequest.Source.PFIF:
        # Searchers who asked Haven consented to Haven's caseworkers reading their contact,
        # not to its going to other repositories.
        return {}
    if "@" in contact and " " not in contact:
        return {"author_name": name, "author_email": contact}
    if _PHONE.match(contact) and sum(c.isdigit() for c in contact) >= 5:
        return {"author_name": name, "author_phone": contact}
    return {}
