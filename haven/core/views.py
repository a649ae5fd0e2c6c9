"""The landing page: each role starts where its work is."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from haven.core.models import User
from haven.core.selectors import sees_personal_data


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if isinstance(user, User) and user.role == User.Role.SHELTER_MANAGER:
        return redirect("shelter:list")
    if isinstance(user, User) and user.role == User.Role.ASSISTANCE_OFFICER:
        return redirect("assistance:programmes")
    if not isinstance(user, User) or not sees_personal_data(user):
        # Partner analysts (and anyone without a personal-data role) see aggregates only.
        return render(request, "core/aggregates_only.html")
    if user.role == User.Role.REGISTRAR:
        return redirect("desk")
    return redirect("registrations")
