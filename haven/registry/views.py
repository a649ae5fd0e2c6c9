from django.http import HttpRequest, HttpResponse


def desk(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


def registrations(request: HttpRequest) -> HttpResponse:
    raise NotImplementedError


def person(request: HttpRequest, person_uuid: str) -> HttpResponse:
    raise NotImplementedError
