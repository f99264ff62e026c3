from typing import Any

from django.core.management.base import BaseCommand

from contacts.lapse.pace import take_paces


class Command(BaseCommand):
    help = (
        "Work out every organization's pace for the last full week, as the Monday job does: "
        "its conversations against the four weeks before, for the dashboard's banner."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        taken = take_paces()
        self.stdout.write(f"Took the pace of {taken} organization{'s' if taken != 1 else ''}.")
