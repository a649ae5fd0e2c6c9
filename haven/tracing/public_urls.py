"""The public tracing request form, at /find/ (no account needed): haven/tracing/public.py."""

from django.urls import path

from haven.tracing import public

app_name = "public"

urlpatterns = [
    path("", public.request_form, name="request"),
    path("sent/", public.sent, name="sent"),
]
