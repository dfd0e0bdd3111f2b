from typing import Any

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _ensure_roles(**kwargs: Any) -> None:
    # Model permissions are created per app as each app's post_migrate runs; make sure every app's
    # exist before the role groups point at them.
    from django.contrib.auth.management import create_permissions

    from accounts.roles import ensure_role_groups

    using = kwargs.get("using", "default")
    # post_migrate also runs after `migrate … zero`: when the schema it migrated to has no
    # permission or content type tables any more, there is nothing to set up.
    migrated_apps = kwargs.get("apps") or apps
    try:
        for model in (("auth", "Permission"), ("auth", "Group"), ("contenttypes", "ContentType")):
            migrated_apps.get_model(*model)
    except LookupError:
        return
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    ensure_role_groups()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        post_migrate.connect(_ensure_roles, sender=self, dispatch_uid="accounts.ensure_roles")
