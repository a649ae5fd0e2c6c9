"""Permissions-Policy and Cross-Origin-Resource-Policy on every response.

Django's SecurityMiddleware writes the other security headers (X-Content-Type-Options,
Referrer-Policy, Cross-Origin-Opener-Policy, HSTS) and django-csp the Content-Security-Policy;
these two have no setting in either. They are fixed strings, so a few lines here beat another
dependency. The middleware sits before whitenoise in MIDDLEWARE so that static files carry them.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


def permissions_policy(features: tuple[str, ...]) -> str:
    """`camera=(), microphone=()`: each feature allowed to no origin at all."""
    return ", ".join(f"{feature}=()" for feature in features)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.permissions_policy = permissions_policy(settings.HAVEN_PERMISSIONS_POLICY)
        self.resource_policy: str = settings.HAVEN_CROSS_ORIGIN_RESOURCE_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", self.permissions_policy)
        response.headers.setdefault("Cross-Origin-Resource-Policy", self.resource_policy)
        return response
