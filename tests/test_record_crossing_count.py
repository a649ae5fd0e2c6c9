"""record_crossing_count: hourly counts at a crossing point, idempotent by UUID."""

from typing import Any

import pytest
from pydantic import ValidationError

from haven.core.errors import Conflict, NotFound
from haven.core.models import AuditEvent
from haven.registry.actions import record_crossing_count
from haven.registry.models import CrossingCount
from haven.registry.schemas import CrossingCountIn, field_errors
from tests import factories
from tests.conftest import Personas


def test_records_a_count_with_audit(personas: Personas) -> None:
    count, created = record_crossing_count(
        data=CrossingCountIn.model_validate(factories.crossing()), acting_user=personas.alice
    )
    assert created
    assert (count.site, count.people, count.vehicles) == (personas.kor, 412, 97)
    assert AuditEvent.objects.filter(action="crossing.record", object_uuid=count.uuid).count() == 1


def test_retry_is_idempotent_and_reuse_is_a_conflict(personas: Personas) -> None:
    payload = factories.crossing()
    data = CrossingCountIn.model_validate(payload)
    first, _ = record_crossing_count(data=data, acting_user=personas.alice)
    again, created = record_crossing_count(data=data, acting_user=personas.alice)
    assert again.pk == first.pk
    assert not created
    with pytest.raises(Conflict):
        record_crossing_count(
            data=CrossingCountIn.model_validate(dict(payload, people=413)),
            acting_user=personas.alice,
        )
    assert CrossingCount.objects.count() == 1


def test_other_site_is_not_found(personas: Personas) -> None:
    with pytest.raises(NotFound):
        record_crossing_count(
            data=CrossingCountIn.model_validate(factories.crossing(site="GORIS")),
            acting_user=personas.alice,
        )
    assert not CrossingCount.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"people": -1}, "people"),
        ({"people": "many"}, "people"),
        ({"period_end": "2023-09-25T09:00:00+04:00"}, "period_end"),
        ({"period_end": "2999-09-25T09:00:00+04:00"}, "period_end"),
        ({"period_start": "2023-09-25T10:00:00"}, "period_start"),
    ],
)
def test_bad_counts_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        CrossingCountIn.model_validate(factories.crossing(**change))
    assert field in {e.field for e in field_errors(error.value)}
