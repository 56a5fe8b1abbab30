from django.conf import settings
from django.shortcuts import redirect


class StaffSecondFactorMiddleware:
    """Staff must set up a second factor (TOTP) before they reach the back office.

    Until they have, every page outside the login pages sends them to the authenticator-app
    set-up; after it, the recovery-codes page leads them on. Accounts flagged ``mfa_exempt`` (the
    demo's staff) are let through so a newcomer can look around.
    """

    # The login pages themselves (including the TOTP set-up), static files and the language switch.
    ALLOWED_PREFIXES = ("/accounts/", "/static/", "/i18n/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(self.ALLOWED_PREFIXES) and needs_second_factor(request.user):
            return redirect("mfa_activate_totp")
        return self.get_response(request)


def needs_second_factor(user) -> bool:
    return (
        settings.KRING_STAFF_REQUIRE_MFA
        and user.is_authenticated
        and user.is_staff
        and not user.mfa_exempt
        and not has_second_factor(user)
    )


def has_second_factor(user) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
