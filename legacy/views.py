"""Claim-your-account: an imported user follows the e-mailed link and chooses a password.

Django's password-reset machinery checks the link (the token is tied to the password hash, so
it stops working once used); the password is set through ``account_claim`` so it is audited.
"""

from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, PasswordResetConfirmView
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse_lazy

from legacy.services import account_claim


class ClaimAccountView(PasswordResetConfirmView):
    template_name = "legacy/claim_confirm.html"
    success_url = reverse_lazy("legacy:claim-done")

    def form_valid(self, form: object) -> HttpResponse:
        account_claim(
            actor=self.user,
            user=self.user,
            password=form.cleaned_data["new_password1"],  # type: ignore[attr-defined]
        )
        self.request.session.pop(INTERNAL_RESET_SESSION_TOKEN, None)
        return HttpResponseRedirect(self.get_success_url())
