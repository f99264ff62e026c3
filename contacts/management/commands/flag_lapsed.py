from typing import Any

from django.core.management.base import BaseCommand

from contacts.lapse import flag_lapsed


class Command(BaseCommand):
    help = "Flag contacts due soon, lapsed, escalated and orphaned (what the hourly job does)."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = flag_lapsed()
        self.stdout.write(
            f"Opened {counts.opened} lapse episodes, resolved {counts.resolved}, "
            f"escalated {counts.escalated}; {counts.due_soon} due soon; "
            f"{counts.orphaned} newly orphaned."
        )
