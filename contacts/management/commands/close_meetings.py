from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import ngettext

from contacts.actions import close_past_meetings


class Command(BaseCommand):
    help = (
        "Close the attendance of every meeting that started more than 12 hours ago, as the "
        "hourly job does, and plan a follow-up for each yes who did not come. Safe to run "
        "again: a closed meeting is skipped."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        planned = close_past_meetings()
        self.stdout.write(
            ngettext("Planned %(count)s follow-up.", "Planned %(count)s follow-ups.", planned)
            % {"count": planned}
        )
