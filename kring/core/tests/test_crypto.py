import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from kring.core import crypto


def test_encrypt_round_trip_and_ciphertext_hides_plaintext():
    token = crypto.encrypt("NL91ABNA0417164300")
    assert "NL91" not in token
    assert crypto.decrypt(token) == "NL91ABNA0417164300"


def test_old_key_still_decrypts_after_rotation(settings):
    old_key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old_key]
    token = crypto.encrypt("BE68539007547034")
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_key]
    assert crypto.decrypt(token) == "BE68539007547034"


def test_unknown_key_gives_clear_configuration_error(settings):
    token = crypto.encrypt("NL91ABNA0417164300")
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured, match="KRING_ENCRYPTION_KEYS"):
        crypto.decrypt(token)


def test_fingerprint_is_stable_and_keyed(settings):
    first = crypto.fingerprint("NL91ABNA0417164300")
    assert first == crypto.fingerprint("NL91ABNA0417164300")
    assert first != crypto.fingerprint("NL91ABNA0417164301")
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert crypto.fingerprint("NL91ABNA0417164300") != first
