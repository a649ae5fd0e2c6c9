"""haven.core.bulk.insert_rows: rows it writes read back exactly as rows the ORM writes, and the
RETURNING path gives every new row's id."""

import uuid
import warnings
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone as django_timezone

from haven.core import bulk
from haven.core.bulk import insert_rows
from haven.core.models import AuditEvent
from haven.registry.models import Household, Person
from tests.conftest import Personas

YEREVAN = ZoneInfo("Asia/Yerevan")


def _stored(model: type[Any], pk: int) -> tuple[Any, ...]:
    """The row as the database holds it, read past the ORM's conversions."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])  # noqa: S608 - model's table
        row = cursor.fetchone()
    assert row is not None
    return tuple(row[1:])  # all but the id


def _household_values(personas: Personas, moment: datetime) -> dict[str, Any]:
    return {
        "uuid": uuid.uuid4(),
        "site_id": personas.kor.pk,
        "registered_at": moment,
        "origin_settlement": "Ստեփանակերտ",
        "phone": "+37491123456",
        "registered_by_id": personas.alice.pk,
        "created_at": moment + timedelta(seconds=1),
        "payload_digest": "f" * 64,
    }


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2023, 9, 26, 8, 0, tzinfo=YEREVAN),
        datetime(2023, 9, 26, 8, 0, 1, 123456, tzinfo=timezone(timedelta(hours=4))),
        datetime(2023, 9, 26, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_household_uuids_and_datetimes_are_stored_as_the_orm_stores_them(
    personas: Personas, moment: datetime
) -> None:
    by_orm = _household_values(personas, moment)
    by_bulk = dict(_household_values(personas, moment), uuid=uuid.uuid4())
    orm_pk = Household.objects.create(**by_orm).pk
    # created_at is auto_now_add for the ORM: give it the bulk row's value afterwards.
    Household.objects.filter(pk=orm_pk).update(created_at=by_orm["created_at"])

    ids = insert_rows(Household, [by_bulk], key="uuid")

    bulk_pk = ids[by_bulk["uuid"]]
    orm_raw, bulk_raw = _stored(Household, orm_pk), _stored(Household, bulk_pk)
    at = [f.attname for f in Household._meta.concrete_fields[1:]].index("uuid")
    assert bulk_raw[:at] + bulk_raw[at + 1 :] == orm_raw[:at] + orm_raw[at + 1 :]
    uuid_field = Household._meta.get_field("uuid")
    assert bulk_raw[at] == uuid_field.get_db_prep_save(by_bulk["uuid"], connection)
    read = Household.objects.get(pk=bulk_pk)
    assert read.uuid == by_bulk["uuid"]
    assert read.registered_at == moment
    assert read.created_at == by_bulk["created_at"]
    assert Household.objects.get(uuid=by_bulk["uuid"]).pk == bulk_pk
    assert Household.objects.filter(registered_at=moment).count() == 2


def test_json_and_nullable_values_are_stored_as_the_orm_stores_them(personas: Personas) -> None:
    at = datetime(2023, 9, 26, 8, 0, 0, 5, tzinfo=YEREVAN)
    common: dict[str, Any] = {
        "at": at,
        "user_id": personas.alice.pk,
        "acting_site_id": personas.kor.pk,
        "record_site_id": None,
        "action": "household.register",
        "object_type": "household",
        "object_uuid": None,
        "detail": {"members": ["a", "b"], "name": "Հասմիկ Арам", "nested": {"n": 1.5, "x": None}},
    }
    orm = AuditEvent.objects.create(**common)

    insert_rows(AuditEvent, [common])

    bulk_event = AuditEvent.objects.exclude(pk=orm.pk).get(action="household.register")
    assert _stored(AuditEvent, bulk_event.pk) == _stored(AuditEvent, orm.pk)
    assert bulk_event.detail == common["detail"]
    assert bulk_event.object_uuid is None
    assert bulk_event.at == at
    assert AuditEvent.objects.filter(detail__name="Հասմիկ Арам").count() == 2


def test_person_rows_round_trip_with_lists_and_nulls(personas: Personas) -> None:
    household_id = insert_rows(
        Household, [_household_values(personas, datetime(2023, 9, 26, tzinfo=YEREVAN))]
    )
    assert household_id == {}
    household = Household.objects.get()
    person_uuid = uuid.uuid4()
    row = {
        "uuid": person_uuid,
        "household_id": household.pk,
        "site_id": personas.kor.pk,
        "relationship": "head",
        "given_name": "Арам",
        "given_name_script": "cyrillic",
        "family_name": "Harutyunyan",
        "family_name_script": "latin",
        "patronymic": "",
        "patronymic_script": "",
        "name_search": "арам harutyunyan",
        "sex": "M",
        "birth_year": 1978,
        "birth_month": None,
        "birth_day": None,
        "birth_year_estimated": True,
        "phone": "",
        "specific_needs": ["SM-MI", "DS-PM"],
        "wg_seeing": None,
        "wg_hearing": 2,
        "wg_walking": None,
        "wg_remembering": None,
        "wg_selfcare": None,
        "wg_communicating": 4,
        "given_key": "aram",
        "family_key": "arutunean",
        "patronymic_key": "",
        "identity": person_uuid,
    }

    ids = insert_rows(Person, [row], key="uuid")

    person = Person.objects.get(uuid=person_uuid)
    assert ids == {person_uuid: person.pk}
    for name, value in row.items():
        assert getattr(person, name) == value, name
    assert Person.objects.filter(specific_needs__1="DS-PM").get() == person


def test_returning_maps_every_key_to_its_id_across_statements(
    personas: Personas, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Room for two households a statement, so that five need three statements.
    monkeypatch.setattr(bulk, "_max_params", lambda connection: 17)
    moment = datetime(2023, 9, 26, 8, 0, tzinfo=YEREVAN)
    rows = [_household_values(personas, moment) for _ in range(5)]

    ids = insert_rows(Household, rows, key="uuid")

    assert ids == dict(Household.objects.values_list("uuid", "pk"))
    assert set(ids) == {row["uuid"] for row in rows}


def test_nothing_to_insert_and_a_non_column_are_refused_or_ignored(personas: Personas) -> None:
    assert insert_rows(Household, []) == {}
    with pytest.raises(TypeError, match="members"):
        insert_rows(Household, [{"members": []}])
    assert Household.objects.count() == 0


def test_a_naive_datetime_takes_the_fields_own_path(personas: Personas) -> None:
    naive = datetime(2023, 9, 26, 8, 0)  # noqa: DTZ001 - the case under test
    values = _household_values(personas, naive)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        insert_rows(Household, [values])
    assert any("naive datetime" in str(w.message) for w in caught)
    assert Household.objects.get().registered_at == django_timezone.make_aware(naive)


def test_a_duplicate_key_is_an_integrity_error_on_every_path(personas: Personas) -> None:
    # The registration falls back to one household at a time on IntegrityError: the COPY path on
    # PostgreSQL must raise Django's exception like every other path.
    values = _household_values(personas, datetime(2023, 9, 26, tzinfo=YEREVAN))
    insert_rows(Household, [values])
    for key in (None, "uuid"):
        with pytest.raises(IntegrityError), transaction.atomic():
            insert_rows(Household, [dict(values, phone="")], key=key)
    assert Household.objects.count() == 1
