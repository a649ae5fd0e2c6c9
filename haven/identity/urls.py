from django.urls import path

from haven.identity import views

urlpatterns = [
    path("review/", views.queue, name="review_queue"),
    path("pairs/<int:pair_id>/", views.pair, name="review_pair"),
    path("<uuid:identity>/", views.identity, name="identity"),
]
