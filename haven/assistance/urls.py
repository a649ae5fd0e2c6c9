from django.urls import path

from haven.assistance import views

app_name = "assistance"

urlpatterns = [
    path("", views.programmes, name="programmes"),
    path("new/", views.new_programme, name="new"),
    path("programmes/<uuid:programme_uuid>/", views.programme_page, name="programme"),
    path(
        "programmes/<uuid:programme_uuid>/entitlements/",
        views.compute_entitlements,
        name="compute",
    ),
    path("programmes/<uuid:programme_uuid>/lists/", views.make_list, name="make_list"),
    path("lists/<uuid:list_uuid>/", views.payment_list_page, name="payment_list"),
    path("lists/<uuid:list_uuid>/reconcile/", views.reconcile_upload, name="reconcile"),
    path("lists/<uuid:list_uuid>/download.<str:fmt>", views.download, name="download"),
    path("distribute/", views.distribution_point, name="distribute"),
    path("distribute/give/", views.give, name="give"),
    path("held/", views.held, name="held"),
]
