"""Buyer sign-up, sign-in and the buyer's landing page."""

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import SignupForm
from accounts.services import buyer_sign_up
from payments.selectors import submission_list_for_buyer


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("accounts:home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = buyer_sign_up(
            email=form.cleaned_data["email"],
            full_name=form.cleaned_data["full_name"],
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("accounts:home")
    return render(request, "accounts/signup.html", {"form": form})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    submissions = submission_list_for_buyer(request.user)[:50]
    return render(request, "accounts/home.html", {"submissions": submissions})
