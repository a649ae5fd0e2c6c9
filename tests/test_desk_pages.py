"""The registrar's pages: the desk form, the list, the person page and the audit trail page.

Django's test client against the real database: every write is checked in the rows it made (or did
not make), and every page is checked against the users who must not see it.
"""

import re
import uuid
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from haven.core.models import AuditEvent, User
from haven.registry import forms
from haven.registry.actions import register_household
from haven.registry.models import Household, IdentityDocument, Person, PersonCorrection
from haven.registry.reference import WG_ANSWERS, WG_DOMAINS
from haven.registry.schemas import HouseholdIn
from tests import factories
from tests.conftest import Personas, sign_in

DESK = "/desk/"
LIST = "/registrations/"


def _client(user: User) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def _html(response: Any) -> str:
    return str(response.content.decode())


def _counts() -> tuple[int, int, int, int]:
    return (
        Household.objects.count(),
        Person.objects.count(),
        IdentityDocument.objects.count(),
        AuditEvent.objects.filter(action="household.register").count(),
    )


def _register(user: User, **overrides: Any) -> Household:
    """A household registered through the action, at the user's own site."""
    assert user.site is not None
    payload = factories.household(site=user.site.code, **overrides)
    household, _ = register_household(data=HouseholdIn.model_validate(payload), acting_user=user)
    return household


# Three members typed in three alphabets, as they arrive at a desk.
MEMBERS = [
    {
        "given_name": "Հասմիկ",
        "family_name": "Հարությունյան",
        "patronymic": "Արամի",
        "sex": "F",
        "birth_date": "1980-05-17",
        "relationship": "head",
        "phone": "+374 91 123456",
        "document_kind": "nk_passport",
        "document_number": "ak0123456",
        "specific_needs": "sm-ci, ER-NF",
    },
    {
        "given_name": "Арам",
        "family_name": "Арутюнян",
        "sex": "M",
        "birth_date": "1978",
        "relationship": "spouse",
    },
    {
        "given_name": "Ani",
        "family_name": "Harutyunyan",
        "sex": "F",
        "estimated_age": "4",
        "relationship": "child",
    },
]


def _desk_post(client: Client, members: list[dict[str, str]], **household: str) -> dict[str, str]:
    """A desk form as the browser would send it: the UUIDs the server put in the page."""
    page = client.get(DESK)
    assert page.status_code == 200
    form = page.context["form"]
    spare = list(page.context["spare_uuids"])
    data = {
        "household_uuid": form.household_uuid,
        "origin_settlement": "Ստեփանակերտ",
        "phone": "+374 97 000111",
        "action": "register",
    }
    data.update(household)
    for index, member in enumerate(members):
        member_uuid = form.rows[0].values["uuid"] if index == 0 else spare.pop(0)
        data[f"m-{index}-uuid"] = member_uuid
        for name, value in member.items():
            data[f"m-{index}-{name}"] = value
    return data


# --- the desk ---------------------------------------------------------------------------------


def test_desk_renders_for_a_registrar(personas: Personas) -> None:
    response = _client(personas.alice).get(DESK)

    assert response.status_code == 200
    html = _html(response)
    assert "Kornidzor" in html
    assert 'name="household_uuid"' in html
    assert 'name="m-0-given_name"' in html
    assert 'accesskey="n"' in html
    assert "Alt+N" in html
    assert 'list="settlements"' in html
    assert '<option value="Ստեփանակերտ">Stepanakert</option>' in html
    # The registrar's site is fixed: there is no site to choose.
    assert 'name="site"' not in html
    # The first row is the head, and the cursor starts at the top of the form.
    assert response.context["form"].rows[0].values["relationship"] == "head"
    assert re.search(r'id="id_origin_settlement"[^>]*autofocus', html)
    # The row the browser copies for "Add member" carries no head: there is one per household.
    rows, template = html.split('<template id="member-template">')
    assert 'value="head" selected' in rows
    assert "selected" not in template.split("</template>")[0]
    assert 'name="m-__i__-given_name"' in template


def test_a_registrar_without_a_site_is_told_so(personas: Personas) -> None:
    personas.alice.site = None
    personas.alice.save()

    response = _client(personas.alice).get(DESK)

    assert response.status_code == 403
    assert "not assigned to a site" in _html(response)
    assert _client(personas.alice).post(DESK, {}).status_code == 403
    assert _counts() == (0, 0, 0, 0)


def test_a_valid_desk_form_registers_the_household_once(personas: Personas) -> None:
    client = _client(personas.alice)
    data = _desk_post(client, MEMBERS)

    response = client.post(DESK, data)

    assert response.status_code == 302
    assert response["Location"] == reverse("registrations")
    assert _counts() == (1, 3, 1, 1)
    household = Household.objects.get()
    assert str(household.uuid) == data["household_uuid"]
    assert household.site == personas.kor
    assert household.registered_by == personas.alice
    assert household.origin_settlement == "Ստեփանակերտ"
    assert household.phone == "+37497000111"
    persons = {str(p.uuid): p for p in household.members.all()}
    head = persons[data["m-0-uuid"]]
    assert (head.given_name, head.given_name_script) == ("Հասմիկ", "armenian")
    assert (head.family_name, head.patronymic) == ("Հարությունյան", "Արամի")
    assert (head.birth_year, head.birth_month, head.birth_day) == (1980, 5, 17)
    assert (head.relationship, head.sex, head.phone) == ("head", "F", "+37491123456")
    assert head.specific_needs == ["ER-NF", "SM-CI"]
    document = IdentityDocument.objects.get()
    assert (document.person, document.kind, document.number) == (head, "nk_passport", "AK0123456")
    spouse = persons[data["m-1-uuid"]]
    assert (spouse.given_name, spouse.family_name_script) == ("Арам", "cyrillic")
    assert (spouse.birth_year, spouse.birth_month, spouse.relationship) == (1978, None, "spouse")
    child = persons[data["m-2-uuid"]]
    assert (child.given_name, child.given_name_script) == ("Ani", "latin")
    assert child.birth_year == household.registered_at.year - 4
    assert child.birth_year_estimated
    event = AuditEvent.objects.get(action="household.register")
    assert (event.user, event.object_uuid) == (personas.alice, household.uuid)

    followed = client.get(response["Location"])
    assert "Registered the household of Հասմիկ Արամի Հարությունյան" in _html(followed)


def test_the_same_form_posted_again_is_a_retry_not_a_second_household(
    personas: Personas,
) -> None:
    client = _client(personas.alice)
    data = _desk_post(client, MEMBERS)
    assert client.post(DESK, data).status_code == 302
    first = Household.objects.get()

    again = client.post(DESK, data, follow=True)

    assert again.status_code == 200
    assert _counts() == (1, 3, 1, 1)
    assert Household.objects.get() == first
    assert "was already registered from this form" in _html(again)


def test_the_same_form_with_different_details_is_refused(personas: Personas) -> None:
    client = _client(personas.alice)
    data = _desk_post(client, MEMBERS)
    assert client.post(DESK, data).status_code == 302

    changed = dict(data, **{"m-1-given_name": "Արամ"})
    response = client.post(DESK, changed)

    assert response.status_code == 200
    assert "already used for a different registration" in _html(response)
    assert _counts() == (1, 3, 1, 1)
    assert Person.objects.get(uuid=data["m-1-uuid"]).given_name == "Арам"


def test_blank_rows_are_ignored(personas: Personas) -> None:
    client = _client(personas.alice)
    data = _desk_post(client, [*MEMBERS[:2], {"given_name": "", "relationship": ""}])

    assert client.post(DESK, data).status_code == 302
    assert _counts() == (1, 2, 1, 1)


def test_add_member_without_javascript_renders_one_more_row(personas: Personas) -> None:
    client = _client(personas.alice)
    data = _desk_post(client, MEMBERS[:2])
    data["action"] = "add_member"

    response = client.post(DESK, data)

    assert response.status_code == 200
    form = response.context["form"]
    assert len(form.rows) == 3
    assert form.household_uuid == data["household_uuid"]
    assert form.rows[1].values["given_name"] == "Арам"
    assert form.rows[1].values["uuid"] == data["m-1-uuid"]
    assert form.rows[2].values["relationship"] == ""
    assert re.search(r'id="id_m-2-given_name"[^>]*autofocus', _html(response), re.S)
    assert _counts() == (0, 0, 0, 0)


def _set(index: int, **values: str) -> Callable[[list[dict[str, str]]], list[dict[str, str]]]:
    def change(members: list[dict[str, str]]) -> list[dict[str, str]]:
        members = [dict(m) for m in members]
        members[index].update(values)
        return members

    return change


NEXT_YEAR = str(timezone.now().year + 1)


@pytest.mark.parametrize(
    ("change", "household", "error_id", "message"),
    [
        pytest.param(
            _set(0, given_name=""), {}, "err-m-0-given_name", "must not be empty", id="empty-name"
        ),
        pytest.param(
            _set(1, family_name="Арутюнyan"),
            {},
            "err-m-1-family_name",
            "mixes alphabets",
            id="mixed-scripts",
        ),
        pytest.param(
            _set(2, birth_date=f"{NEXT_YEAR}-01-01", estimated_age=""),
            {},
            "err-m-2-birth_date",
            "is after the registration",
            id="future-birth-date",
        ),
        pytest.param(
            _set(1, birth_date="1980-02-30"),
            {},
            "err-m-1-birth_date",
            "has day 30",
            id="impossible-date",
        ),
        pytest.param(
            _set(1, relationship="head"),
            {},
            "err-members",
            "exactly one head (this one has 2)",
            id="two-heads",
        ),
        pytest.param(
            lambda members: [{"given_name": "", "relationship": "head"}],
            {},
            "err-members",
            "at least one member",
            id="no-members",
        ),
        pytest.param(
            lambda members: members,
            {"phone": "call me"},
            "err-phone",
            "must be a phone number",
            id="bad-household-phone",
        ),
        pytest.param(
            _set(2, phone="12"),
            {},
            "err-m-2-phone",
            "must be a phone number",
            id="bad-member-phone",
        ),
        pytest.param(
            _set(0, specific_needs="SM-CI, XX-YY"),
            {},
            "err-m-0-specific_needs",
            "unknown UNHCR specific-needs code(s): XX-YY",
            id="unknown-needs-code",
        ),
        pytest.param(
            _set(0, document_number="№ 12"),
            {},
            "err-m-0-document_number",
            "Latin letters, digits",
            id="bad-document-number",
        ),
        pytest.param(
            _set(1, document_number="AB123"),
            {},
            "err-m-1-document_kind",
            "must be one of",
            id="document-without-kind",
        ),
        pytest.param(_set(2, sex=""), {}, "err-m-2-sex", "must be one of 'F', 'M'", id="no-sex"),
        pytest.param(
            _set(2, estimated_age="old"),
            {},
            "err-m-2-estimated_age",
            "whole number",
            id="age-not-a-number",
        ),
        pytest.param(
            _set(0, wg_walking="7"),
            {},
            "err-m-0-wg_walking",
            "at most 4",
            id="wg-answer-out-of-range",
        ),
        pytest.param(
            _set(2, wg_seeing="yes"),
            {},
            "err-m-2-wg_seeing",
            "whole number",
            id="wg-answer-not-a-number",
        ),
        pytest.param(
            _set(1, document_2_kind="passport", document_2_number="№ 5"),
            {},
            "err-m-1-document_2_number",
            "Latin letters, digits",
            id="bad-second-document-number",
        ),
        pytest.param(
            # The second document is left blank: the error still finds the third one's box.
            _set(1, document_3_kind="id_card", document_3_number="AB1234", document_3_country="AM"),
            {},
            "err-m-1-document_3_country",
            "three-letter ISO 3166 code",
            id="bad-third-document-country",
        ),
        pytest.param(
            _set(0, document_country="ARME"),
            {},
            "err-m-0-document_country",
            "at most 3 characters",
            id="bad-first-document-country",
        ),
        pytest.param(
            _set(2, document_2_number="X1234"),
            {},
            "err-m-2-document_2_kind",
            "must be one of",
            id="second-document-without-kind",
        ),
        pytest.param(
            _set(1, given_name="Ar\u0007am"),
            {},
            "err-m-1-given_name",
            "control or invisible character",
            id="control-character",
        ),
    ],
)
def test_bad_input_is_shown_beside_its_field_and_writes_nothing(
    personas: Personas,
    change: Callable[[list[dict[str, str]]], list[dict[str, str]]],
    household: dict[str, str],
    error_id: str,
    message: str,
) -> None:
    client = _client(personas.alice)
    data = _desk_post(client, change(MEMBERS), **household)
    before = AuditEvent.objects.count()

    response = client.post(DESK, data)

    assert response.status_code == 200
    html = _html(response)
    beside = re.search(rf'<p class="field-error" id="{error_id}">([^<]*)</p>', html)
    assert beside is not None, f"no error beside {error_id}"
    assert message in unescape(beside.group(1))
    # The input itself points at its error, and the summary at the top links to the input.
    if error_id != "err-members":
        field_id = "id_" + error_id.removeprefix("err-")
        assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', html, re.S)
        assert re.search(rf'id="{field_id}"[^>]*autofocus', html, re.S)
        assert f'href="#{field_id}"' in html
    assert 'id="error-summary"' in html
    assert "nothing was saved" in html
    assert _counts() == (0, 0, 0, 0)
    assert AuditEvent.objects.count() == before
    # What was typed comes back as typed, UUIDs included, so the retry is the same form.
    form = response.context["form"]
    assert form.household_uuid == data["household_uuid"]
    assert form.rows[0].values["uuid"] == data["m-0-uuid"]


def test_a_caseworker_chooses_one_of_their_sites(personas: Personas) -> None:
    client = _client(personas.carol)
    page = client.get(DESK)
    html = _html(page)
    assert '<option value="VAYK"' in html
    assert '<option value="GORIS"' not in html

    data = _desk_post(client, MEMBERS[:1], site="VAYK")
    assert client.post(DESK, data).status_code == 302
    assert Household.objects.get().site == personas.vayk


def test_a_site_the_user_may_not_write_to_is_an_error_beside_the_site(
    personas: Personas,
) -> None:
    client = _client(personas.carol)
    for site, message in [
        ("GORIS", "may not register people at this site"),
        ("", "must not be empty"),
    ]:
        data = _desk_post(client, MEMBERS[:1], site=site)
        response = client.post(DESK, data)
        assert response.status_code == 200
        beside = re.search(r'<p class="field-error" id="err-site">([^<]*)</p>', _html(response))
        assert beside is not None
        assert message in unescape(beside.group(1))
    assert _counts() == (0, 0, 0, 0)


def test_a_registrar_cannot_register_at_another_site(personas: Personas) -> None:
    client = _client(personas.alice)
    data = _desk_post(client, MEMBERS[:1], site="GORIS")

    assert client.post(DESK, data).status_code == 302
    # The posted site is ignored: a registrar registers at their own site only.
    assert Household.objects.get().site == personas.kor


# --- documents and Washington Group answers at the desk ----------------------------------------

WG_HEAD = {"wg_seeing": "1", "wg_hearing": "2", "wg_walking": "3", "wg_selfcare": "4"}
TWO_DOCUMENTS = {
    "document_kind": "nk_passport",
    "document_number": "ak0123456",
    "document_country": "",
    "document_2_kind": "birth_certificate",
    "document_2_number": " ii-AR 123 ",
    "document_2_country": "arm",
}


def test_the_desk_stores_washington_group_answers_and_documents_exactly(
    personas: Personas,
) -> None:
    client = _client(personas.alice)
    members = [dict(MEMBERS[0], **WG_HEAD, **TWO_DOCUMENTS), MEMBERS[1], MEMBERS[2]]
    data = _desk_post(client, members)

    response = client.post(DESK, data)

    assert response.status_code == 302
    assert _counts() == (1, 3, 2, 1)
    head = Person.objects.get(uuid=data["m-0-uuid"])
    answers = [
        head.wg_seeing,
        head.wg_hearing,
        head.wg_walking,
        head.wg_remembering,
        head.wg_selfcare,
        head.wg_communicating,
    ]
    # A question left blank was not asked: no answer, not "no difficulty".
    assert answers == [1, 2, 3, None, 4, None]
    documents = list(head.documents.order_by("id").values_list("kind", "number", "issuing_country"))
    assert documents == [
        ("nk_passport", "AK0123456", ""),
        ("birth_certificate", "II-AR 123", "ARM"),
    ]
    spouse = Person.objects.get(uuid=data["m-1-uuid"])
    assert spouse.wg_walking is None
    assert not spouse.documents.exists()
    # The same form again is a retry: the answers and documents are part of the same payload.
    assert client.post(DESK, data).status_code == 302
    assert _counts() == (1, 3, 2, 1)


def test_a_third_document_alone_is_stored_and_three_is_the_desk_limit(
    personas: Personas,
) -> None:
    client = _client(personas.alice)
    third_only = {"document_3_kind": "passport", "document_3_number": "AN7654321"}
    data = _desk_post(client, [dict(MEMBERS[1], relationship="head", **third_only)])
    # A fourth document is not a desk input: whatever a client posts for it is ignored.
    data["m-0-document_4_number"] = "ZZ000"

    assert client.post(DESK, data).status_code == 302

    document = IdentityDocument.objects.get()
    assert (document.kind, document.number, document.issuing_country) == (
        "passport",
        "AN7654321",
        "",
    )


def test_the_optional_blocks_are_collapsed_after_the_rows_own_fields(personas: Personas) -> None:
    html = _html(_client(personas.alice).get(DESK))
    row = html.split('<fieldset class="member" id="m-0"', 1)[1].split("</fieldset>", 1)[0]

    # Tab order is document order: the row's own fields, then the two collapsed blocks.
    names = re.findall(r'name="m-0-([a-z0-9_]+)"', row)
    assert names[:12] == [
        "uuid",
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
    ]
    assert names[12:] == [
        "document_country",
        "document_2_kind",
        "document_2_number",
        "document_2_country",
        "document_3_kind",
        "document_3_number",
        "document_3_country",
        "wg_seeing",
        "wg_hearing",
        "wg_walking",
        "wg_remembering",
        "wg_selfcare",
        "wg_communicating",
    ]
    assert re.search(r'<details class="block" id="m-0-documents"\s*>', row)
    assert re.search(r'<details class="block" id="m-0-disability"\s*>', row)
    assert "Disability (Washington Group short set)" in row
    assert "Difficulty walking or climbing steps" in row
    assert "Difficulty with self-care, such as washing all over or dressing" in row
    # A blank answer (not asked) first, then the four answers of the short set.
    walking = row.split('name="m-0-wg_walking"', 1)[1].split("</select>", 1)[0]
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', walking)
    assert options == [
        ("", "— not asked"),
        ("1", "1 · no difficulty"),
        ("2", "2 · some difficulty"),
        ("3", "3 · a lot of difficulty"),
        ("4", "4 · cannot do at all"),
    ]
    # The row the browser copies for "Add member" has the same blocks.
    template = html.split('<template id="member-template">', 1)[1]
    assert 'name="m-__i__-wg_communicating"' in template
    assert 'name="m-__i__-document_3_country"' in template


def test_every_washington_group_wording_is_in_the_catalogues() -> None:
    # The wording lives in reference.py; forms.py marks the same strings for translation.
    english = [question for _domain, question in WG_DOMAINS] + list(WG_ANSWERS.values())
    assert list(forms._WG_MESSAGES) == english


def test_an_error_in_a_collapsed_block_opens_it_and_keeps_what_was_typed(
    personas: Personas,
) -> None:
    client = _client(personas.alice)
    members = [dict(MEMBERS[0], wg_walking="7", wg_hearing="2"), MEMBERS[1]]
    data = _desk_post(client, members)

    response = client.post(DESK, data)

    assert response.status_code == 200
    html = _html(response)
    assert re.search(r'<details class="block" id="m-0-disability"\s*open\s*>', html)
    # Nothing in the documents block of the head, nor any block of the spouse: still closed.
    assert re.search(r'<details class="block" id="m-0-documents"\s*>', html)
    assert re.search(r'<details class="block" id="m-1-disability"\s*>', html)
    hearing = html.split('name="m-0-wg_hearing"', 1)[1].split("</select>", 1)[0]
    assert '<option value="2" selected>' in hearing
    # The answer sent comes back as sent, so the registrar sees what is being refused.
    walking = html.split('name="m-0-wg_walking"', 1)[1].split("</select>", 1)[0]
    assert '<option value="7" selected>7</option>' in walking
    assert 'aria-describedby="err-m-0-wg_walking"' in walking.split(">", 1)[0]
    summary = html.split('id="error-summary"', 1)[1].split("</div>", 1)[0]
    assert "Member 1 — Difficulty walking or climbing steps" in unescape(summary)
    assert _counts() == (0, 0, 0, 0)


# --- the list ---------------------------------------------------------------------------------


def test_the_list_shows_own_site_only_grouped_by_household(personas: Personas) -> None:
    mine = _register(personas.alice)
    theirs = _register(
        personas.bob,
        members=[factories.member(given_name="Գոռ", family_name="Գորիսյան")],
    )

    html = _html(_client(personas.alice).get(LIST))

    for person in mine.members.all():
        assert reverse("person", kwargs={"person_uuid": person.uuid}) in html
    assert str(mine.uuid)[:8] in html
    assert html.count('class="household-row"') == 1
    assert "Գորիսյան" not in html
    assert str(theirs.uuid)[:8] not in html


def test_search_finds_by_name_phone_document_and_uuid_within_own_sites(
    personas: Personas,
) -> None:
    head = factories.member(
        given_name="Սեդա",
        family_name="Մելքոնյան",
        phone="+374 93 555777",
        documents=[{"kind": "passport", "number": "AM7654321"}],
    )
    mine = _register(personas.alice, members=[head])
    other = _register(
        personas.bob, members=[factories.member(given_name="Սեդա", family_name="Պետրոսյան")]
    )
    client = _client(personas.alice)
    person = mine.members.get()

    for query in ["Մելքոնյան", "Սեդա", "555777", "AM7654321", str(person.uuid)]:
        response = client.get(LIST, {"q": query})
        assert response.status_code == 200
        found = list(response.context["page"].object_list)
        assert found == [person], query
    # Bob's Seda is not found by Alice, by name or by her UUID.
    assert "Պետրոսյան" not in _html(client.get(LIST, {"q": "Սեդա"}))
    other_uuid = str(other.members.get().uuid)
    assert list(client.get(LIST, {"q": other_uuid}).context["page"].object_list) == []


def test_the_list_is_paginated_fifty_a_page(personas: Personas) -> None:
    for _ in range(6):
        _register(
            personas.alice,
            members=[
                factories.member(relationship="head" if i == 0 else "child", birth_date="2001")
                for i in range(10)
            ],
        )
    client = _client(personas.alice)

    with CaptureQueriesContext(connection) as queries:
        first = client.get(LIST)
    second = client.get(LIST, {"page": 2})

    assert len(first.context["page"].object_list) == 50
    assert len(second.context["page"].object_list) == 10
    assert "Page 1 of 2" in _html(first)
    # The household and site of each row come with the row, not one query per row.
    assert len(queries) < 15


# --- the person page --------------------------------------------------------------------------


def test_the_person_page_shows_the_record_and_audits_each_view(personas: Personas) -> None:
    payload_members = [
        factories.member(
            documents=[{"kind": "passport", "number": "AN1234567"}], specific_needs=["SM-CI"]
        ),
        factories.member(
            given_name="Арам",
            family_name="Арутюнян",
            sex="M",
            birth_date="1978",
            relationship="spouse",
        ),
    ]
    household = _register(personas.alice, members=payload_members)
    head = household.members.get(relationship="head")
    spouse = household.members.get(relationship="spouse")
    client = _client(personas.alice)
    url = reverse("person", kwargs={"person_uuid": head.uuid})

    html = _html(client.get(url))
    client.get(url)

    assert "Հասմիկ" in html
    assert "Armenian" in html
    assert "1980-05-17" in html
    assert "AN1234567" in html
    assert "SM-CI" in html
    assert "Chronic illness" in html
    assert reverse("person", kwargs={"person_uuid": spouse.uuid}) in html
    # A registrar sees no audit trail link; a coordinator does.
    assert reverse("person_audit", kwargs={"person_uuid": head.uuid}) not in html
    views = AuditEvent.objects.filter(action="person.view", object_uuid=head.uuid)
    assert views.count() == 2
    assert {(e.user, e.acting_site, e.record_site) for e in views} == {
        (personas.alice, personas.kor, personas.kor)
    }
    assert all(e.detail == {"via": "page"} for e in views)


def test_the_person_page_shows_washington_group_answers_and_documents(
    personas: Personas,
) -> None:
    head = factories.member(
        documents=[
            {"kind": "nk_passport", "number": "AK0123456"},
            {"kind": "passport", "number": "AN1234567", "issuing_country": "ARM"},
        ],
        disability={"seeing": 2, "walking": 3, "communicating": 1},
    )
    spouse = factories.member(
        given_name="Арам",
        family_name="Арутюнян",
        sex="M",
        birth_date="1978",
        relationship="spouse",
        disability={"hearing": 2},
    )
    household = _register(personas.alice, members=[head, spouse])
    client = _client(personas.alice)

    def page(relationship: str) -> str:
        person = household.members.get(relationship=relationship)
        return _html(client.get(reverse("person", kwargs={"person_uuid": person.uuid})))

    html = unescape(page("head"))
    answers = html.split('class="facts wg-answers"', 1)[1].split("</dl>", 1)[0]
    assert re.findall(r"<dt>([^<]*)</dt><dd[^>]*>([^<]*)</dd>", answers) == [
        ("Difficulty seeing, even if wearing glasses", "2 · some difficulty"),
        ("Difficulty walking or climbing steps", "3 · a lot of difficulty"),
        ("Difficulty communicating in the usual language", "1 · no difficulty"),
    ]
    assert 'id="wg-disability"' in html
    assert "WG cut-off: a lot of difficulty or cannot do in at least one domain" in html
    assert "Nagorno-Karabakh passport: <strong>AK0123456</strong></li>" in html
    assert "passport: <strong>AN1234567</strong> · issued by" in html
    assert ">ARM</abbr>" in html

    # Some difficulty only is under the cut-off; no answer at all: the questions were not asked.
    html = page("spouse")
    assert "2 · some difficulty" in html
    assert 'id="wg-disability"' not in html
    assert "WG cut-off" not in html
    other = _register(personas.alice, members=[factories.member()])
    member = other.members.get()
    html = _html(client.get(reverse("person", kwargs={"person_uuid": member.uuid})))
    assert "The Washington Group questions were not asked." in html
    assert 'class="facts wg-answers"' not in html


@pytest.mark.parametrize(
    ("language", "texts"),
    [
        (
            "hy",
            [
                "Հաշմանդամություն (Վաշինգտոնյան խմբի կարճ հարցաշար)",
                "Քայլելու կամ աստիճաններով բարձրանալու դժվարություն",
                "— չի հարցվել",
                "3 · մեծ դժվարություն",
                "Փաստաթղթեր",
                "Տրամադրող երկիր",
            ],
        ),
        (
            "ru",
            [
                "Инвалидность (краткий набор вопросов Вашингтонской группы)",
                "Трудности при ходьбе или подъёме по лестнице",
                "— не спрашивали",
                "3 · большие трудности",
                "Документы",
                "Страна выдачи",
            ],
        ),
    ],
)
def test_the_new_blocks_are_translated(personas: Personas, language: str, texts: list[str]) -> None:
    client = Client(headers={"accept-language": language})
    sign_in(client, personas.alice)
    html = unescape(_html(client.get(DESK)))
    for text in texts:
        assert text in html
    assert "Difficulty walking" not in html
    assert "not asked" not in html

    person = _register(
        personas.alice, members=[factories.member(disability={"walking": 4})]
    ).members.get()
    html = unescape(_html(client.get(reverse("person", kwargs={"person_uuid": person.uuid}))))
    assert texts[0] in html
    assert texts[1] in html
    assert "cannot do at all" not in html
    assert "WG cut-off" not in html


def test_a_registrar_of_another_site_gets_404(personas: Personas) -> None:
    person = _register(personas.alice).members.first()
    assert person is not None
    bob = _client(personas.bob)

    assert bob.get(reverse("person", kwargs={"person_uuid": person.uuid})).status_code == 404
    assert (
        bob.post(
            reverse("person", kwargs={"person_uuid": person.uuid}),
            {"field": "given_name", "value": "Ani", "reason": "x"},
        ).status_code
        == 404
    )
    assert bob.get(reverse("person_audit", kwargs={"person_uuid": person.uuid})).status_code == 404
    assert bob.get(reverse("person", kwargs={"person_uuid": uuid.uuid4()})).status_code == 404
    assert not AuditEvent.objects.filter(user=personas.bob).exists()
    assert not PersonCorrection.objects.exists()


def test_a_partner_analyst_sees_no_personal_pages(personas: Personas) -> None:
    person = _register(personas.alice).members.first()
    assert person is not None
    erin = _client(personas.erin)

    for url in [
        DESK,
        LIST,
        LIST + "?q=Հասմիկ",
        reverse("person", kwargs={"person_uuid": person.uuid}),
        reverse("person_audit", kwargs={"person_uuid": person.uuid}),
    ]:
        assert erin.get(url).status_code == 404, url
    assert erin.post(DESK, {"household_uuid": str(uuid.uuid4())}).status_code == 404
    home = erin.get("/")
    assert home.status_code == 200
    assert "no personal data" in _html(home)
    assert "Հասմիկ" not in _html(home)
    assert _counts()[0] == 1


def test_the_audit_trail_page_is_for_coordinators_only(personas: Personas) -> None:
    household = _register(personas.alice)
    person = household.members.get(relationship="head")
    person_url = reverse("person", kwargs={"person_uuid": person.uuid})
    audit_url = reverse("person_audit", kwargs={"person_uuid": person.uuid})
    _client(personas.alice).get(person_url)

    for user in [personas.alice, personas.carol, personas.bob]:
        assert _client(user).get(audit_url).status_code == 404, user.username
    assert not AuditEvent.objects.filter(action="person.audit_trail").exists()

    dan = _client(personas.dan)
    assert audit_url in _html(dan.get(person_url))
    response = dan.get(audit_url)

    assert response.status_code == 200
    actions = [e.action for e in response.context["page"].object_list]
    # Newest first: this read, Dan's view, Alice's view, the registration of the household.
    assert actions == ["person.audit_trail", "person.view", "person.view", "household.register"]
    html = _html(response)
    users = [e.user.username for e in response.context["page"].object_list]
    assert users == ["dan", "dan", "alice", "alice"]
    assert "person.view" in html
    event = AuditEvent.objects.get(action="person.audit_trail")
    assert (event.user, event.object_uuid, event.record_site) == (
        personas.dan,
        person.uuid,
        personas.kor,
    )
    assert _client(personas.admin).get(audit_url).status_code == 200


def test_a_correction_is_recorded_and_keeps_the_old_value(personas: Personas) -> None:
    person = _register(personas.alice).members.get(relationship="head")
    client = _client(personas.alice)
    url = reverse("person", kwargs={"person_uuid": person.uuid})
    page = client.get(url)
    correction_uuid = page.context["correction"]["uuid"]
    data = {
        "correction_uuid": correction_uuid,
        "field": "given_name",
        "value": "Հասմիկե",
        "reason": "Passport shows Հասմիկե",
    }

    response = client.post(url, data)

    assert response.status_code == 302
    assert response["Location"] == url
    correction = PersonCorrection.objects.get()
    assert str(correction.uuid) == correction_uuid
    assert (correction.person, correction.field) == (person, "given_name")
    assert (correction.old_value, correction.new_value) == ("Հասմիկ", "Հասմիկե")
    assert (correction.reason, correction.corrected_by) == (
        "Passport shows Հասմիկե",
        personas.alice,
    )
    person.refresh_from_db()
    assert (person.given_name, person.given_name_script) == ("Հասմիկե", "armenian")
    html = _html(client.get(url))
    assert '<td class="old">Հասմիկ</td>' in html
    assert "Passport shows Հասմիկե" in html
    # The same form posted again (a retry) does not correct twice.
    assert client.post(url, data).status_code == 302
    assert PersonCorrection.objects.count() == 1
    assert AuditEvent.objects.filter(action="person.correct").count() == 1


@pytest.mark.parametrize(
    ("data", "error_id", "message"),
    [
        (
            {"field": "given_name", "value": "Հասմիկե", "reason": " "},
            "err-reason",
            "needs a reason",
        ),
        (
            {"field": "given_name", "value": "Hasmикe", "reason": "typo"},
            "err-value",
            "mixes alphabets",
        ),
        ({"field": "birth_date", "value": "1980-13-01", "reason": "typo"}, "err-value", "month 13"),
        (
            {"field": "specific_needs", "value": "ZZ", "reason": "typo"},
            "err-value",
            "unknown UNHCR specific-needs code(s): ZZ",
        ),
        (
            {"field": "site", "value": "GORIS", "reason": "moved"},
            "err-field",
            "cannot be corrected",
        ),
        (
            {"field": "relationship", "value": "child", "reason": "mistake"},
            "err-value",
            "unmake the head",
        ),
    ],
)
def test_a_bad_correction_is_shown_beside_its_field_and_changes_nothing(
    personas: Personas, data: dict[str, str], error_id: str, message: str
) -> None:
    person = _register(personas.alice).members.get(relationship="head")
    url = reverse("person", kwargs={"person_uuid": person.uuid})

    response = _client(personas.alice).post(url, {"correction_uuid": str(uuid.uuid4()), **data})

    assert response.status_code == 200
    beside = re.search(rf'<p class="field-error" id="{error_id}">([^<]*)</p>', _html(response))
    assert beside is not None
    assert message in unescape(beside.group(1))
    assert not PersonCorrection.objects.exists()
    person.refresh_from_db()
    assert (person.given_name, person.relationship, person.birth_month) == ("Հասմիկ", "head", 5)


# --- signing in -------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_the_login_page(personas: Personas) -> None:
    person = _register(personas.alice).members.first()
    assert person is not None
    client = Client()
    for url in [
        "/",
        DESK,
        LIST,
        reverse("person", kwargs={"person_uuid": person.uuid}),
        reverse("person_audit", kwargs={"person_uuid": person.uuid}),
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login") + "?next="), url
    assert client.post(DESK, {}).status_code == 302
    assert _counts()[0] == 1
    assert not AuditEvent.objects.filter(action="person.view").exists()
    login = client.get(reverse("login"))
    assert login.status_code == 200
    assert 'name="username"' in _html(login)


def test_home_sends_each_role_to_its_work(personas: Personas) -> None:
    assert _client(personas.alice).get("/")["Location"] == reverse("desk")
    for user in [personas.carol, personas.dan, personas.admin]:
        assert _client(user).get("/")["Location"] == reverse("registrations")


def test_the_layout_names_the_user_role_and_site(personas: Personas) -> None:
    html = _html(_client(personas.alice).get(LIST))
    assert "alice" in html
    assert "registrar" in html
    assert "Kornidzor" in html
    for link in [reverse("desk"), reverse("registrations"), "/api/docs", reverse("logout")]:
        assert f'"{link}"' in html


def test_the_list_audits_each_person_it_shows(personas: Personas) -> None:
    household = _register(personas.alice)
    response = _client(personas.alice).get(reverse("registrations"), {"q": "Հասմիկ"})
    assert response.status_code == 200
    listed = AuditEvent.objects.filter(action="person.list")
    head = household.members.get(relationship="head")
    assert {e.object_uuid for e in listed} == {head.uuid}
    assert listed.get().detail == {"via": "page", "query": "Հասմիկ"}
