from django.apps import AppConfig


class OrganizingConfig(AppConfig):
    name = "organizing"
    verbose_name = "Organizations and members"
