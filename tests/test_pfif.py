"""PFIF 1.4: export and import of tracing requests and status notes, through the actions and
`haven pfif`; a round trip; a Person Finder-style file in Armenian and Russian; what each sharing
level carries; and hostile or broken files refused with nothing written."""

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from haven.core.models import AuditEvent
from haven.tracing import actions
from haven.tracing.models import StatusNote, TraceMatch, TracingRequest
from haven.tracing.pfif import (
    NS,
    PfifError,
    PfifInvalid,
    alternate_names,
    export_pfif,
    import_pfif,
    is_record_id,
    record_uuid,
)
from tests.check_support import ensure_model, register
from tests.conftest import Personas

DATA = Path(__file__).resolve().parent / "data" / "pfif"
SAMPLE = DATA / "person_finder_sample.xml"
PF = "testkey.personfinder.google.org"
DOMAIN = "haven.example.org"

HASMIK = {
    "given_name": "Հասմիկ",
    "family_name": "Հարությունյան",
    "sex": "F",
    "birth_date": "1980-05-17",
}


@pytest.fixture(autouse=True)
def _pfif_settings(settings: Any) -> None:
    settings.HAVEN_PFIF_DOMAIN = DOMAIN
    settings.HAVEN_PFIF_SHARING = "full"
    settings.HAVEN_PFIF_MAX_BYTES = 1024 * 1024


def request_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sought_name": "Асмик Арутюнян",
        "sought_birth_year": 1980,
        "sought_sex": "F",
        "sought_origin": "Степанакерт",
        "distinguishing": "a scar above the left eyebrow",
        "last_seen_place": "Lachin corridor",
        "last_seen_on": "25 September",
        "sought_relatives": ["Арам Арутюнян"],
        "searcher_name": "Ани Арутюнян",
        "searcher_contact": "+374 91 000000",
        "consent": True,
    }
    data.update(overrides)
    return data


def open_request(personas: Personas, **overrides: Any) -> TracingRequest:
    expiry = overrides.pop("expiry_date", None)
    request, created = actions.open_request(
        data=actions.parse_request(request_data(**overrides)),
        acting_user=personas.carol,
        source=TracingRequest.Source.CASEWORKER,
        site=personas.kor,
        expiry_date=expiry,
    )
    assert created
    return request


def export(personas: Personas, sharing: str | None = None) -> str:
    document, _ = export_pfif(user=personas.carol, sharing=sharing)
    return document.decode()


def without_entry_dates(document: str) -> str:
    return re.sub(r"\s*<pfif:entry_date>[^<]*</pfif:entry_date>", "", document)


def pfif(*records: str) -> bytes:
    body = "\n".join(records)
    head = f'<?xml version="1.0" encoding="UTF-8"?>\n<pfif:pfif xmlns:pfif="{NS}">'
    return f"{head}\n{body}\n</pfif:pfif>\n".encode()


def person(record_id: str = f"{PF}/person.1", **fields: str) -> str:
    values = {
        "person_record_id": record_id,
        "source_date": "2025-03-01T10:00:00Z",
        "full_name": "Aram Petrosyan",
        **fields,
    }
    inner = "".join(f"<pfif:{k}>{v}</pfif:{k}>" for k, v in values.items() if k != "notes")
    return f"<pfif:person>{inner}{fields.get('notes', '')}</pfif:person>"


def note(record_id: str = f"{PF}/note.1", **fields: str) -> str:
    values = {
        "note_record_id": record_id,
        "author_name": "Someone",
        "source_date": "2025-03-02T10:00:00Z",
        "status": "believed_alive",
        "text": "seen alive",
        **fields,
    }
    return (
        "<pfif:note>"
        + "".join(f"<pfif:{k}>{v}</pfif:{k}>" for k, v in values.items())
        + ("</pfif:note>")
    )


def nothing_written() -> None:
    assert not TracingRequest.objects.exists()
    assert not StatusNote.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="tracing.").exists()


def a_tracing_state(personas: Personas) -> dict[str, TracingRequest]:
    """Requests made through the actions: open with a caseworker's note, expired, found with
    disclosure allowed, from the public form with an e-mail address, and closed."""
    ensure_model()
    open_one = open_request(personas)
    actions.add_status_note(
        status="believed_missing",
        asserted_by="her neighbour, Goris",
        asserted_at=timezone.now() - timedelta(days=2),
        text="not seen since the 25th",
        user=personas.carol,
        request=open_one,
    )
    expired = open_request(
        personas, sought_name="Վարդան Պետրոսյան", expiry_date=timezone.now() - timedelta(days=1)
    )
    hasmik = register(personas.bob, "GORIS", [HASMIK]).members.get()
    found = open_request(personas, sought_name="Hasmik Harutyunyan", sought_origin="")
    actions.mark_found(request=found, person=hasmik, user=personas.carol)
    actions.record_disclosure(
        request=found, person_uuid=hasmik.uuid, allowed=True, user=personas.carol
    )
    public, _ = actions.open_request(
        data=actions.parse_request(
            request_data(
                sought_name="Оганес Оганесян",
                sought_birth_year=None,
                searcher_name="Гаяне",
                searcher_contact="gayane@example.com",
                distinguishing="",
                last_seen_place="",
                last_seen_on="",
                sought_relatives=[],
            )
        ),
        acting_user=None,
        source=TracingRequest.Source.PUBLIC,
        site=None,
        match=False,
    )
    closed = open_request(personas, sought_name="Գոհար Սարգսյան")
    actions.close_request(request=closed, outcome="withdrawn", user=personas.carol)
    return {"open": open_one, "expired": expired, "found": found, "public": public}


# -- round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize("sharing", ["minimal", "names", "full"])
def test_an_export_imported_into_an_empty_state_exports_the_same(
    personas: Personas, settings: Any, sharing: str
) -> None:
    settings.HAVEN_PFIF_SHARING = sharing
    state = a_tracing_state(personas)
    first = export(personas)
    assert f"{DOMAIN}/request.{state['open'].uuid}" in first
    # A searcher who asked Haven hears of the found person from a caseworker: no found note.
    assert f"{DOMAIN}/found.{state['found'].uuid}" not in first
    assert f"{DOMAIN}/sought.{state['open'].uuid}" in first

    TracingRequest.objects.all().delete()
    summary = import_pfif(first.encode(), user=personas.carol)
    assert summary.persons_added == 4  # open, found, public, closed
    assert summary.persons_expired == 1  # its placeholder
    assert (
        AuditEvent.objects.filter(action="tracing.request.expired", user=personas.carol).count()
        == 1
    )
    assert not summary.persons_skipped
    assert summary.notes_added == 3  # the caseworker's and two "sought"
    assert not summary.notes_skipped

    second = export(personas)
    assert without_entry_dates(second) == without_entry_dates(first)
    # And once more: importing it again changes nothing.
    again = import_pfif(second.encode(), user=personas.carol)
    assert (again.persons_added, again.persons_expired, again.notes_added) == (0, 0, 0)
    assert without_entry_dates(export(personas)) == without_entry_dates(first)


def test_the_found_note_goes_back_to_the_repository_the_searcher_asked_in(
    personas: Personas, settings: Any
) -> None:
    """A request imported from another repository, its person found and agreeing: the found
    note (contact made; the site only at "full") goes out for that repository's searcher."""
    ensure_model()
    hasmik = register(personas.bob, "GORIS", [HASMIK]).members.get()
    import_pfif(
        pfif(person(f"{PF}/person.77", full_name="Hasmik Harutyunyan")), user=personas.carol
    )
    found = TracingRequest.objects.get(pfif_record_id=f"{PF}/person.77")
    actions.match_request(found)
    actions.mark_found(request=found, person=hasmik, user=personas.carol)
    actions.record_disclosure(
        request=found, person_uuid=hasmik.uuid, allowed=True, user=personas.carol
    )
    full = export(personas)
    names = export(personas, "names")
    for document in (full, names):
        block = _note_block(document, f"{DOMAIN}/found.{found.uuid}")
        assert "<pfif:author_made_contact>true</pfif:author_made_contact>" in block
        assert "<pfif:status>believed_alive</pfif:status>" in block
        # The registered person is never exported: neither their record nor their names.
        assert str(hasmik.uuid) not in document
        assert "Հասմիկ" not in document
    assert "Goris hub" in _note_block(full, f"{DOMAIN}/found.{found.uuid}")
    assert "Goris" not in names
    event = AuditEvent.objects.filter(action="tracing.pfif.export").order_by("id").first()
    assert event is not None
    assert event.user == personas.carol
    assert event.detail["whereabouts_shared"] == [str(hasmik.uuid)]


def _note_block(document: str, note_id: str) -> str:
    start = document.index(f"<pfif:note_record_id>{note_id}<")
    return document[start : document.index("</pfif:note>", start)]


def test_a_refused_disclosure_exports_no_found_note(personas: Personas) -> None:
    ensure_model()
    hasmik = register(personas.bob, "GORIS", [HASMIK]).members.get()
    request = open_request(personas, sought_name="Hasmik Harutyunyan")
    actions.mark_found(request=request, person=hasmik, user=personas.carol)
    actions.record_disclosure(
        request=request, person_uuid=hasmik.uuid, allowed=False, user=personas.carol
    )
    document = export(personas)
    assert f"found.{request.uuid}" not in document
    assert "believed_alive" not in document


def test_an_expired_record_is_exported_as_a_placeholder(personas: Personas) -> None:
    request = open_request(personas, expiry_date=timezone.now() - timedelta(minutes=1))
    actions.add_status_note(
        status="believed_alive",
        asserted_by="a cousin",
        asserted_at=None,
        text="phoned",
        user=personas.carol,
        request=request,
    )
    document = export(personas)
    fields = re.findall(r"<pfif:(\w+)>", document)
    assert fields == [
        "person",
        "person_record_id",
        "entry_date",
        "expiry_date",
        "source_date",
    ]
    assert "Асмик" not in document


# -- sharing levels --------------------------------------------------------------------------


def _person_fields(document: str) -> set[str]:
    person_part = re.sub(r"<pfif:note>.*?</pfif:note>", "", document, flags=re.S)
    return set(re.findall(r"<pfif:(\w+)>", person_part))


def test_each_sharing_level_carries_only_its_fields(personas: Personas) -> None:
    request = open_request(personas)
    actions.add_status_note(
        status="believed_missing",
        asserted_by="her neighbour, Goris",
        asserted_at=None,
        text="not seen since the 25th",
        user=personas.carol,
        request=request,
    )
    base = {"person", "person_record_id", "entry_date", "source_name", "source_date"}
    minimal = export(personas, "minimal")
    assert _person_fields(minimal) == base | {"full_name", "sex"}
    names = export(personas, "names")
    assert _person_fields(names) == base | {
        "full_name",
        "given_name",
        "family_name",
        "alternate_names",
        "sex",
        "date_of_birth",
        "home_city",
    }
    assert "<pfif:date_of_birth>1980</pfif:date_of_birth>" in names
    assert "<pfif:alternate_names>Asmik Arutyunyan</pfif:alternate_names>" in names
    assert "<pfif:given_name>Асмик</pfif:given_name>" in names
    assert "<pfif:home_city>Степанакерт</pfif:home_city>" in names
    full = export(personas, "full")
    assert "description" in _person_fields(full)
    # The searcher consented to Haven's caseworkers reading their contact, not to its export.
    assert not _person_fields(full) & {"author_name", "author_phone", "author_email"}
    assert "Last seen: Lachin corridor, 25 September" in full
    assert "Relatives: Арам Арутюнян" in full
    for document in (minimal, names):
        # Below full, a note says its status in words: not who said it, nor what they said.
        assert "neighbour" not in document
        assert "25th" not in document
        assert "Ани" not in document
        assert "+374" not in document
        assert "This person is believed to be missing." in document
    assert "her neighbour, Goris" in full
    assert "not seen since the 25th" in full


def test_an_export_never_shares_more_than_the_setting(personas: Personas, settings: Any) -> None:
    settings.HAVEN_PFIF_SHARING = "minimal"
    open_request(personas)
    with pytest.raises(PfifError, match="at most 'minimal'"):
        export_pfif(user=personas.carol, sharing="full")
    document = export(personas)
    assert "date_of_birth" not in document
    assert "home_city" not in document
    assert "author_email" not in document
    assert "author_phone" not in document


def test_a_registered_searcher_is_never_the_author(personas: Personas) -> None:
    searcher = register(personas.alice, "KOR", [HASMIK]).members.get()
    request, _ = actions.open_request(
        data=actions.parse_request(
            request_data(searcher_person=str(searcher.uuid), searcher_name="", searcher_contact="")
        ),
        acting_user=personas.carol,
        source=TracingRequest.Source.CASEWORKER,
        site=personas.kor,
        match=False,
    )
    document = export(personas, "full")
    assert "author_phone" not in document
    assert "author_email" not in document
    assert str(searcher.uuid) not in document
    assert f"{DOMAIN}/request.{request.uuid}" in document


# -- a Person Finder file --------------------------------------------------------------------


def test_a_person_finder_file_in_armenian_and_russian_imports(personas: Personas) -> None:
    ensure_model()
    register(personas.bob, "GORIS", [HASMIK])  # would match; imports are matched when opened
    summary = import_pfif(SAMPLE.read_bytes(), user=personas.carol)

    assert (summary.persons_added, summary.persons_expired) == (2, 1)
    assert summary.notes_added == 3
    assert dict(summary.notes_skipped) == {
        f"{PF}/note.5050003": "no status (Haven records notes that say what is believed)",
        f"{PF}/note.5050005": (f"its person {PF}/person.4049999 is neither in the file nor held"),
    }
    hasmik = TracingRequest.objects.get(pfif_record_id=f"{PF}/person.4040001")
    assert hasmik.uuid == record_uuid(f"{PF}/person.4040001")
    assert (hasmik.source, hasmik.site, hasmik.status) == ("pfif", None, "open")
    assert hasmik.sought_name == "Հասմիկ Հարությունյան"
    assert (hasmik.sought_birth_year, hasmik.sought_sex) == (1980, "F")
    assert hasmik.sought_origin == "Ստեփանակերտ"
    assert hasmik.distinguishing == "Scar above the left eyebrow; wears glasses."
    assert (hasmik.searcher_name, hasmik.searcher_contact) == (
        "Անի Հարությունյան",
        "ani.example@example.com",
    )
    assert hasmik.consent_at == datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    assert hasmik.expiry_date == datetime(2099, 4, 11, 8, 0, tzinfo=UTC)
    assert hasmik.matched_at is None
    assert not TraceMatch.objects.exists()
    notes = {n.pfif_record_id: n for n in hasmik.status_notes.all()}
    alive = notes[f"{PF}/note.5050002"]
    assert (alive.status, alive.asserted_by) == ("believed_alive", "Арам Петросян")
    assert alive.asserted_at == datetime(2025, 3, 3, 11, 30, tzinfo=UTC)
    assert alive.text == "Видел её в Горисе, она здорова."
    assert alive.author_made_contact
    assert notes[f"{PF}/note.5050001"].status == "information_sought"

    ohanes = TracingRequest.objects.get(pfif_record_id=f"{PF}/person.4040002")
    assert ohanes.sought_name == "Оганес Оганесян"
    assert ohanes.sought_birth_year == 2025 - 45  # 40-50 at the source date
    assert ohanes.searcher_contact == "+7 916 000 00 02"
    assert ohanes.status_notes.get().status == "believed_missing"

    placeholder = TracingRequest.objects.get(pfif_record_id=f"{PF}/person.4040003")
    assert (placeholder.sought_name, placeholder.status) == ("", "withdrawn")
    assert not placeholder.status_notes.exists()

    event = AuditEvent.objects.get(action="tracing.pfif.import")
    assert event.user == personas.carol
    assert event.detail["persons_added"] == 2
    assert AuditEvent.objects.filter(action="tracing.request.open").count() == 2

    # Exported on, the records keep their ids, the placeholder stays one, and the name gets
    # its Latin spellings.
    document = export(personas, "names")
    assert f"<pfif:person_record_id>{PF}/person.4040003</pfif:person_record_id>" in document
    assert "Hasmik Harutyunyan" in document
    assert "source_name" not in _block(document, f"{PF}/person.4040002")
    full = export(personas, "full")
    assert "<pfif:author_made_contact>true" in _note_block(full, f"{PF}/note.5050002")


def _block(document: str, person_id: str) -> str:
    start = document.index(f"<pfif:person_record_id>{person_id}<")
    return document[start : document.index("</pfif:person>", start)]


def test_importing_the_same_file_twice_changes_nothing(personas: Personas) -> None:
    import_pfif(SAMPLE.read_bytes(), user=personas.carol)
    before = (TracingRequest.objects.count(), StatusNote.objects.count())
    summary = import_pfif(SAMPLE.read_bytes(), user=personas.carol)
    assert (summary.persons_added, summary.persons_expired, summary.notes_added) == (0, 0, 0)
    assert (TracingRequest.objects.count(), StatusNote.objects.count()) == before
    assert dict(summary.persons_skipped) == {
        f"{PF}/person.4040001": "already held",
        f"{PF}/person.4040002": "already held",
        f"{PF}/person.4040003": "expired, already removed",
    }
    assert AuditEvent.objects.filter(action="tracing.pfif.import").count() == 2


def test_new_notes_on_a_held_record_are_added(personas: Personas) -> None:
    import_pfif(SAMPLE.read_bytes(), user=personas.carol)
    later = pfif(
        note(
            f"{PF}/note.6",
            person_record_id=f"{PF}/person.4040002",
            status="believed_dead",
            text="Reported by the hospital in Goris.",
        )
    )
    summary = import_pfif(later, user=personas.carol)
    assert summary.notes_added == 1
    request = TracingRequest.objects.get(pfif_record_id=f"{PF}/person.4040002")
    assert set(request.status_notes.values_list("status", flat=True)) == {
        "believed_missing",
        "believed_dead",
    }


def test_a_record_expired_at_its_source_loses_its_personal_data(personas: Personas) -> None:
    import_pfif(SAMPLE.read_bytes(), user=personas.carol)
    request = TracingRequest.objects.get(pfif_record_id=f"{PF}/person.4040001")
    expired = pfif(
        person(
            f"{PF}/person.4040001",
            full_name="",
            expiry_date="2025-04-11T08:00:00Z",
            source_date="2025-04-11T08:00:00Z",
        )
    )
    summary = import_pfif(expired, user=personas.carol)
    assert summary.persons_expired == 1
    request.refresh_from_db()
    assert (request.sought_name, request.searcher_name, request.searcher_contact) == ("", "", "")
    assert (request.distinguishing, request.sought_origin, request.sought_birth_year) == (
        "",
        "",
        None,
    )
    assert request.status == "withdrawn"
    assert not request.status_notes.exists()
    assert not request.keys.exists()
    document = export(personas)
    block = _block(document, f"{PF}/person.4040001")
    assert "full_name" not in block
    assert "note" not in block
    assert "<pfif:expiry_date>2025-04-11T08:00:00Z</pfif:expiry_date>" in block
    # An older, unexpired copy arriving later does not bring it back.
    summary = import_pfif(SAMPLE.read_bytes(), user=personas.carol)
    assert (summary.persons_added, summary.notes_added) == (0, 0)
    request.refresh_from_db()
    assert request.sought_name == ""


def test_our_own_records_are_skipped_and_notes_about_them_from_elsewhere_added(
    personas: Personas,
) -> None:
    request = open_request(personas)
    ours = export(personas)
    summary = import_pfif(ours.encode(), user=personas.carol)
    assert summary.persons_skipped == [(f"{DOMAIN}/request.{request.uuid}", "our own record")]
    assert summary.notes_skipped == [(f"{DOMAIN}/sought.{request.uuid}", "our own note")]
    assert TracingRequest.objects.count() == 1

    record_id = f"{DOMAIN}/request.{request.uuid}"
    about_ours = pfif(note(f"{PF}/note.77", person_record_id=record_id, status="believed_alive"))
    summary = import_pfif(about_ours, user=personas.carol)
    assert summary.notes_added == 1
    assert request.status_notes.get().pfif_record_id == f"{PF}/note.77"
    # An expiry of our own record, from elsewhere, is not theirs to decide.
    expired = pfif(person(record_id, full_name="", expiry_date="2025-01-01T00:00:00Z"))
    import_pfif(expired, user=personas.carol)
    request.refresh_from_db()
    assert request.sought_name == "Асмик Арутюнян"


# -- bad and hostile files -------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person>
<pfif:person_record_id>evil.example.org/p.1</pfif:person_record_id>
<pfif:source_date>2025-03-01T10:00:00Z</pfif:source_date>
<pfif:full_name>Aram &lol4;</pfif:full_name></pfif:person></pfif:pfif>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE pfif [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"><pfif:person>
<pfif:person_record_id>evil.example.org/p.1</pfif:person_record_id>
<pfif:source_date>2025-03-01T10:00:00Z</pfif:source_date>
<pfif:full_name>Aram Petrosyan</pfif:full_name>
<pfif:description>&secret;</pfif:description></pfif:person></pfif:pfif>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE pfif SYSTEM "http://evil.example.org/pfif.dtd">
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4"></pfif:pfif>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_entities_and_dtds_are_refused_and_nothing_written(personas: Personas, data: bytes) -> None:
    with pytest.raises(PfifError, match="DTD or entities") as refused:
        import_pfif(data, user=personas.carol)
    assert "root:" not in str(refused.value)
    assert "lol" not in str(refused.value)
    nothing_written()


def test_a_file_over_the_limit_is_refused_before_it_is_read(
    personas: Personas, settings: Any, tmp_path: Path
) -> None:
    settings.HAVEN_PFIF_MAX_BYTES = 1000
    path = tmp_path / "huge.xml"
    path.write_bytes(b"not even xml " * 100)  # unparseable: the size is what is reported
    with pytest.raises(CommandError, match=r"1300 bytes; the largest .* is 1000 bytes"):
        _command("import", str(path))
    with pytest.raises(PfifError, match="HAVEN_PFIF_MAX_BYTES"):
        import_pfif(path.read_bytes(), user=None)
    nothing_written()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.2"><pfif:person/></pfif:pfif>',
            "namespace http://zesty.ca/pfif/1.2",
        ),
        (b"<pfif><person/></pfif>", "no namespace"),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>',
            "<feed> in namespace http://www.w3.org/2005/Atom",
        ),
        (b"full_name,sex\nAram,male\n", "not well-formed XML"),
        (b"<pfif:pfif xmlns:pfif='http://zesty.ca/pfif/1.4'><pfif:person>", "not well-formed"),
        (b"", "not well-formed XML"),
        (b"\xff\xfe<\x00", "not well-formed XML"),
    ],
)
def test_a_file_that_is_not_pfif_1_4_gets_a_clear_error(
    personas: Personas, data: bytes, message: str
) -> None:
    with pytest.raises(PfifError) as refused:
        import_pfif(data, user=personas.carol)
    assert message in str(refused.value)
    assert "nothing imported" in str(refused.value)
    nothing_written()


def test_an_older_pfif_record_inside_a_1_4_file_is_an_error(personas: Personas) -> None:
    data = pfif(
        person(),
        '<p:person xmlns:p="http://zesty.ca/pfif/1.2"><p:first_name>A</p:first_name></p:person>',
    )
    with pytest.raises(PfifInvalid, match=re.escape("namespace http://zesty.ca/pfif/1.2")):
        import_pfif(data, user=personas.carol)
    nothing_written()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (person(full_name=""), f"person {PF}/person.1: full_name is missing"),
        (
            person(source_date="").replace("<pfif:source_date></pfif:source_date>", ""),
            f"person {PF}/person.1: source_date is missing",
        ),
        (
            "<pfif:person><pfif:full_name>Aram Petrosyan</pfif:full_name>"
            "<pfif:source_date>2025-03-01T10:00:00Z</pfif:source_date></pfif:person>",
            "person #2: person_record_id is missing",
        ),
        (person("person.1"), "person person.1: person_record_id 'person.1' is not a PFIF record"),
        (person("not a domain/1"), "is not a PFIF record id"),
        (
            person(source_date="yesterday"),
            f"person {PF}/person.1: source_date 'yesterday' is not a UTC date",
        ),
        (
            person(expiry_date="2025-02-30T00:00:00Z"),
            f"person {PF}/person.1: expiry_date '2025-02-30T00:00:00Z' is not a UTC date",
        ),
        (
            person(source_date="2025-03-01 10:00:00"),
            "source_date '2025-03-01 10:00:00' is not a UTC date (yyyy-mm-ddThh:mm:ssZ)",
        ),
        (person(source_date="2999-01-01T00:00:00Z"), "source_date 2999-01-01T00:00:00Z is in"),
        (person(date_of_birth="17 May 1980"), f"person {PF}/person.1: date_of_birth:"),
        (person(date_of_birth="1700"), f"person {PF}/person.1: sought_birth_year:"),
        (person(age="about forty"), f"person {PF}/person.1: age: 'about forty' is not N"),
        (person(sex="unknown"), f"person {PF}/person.1: sex: must be female, male or other"),
        (person(full_name="!!!"), f"person {PF}/person.1: sought_name:"),
        (
            person(notes=note(source_date="03/02/2025")),
            f"note {PF}/note.1: source_date '03/02/2025' is not a UTC date",
        ),
        (person(notes=note(text="")), f"note {PF}/note.1: text is missing"),
        (
            person(notes=note(person_record_id=f"{PF}/person.2")),
            f"note {PF}/note.1: person_record_id '{PF}/person.2' is not its person's",
        ),
        (note(), f"note {PF}/note.1: person_record_id is missing"),
        (person() + person(), f"person {PF}/person.1: appears more than once"),
    ],
)
def test_a_bad_record_names_itself_and_nothing_is_written(
    personas: Personas, record: str, message: str
) -> None:
    good = person(f"{PF}/person.good", notes=note(f"{PF}/note.good"))
    with pytest.raises(PfifInvalid) as refused:
        import_pfif(pfif(good, record), user=personas.carol)
    assert message in str(refused.value)
    nothing_written()


def test_record_ids() -> None:
    assert is_record_id("haven.example.org/request.1")
    assert is_record_id("testkey.personfinder.google.org/person.4040001")
    assert not is_record_id("haven.example.org/")
    assert not is_record_id("/person.1")
    assert not is_record_id("localhost/person.1")
    assert not is_record_id("haven.example.org/a b")
    assert not is_record_id("haven.example.org/" + "x" * 500)


def test_alternate_names_are_the_latin_spellings() -> None:
    assert alternate_names("Հասմիկ Հարությունյան") == [
        "Hasmik Harutyunyan",
        "Hasmik Harut’yunyan",
        "Hasmik Harowt’yownyan",
    ]
    assert alternate_names("Оганес Оганесян") == ["Oganes Oganesyan"]
    assert alternate_names("Aram Petrosyan") == []


# -- the command -----------------------------------------------------------------------------


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command("pfif", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_command_exports_and_imports(personas: Personas, tmp_path: Path) -> None:
    out = _command("import", str(SAMPLE))
    assert "persons: 2 added, 1 expired, 0 skipped." in out
    assert "notes: 3 added, 2 skipped." in out
    assert f"note {PF}/note.5050003 skipped: no status" in out
    event = AuditEvent.objects.get(action="tracing.pfif.import")
    assert event.user == personas.admin

    target = tmp_path / "out.xml"
    out = _command("export", "--out", str(target), "--sharing", "minimal", "--as-user", "carol")
    assert "2 person records (3 notes) and 1 placeholders" in out
    assert "(sharing: minimal)" in out
    document = target.read_text()
    assert document.startswith("<?xml version='1.0' encoding='utf-8'?>")
    assert "date_of_birth" not in document
    assert AuditEvent.objects.get(action="tracing.pfif.export").user == personas.carol

    out = _command("import", str(target), "--as-user", "dan")
    assert "persons: 0 added, 0 expired, 3 skipped." in out


def test_the_command_refuses_bad_files_and_users(personas: Personas, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such file"):
        _command("import", str(tmp_path / "missing.xml"))
    bad = tmp_path / "bad.xml"
    bad.write_bytes(BILLION_LAUGHS)
    with pytest.raises(CommandError, match=r"bad\.xml: the file declares a DTD"):
        _command("import", str(bad))
    with pytest.raises(CommandError, match="may not exchange tracing requests"):
        _command("import", str(SAMPLE), "--as-user", "alice")
    with pytest.raises(CommandError, match="may not exchange tracing requests"):
        _command("export", "--out", str(tmp_path / "x.xml"), "--as-user", "erin")
    nothing_written()


def test_a_control_character_typed_into_a_field_still_makes_valid_xml(
    personas: Personas,
) -> None:
    open_request(personas, distinguishing="a scar\x0b above the left eyebrow\x01")
    document = export(personas, "full")
    summary = import_pfif(document.encode(), user=personas.carol)
    assert summary.persons_skipped  # it parsed: our own record, skipped
    assert "a scar above the left eyebrow" in document
