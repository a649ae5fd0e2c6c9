"""Errors that actions and selectors raise; the API, the pages and the CLI each render them."""

from dataclasses import dataclass, field


class HavenError(Exception):
    """Base class: a request Haven refuses, with a message fit to show to the person who sent it."""


class NotFound(HavenError):
    """The record does not exist or this user may not see it (the two are never told apart)."""

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key} not found")
        self.kind = kind
        self.key = key


class Conflict(HavenError):
    """A client UUID already names a different record: a retry must send the same payload."""


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class InvalidInput(HavenError):
    """Input that fails validation; nothing was written. Each error names its field."""

    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{e.field}: {e.message}" for e in self.errors)
