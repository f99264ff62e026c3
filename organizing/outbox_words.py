"""The phone's own words (static/js/outbox.js and sw.js) in the member's language.

The scripts are written in English and speak it with nothing more. A page in another
language loads, before them, a small script of their words in it (`words`, linked by the
`outbox_words` tag in base.html): its URL names the language and a digest of the words,
so the browser and the service worker keep it until the words change, and it is there
without a signal. An English page loads nothing more, and weighs what it did.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, gettext_noop, ngettext
from django.views.decorators.http import require_GET

# The language the scripts are written in.
SCRIPTS_LANGUAGE = "en"

# Marked here, translated when the script is written, keyed by the English the scripts write.
WORDS = [
    gettext_noop("Knock"),
    gettext_noop("Correct it"),
    gettext_noop("Discard"),
    gettext_noop("Saved on this phone"),
    gettext_noop("Talked"),
    gettext_noop("the resident you added"),
    gettext_noop("<strong>Offline</strong>."),
    gettext_noop("<strong>Offline</strong>, saved at %(time)s."),
    gettext_noop("%(items)s waiting to send (no signal)."),
    gettext_noop("%(items)s waiting to send (Doorstep did not answer yet)."),
    gettext_noop("%(items)s waiting to send (sending)."),
    gettext_noop("Not sent: %(what)s."),
    gettext_noop(
        "This could not be saved: the phone's storage is full. Write it down, then free some space."
    ),
    gettext_noop("Doorstep refused it (HTTP %(status)s)."),
    gettext_noop("That door or person is no longer in Doorstep."),
    gettext_noop("Doorstep refused it as too large (HTTP 413)."),
    gettext_noop("Could not reach Doorstep: saved on this phone, trying again in %(seconds)s s."),
    gettext_noop('<a href="%(url)s">Log in</a> to send what waits on this phone.'),
    gettext_noop("Doorstep is busy: saved on this phone, trying again in %(seconds)s s."),
    gettext_noop("Sent, but needs a look: %(what)s."),
    gettext_noop("%(items)s sent."),
    gettext_noop("Phone storage is nearly full: free some space before the next knock."),
    gettext_noop("Saved on this phone: %(what)s."),
    # sw.js, offline with no page to show.
    gettext_noop("Offline"),
    gettext_noop("Open Today"),
    gettext_noop("You are offline and this page was not saved on this phone."),
    gettext_noop(
        "You are offline, and the session on this phone has ended, so the pages saved on it "
        "were removed. Knocks waiting to send are kept: log in once you have a signal."
    ),
]


def counted() -> dict[str, list[str]]:
    """What waits, counted: each keyed by its English singular, with its forms for 0, 1 and
    2 (the scripts count a handful, never a million)."""
    return {
        "%(count)s knock": [ngettext("%(count)s knock", "%(count)s knocks", n) for n in (0, 1, 2)],
        "%(count)s new resident": [
            ngettext("%(count)s new resident", "%(count)s new residents", n) for n in (0, 1, 2)
        ],
        "%(count)s conversation": [
            ngettext("%(count)s conversation", "%(count)s conversations", n) for n in (0, 1, 2)
        ],
        "%(count)s attendance": [
            ngettext("%(count)s attendance", "%(count)s attendances", n) for n in (0, 1, 2)
        ],
    }


@cache
def script(language: str) -> bytes:
    """The words in `language` as the scripts read them (`self.doorstepWords`)."""
    with translation.override(language):
        words: dict[str, object] = {word: gettext(word) for word in WORDS}
        words |= counted()
    data = json.dumps(words, ensure_ascii=False, separators=(",", ":"))
    return b"self.doorstepWords=%s;\n" % data.encode()


def words_url(language: str) -> str:
    digest = hashlib.blake2b(script(language), digest_size=6).hexdigest()
    return f"{reverse('outbox_words', args=[language])}?v={digest}"


@require_GET
def words(request: HttpRequest, language: str) -> HttpResponse:
    """The same for everyone, and kept for good: a change of the words changes the URL."""
    if language not in dict(settings.LANGUAGES):
        raise Http404
    response = HttpResponse(script(language), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
