from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kring.core"
    label = "core"
    verbose_name = _("Kring core")

    def ready(self):

        post_migrate.connect(_sync_roles_once, sender=self)


def _sync_roles_once(sender, **kwargs):
    # post_migrate fires per app; the core app's signal comes after its permissions exist, but the
    # other apps' permissions are created by their own post_migrate, so sync again at the end.
    from django.apps import apps

    from kring.core.roles import sync_roles

    if apps.is_installed("kring.members"):
        from django.contrib.auth.management import create_permissions

        for config in apps.get_app_configs():
            create_permissions(config, verbosity=0, using=kwargs.get("using", "default"))
    sync_roles()
