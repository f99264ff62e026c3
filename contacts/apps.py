from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"

    def ready(self) -> None:
        from contacts.privacy import erasure  # noqa: F401  (its receiver forgets deleted organizations)
