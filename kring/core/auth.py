"""How django-allauth behaves in Kring: closed sign-up, where people land after login, and
TOTP secrets encrypted with the same keys as the other sensitive data."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings
from django.urls import reverse

from kring.core import crypto
from kring.core.models import Association


class KringAccountAdapter(DefaultAccountAdapter):
    """Only people the association knows get an account: no public sign-up."""

    def is_open_for_signup(self, request):
        return False

    def get_login_redirect_url(self, request):
        return landing_url_for(request.user)

    def send_mail(self, template_prefix, email, context):
        # The emails are signed with the association's name (account/email/base_message.txt).
        context = {"association": Association.current(), **context}
        super().send_mail(template_prefix, email, context)

    def format_email_subject(self, subject):
        return f"[{Association.current().name}] {subject}"


class KringMFAAdapter(DefaultMFAAdapter):
    """Authenticator secrets (TOTP key, recovery-code seed) are encrypted at rest like IBANs."""

    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text)

    def get_totp_issuer(self) -> str:
        # The name people see in their authenticator app next to the six digits.
        return Association.current().name or settings.MFA_TOTP_ISSUER


def landing_url_for(user) -> str:
    """Staff start in the back office; members on their login settings until the portal exists."""
    if user.is_staff:
        return reverse("backoffice:dashboard")
    return reverse("account_email")
