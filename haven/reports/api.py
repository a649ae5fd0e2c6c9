"""The reports' JSON API: the situation figures at a moment, and the partner exports as files.

Coordinators and partner analysts only; for every other role each operation answers 404, as for
something that does not exist (the identity review API's convention). Partner analysts get
aggregates with small cells suppressed, at whole hours. Every read is audited
(`haven.reports.selectors`).
"""

from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Router

from haven.core.auth import request_user
from haven.registry.api_schemas import ErrorOut, ValidationErrorOut
from haven.registry.schemas import QueryText
from haven.reports import exports, selectors

router = Router(tags=["reports"])

NOT_FOUND = {404: ErrorOut}
INVALID = {422: ValidationErrorOut}
ExportName = Literal["daily-arrivals", "population", "needs"]
ExportFormat = Literal["csv", "xlsx"]
AS_OF = (
    "ISO 8601 moment, e.g. 2023-09-26T08:00+04:00; without an offset it is in the deployment's"
    " time zone. Default: now. A date without a time and a future moment are refused."
)


@router.get(
    "/situation",
    response={200: dict[str, Any]} | NOT_FOUND | INVALID,
    summary="The situation figures at a moment",
    description="Crossed, registered, unique people, households, backlog, arrivals and"
    " registrations by site and hour or day, the population pyramid, specific needs, origins and"
    " host provinces, as of `as_of`. Partner analysts get the figures at the whole hour, without"
    " hourly series, small cells (1 to 4, and cells that would reveal one through a total) as"
    " null. " + AS_OF,
)
def situation(request: HttpRequest, as_of: QueryText | None = None) -> dict[str, Any]:
    user = selectors.reader(request_user(request), "report", "situation")
    moment = selectors.parse_as_of(as_of)
    return selectors.situation_for(user, moment, via="api")


@router.get(
    "/exports/{name}",
    response={200: None} | NOT_FOUND | INVALID,
    summary="A partner export: HXL-tagged CSV or XLSX",
    description="`daily-arrivals` (people counted crossing per day and crossing point),"
    " `population` (unique people by host province, sex and five-year age band, and"
    " households), `needs` (people with each UNHCR specific-needs code, national). The second"
    " row holds the HXL hashtags; small cells are empty and named in the `#meta+suppressed`"
    " column. " + AS_OF,
    openapi_extra={
        "responses": {
            200: {
                "description": "The file",
                "content": {
                    exports.CONTENT_TYPES["csv"]: {"schema": {"type": "string"}},
                    exports.CONTENT_TYPES["xlsx"]: {
                        "schema": {"type": "string", "format": "binary"}
                    },
                },
            }
        }
    },
)
def export(
    request: HttpRequest,
    name: ExportName,
    format: ExportFormat = "csv",
    as_of: QueryText | None = None,
) -> HttpResponse:
    user = selectors.reader(request_user(request), "report", name)
    moment = selectors.parse_as_of(as_of)
    result = selectors.export_for(user, name, format, moment, via="api")
    response = HttpResponse(result.content, content_type=result.content_type)
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    response["Cache-Control"] = "no-store"
    return response
