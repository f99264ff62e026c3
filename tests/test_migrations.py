"""The migrations are kept: a model change comes with its migration."""

from __future__ import annotations

import contextlib
import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_the_migrations_describe_the_models_as_they_are() -> None:
    out = io.StringIO()
    # --check exits 1 when a migration is missing; the output says which.
    with contextlib.suppress(SystemExit):
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    assert out.getvalue().strip() == "No changes detected", out.getvalue()
