"""The registry's JSON API: register households (one or a batch), read them, crossing counts.

Each operation parses, authorises, acts and serialises, nothing more: writes go through
`haven.registry.actions`, reads through `haven.registry.selectors`. Request bodies are read with
Haven's own schemas, so that malformed JSON, wrong types and bad values all get one error shape,
`{"errors": [{"field": …, "message": …}]}`, and nothing is written.
"""

import json
from typing import Any, TypeVar
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import P, QueryEx, Router, Status
from pydantic import BaseModel, ValidationError

from haven.core.auth import request_user
from haven.core.errors import FieldError, InvalidInput, NotFound
from haven.core.selectors import sees_personal_data, site_for_aggregates, sites_with_personal_data
from haven.registry import actions, selectors
from haven.registry.api_schemas import (
    BatchItemOut,
    BatchOut,
    CrossingCountOut,
    ErrorOut,
    HouseholdBatchIn,
    HouseholdOut,
    HouseholdPageOut,
    PersonOut,
    ValidationErrorOut,
    crossing_count_out,
    errors_out,
    household_out,
    person_out,
    registered_household_out,
)
from haven.registry.schemas import CrossingCountIn, HouseholdIn, QueryText, field_errors

router = Router(tags=["registry"])

# Bodies these operations read themselves; haven.api adds their schemas to the OpenAPI document.
REQUEST_MODELS: tuple[type[BaseModel], ...] = (HouseholdIn, HouseholdBatchIn, CrossingCountIn)

NOT_FOUND = {404: ErrorOut}
INVALID = {422: ValidationErrorOut}

M = TypeVar("M", bound=BaseModel)


def _documented_body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def _json_body(request: HttpRequest) -> Any:
    """The request body decoded as JSON, or InvalidInput naming the field "body"."""
    try:
        return json.loads(request.body)
    except json.JSONDecodeError as exc:
        message = _("is not valid JSON: %(problem)s (line %(line)d, column %(column)d)") % {
            "problem": exc.msg,
            "line": exc.lineno,
            "column": exc.colno,
        }
        raise InvalidInput([FieldError("body", message)]) from None
    except UnicodeDecodeError:
        raise InvalidInput([FieldError("body", _("is not UTF-8 encoded text"))]) from None


def _errors_of(exc: ValidationError) -> list[FieldError]:
    # An error about the whole payload (a list sent instead of an object) belongs to "body".
    return [FieldError("body", e.message) if e.field == "__all__" else e for e in field_errors(exc)]


def _whole_numbers(data: Any) -> Any:
    """`data` with every float that is a whole number (412.0) as an int: JSON Schema's integer."""
    if isinstance(data, float) and data.is_integer():
        return int(data)
    if isinstance(data, list):
        return [_whole_numbers(item) for item in data]
    if isinstance(data, dict):
        return {key: _whole_numbers(value) for key, value in data.items()}
    return data


def validate_json(model: type[M], data: Any) -> M:
    """Decoded JSON read by `model` with JSON's own types, as the OpenAPI document states them:
    `true` is not the number 1, "412" is not a number and 1695700000 is not a moment (pydantic's
    lax mode would take all three; the desk's form, which sends text, is read laxly elsewhere).
    412.0 is the integer 412, as JSON Schema counts."""
    try:
        return model.model_validate_json(json.dumps(_whole_numbers(data)), strict=True)
    except ValidationError as exc:
        if not any(error["type"] == "json_invalid" for error in exc.errors()):
            raise
        # Text that JSON cannot carry (a lone surrogate, escaped in the body): the lax reading
        # names the field that holds it.
        model.model_validate(data)
        raise


def parse_body(request: HttpRequest, model: type[M]) -> M:
    data = _json_body(request)
    try:
        return validate_json(model, data)
    except ValidationError as exc:
        raise InvalidInput(_errors_of(exc)) from None


# --- households ----------------------------------------------------------------------------------


@router.post(
    "/households",
    response={201: HouseholdOut, 200: HouseholdOut, 409: ErrorOut} | NOT_FOUND | INVALID,
    openapi_extra=_documented_body(HouseholdIn),
    summary="Register one household",
    description="201 when registered; 200 with the same body when this exact payload was"
    " registered before (a retry); 409 when the uuid was used for a different payload.",
)
def register_household(request: HttpRequest) -> Status[HouseholdOut]:
    user = request_user(request)
    data = parse_body(request, HouseholdIn)
    household, created = actions.register_household(data=data, acting_user=user)
    if created:
        # Answered from what was just written: reading it back would cost three queries.
        return Status(201, registered_household_out(data, household))
    stored = selectors.household_for(user, household.uuid)
    return Status(200, household_out(stored))


def _item_uuid(item: Any) -> UUID | None:
    if isinstance(item, dict):
        try:
            return UUID(str(item.get("uuid")))
        except ValueError:
            return None
    return None


def _batch_items(body: Any) -> list[Any]:
    """The envelope's list of households, checked before any household is looked at."""
    if not isinstance(body, dict):
        message = _('must be a JSON object with the list of households under "households"')
        raise InvalidInput([FieldError("body", message)])
    unknown = sorted(str(key) for key in body if key != "households")
    if unknown:
        raise InvalidInput([FieldError(key, _("is not a field of a batch")) for key in unknown])
    items = body.get("households")
    if not isinstance(items, list):
        raise InvalidInput([FieldError("households", _("must be a list of households"))])
    limit: int = settings.HAVEN_BATCH_LIMIT
    if not items:
        raise InvalidInput([FieldError("households", _("must hold at least one household"))])
    if len(items) > limit:
        message = _("holds %(count)d households; a batch holds at most %(limit)d") % {
            "count": len(items),
            "limit": limit,
        }
        raise InvalidInput([FieldError("households", message)])
    return items


@router.post(
    "/households/batch",
    response={200: BatchOut} | INVALID,
    openapi_extra=_documented_body(HouseholdBatchIn),
    summary="Register many households",
    description="All-or-nothing per household, one result per item in input order. Each item is"
    " validated on its own: an invalid one is reported and the others still register.",
)
def register_households(request: HttpRequest) -> BatchOut:
    user = request_user(request)
    items = _batch_items(_json_body(request))
    results: list[BatchItemOut | None] = [None] * len(items)
    valid: list[HouseholdIn] = []
    valid_indexes: list[int] = []
    invalid_message = _("invalid household: nothing of it was written")
    for index, item in enumerate(items):
        try:
            valid.append(validate_json(HouseholdIn, item))
        except ValidationError as exc:
            results[index] = BatchItemOut(
                index=index,
                uuid=_item_uuid(item),
                status="invalid",
                errors=errors_out(_errors_of(exc)),
                message=invalid_message,
            )
        else:
            valid_indexes.append(index)
    outcomes = actions.register_households(items=valid, acting_user=user) if valid else []
    for index, outcome in zip(valid_indexes, outcomes, strict=True):
        results[index] = BatchItemOut(
            index=index, uuid=outcome.uuid, status=outcome.outcome.value, message=outcome.message
        )
    answered = [r for r in results if r is not None]
    created = sum(1 for r in answered if r.status == "created")
    exists = sum(1 for r in answered if r.status == "exists")
    return BatchOut(
        results=answered, created=created, exists=exists, rejected=len(answered) - created - exists
    )


@router.get(
    "/households/{household_uuid}",
    response={200: HouseholdOut} | NOT_FOUND | INVALID,
    summary="One household with its members",
)
def get_household(request: HttpRequest, household_uuid: UUID) -> HouseholdOut:
    user = request_user(request)
    return household_out(selectors.household_for(user, household_uuid, purpose="api"))


@router.get(
    "/households",
    response={200: HouseholdPageOut} | NOT_FOUND | INVALID,
    summary="Households, a page at a time",
    description="In registration order; follow next_cursor until it is null.",
)
def list_households(
    request: HttpRequest,
    site: QueryText | None = None,
    cursor: QueryText | None = None,
    limit: QueryEx[int, P(ge=1, le=500)] = 100,
) -> HouseholdPageOut:
    user = request_user(request)
    if not sees_personal_data(user):
        raise NotFound("households", site or "")
    if site and not sites_with_personal_data(user).filter(code=site).exists():
        raise NotFound("site", site)
    page = selectors.page_of_households(user, site_code=site or None, cursor=cursor, limit=limit)
    return HouseholdPageOut(
        items=[household_out(h) for h in page.households], next_cursor=page.next_cursor
    )


# --- persons -------------------------------------------------------------------------------------


@router.get(
    "/persons/{person_uuid}",
    response={200: PersonOut} | NOT_FOUND | INVALID,
    summary="One person's record (an audited read)",
)
def get_person(request: HttpRequest, person_uuid: UUID) -> PersonOut:
    user = request_user(request)
    return person_out(selectors.person_for(user, person_uuid, purpose="api"))


# --- crossing counts -----------------------------------------------------------------------------


@router.post(
    "/crossings",
    response={201: CrossingCountOut, 200: CrossingCountOut, 409: ErrorOut} | NOT_FOUND | INVALID,
    openapi_extra=_documented_body(CrossingCountIn),
    summary="Record a crossing count",
    description="201 when recorded; 200 when this exact count was recorded before (a retry);"
    " 409 when the uuid was used for other figures.",
)
def record_crossing_count(request: HttpRequest) -> Status[CrossingCountOut]:
    user = request_user(request)
    data = parse_body(request, CrossingCountIn)
    count, created = actions.record_crossing_count(data=data, acting_user=user)
    return Status(201 if created else 200, crossing_count_out(count))


@router.get(
    "/crossings",
    response={200: list[CrossingCountOut]} | NOT_FOUND | INVALID,
    summary="Crossing counts (aggregate figures: every role may read them)",
)
def list_crossing_counts(
    request: HttpRequest, site: QueryText | None = None
) -> list[CrossingCountOut]:
    user = request_user(request)
    if site:
        site_for_aggregates(user, site)
    counts = selectors.crossing_counts_for(user, site_code=site or None)
    return [crossing_count_out(c) for c in counts]
