from django.urls import path

from haven.registry import views

urlpatterns = [
    path("desk/", views.desk, name="desk"),
    path("registrations/", views.registrations, name="registrations"),
    path("persons/<uuid:person_uuid>/", views.person, name="person"),
    path("persons/<uuid:person_uuid>/audit/", views.person_audit, name="person_audit"),
    path("persons/<uuid:person_uuid>/case/", views.household_case, name="household_case"),
]
