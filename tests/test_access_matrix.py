"""Who may open what: every page of the URL configuration and every operation of the OpenAPI
document, requested as every role, against the table below.

The table is the reviewed statement of Haven's access rules (README, "roles and sites"): an
endpoint that exists and is not in it fails the test, so every new page or operation must be
classified here, and so does an entry for one that no longer exists. The path parameters name
real records of site A (Kornidzor: tests/access_support.py), so a 404 to the registrar of site B
is the "another site's record does not exist" answer, never a 403 that would confirm it. No
denied answer carries the name of the site-A person asked about.
"""

import json

from tests.access_support import (
    ROLES,
    Answer,
    Endpoint,
    api_operations,
    api_routes_of_the_url_configuration,
    build_world,
    call,
    endpoints,
    login_url,
)
from tests.conftest import Personas

# Outcomes. A number is the exact status; these are the others.
LOGIN = "login"  # a redirect to the sign-in page (a page asked for without signing in)
ADMIN = "admin-login"  # a redirect to the admin's sign-in page (not staff)
REFUSED = "200-refused"  # a batch answered 200 with its one household refused (not this site)
DENIED = frozenset({LOGIN, ADMIN, REFUSED, "401", "403", "404"})

Row = tuple[int | str, ...]

# fmt: off
# Columns, in the order of access_support.ROLES:
#   anonymous, registrar at site A, registrar at site B, caseworker (A and Vayk), shelter manager
#   (of the shelter where site A's household stays), assistance officer, coordinator, partner
#   analyst, administrator.
PAGE_ALL: Row = (200, 200, 200, 200, 200, 200, 200, 200, 200)
ADMIN_ONLY: Row = (ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, 200)
ADMIN_REDIRECT: Row = (ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, 302)
ADMIN_REFUSED: Row = (ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, 403)  # even to staff
ADMIN_NOTHING: Row = (ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, ADMIN, 404)
PERSONAL: Row = (LOGIN, 200, 200, 200, 404, 404, 200, 404, 200)  # own sites' people
PERSON_A: Row = (LOGIN, 200, 404, 200, 404, 404, 200, 404, 200)  # one of site A's people
REVIEW: Row = (LOGIN, 404, 404, 200, 404, 404, 200, 404, 200)  # caseworkers, coordinators, admin
REVIEW_POST: Row = (LOGIN, 404, 404, 302, 404, 404, 302, 404, 302)
ALL_SITES: Row = (LOGIN, 404, 404, 404, 404, 404, 200, 404, 200)  # coordinators and admin
ALL_SITES_POST: Row = (LOGIN, 404, 404, 404, 404, 404, 302, 404, 302)
SHELTER: Row = (LOGIN, 404, 404, 404, 200, 404, 200, 404, 200)
ASSIST: Row = (LOGIN, 404, 404, 404, 404, 200, 200, 404, 200)
ASSIST_POST: Row = (LOGIN, 404, 404, 404, 404, 302, 302, 404, 302)
API_PERSON_A: Row = ("401", 200, 404, 200, 404, 404, 200, 404, 200)
API_REGISTER_A: Row = ("401", 201, 404, 201, 404, 404, 201, 404, 201)
API_REVIEW: Row = ("401", 404, 404, 200, 404, 404, 200, 404, 200)
API_REPORTS: Row = ("401", 404, 404, 404, 404, 404, 200, 200, 404)

EXPECTED: dict[str, Row] = {
    # --- the admin: staff only; everyone else is sent to the admin's sign-in -----------------
    "admin:index": ADMIN_ONLY,
    "admin:login": (200, 200, 200, 200, 200, 200, 200, 200, 302),
    "admin:logout": (302, 302, 302, 302, 302, 302, 302, 302, LOGIN),
    "admin:password_change": ADMIN_ONLY,
    "admin:password_change_done": ADMIN_ONLY,
    "admin:autocomplete": ADMIN_REFUSED,  # asked without its parameters
    "admin:jsi18n": ADMIN_ONLY,
    "admin:view_on_site": ADMIN_NOTHING,
    "admin:auth_group_changelist": ADMIN_ONLY,
    "admin:auth_group_add": ADMIN_ONLY,
    "admin:auth_group_history": ADMIN_ONLY,
    "admin:auth_group_delete": ADMIN_ONLY,
    "admin:auth_group_change": ADMIN_ONLY,
    "admin/auth/group/<path:object_id>/": ADMIN_REDIRECT,
    "admin:core_site_changelist": ADMIN_ONLY,
    "admin:core_site_add": ADMIN_ONLY,
    "admin:core_site_history": ADMIN_ONLY,
    "admin:core_site_delete": ADMIN_ONLY,
    "admin:core_site_change": ADMIN_ONLY,
    "admin/core/site/<path:object_id>/": ADMIN_REDIRECT,
    "admin:auth_user_password_change": ADMIN_ONLY,
    "admin:core_user_changelist": ADMIN_ONLY,
    "admin:core_user_add": ADMIN_ONLY,
    "admin:core_user_history": ADMIN_ONLY,
    "admin:core_user_delete": ADMIN_ONLY,
    "admin:core_user_change": ADMIN_ONLY,
    "admin/core/user/<path:object_id>/": ADMIN_REDIRECT,
    # The audit log is read-only, even to the administrator.
    "admin:core_auditevent_changelist": ADMIN_ONLY,
    "admin:core_auditevent_add": ADMIN_REFUSED,
    "admin:core_auditevent_history": ADMIN_ONLY,
    "admin:core_auditevent_delete": ADMIN_REFUSED,
    "admin:core_auditevent_change": ADMIN_ONLY,
    "admin/core/auditevent/<path:object_id>/": ADMIN_REDIRECT,
    # Device tokens are made on the command line and only revoked here.
    "admin:core_apitoken_changelist": ADMIN_ONLY,
    "admin:core_apitoken_add": ADMIN_REFUSED,
    "admin:core_apitoken_history": ADMIN_ONLY,
    "admin:core_apitoken_delete": ADMIN_ONLY,
    "admin:core_apitoken_change": ADMIN_ONLY,
    "admin/core/apitoken/<path:object_id>/": ADMIN_REDIRECT,
    "admin:app_list": ADMIN_ONLY,
    "admin/(?P<url>.*)$": ADMIN_NOTHING,
    # --- the API's own pages: its description is public ---------------------------------------
    "api-1:openapi-json": PAGE_ALL,
    "api-1:openapi-view": PAGE_ALL,
    "api-1:api-root": (404, 404, 404, 404, 404, 404, 404, 404, 404),
    # --- signing in and out, the language ---------------------------------------------------------
    "set_language": (302, 302, 302, 302, 302, 302, 302, 302, 302),
    "home": (LOGIN, 302, 302, 302, 302, 302, 302, 200, 302),
    "login": PAGE_ALL,
    # The session of every role here is signed in (and verified where a role needs a code).
    "second_factor": (LOGIN, 302, 302, 302, 302, 302, 302, 302, 302),
    "enrol": (LOGIN, 302, 302, 302, 302, 302, 302, 302, 302),
    "logout": (LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN),
    # --- the registry -------------------------------------------------------------------------
    "desk": PERSONAL,
    "registrations": PERSONAL,
    "person": PERSON_A,
    "person_audit": ALL_SITES,
    "household_case": ALL_SITES_POST,
    # --- who is who -----------------------------------------------------------------------------
    "review_queue": REVIEW,
    "review_pair": REVIEW,
    "identity": REVIEW,
    # --- the situation --------------------------------------------------------------------------
    "dashboard": ALL_SITES,
    "sitrep": ALL_SITES,
    # --- tracing: caseworkers, coordinators and administrators ------------------------------------
    "tracing:queue": REVIEW,
    "tracing:new": REVIEW,
    "tracing:request": REVIEW,
    "tracing:found": REVIEW_POST,
    "tracing:disclosure": REVIEW_POST,
    "tracing:close": REVIEW_POST,
    "tracing:rematch": REVIEW_POST,
    "tracing:request_note": REVIEW_POST,
    "tracing:person_notes": REVIEW,
    # --- shelter ----------------------------------------------------------------------------------
    "shelter:list": SHELTER,
    "shelter:allocation": SHELTER,
    "shelter:shelter": SHELTER,
    "shelter:check_out": (LOGIN, 404, 404, 404, 302, 404, 302, 404, 302),
    # --- assistance -------------------------------------------------------------------------------
    "assistance:programmes": ASSIST,
    "assistance:new": ASSIST,
    "assistance:programme": ASSIST,
    "assistance:compute": ASSIST_POST,
    "assistance:make_list": ASSIST_POST,
    "assistance:payment_list": ASSIST,
    "assistance:reconcile": (LOGIN, 404, 404, 404, 404, 400, 400, 404, 400),  # no file sent
    "assistance:download": ASSIST,
    "assistance:distribute": ASSIST,
    "assistance:give": ASSIST_POST,
    "assistance:held": REVIEW,
    # --- the public tracing form: no account --------------------------------------------------
    "public:request": PAGE_ALL,
    "public:sent": PAGE_ALL,
    # --- the JSON API (a session, as a browser's; 401 without one) ------------------------------
    "POST /api/households": API_REGISTER_A,
    "GET /api/households": ("401", 200, 200, 200, 404, 404, 200, 404, 200),
    "POST /api/households/batch": ("401", 200, REFUSED, 200, REFUSED, REFUSED, 200, REFUSED, 200),
    "GET /api/households/{household_uuid}": API_PERSON_A,
    "GET /api/persons/{person_uuid}": API_PERSON_A,
    "POST /api/crossings": API_REGISTER_A,
    "GET /api/crossings": ("401", 200, 200, 200, 200, 200, 200, 200, 200),
    # The desk-time check looks at every site: a registrar of site B finds site A's people too.
    "POST /api/identity/check": ("401", 200, 200, 200, 404, 404, 200, 404, 200),
    "GET /api/identity/pairs": API_REVIEW,
    "GET /api/identity/pairs/{pair_id}": API_REVIEW,
    "POST /api/identity/decisions": API_REVIEW,
    "POST /api/identity/pairs/{pair_id}/undo": ("401", 404, 404, 409, 404, 404, 409, 404, 409),
    "GET /api/reports/situation": API_REPORTS,
    "GET /api/reports/exports/{name}": API_REPORTS,
}
# fmt: on

MATRIX_ENDPOINTS = len(EXPECTED)
MATRIX_CELLS = MATRIX_ENDPOINTS * len(ROLES)
# The matrix never shrinks unnoticed: lowering this needs a reason in review.
MATRIX_FLOOR = 850


def test_the_table_classifies_every_endpoint_and_nothing_else() -> None:
    keys = [e.key for e in endpoints()]
    assert len(keys) == len(set(keys)), "two endpoints share a key"
    missing = sorted(set(keys) - set(EXPECTED))
    stale = sorted(set(EXPECTED) - set(keys))
    assert not missing, f"endpoints that the access table does not classify: {missing}"
    assert not stale, f"the access table names endpoints that no longer exist: {stale}"
    assert all(len(row) == len(ROLES) for row in EXPECTED.values())
    # Every API route of the URL configuration is an operation of the OpenAPI document.
    assert api_routes_of_the_url_configuration() == {e.route for e in api_operations()}
    assert MATRIX_CELLS >= MATRIX_FLOOR, (MATRIX_ENDPOINTS, len(ROLES), MATRIX_CELLS)


def outcome(endpoint: Endpoint, answer: Answer) -> str:
    if answer.status == 302 and answer.location.startswith(login_url()):
        return LOGIN
    if answer.status == 302 and answer.location.startswith("/admin/login/"):
        return ADMIN
    batch = endpoint.key == "POST /api/households/batch" and answer.status == 200
    if batch and json.loads(answer.body)["rejected"]:
        return REFUSED
    return str(answer.status)


def test_every_role_gets_what_the_table_says_and_no_denial_names_anyone(
    personas: Personas,
) -> None:
    world = build_world(personas)
    names = (world.target.given_name, world.target.family_name)
    wrong, leaks = [], []
    for endpoint in endpoints():
        expected = EXPECTED.get(endpoint.key)
        if expected is None:
            continue  # reported by the test above
        for role, want in zip(ROLES, expected, strict=True):
            answer = call(world, endpoint, role)
            got = outcome(endpoint, answer)
            if got != str(want):
                wrong.append(f"{endpoint.key} as {role}: {got}, the table says {want}")
            if got in DENIED and any(name in answer.body for name in names):
                leaks.append(f"{endpoint.key} as {role} ({got}) names the person asked about")
    assert not wrong, f"{len(wrong)} of {MATRIX_CELLS} cells differ:\n" + "\n".join(wrong)
    assert not leaks, "\n".join(leaks)
