from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse


class StaffSecondFactorMiddleware:
    """Staff must set up a second factor (TOTP) before they reach the back office.

    Accounts flagged ``mfa_exempt`` (the demo's staff) are let through so a newcomer can look around.
    """

    ALLOWED_PREFIXES = ("/accounts/", "/static/", "/i18n/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            settings.KRING_STAFF_REQUIRE_MFA
            and user is not None
            and user.is_authenticated
            and user.is_staff
            and not user.mfa_exempt
            and not request.path.startswith(self.ALLOWED_PREFIXES)
            and not has_second_factor(user)
        ):
            return redirect(reverse("mfa_activate_totp") + "?next=" + request.path)
        return self.get_response(request)


def has_second_factor(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
