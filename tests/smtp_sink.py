"""A real SMTP server on a free local port (aiosmtpd) that keeps what it receives, for the delivery tests."""

from __future__ import annotations

import socket
from contextlib import contextmanager

from aiosmtpd.controller import Controller


class Sink:
    """The messages received: (envelope recipients, raw content) pairs, in order."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_sink():
    """(sink, port) of a running server, stopped on exit."""
    sink = Sink()
    port = free_port()
    ctl = Controller(sink, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield sink, port
    finally:
        ctl.stop()
