from django.urls import path

from haven.reports import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sitrep/", views.sitrep, name="sitrep"),
]
