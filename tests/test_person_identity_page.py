"""A person's page lists the other records of the same person (their identity), at the sites the
viewer may see, and that listing is an audited read."""

from django.test import Client

from haven.core.models import AuditEvent
from haven.registry.actions import register_household
from haven.registry.models import Person
from haven.registry.schemas import HouseholdIn
from tests import factories
from tests.conftest import Personas, sign_in


def _linked_pair(personas: Personas) -> tuple[Person, Person]:
    """Hasmik registered at KOR (Armenian) and at VAYK (Latin), joined as one identity the way a
    caseworker's decision joins them (the decision path itself is tested in test_identity_*)."""
    kor, _ = register_household(
        data=HouseholdIn.model_validate(factories.household("KOR", size=1)),
        acting_user=personas.alice,
    )
    vayk_payload = factories.household("VAYK", size=1)
    vayk_payload["members"][0].update(given_name="Hasmik", family_name="Harutyunyan")
    vayk, _ = register_household(
        data=HouseholdIn.model_validate(vayk_payload), acting_user=personas.dan
    )
    first, second = kor.members.get(), vayk.members.get()
    Person.objects.filter(pk=second.pk).update(identity=first.identity)
    return first, second


def test_the_person_page_lists_the_other_records_of_the_person(personas: Personas) -> None:
    first, second = _linked_pair(personas)
    client = Client()
    sign_in(client, personas.carol)  # a caseworker for KOR and VAYK sees both
    html = client.get(f"/persons/{first.uuid}/").content.decode()
    assert "Other records of this person" in html
    assert f"/persons/{second.uuid}/" in html
    assert f"/identity/{first.identity}/" in html  # a reviewer may open the identity
    shown = AuditEvent.objects.filter(
        action="person.view", object_uuid=second.uuid, detail__via="same_person"
    )
    assert shown.count() == 1


def test_a_registrar_sees_no_record_of_another_site(personas: Personas) -> None:
    first, second = _linked_pair(personas)
    client = Client()
    sign_in(client, personas.alice)  # registrar at KOR: the VAYK record is not hers to see
    html = client.get(f"/persons/{first.uuid}/").content.decode()
    assert f"/persons/{second.uuid}/" not in html
    assert "None found at the sites you can see." in html
    assert f"/identity/{first.identity}/" not in html
    assert not AuditEvent.objects.filter(object_uuid=second.uuid, action="person.view").exists()


def test_the_registrations_page_counts_each_person_once(personas: Personas) -> None:
    _linked_pair(personas)
    client = Client()
    sign_in(client, personas.carol)
    html = client.get("/registrations/").content.decode()
    assert "2 people registered at your sites." in html
    assert "Counting each person once, however often registered: 1." in html
