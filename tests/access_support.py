"""Shared by the access matrix (test_access_matrix.py) and the audited-reads test
(test_audit_reads.py): every endpoint of Haven, walked from the URL configuration and from the
OpenAPI document; the roles and how a test logs each in; a small world of records at site A
(Kornidzor) that fills every path parameter; how each endpoint is called; and one request made
inside a savepoint that is rolled back, so that every call sees the same world.
"""

import hashlib
import io
import json
import re
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.http.response import HttpResponseBase
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone

from haven.api import api
from haven.assistance.actions import add_programme, parse_programme
from haven.assistance.entitlements import compute
from haven.assistance.models import PaymentList, Programme
from haven.assistance.payments import create_list
from haven.core.actions import create_api_token
from haven.core.models import AuditEvent, Site, User
from haven.identity.check import STARTER_MODEL
from haven.identity.models import CandidatePair, LinkageModel, LinkageRun
from haven.registry.actions import register_household
from haven.registry.models import Household, Person
from haven.registry.schemas import HouseholdIn
from haven.shelter.actions import add_shelter, check_in, parse_shelter
from haven.shelter.models import Shelter
from haven.tracing.actions import open_request, parse_request
from haven.tracing.models import TracingRequest
from tests import factories
from tests.conftest import PASSWORD, Personas, sign_in

# --- roles --------------------------------------------------------------------------------------

ROLES = (
    "anonymous",
    "registrar_a",  # registrar at Kornidzor (site A), where the world's records are
    "registrar_b",  # registrar at Goris (site B)
    "caseworker",  # covers Kornidzor and Vayk
    "shelter_manager",  # runs the shelter where the household of site A stays
    "assistance_officer",
    "coordinator",
    "partner_analyst",
    "admin",
)


def log_in(client: Client, user: User) -> None:
    """How the tests sign a role in, the one place to change when signing in changes: the
    shared `sign_in` (force_login, with the second factor verified where the role needs one)."""
    sign_in(client, user)


# --- the endpoints ------------------------------------------------------------------------------

API_NAMESPACE = "api-1"
# The API's URL patterns that are not operations of the OpenAPI document: they are pages.
API_PAGES = frozenset({"api-1:openapi-json", "api-1:openapi-view", "api-1:api-root"})
_ROUTE_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")
_REGEX_PARAMETER = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_OPENAPI_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Endpoint:
    """A page (one URL pattern) or an API operation (one path and method of the OpenAPI
    document). `key` names it in the tables: the URL name ("person", "tracing:request",
    "admin:core_site_change"), the route of an unnamed pattern, or "GET /api/persons/{…}"."""

    key: str
    route: str  # the full route as Django joins it, or the OpenAPI path
    view: str
    api_method: str = ""  # for an API operation, its method
    parts: tuple[tuple[bool, str], ...] = ()  # for a page: (is a regex, pattern) from the root

    @property
    def is_api(self) -> bool:
        return bool(self.api_method)

    def url(self, params: dict[str, str]) -> str:
        def value(match: re.Match[str]) -> str:
            if match[1] not in params:
                raise KeyError(f"{self.key}: give its parameter {match[1]} a value in World.params")
            return params[match[1]]

        if self.is_api:
            return _OPENAPI_PARAMETER.sub(value, self.route)
        pieces = []
        for is_regex, text in self.parts:
            if is_regex:
                pieces.append(_REGEX_PARAMETER.sub(value, text.lstrip("^").rstrip("$")))
            else:
                pieces.append(_ROUTE_PARAMETER.sub(value, text))
        return "/" + "".join(pieces)


def _walk(
    patterns: Sequence[URLPattern | URLResolver],
    parts: tuple[tuple[bool, str], ...] = (),
    namespace: str = "",
) -> Iterator[tuple[URLPattern, tuple[tuple[bool, str], ...], str]]:
    for pattern in patterns:
        here = (*parts, (not hasattr(pattern.pattern, "_route"), str(pattern.pattern)))
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern.url_patterns, here, inner)
        else:
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield pattern, here, name or ""


def _view_name(pattern: URLPattern) -> str:
    callback = pattern.callback
    view = getattr(callback, "view_class", None) or callback
    return f"{getattr(view, '__module__', '?')}.{getattr(view, '__qualname__', repr(view))}"


def url_patterns() -> list[Endpoint]:
    """Every URL pattern of the project, with its full route, URL name and view."""
    found = []
    for pattern, parts, name in _walk(get_resolver().url_patterns):
        # As Django's ResolverMatch.route has it: a regex's leading "^" dropped.
        route = "".join(text.removeprefix("^") if regex else text for regex, text in parts)
        found.append(
            Endpoint(key=name or route, route=route, view=_view_name(pattern), parts=parts)
        )
    return found


def pages() -> list[Endpoint]:
    """The URL patterns that are pages: all but the API's operations."""
    return [
        e for e in url_patterns() if not e.key.startswith(f"{API_NAMESPACE}:") or e.key in API_PAGES
    ]


def api_operations() -> list[Endpoint]:
    """Every path × method of the OpenAPI document."""
    schema = api.get_openapi_schema()
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            found.append(
                Endpoint(
                    key=f"{method.upper()} {path}",
                    route=path,
                    view=str(operation.get("operationId", "")),
                    api_method=method.upper(),
                )
            )
    return found


def api_routes_of_the_url_configuration() -> set[str]:
    """The API operations' routes as the URL configuration has them, in OpenAPI's notation."""
    return {
        "/" + _ROUTE_PARAMETER.sub(r"{\1}", e.route)
        for e in url_patterns()
        if e.key.startswith(f"{API_NAMESPACE}:") and e.key not in API_PAGES
    }


def endpoints() -> list[Endpoint]:
    return pages() + api_operations()


# --- the world ----------------------------------------------------------------------------------

# Every registered person of the world has a given name found nowhere else, so that a page
# showing a person can be told by their name.
TARGET = {"given_name": "Zarouhi", "family_name": "Kazandjian", "sex": "F", "birth_date": "1980-05"}
SPOUSE = {"given_name": "Vartkes", "family_name": "Kazandjian", "sex": "M", "birth_date": "1978"}
CHILD = {"given_name": "Siranoush", "family_name": "Kazandjian", "sex": "F", "birth_date": "2012"}
# The same woman registered a second time at site A, spelled otherwise: a pair for review.
TWIN_RECORD = {
    "given_name": "Zarukhi",
    "family_name": "Kazandzhian",
    "sex": "F",
    "birth_date": "1980-05",
}
# Somebody at site B.
OTHER_SITE = {"given_name": "Hovsep", "family_name": "Manoogian", "sex": "M", "birth_date": "1965"}
SOUGHT_NAME = "Զարուհի Ղազանջյան"  # the target as her brother says it: found across scripts


def _household(user: User, site: str, members: list[dict[str, str]]) -> Household:
    relationships = ["head", "spouse", "child"]
    people = [factories.member(relationship=relationships[i], **m) for i, m in enumerate(members)]
    household, _ = register_household(
        data=HouseholdIn.model_validate(
            factories.household(site, members=people, phone="+374 91 765432")
        ),
        acting_user=user,
    )
    return household


@dataclass
class World:
    """The personas and one record of every kind at site A (Kornidzor)."""

    personas: Personas
    users: dict[str, User | None]
    household: Household  # at site A: the target, her husband and their daughter
    target: Person
    twin: Person  # a second record of the target at site A
    other: Person  # somebody at site B
    pair: CandidatePair
    tracing_request: TracingRequest
    shelter: Shelter
    programme: Programme
    payment_list: PaymentList
    group: Group
    clients: dict[str, Client] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    admin_objects: dict[str, int] = field(default_factory=dict)

    @property
    def people(self) -> list[Person]:
        return list(Person.objects.order_by("pk"))

    def params(self, endpoint: Endpoint) -> dict[str, str]:
        """A value of the right kind for every path parameter."""
        if not self.values:
            self.values = {
                "person_uuid": str(self.target.uuid),
                "household_uuid": str(self.household.uuid),
                "identity": str(self.target.identity),
                "pair_id": str(self.pair.pk),
                "request_uuid": str(self.tracing_request.uuid),
                "code": self.shelter.code,
                "programme_uuid": str(self.programme.uuid),
                "list_uuid": str(self.payment_list.uuid),
                "fmt": "csv",
                "name": "population",
                "id": str(self.personas.alice.pk),
                "content_type_id": str(ContentType.objects.get_for_model(Site).pk),
                "app_label": "core",
                "url": "no-such-page/",
            }
            # The admin's object_id: one object of the model the route is about.
            self.admin_objects = {
                "admin/auth/group/": self.group.pk,
                "admin/core/site/": self.personas.kor.pk,
                "admin/core/user/": self.personas.alice.pk,
                "admin/core/auditevent/": AuditEvent.objects.order_by("pk")[0].pk,
                "admin/core/apitoken/": self.personas.alice.api_tokens.get().pk,
                "admin/r/": self.personas.kor.pk,  # "view on site" of a site
            }
        object_id = next(
            (pk for prefix, pk in self.admin_objects.items() if endpoint.route.startswith(prefix)),
            0,
        )
        return {**self.values, "object_id": str(object_id)}

    def client(self, role: str) -> Client:
        """A client signed in as the role (again, after a request that signed it out)."""
        client = self.clients.setdefault(role, Client())
        user = self.users[role]
        cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
        if user is not None and (cookie is None or not cookie.value):
            log_in(client, user)
        return client


def build_world(personas: Personas) -> World:
    shelter_manager = User.objects.create_user(
        username="sam", password=PASSWORD, role=User.Role.SHELTER_MANAGER
    )
    officer = User.objects.create_user(
        username="olga", password=PASSWORD, role=User.Role.ASSISTANCE_OFFICER
    )
    users: dict[str, User | None] = {
        "anonymous": None,
        "registrar_a": personas.alice,
        "registrar_b": personas.bob,
        "caseworker": personas.carol,
        "shelter_manager": shelter_manager,
        "assistance_officer": officer,
        "coordinator": personas.dan,
        "partner_analyst": personas.erin,
        "admin": personas.admin,
    }
    household = _household(personas.alice, "KOR", [TARGET, SPOUSE, CHILD])
    twin = _household(personas.alice, "KOR", [TWIN_RECORD]).members.get()
    other = _household(personas.bob, "GORIS", [OTHER_SITE]).members.get()
    target = household.members.get(relationship="head")

    model_settings = json.loads(STARTER_MODEL.read_text(encoding="utf-8"))
    model = LinkageModel.objects.create(
        version=1,
        trained_at=timezone.now(),
        records=0,
        sha256=hashlib.sha256(json.dumps(model_settings, sort_keys=True).encode()).hexdigest(),
        settings=model_settings,
    )
    run = LinkageRun.objects.create(started_at=timezone.now(), model=model)
    first, second = sorted((target, twin), key=lambda p: p.pk)
    pair = CandidatePair.objects.create(
        person_a=first,
        person_b=second,
        match_weight=6.0,
        match_probability=0.8,
        band=CandidatePair.Band.POSSIBLE,
        status=CandidatePair.Status.PENDING,
        explanation=[{"field": "given", "level": "one_typo", "weight": 3.0}],
        model=model,
        run=run,
        found_at=timezone.now(),
    )

    tracing_request, _ = open_request(
        data=parse_request(
            {
                "sought_name": SOUGHT_NAME,
                "sought_birth_year": 1980,
                "sought_sex": "F",
                "searcher_name": "Արմեն",
                "searcher_contact": "+374 91 000111",
                "consent": True,
            }
        ),
        acting_user=personas.carol,
        source=TracingRequest.Source.CASEWORKER,
        site=personas.kor,
    )

    shelter = add_shelter(
        data=parse_shelter(
            {
                "code": "GORIS-SCHOOL-3",
                "name": "School 3",
                "kind": "collective",
                "province": "Syunik",
                "town": "Goris",
                "beds": 40,
            }
        ),
        acting_user=personas.dan,
    )
    shelter.managers.add(shelter_manager)
    check_in(household=household, shelter=shelter, acting_user=personas.dan)

    programme = add_programme(
        data=parse_programme(
            {
                "code": "arrival-grant",
                "name": "One-off support on arrival",
                "kind": "cash",
                "amount": 100_000,
                "frequency": "once",
                "starts_on": "2023-10-01",
            }
        ),
        acting_user=personas.dan,
    )
    compute(programme=programme, period=1, acting_user=officer)
    payment_list = create_list(programme=programme, period=1, acting_user=officer)

    create_api_token(user=personas.alice, name="KOR desk tablet", acting_user=None)
    group = Group.objects.create(name="desk leads")
    return World(
        personas=personas,
        users=users,
        household=household,
        target=target,
        twin=twin,
        other=other,
        pair=pair,
        tracing_request=tracing_request,
        shelter=shelter,
        programme=programme,
        payment_list=payment_list,
        group=group,
    )


# --- how each endpoint is called ----------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """How an endpoint is called: the method, and a minimal body or query built from the world.
    Pages are read with GET unless they only take POST; API operations with their own method."""

    method: str = "GET"
    data: Callable[[World], dict[str, Any]] | None = None
    json: bool = False  # the data is a JSON body (API operations)


def _json(build: Callable[[World], dict[str, Any]]) -> Recipe:
    return Recipe(method="POST", data=build, json=True)


def _form(build: Callable[[World], dict[str, Any]] | None = None) -> Recipe:
    return Recipe(method="POST", data=build or (lambda w: {}))


RECIPES: dict[str, Recipe] = {
    # POST-only pages, with the least that reaches the action.
    "logout": _form(),
    "admin:logout": _form(),
    "set_language": _form(lambda w: {"language": "en", "next": "/"}),
    "household_case": _form(),
    "tracing:found": _form(lambda w: {"person": str(w.target.uuid)}),
    "tracing:disclosure": _form(lambda w: {"allowed": "yes", "person": str(w.target.uuid)}),
    "tracing:close": _form(lambda w: {"outcome": "withdrawn"}),
    "tracing:rematch": _form(),
    "tracing:request_note": _form(),
    "shelter:check_out": _form(lambda w: {"household": str(w.household.uuid)}),
    "assistance:compute": _form(lambda w: {"period": "1"}),
    "assistance:make_list": _form(lambda w: {"period": "1"}),
    "assistance:reconcile": _form(),
    "assistance:give": _form(
        lambda w: {
            "person": str(w.target.uuid),
            "programme": str(w.programme.uuid),
            "uuid": str(uuid.UUID(int=7)),
            "site": "KOR",
        }
    ),
    # Pages that show a person when asked for one.
    "assistance:distribute": Recipe(data=lambda w: {"person": str(w.target.uuid), "site": "KOR"}),
    # API operations that take a body: a new household and a new count at site A, the target as
    # typed at a desk, a decision on the pair.
    "POST /api/households": _json(lambda w: factories.household("KOR")),
    "POST /api/households/batch": _json(lambda w: {"households": [factories.household("KOR")]}),
    "POST /api/crossings": _json(lambda w: factories.crossing("KOR")),
    "POST /api/identity/check": _json(lambda w: dict(TARGET)),
    "POST /api/identity/decisions": _json(
        lambda w: {"pairs": [w.pair.pk], "verdict": "different", "note": ""}
    ),
}


@dataclass
class Answer:
    status: int
    location: str
    body: str
    audit: list[AuditEvent]  # the rows the request wrote


def _location(response: HttpResponseBase) -> str:
    return str(response.headers.get("Location", ""))


def call(world: World, endpoint: Endpoint, role: str, *, audit: bool = False) -> Answer:
    """Make the endpoint's request as the role, and roll back whatever it wrote; with `audit`,
    the answer holds the audit rows the request wrote."""
    recipe = RECIPES.get(endpoint.key, Recipe(method=endpoint.api_method or "GET"))
    client = world.client(role)
    url = endpoint.url(world.params(endpoint))
    if not endpoint.is_api:
        # The URL built is the endpoint's, not one a catch-all or an earlier pattern takes.
        assert resolve(url).route == endpoint.route, (endpoint.key, url)
    data = recipe.data(world) if recipe.data is not None else {}
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() if audit else 0
    with transaction.atomic():
        if recipe.method == "GET":
            response = client.get(url, data)
        elif recipe.json:
            response = client.post(url, json.dumps(data), content_type="application/json")
        else:
            response = client.post(url, data)
        if getattr(response, "streaming", False):
            content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
        else:
            content = response.content
        written = list(AuditEvent.objects.filter(pk__gt=before or 0)) if audit else []
        transaction.set_rollback(True)
    return Answer(
        status=response.status_code,
        location=_location(response),
        body=_text(content, response.headers.get("Content-Type", "")),
        audit=written,
    )


def _text(content: bytes, content_type: str) -> str:
    """The body as text to look for names in: JSON decoded (its non-ASCII letters are escaped),
    XLSX unzipped."""
    if content_type.startswith("application/json"):
        try:
            return json.dumps(json.loads(content), ensure_ascii=False)
        except ValueError:
            pass
    if content.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "".join(archive.read(n).decode("utf-8", "replace") for n in archive.namelist())
    return content.decode("utf-8", "replace")


def login_url() -> str:
    return reverse(settings.LOGIN_URL)
