"""Haven's JSON API: one NinjaAPI, each app adding its router. OpenAPI document at /api/docs.

Errors have two shapes everywhere: `{"detail": "…"}` for 401/403/404/409, and
`{"errors": [{"field": "members.0.given_name", "message": "…"}]}` for 422, whether the problem was
found by ninja (query and path parameters) or by Haven's own schemas (request bodies).
"""

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from haven.core.auth import api_auth
from haven.core.errors import Conflict, FieldError, InvalidInput, NotFound
from haven.core.middleware import database_unavailable, unavailable
from haven.identity.api import router as identity_router
from haven.identity.api_check import router as identity_check_router
from haven.registry.api import REQUEST_MODELS
from haven.registry.api import router as registry_router

REF_TEMPLATE = "#/components/schemas/{model}"


class HavenAPI(NinjaAPI):
    """A NinjaAPI whose OpenAPI document also describes the bodies the views parse themselves.

    The registration endpoints read `request.body` with Haven's own schemas (so that malformed
    JSON and wrong types get the same error shape as every other invalid input); their
    `openapi_extra` points at `#/components/schemas/<Model>`, and this adds those components.
    """

    request_models: tuple[type[BaseModel], ...] = ()

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        if self.request_models:
            _, definitions = models_json_schema(
                [(model, "validation") for model in self.request_models],
                ref_template=REF_TEMPLATE,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, definition in definitions.get("$defs", {}).items():
                components.setdefault(name, definition)
        return schema


api = HavenAPI(
    title="Haven API",
    version="1",
    description="Register arrivals, record crossing counts, read households. Every write is"
    " idempotent by a client-supplied UUID.",
    docs_url="/docs",
    auth=api_auth(),
)
api.request_models = REQUEST_MODELS
api.add_router("/", registry_router)
api.add_router("/", identity_check_router)
api.add_router("/identity", identity_router)
api.add_router("/reports", "haven.reports.api.router")


def _errors(errors: list[FieldError], request: HttpRequest) -> HttpResponse:
    body = {"errors": [{"field": e.field, "message": e.message} for e in errors]}
    return api.create_response(request, body, status=422)


@api.exception_handler(ValidationError)
def _ninja_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """Ninja's own parameter errors, in Haven's shape: the location ("query", "path") dropped."""
    errors = []
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ())]
        field = ".".join(loc[1:]) or (loc[0] if loc else "body")
        message = str(error.get("msg", ""))
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        errors.append(FieldError(field=field, message=message))
    return _errors(errors, request)


@api.exception_handler(InvalidInput)
def _invalid_input(request: HttpRequest, exc: InvalidInput) -> HttpResponse:
    return _errors(exc.errors, request)


@api.exception_handler(NotFound)
def _not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
    # The same answer whether the record does not exist or belongs to a site the user may not
    # see, and it does not echo the key back: nothing to compare between the two cases.
    detail = _("%(kind)s not found") % {"kind": exc.kind}
    return api.create_response(request, {"detail": detail}, status=404)


@api.exception_handler(Conflict)
def _conflict(request: HttpRequest, exc: Conflict) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc)}, status=409)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    detail = _(
        "Authentication required: send a device token (Authorization: Bearer hvn_…)"
        " or log in to Haven in this browser."
    )
    response = api.create_response(request, {"detail": detail}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="haven"'
    return response


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    message = _("the request body is larger than this server accepts")
    body = {"errors": [{"field": "body", "message": message}]}
    return api.create_response(request, body, status=413)


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database failed mid-request (not answering, disk full): 503, nothing was saved. Any
    other database error is a bug: raised on, to Django's logged 500."""
    if not unavailable(exc):
        raise exc
    return database_unavailable(request, exc)
