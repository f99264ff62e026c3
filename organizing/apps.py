from django.apps import AppConfig


class OrganizingConfig(AppConfig):
    name = "organizing"
    verbose_name = "Organizations and members"

    def ready(self) -> None:
        from organizing import accounts, checks, faults, i18n  # noqa: F401  (signal receivers, checks)
