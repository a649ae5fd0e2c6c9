"""Payload builders for tests: valid by default, each field overridable."""

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

YEREVAN = ZoneInfo("Asia/Yerevan")


def member(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "given_name": "Հասմիկ",
        "family_name": "Հարությունյան",
        "patronymic": "",
        "sex": "F",
        "birth_date": "1980-05-17",
        "relationship": "head",
    }
    data.update(overrides)
    return data


def household(site: str = "KOR", *, size: int = 3, **overrides: Any) -> dict[str, Any]:
    members = [member()]
    extra = [
        member(
            given_name="Арам",
            family_name="Арутюнян",
            sex="M",
            birth_date="1978",
            relationship="spouse",
        ),
        member(
            given_name="Ani", family_name="Harutyunyan", birth_date="2012-03", relationship="child"
        ),
        member(
            given_name="Davit",
            family_name="Harutyunyan",
            sex="M",
            birth_date=None,
            estimated_age=4,
            relationship="child",
        ),
    ]
    for index in range(size - 1):
        template = dict(extra[index % len(extra)])
        template["uuid"] = str(uuid.uuid4())
        members.append(template)
    data: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "site": site,
        "registered_at": (datetime(2023, 9, 26, 8, 0, tzinfo=YEREVAN)).isoformat(),
        "origin_settlement": "Ստեփանակերտ",
        "phone": "+374 91 123456",
        "members": members,
    }
    data.update(overrides)
    return data


def crossing(site: str = "KOR", **overrides: Any) -> dict[str, Any]:
    start = datetime(2023, 9, 25, 10, 0, tzinfo=YEREVAN)
    data: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "site": site,
        "period_start": start.isoformat(),
        "period_end": (start + timedelta(hours=1)).isoformat(),
        "people": 412,
        "vehicles": 97,
    }
    data.update(overrides)
    return data
