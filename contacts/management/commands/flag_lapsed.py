from typing import Any

from django.core.management.base import BaseCommand

from contacts.lapse.job import flag_lapsed


class Command(BaseCommand):
    help = "Flag contacts due soon, lapsed, escalated and orphaned (what the hourly job does)."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = flag_lapsed()
        self.stdout.write(
            f"Lapses opened: {counts.opened}, ended: {counts.resolved}, "
            f"escalated: {counts.escalated}; due soon: {counts.due_soon}; "
            f"newly orphaned: {counts.orphaned}."
        )
