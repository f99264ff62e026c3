from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from contacts.lapse.job import flag_lapsed


class Command(BaseCommand):
    help = "Flag contacts due soon, lapsed, escalated and orphaned (what the hourly job does)."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = flag_lapsed()
        self.stdout.write(
            _(
                "Lapses opened: %(opened)s, ended: %(resolved)s, escalated: %(escalated)s; "
                "due soon: %(due_soon)s; newly orphaned: %(orphaned)s."
            )
            % vars(counts)
        )
