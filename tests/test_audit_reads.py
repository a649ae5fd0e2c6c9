"""Every page and API operation that shows a person writes the audit row of that read.

The endpoints are those of the access matrix (tests/access_support.py: the URL configuration and
the OpenAPI document), each classified below and requested once as a role that may use it. The
world's registered people all have given names found nowhere else, so a page shows a person when
their name is in it: a page classified as showing people must write, in that request, a row for
every person it names (the person's own row, or their household's: a person's audit trail reads
both); a page classified as showing nobody must name nobody, so a misclassified page is caught.
"""

from django.db.models import Q

from haven.core.models import AuditEvent
from haven.registry.models import Person
from tests.access_support import ROLES, Answer, World, build_world, call, endpoints
from tests.conftest import Personas

READ = "shows people"  # every person named has an audit row of this request
EXPORT = "a file of people"  # one audit row for the file, naming the list exported
WRITE = "a write that echoes people"  # the write's own rows name every person echoed
NOBODY = "shows nobody"  # no registered person's name

Case = tuple[str, str]  # (what the endpoint shows, the role it is requested as)

# The admin shows sites, users, tokens and the audit log itself, never a person's record.
ADMIN_PAGES = [
    "admin:index",
    "admin:login",
    "admin:logout",
    "admin:password_change",
    "admin:password_change_done",
    "admin:autocomplete",
    "admin:jsi18n",
    "admin:view_on_site",
    "admin:auth_group_changelist",
    "admin:auth_group_add",
    "admin:auth_group_history",
    "admin:auth_group_delete",
    "admin:auth_group_change",
    "admin/auth/group/<path:object_id>/",
    "admin:core_site_changelist",
    "admin:core_site_add",
    "admin:core_site_history",
    "admin:core_site_delete",
    "admin:core_site_change",
    "admin/core/site/<path:object_id>/",
    "admin:auth_user_password_change",
    "admin:core_user_changelist",
    "admin:core_user_add",
    "admin:core_user_history",
    "admin:core_user_delete",
    "admin:core_user_change",
    "admin/core/user/<path:object_id>/",
    "admin:core_auditevent_changelist",
    "admin:core_auditevent_add",
    "admin:core_auditevent_history",
    "admin:core_auditevent_delete",
    "admin:core_auditevent_change",
    "admin/core/auditevent/<path:object_id>/",
    "admin:core_apitoken_changelist",
    "admin:core_apitoken_add",
    "admin:core_apitoken_history",
    "admin:core_apitoken_delete",
    "admin:core_apitoken_change",
    "admin/core/apitoken/<path:object_id>/",
    "admin:app_list",
    "admin/(?P<url>.*)$",
]

SHOWN: dict[str, Case] = {
    **dict.fromkeys(ADMIN_PAGES, (NOBODY, "admin")),
    "api-1:openapi-json": (NOBODY, "anonymous"),
    "api-1:openapi-view": (NOBODY, "anonymous"),
    "api-1:api-root": (NOBODY, "coordinator"),
    "set_language": (NOBODY, "registrar_a"),
    "home": (NOBODY, "partner_analyst"),  # the aggregates-only page
    "login": (NOBODY, "anonymous"),
    "second_factor": (NOBODY, "coordinator"),
    "enrol": (NOBODY, "coordinator"),
    "logout": (NOBODY, "registrar_a"),
    # The registry.
    "desk": (NOBODY, "registrar_a"),  # a blank form
    "registrations": (READ, "registrar_a"),
    "person": (READ, "registrar_a"),  # the person, and their household's members
    "person_audit": (READ, "coordinator"),
    "household_case": (NOBODY, "coordinator"),  # a redirect
    # Who is who.
    "review_queue": (READ, "caseworker"),
    "review_pair": (READ, "caseworker"),
    "identity": (READ, "caseworker"),
    # The situation: aggregates.
    "dashboard": (NOBODY, "coordinator"),
    "sitrep": (NOBODY, "coordinator"),
    # Tracing. The queue names the people sought, as their relatives said the names (not a
    # registered person's record; reading a request is audited on the request's page).
    "tracing:queue": (NOBODY, "caseworker"),
    "tracing:new": (NOBODY, "caseworker"),
    "tracing:request": (READ, "caseworker"),  # the matches
    "tracing:found": (NOBODY, "caseworker"),  # the steps on a request answer with a redirect
    "tracing:disclosure": (NOBODY, "caseworker"),
    "tracing:close": (NOBODY, "caseworker"),
    "tracing:rematch": (NOBODY, "caseworker"),
    "tracing:request_note": (NOBODY, "caseworker"),
    "tracing:person_notes": (READ, "caseworker"),
    # Shelter.
    "shelter:list": (NOBODY, "shelter_manager"),
    "shelter:allocation": (NOBODY, "shelter_manager"),  # nothing proposed yet
    "shelter:shelter": (READ, "shelter_manager"),  # who is staying
    "shelter:check_out": (NOBODY, "shelter_manager"),
    # Assistance.
    "assistance:programmes": (NOBODY, "assistance_officer"),
    "assistance:new": (NOBODY, "assistance_officer"),
    "assistance:programme": (NOBODY, "assistance_officer"),
    "assistance:compute": (NOBODY, "assistance_officer"),
    "assistance:make_list": (NOBODY, "assistance_officer"),
    "assistance:payment_list": (NOBODY, "assistance_officer"),  # figures only
    "assistance:reconcile": (NOBODY, "assistance_officer"),
    "assistance:download": (EXPORT, "assistance_officer"),  # the bank's file
    "assistance:distribute": (READ, "assistance_officer"),
    "assistance:give": (NOBODY, "assistance_officer"),
    "assistance:held": (READ, "caseworker"),
    # The public tracing form.
    "public:request": (NOBODY, "anonymous"),
    "public:sent": (NOBODY, "anonymous"),
    # The JSON API.
    "POST /api/households": (NOBODY, "registrar_a"),  # echoes the new household sent
    "GET /api/households": (READ, "registrar_a"),
    "POST /api/households/batch": (NOBODY, "registrar_a"),
    "GET /api/households/{household_uuid}": (READ, "registrar_a"),
    "GET /api/persons/{person_uuid}": (READ, "registrar_a"),
    "POST /api/crossings": (NOBODY, "registrar_a"),
    "GET /api/crossings": (NOBODY, "partner_analyst"),
    "POST /api/identity/check": (READ, "registrar_b"),  # the candidates, from any site
    "GET /api/identity/pairs": (READ, "caseworker"),
    "GET /api/identity/pairs/{pair_id}": (READ, "caseworker"),
    "POST /api/identity/decisions": (WRITE, "caseworker"),  # answers with the pairs decided
    "POST /api/identity/pairs/{pair_id}/undo": (NOBODY, "caseworker"),  # nothing to undo: 409
    "GET /api/reports/situation": (NOBODY, "partner_analyst"),
    "GET /api/reports/exports/{name}": (NOBODY, "partner_analyst"),
}


def test_every_endpoint_is_classified_once() -> None:
    keys = {e.key for e in endpoints()}
    assert sorted(keys - set(SHOWN)) == [], "endpoints not classified as showing people or not"
    assert sorted(set(SHOWN) - keys) == [], "classified endpoints that no longer exist"
    assert {role for _kind, role in SHOWN.values()} <= set(ROLES)


def _named(world: World, answer: Answer) -> list[Person]:
    return [p for p in world.people if p.given_name in answer.body]


def _audited(person: Person, answer: Answer) -> bool:
    return any(event.object_uuid in (person.uuid, person.household.uuid) for event in answer.audit)


def _problems(world: World, key: str, kind: str, role: str, answer: Answer) -> list[str]:
    named = _named(world, answer)
    where = f"{key} as {role} ({answer.status})"
    if kind == NOBODY:
        names = {n for p in world.people for n in (p.given_name, p.family_name)}
        return [f"{where} names {n}: it shows people" for n in sorted(names) if n in answer.body]
    if answer.status != 200 or not named:
        return [f"{where} shows nobody: the world or the classification is wrong"]
    if kind == READ:
        return [
            f"{where} shows {p.given_name} without an audit row for them or their household"
            for p in named
            if not _audited(p, answer)
        ]
    if kind == EXPORT:
        exported = [e for e in answer.audit if e.object_uuid == world.payment_list.uuid]
        return [] if exported else [f"{where} exports people without an audit row"]
    # WRITE: the rows of the write name each person it answers with.
    return [
        f"{where} echoes {p.given_name}, whom no audit row of the write names"
        for p in named
        if not _audited(p, answer)
        and not any(str(p.uuid) in map(str, e.detail.values()) for e in answer.audit)
    ]


def test_every_read_of_a_person_is_audited(personas: Personas) -> None:
    world = build_world(personas)
    problems = []
    for endpoint in endpoints():
        kind, role = SHOWN[endpoint.key]
        answer = call(world, endpoint, role, audit=True)
        problems += _problems(world, endpoint.key, kind, role, answer)
    assert not problems, "\n".join(problems)
    # The requests were rolled back: the world's audit trail holds only what built it.
    assert not AuditEvent.objects.filter(
        Q(action__endswith=".view") | Q(action__endswith=".list")
    ).exists()
