"""The worker's logs are redacted as the web server's are: a mail server that refuses an
invitation's address (and, as mail servers do, repeats it) leaves no address in the log."""

from __future__ import annotations

import os
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from organizing.models import Organization
from organizing.tasks import send_password_link_task
from tests.makers import make_member

ROOT = Path(__file__).resolve().parents[2]


class RefusingSMTP(socketserver.StreamRequestHandler):
    """Just enough SMTP to refuse every recipient, naming it, as Postfix does."""

    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        self.reply("220 mail.example.org ESMTP")
        for raw in self.rfile:
            command = raw.decode(errors="replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 mail.example.org")
            elif verb == "RCPT":
                address = command.partition(":")[2].strip()
                self.reply(f"550 5.1.1 {address}: Recipient address rejected: User unknown")
                self.server.refused += 1  # type: ignore[attr-defined]
            elif verb == "QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("250 OK")


@pytest.fixture
def mail_server() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), RefusingSMTP)
    server.refused = 0  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("tasks_go_to_the_broker")
def test_an_address_the_mail_server_refuses_is_not_in_the_workers_log(
    org: Organization, mail_server: socketserver.ThreadingTCPServer, tmp_path: Path
) -> None:
    assert settings.REDIS_URL, "REDIS_URL is needed; `make test` starts a Redis"
    assert connection.vendor == "postgresql", "run through `make test`"
    member = make_member(org, "amina")
    member.email = "amina.farah@example.org"
    member.set_unusable_password()
    member.save()
    db = connection.settings_dict
    test_database = (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "organizing", "worker", "--pool", "solo"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": test_database,
            "VAR_DIR": str(tmp_path),
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(mail_server.server_address[1]),
            "EMAIL_USE_TLS": "0",
            "LOG_LEVEL": "INFO",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        send_password_link_task.delay(member.pk, True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.poll() is None:
            if mail_server.refused:  # type: ignore[attr-defined]
                time.sleep(2)  # for the worker to log the failure
                break
            time.sleep(0.25)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")

    assert mail_server.refused == 1, output  # type: ignore[attr-defined]
    assert "SMTPRecipientsRefused" in output, output
    assert "[email]" in output
    assert "amina.farah" not in output and "example.org" not in output, output
