"""The codes an authenticator app would show (shared by the login tests)."""

import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value


def totp_code(secret: str) -> str:
    """The code an authenticator app shows now (allauth's own HOTP routine, RFC 6238)."""
    period = mfa_settings.TOTP_PERIOD
    if period - time.time() % period < 2:  # do not hand out a code that expires before it is checked
        time.sleep(period - time.time() % period + 0.1)
    return format_hotp_value(hotp_value(secret, int(time.time()) // period))


def wrong_code(secret: str) -> str:
    right = totp_code(secret)
    return f"{(int(right) + 1) % 1_000_000:06d}"
