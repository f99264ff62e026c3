from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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
            raise CommandError(_("Say which digests to send: --daily, --weekly, or both."))
        if options["daily"]:
            sent = send_owner_digests()
            self.stdout.write(
                ngettext("Sent %(count)s owner digest.", "Sent %(count)s owner digests.", sent)
                % {"count": sent}
            )
            sent = send_orphan_digests()
            self.stdout.write(
                ngettext(
                    "Sent %(count)s list of contacts needing an owner.",
                    "Sent %(count)s lists of contacts needing an owner.",
                    sent,
                )
                % {"count": sent}
            )
        if options["weekly"]:
            sent = send_committee_digests()
            self.stdout.write(
                ngettext(
                    "Sent %(count)s committee digest.", "Sent %(count)s committee digests.", sent
                )
                % {"count": sent}
            )
