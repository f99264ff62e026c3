from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def hung_server() -> Iterator[str]:
    """The address of a server that accepts connections and never answers, as a stopped
    (SIGSTOP) Redis or PostgreSQL does: the kernel completes the handshake, nothing replies."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        host, port = listener.getsockname()
        yield f"{host}:{port}"
