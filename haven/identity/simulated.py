"""A simulated influx as the linkage sees it: for training the starter model, the tests and the
benchmarks. Each record is the keyword arguments of `comparisons.features` (the names exactly as
the simulated registrar typed them), with the truth of who is who beside it."""

from datetime import date
from typing import Any

from haven.identity.comparisons import Features, features
from haven.registry.schemas import parse_birth_date
from haven.simulate.influx import simulate_influx

# The Washington Group domains, in the order of comparisons.WG_COLUMNS.
FUNCTIONING = ("seeing", "hearing", "walking", "remembering", "selfcare", "communicating")


def simulated_records(
    people: int, seed: int, *, duplicate_share: float = 0.1
) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """Every record of a simulated influx as typed, numbered from 1, and each record's true
    person number."""
    influx = simulate_influx(people=people, seed=seed, duplicate_share=duplicate_share)
    records: list[dict[str, Any]] = []
    truth: dict[int, int] = {}
    for household_id, registration in enumerate(influx.registrations, start=1):
        payload = registration.payload
        on = date.fromisoformat(payload["registered_at"][:10])
        true_of = dict(registration.truth)
        for member in payload["members"]:
            if member.get("birth_date"):
                year, month, day = parse_birth_date(member["birth_date"])
                estimated = False
            else:
                year, month, day = on.year - int(member["estimated_age"]), None, None
                estimated = True
            unique_id = len(records) + 1
            records.append(
                {
                    "unique_id": unique_id,
                    "household_id": household_id,
                    "given_name": member["given_name"],
                    "family_name": member["family_name"],
                    "patronymic": member.get("patronymic", ""),
                    "sex": member["sex"],
                    "birth_year": year,
                    "birth_month": month,
                    "birth_day": day,
                    "birth_estimated": estimated,
                    "registered_year": on.year,
                    "origin": payload.get("origin_settlement", ""),
                    "phone": member.get("phone", ""),
                    "documents": [d["number"] for d in member.get("documents", [])],
                    "needs": member.get("specific_needs", []),
                    "functioning": [member.get("disability", {}).get(d) for d in FUNCTIONING],
                }
            )
            truth[unique_id] = true_of[member["uuid"]]
    return records, truth


def simulated_features(people: int, seed: int) -> list[Features]:
    records, _truth = simulated_records(people, seed)
    return [features(**record) for record in records]
