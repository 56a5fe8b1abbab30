"""The member's link to pay an invoice: signed, unguessable, one per invoice, no login needed.

The link carries the invoice id and a signature over it (django.core.signing with a salt of its
own, keyed by SECRET_KEY): changing a single character makes it invalid, and the link of one
invoice never opens another. It does not expire, so a printed invoice keeps working; rotating
SECRET_KEY (keep the old one in SECRET_KEY_FALLBACKS for a while) invalidates old links.
"""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from kring.billing.models import Invoice

SALT = "kring.billing.pay-link"
_signer = signing.Signer(salt=SALT, sep=".")


def pay_token(invoice: Invoice) -> str:
    return _signer.sign(str(invoice.pk))


def invoice_id_from_token(token: str) -> int | None:
    """The invoice id the token was made for, or None when it was not made by us (or was altered)."""
    try:
        value = _signer.unsign(token)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def absolute_url(path: str) -> str:
    return f"{settings.KRING_BASE_URL.rstrip('/')}{path}"


def payment_link(invoice: Invoice) -> str:
    """The full address of the invoice's payment page, for the invoice email and the PDF."""
    return absolute_url(reverse("billing:pay", args=[pay_token(invoice)]))


def return_link(invoice: Invoice) -> str:
    """Where the payment provider sends the member back after paying (or not)."""
    return absolute_url(reverse("billing:pay_return", args=[pay_token(invoice)]))


def webhook_link(provider: str) -> str:
    return absolute_url(reverse(f"billing:{provider}_webhook"))
