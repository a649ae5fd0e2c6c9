from django.contrib.auth import views as auth_views
from django.urls import path

from haven.core import signin, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", signin.SignInView.as_view(), name="login"),
    path("login/code/", signin.second_factor, name="second_factor"),
    path("login/enrol/", signin.enrol, name="enrol"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
