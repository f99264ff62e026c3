from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from contacts.lapse.digests import (
    send_committee_digests,
    send_orphan_digests,
    send_owner_digests,
)


class Command(BaseCommand):
    help = (
        "Send the daily digests (--daily: each owner's, and the committee's list of contacts "
        "needing an owner) and the committee's weekly digests (--weekly), as the scheduled "
        "jobs do: what is due (past its hour, in TIME_ZONE) and not yet done. Whoever already "
        "has this period's digest gets nothing more, so a rerun sends only what is missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--daily", action="store_true", help="the owners' and the committee's daily digests"
        )
        parser.add_argument("--weekly", action="store_true", help="the committee's weekly digests")

    def handle(self, *args: Any, **options: Any) -> None:
        if not (options["daily"] or options["weekly"]):
            raise CommandError("Say which digests to send: --daily, --weekly, or both.")
        if options["daily"]:
            self.stdout.write(f"Sent {send_owner_digests()} owner digests.")
            self.stdout.write(f"Sent {send_orphan_digests()} lists of contacts needing an owner.")
        if options["weekly"]:
            self.stdout.write(f"Sent {send_committee_digests()} committee digests.")
