"""Staff with and without a second factor, for the login tests."""

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth.models import Group

from kring.core import roles
from kring.members.tests.factories import UserFactory


@pytest.fixture
def new_secretary(db):
    """Staff without a second factor and not exempt: the normal case in production."""
    user = UserFactory(email="nieuw@example.test", is_staff=True)
    user.groups.add(Group.objects.get(name=roles.SECRETARIAT))
    return user


@pytest.fixture
def protected_secretary(new_secretary):
    """Staff who set up an authenticator app (and got recovery codes)."""
    secret = generate_totp_secret()
    TOTP.activate(new_secretary, secret)
    codes = RecoveryCodes.activate(new_secretary).generate_codes()
    new_secretary.totp_secret = secret
    new_secretary.recovery_codes = codes
    return new_secretary
