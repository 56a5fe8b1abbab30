from django.db import models

from kring.core import crypto


class EncryptedTextField(models.TextField):
    """Stores its value encrypted (Fernet); Python code only ever sees the plaintext.

    Encrypted values cannot be filtered on: store a fingerprint beside it for lookups.
    """

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(value)
