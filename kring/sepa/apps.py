from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SepaConfig(AppConfig):
    name = "kring.sepa"
    label = "sepa"
    verbose_name = _("Direct debit and bank statements")
