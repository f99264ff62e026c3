from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import ngettext

from contacts.lapse.pace import take_paces


class Command(BaseCommand):
    help = (
        "Work out the pace of the last full week for every organization that has not got it "
        "yet, as the scheduled job does from Monday 6:15: its conversations against the four "
        "weeks before, for the dashboard's banner."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        taken = take_paces()
        self.stdout.write(
            ngettext(
                "Took the pace of %(count)s organization.",
                "Took the pace of %(count)s organizations.",
                taken,
            )
            % {"count": taken}
        )
