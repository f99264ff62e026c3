"""gunicorn.conf.py: workers sized for the machine, and an access log with nothing
personal or secret in it."""

from __future__ import annotations

import datetime as dt
import runpy
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def access_line(path: str, query: str = "") -> str:
    settings = runpy.run_path(str(CONF))
    config = Config()
    config.set("access_log_format", settings["access_log_format"])
    log = settings["logger_class"](config)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"{path}?{query}" if query else path,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_USER_AGENT": "Phone/1.0",
        "HTTP_REFERER": "https://doorstep.example.org/contacts/7/",
    }
    response = SimpleNamespace(status="200 OK", sent=512, headers=[])
    request = SimpleNamespace(headers=[("USER-AGENT", "Phone/1.0")])
    atoms = log.atoms(response, request, environ, dt.timedelta(milliseconds=12))
    return str(config.access_log_format % atoms)


def test_the_access_log_says_what_was_asked_and_how_it_went() -> None:
    assert access_line("/buildings/3/units/41/") == "GET /buildings/3/units/41/ 200 512 12ms"


def test_the_access_log_keeps_no_address_query_or_password_token() -> None:
    line = access_line("/password/reset/MQ/cbx1a2-5f3e2e7d0c9b8a7f6e5d/", "next=/contacts/7/")

    assert line == "GET /password/reset/…/ 200 512 12ms"


def test_workers_and_threads_follow_the_machine_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 3)
    sized = runpy.run_path(str(CONF))
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    monkeypatch.setenv("WEB_THREADS", "8")
    told = runpy.run_path(str(CONF))

    assert (sized["workers"], sized["threads"]) == (6, 4)
    assert (told["workers"], told["threads"]) == (5, 8)
    assert sized["worker_class"] == "gthread"
    assert sized["max_requests_jitter"] > 0
