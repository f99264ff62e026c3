"""Two phones submitting the same knock at the same moment record it once."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import User
from django.db import connection

from contacts.actions import record_visit
from contacts.models import Contact, Outcome, Visit


@pytest.mark.django_db(transaction=True)
def test_the_same_key_submitted_twice_at_once_records_one_visit(
    maria: Contact, olivia: User
) -> None:
    if connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL; run it through `make test`")
    start = threading.Barrier(2)
    results: list[bool] = []

    def submit() -> None:
        try:
            start.wait()
            _, created = record_visit(
                actor=olivia.membership,
                contact=maria,
                outcome=Outcome.NOT_HOME,
                idempotency_key="double-tap-key-1",
            )
            results.append(created)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == [False, True]
    assert Visit.objects.filter(idempotency_key="double-tap-key-1").count() == 1
    assert Contact.objects.get(pk=maria.pk).attempts_since_conversation == 1
