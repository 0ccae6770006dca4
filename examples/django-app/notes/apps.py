import os

from django.apps import AppConfig
from django.db.models.signals import pre_migrate


class SimulatedMigrationFailure(RuntimeError):
    pass


def fail_migration_if_asked(sender, **kwargs):
    # PALLET_FAULT=migrate (Dockerfile build arg FAULT) makes every `migrate` fail before it touches the
    # schema, so the `deploy` entrypoint exits non-zero each time, not only the first time a migration runs.
    if os.environ.get("PALLET_FAULT") == "migrate":
        raise SimulatedMigrationFailure("PALLET_FAULT=migrate: this build's migration fails on purpose")


class NotesConfig(AppConfig):
    name = "notes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        pre_migrate.connect(fail_migration_if_asked, sender=self, dispatch_uid="notes.fault.migrate")
