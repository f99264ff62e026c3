"""The phone's own words (static/js/outbox.js and sw.js) in the member's language.

The scripts are written in English and speak it with nothing more. On a page in another
language (`<html lang>`), outbox.js asks for their words in it (`words`, a small JSON)
once the page is shown, and the service worker keeps them for offline use, with the pages
of the turf. No page carries them or links them: a page in French weighs what the same
page in English does, but for its own words.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils import translation
from django.utils.translation import gettext, gettext_noop, ngettext
from django.views.decorators.http import require_GET

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
    # The time the page was saved, as the pages write a time (TIME_FORMAT): 14:30, 14 h 30.
    gettext_noop("%(hours)s:%(minutes)s"),
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
def catalogue(language: str) -> bytes:
    """The words in `language`, keyed by the English the scripts write."""
    with translation.override(language):
        words: dict[str, object] = {word: gettext(word) for word in WORDS}
        words |= counted()
    return json.dumps(words, ensure_ascii=False, separators=(",", ":")).encode()


@require_GET
def words(request: HttpRequest, language: str) -> HttpResponse:
    """The same for everyone. A browser keeps them an hour and then asks again with their
    digest, so that words changed by a deploy arrive within the hour, and unchanged ones
    cost a 304."""
    if language not in dict(settings.LANGUAGES):
        raise Http404
    body = catalogue(language)
    etag = f'"{hashlib.blake2b(body, digest_size=8).hexdigest()}"'
    response: HttpResponse
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=3600"
    return response
