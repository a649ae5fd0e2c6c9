from django.urls import path

from haven.tracing import views

app_name = "tracing"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("new/", views.new_request, name="new"),
    path("<uuid:request_uuid>/", views.request_page, name="request"),
    path("<uuid:request_uuid>/found/", views.found, name="found"),
    path("<uuid:request_uuid>/disclosure/", views.disclosure, name="disclosure"),
    path("<uuid:request_uuid>/close/", views.close, name="close"),
    path("<uuid:request_uuid>/rematch/", views.rematch, name="rematch"),
    path("<uuid:request_uuid>/notes/", views.request_note, name="request_note"),
    path("person/<uuid:person_uuid>/notes/", views.person_notes, name="person_notes"),
]
