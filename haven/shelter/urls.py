from django.urls import path

from haven.shelter import views

app_name = "shelter"

urlpatterns = [
    path("", views.shelter_list, name="list"),
    path("allocation/", views.allocate, name="allocation"),
    path("<str:code>/", views.shelter_page, name="shelter"),
    path("<str:code>/check-out/", views.check_out, name="check_out"),
]
